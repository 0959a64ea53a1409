"""Subtitles: CJK segmentation, cues timed by the MEASURED narration, configurable burned-in style."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import numpy as np
import pytest
import srt
from PIL import Image, ImageFont
from pydantic import ValidationError

from postprocess.audio import SAMPLE_RATE, frame_rms, read_wav, to_db
from postprocess.subtitles import (
    CLOSING, MIN_CUE_S, Cue, SubtitleStyle, ass_colour, clamp_cues, cues_from_segments, episode_cues, max_chars_per_line,
    segment_text, write_ass, write_srt, write_vtt,
)
from postprocess.timeline import SpokenSegment, build_timeline, total_duration
from postprocess.tts import NarrationPiece, narrate_segments
from reelgate.fonts import find_cjk_font
from reelgate.media import ffmpeg_exe
from reelgate.settings import PostSettings

# Two shots of Chinese narration, no spaces anywhere.
ZH_SHOTS = [
    "小狐狸住在森林的边上，每天晚上都会爬到山坡上看星星。它最喜欢的那颗星星特别亮，好像在对它眨眼睛。",
    "有一天，那颗星星不见了，小狐狸急得团团转。它问猫头鹰，问小溪，最后在湖水里找到了星星的影子。",
]


def _speech_db(samples: np.ndarray, start_s: float, end_s: float) -> float:
    """Loudest 10 ms frame between two times, dB relative to the clip's loudest frame."""
    hop = SAMPLE_RATE // 100
    rms = frame_rms(samples, hop)
    a, b = int(start_s * 100), max(int(start_s * 100) + 1, int(end_s * 100))
    return float(to_db(rms[a:b].max()) - to_db(rms.max()))


def _voice_track(pieces: list[NarrationPiece], starts: list[float], total_s: float) -> np.ndarray:
    track = np.zeros(int(total_s * SAMPLE_RATE) + 1, dtype=np.float32)
    for piece, start in zip(pieces, starts):
        x, _ = read_wav(piece.path)
        i = int(round(start * SAMPLE_RATE))
        track[i : i + len(x)] += x[: len(track) - i]
    return track


def _check_cues_read_well(cues: list[srt.Subtitle], video_s: float, max_chars: int) -> None:
    assert len(cues) >= 4
    for a, b in zip(cues, cues[1:]):
        assert a.start < b.start and a.end <= b.start  # in order, never two on screen
    for c in cues:
        assert 0 <= c.start.total_seconds() < c.end.total_seconds() < video_s
        lines = c.content.split("\n")
        assert 1 <= len(lines) <= 2
        for line in lines:
            assert 0 < len(line) <= max_chars, line  # every glyph here is one em wide
            assert line[0] not in CLOSING, line


def test_chinese_paragraph_cues_follow_the_measured_espeak_audio(tmp_path: Path) -> None:
    settings = PostSettings()
    max_chars = max_chars_per_line(640, 36, "zh", settings.subtitle_margin_side)
    assert max_chars == 15
    pieces = [
        narrate_segments(text, "zh", tmp_path / f"voice{i}.wav", settings, max_chars)
        for i, text in enumerate(ZH_SHOTS)
    ]
    assert {p.voice for p in pieces} == {"espeak-pinyin"}
    slots = build_timeline([3.0, 3.0], [p.duration_s for p in pieces])  # the voice is longer: slots grow
    video_s = total_duration(slots)
    cues = episode_cues(slots, [p.segments for p in pieces], video_s)
    path = write_srt(cues, tmp_path / "subs.srt")

    parsed = list(srt.parse(path.read_text(encoding="utf-8")))
    _check_cues_read_well(parsed, video_s, max_chars)
    assert [c.content for c in parsed] == [s.text for p in pieces for s in p.segments]

    # Cue times are the measured segment times, and the audio agrees: speech at each cue
    # start, silence in each pause between two cues of a shot.
    track = _voice_track(pieces, [s.voice_start_s for s in slots], video_s)
    expected = [(slot.voice_start_s + s.offset_s, slot.voice_start_s + s.end_s)
                for slot, p in zip(slots, pieces) for s in p.segments]
    for cue, (start, end) in zip(parsed, expected):
        assert end - start >= MIN_CUE_S  # nothing was held: these are the raw measurements
        assert abs(cue.start.total_seconds() - start) <= 0.05
        assert abs(cue.end.total_seconds() - end) <= 0.05
        assert _speech_db(track, start, start + 0.15) > -30, cue.content
        assert _speech_db(track, end - 0.15, end) > -30, cue.content
    for a, b in zip(parsed, parsed[1:]):
        gap = (a.end.total_seconds() + 0.04, b.start.total_seconds() - 0.04)
        if gap[1] > gap[0]:
            assert _speech_db(track, *gap) < -40, (a.content, b.content)

    vtt = write_vtt(cues, tmp_path / "subs.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT") and vtt.count(" --> ") == len(cues)


@pytest.mark.integration
def test_english_cues_follow_the_measured_piper_audio(tmp_path: Path) -> None:
    text = ("The little fox climbed the hill every night to watch the stars. One night, the brightest star was "
            "gone, and the fox searched the whole forest for it.")
    settings = PostSettings()
    max_chars = max_chars_per_line(640, 36, "en", settings.subtitle_margin_side)
    piece = narrate_segments(text, "en", tmp_path / "voice.wav", settings, max_chars)
    assert piece.voice == "piper" and len(piece.segments) >= 3
    slots = build_timeline([2.0], [piece.duration_s])
    cues = episode_cues(slots, [piece.segments], total_duration(slots))
    track = _voice_track([piece], [slots[0].voice_start_s], total_duration(slots))
    for cue, seg in zip(cues, piece.segments):
        assert cue.start == pytest.approx(slots[0].voice_start_s + seg.offset_s, abs=0.05)
        assert _speech_db(track, cue.start, cue.start + 0.15) > -30


def test_one_line_cues_when_asked() -> None:
    cues = segment_text(ZH_SHOTS[0] + ZH_SHOTS[1], "zh", 12, max_lines=1)
    assert len(cues) >= 6
    assert all("\n" not in c and len(c) <= 12 and c[0] not in CLOSING for c in cues)
    assert "".join(cues).replace("，", "") in (ZH_SHOTS[0] + ZH_SHOTS[1]).replace("，", "").replace("。", "")


def test_side_margin_narrows_the_line() -> None:
    assert max_chars_per_line(640, 36, "zh") == 16  # 90% of the width by default
    assert max_chars_per_line(640, 36, "zh", side_margin=0.1) == 14
    assert max_chars_per_line(1280, 48, "zh", side_margin=PostSettings().subtitle_margin_side) == 23


def test_short_cues_are_held_into_the_pause_but_never_over_the_next() -> None:
    segments = [SpokenSegment("好", 0.0, 0.3), SpokenSegment("我们走吧", 0.55, 1.2), SpokenSegment("嗯", 2.0, 0.2)]
    cues = cues_from_segments(segments, voice_start_s=10.0)
    assert [(c.start, c.end) for c in cues] == [(10.0, 10.55), (10.55, 11.75), (12.0, 12.5)]
    # measured cues keep their measured times
    assert cues_from_segments([SpokenSegment("长句子在这里", 0.0, 1.5)], 2.0)[0] == Cue(2.0, 3.5, "长句子在这里")


def test_every_cue_ends_before_the_video_ends() -> None:
    slots = build_timeline([2.0, 2.0], [1.5, 1.5])
    segments = [[SpokenSegment("一二三", 0.0, 1.5)], [SpokenSegment("四五六", 0.0, 1.0), SpokenSegment("七", 1.2, 0.3)]]
    video_s = 3.6  # the video was cut shorter than the narration
    cues = episode_cues(slots, segments, video_s)
    assert [c.text for c in cues] == ["一二三", "四五六"]
    assert all(c.end < video_s for c in cues)
    with pytest.raises(Exception, match="one list of spoken segments per shot"):
        episode_cues(slots, segments[:1], video_s)


def test_style_settings_reach_the_ass_file(tmp_path: Path) -> None:
    settings = PostSettings(subtitle_color="#FFD700", subtitle_outline_color="#202020", subtitle_outline=0.1,
                            subtitle_shadow=0.0, subtitle_margin_bottom=0.1, subtitle_margin_side=0.05)
    ass = write_ass([Cue(0.0, 1.0, "星星")], tmp_path / "s.ass", width=1280, height=720, font_family="WenQuanYi",
                    font_size=40, style=SubtitleStyle.from_settings(settings)).read_text(encoding="utf-8")
    style = next(line for line in ass.splitlines() if line.startswith("Style: "))
    assert style == ("Style: Default,WenQuanYi,40,&H0000D7FF,&H000000FF,&H00202020,&H7F000000,"
                     "0,0,0,0,100,100,0,0,1,4.0,0.0,2,64,64,72,1")
    assert ass_colour("#FFFFFF00") == "&HFFFFFFFF"  # fully transparent
    with pytest.raises(ValidationError):
        PostSettings(subtitle_color="white")
    with pytest.raises(ValidationError):
        PostSettings(subtitle_max_lines=3)


def test_burned_subtitles_keep_inside_the_safe_margins_in_the_chosen_colour(tmp_path: Path) -> None:
    width, height, font_size = 320, 180, 20
    settings = PostSettings(subtitle_color="#FF0000", subtitle_shadow=0.0)
    style = SubtitleStyle.from_settings(settings)
    font = find_cjk_font(settings.font)
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / ("font" + font.suffix.lower())).symlink_to(font.resolve())
    family = ImageFont.truetype(str(font), 16).getname()[0]
    max_chars = max_chars_per_line(width, font_size, "zh", style.margin_side)
    text = segment_text(ZH_SHOTS[0], "zh", max_chars)[0]
    assert text.count("\n") == 1 and max(len(line) for line in text.split("\n")) == max_chars  # a full 2-line cue
    write_ass([Cue(0.0, 2.0, text)], tmp_path / "subs.ass", width=width, height=height, font_family=family,
              font_size=font_size, style=style)
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"color=c=black:s={width}x{height}:d=1", "-vf", "subtitles=filename=subs.ass:fontsdir=fonts",
         "-frames:v", "1", "frame.png"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    frame = np.asarray(Image.open(tmp_path / "frame.png").convert("RGB")).astype(int)
    red = (frame[..., 0] > 150) & (frame[..., 1] < 80) & (frame[..., 2] < 80)
    assert red.sum() > 200  # real glyphs, drawn in the configured colour
    ys, xs = np.nonzero(frame.max(axis=2) > 40)  # text and its outline
    outline = font_size * style.outline
    assert height - 1 - ys.max() >= height * style.margin_bottom - outline - 1
    assert xs.min() >= width * style.margin_side - outline - 1
    assert width - 1 - xs.max() >= width * style.margin_side - outline - 1


# --- segmentation and cue files (moved from tests/test_assembly.py) ---------------------

ZH_PARAGRAPH = (
    "在遥远的星空下，一只小狐狸独自走过寂静的雪原，"
    "它抬头望着闪烁的星星，心里想着远方的家人和朋友们。"
    "第二天早上，太阳升起来了，雪原上一片金黄，"
    "小狐狸终于找到了回家的路！你相信吗？"
)
EN_PARAGRAPH = (
    "The little fox walked alone across the silent snowfield, looking up at the twinkling stars "
    "and thinking of its family far away. The next morning, the sun rose over the hills."
)


def han(text: str) -> str:
    """The Han characters of `text`, in order."""
    return "".join(ch for ch in text if "\u4e00" <= ch <= "\u9fff")


# --- segmentation -----------------------------------------------------------------------


def test_max_chars_per_line_counts_cjk_as_one_em_and_latin_as_narrower():
    assert max_chars_per_line(640, 36, "zh") == 16  # 0.9 * 640 / 36
    assert max_chars_per_line(640, 36, "en") == 29  # 0.9 * 640 / (0.55 * 36)
    assert max_chars_per_line(1920, 60, "zh") == 28


def test_chinese_paragraph_without_spaces_becomes_several_short_cues():
    max_chars = 14
    segments = segment_text(ZH_PARAGRAPH, "zh", max_chars)
    assert len(ZH_PARAGRAPH) > 60 and " " not in ZH_PARAGRAPH
    assert len(segments) >= 4, segments
    for seg in segments:
        lines = seg.split("\n")
        assert 1 <= len(lines) <= 2
        for line in lines:
            assert len(line) <= max_chars, line
            assert line[0] not in CLOSING, line
            assert line[-1] not in "，、；：。", line  # trailing commas/stops dropped
    # nothing lost, nothing reordered
    assert han("".join(segments)) == han(ZH_PARAGRAPH)
    # ？ and ！ are kept at the end of a cue
    assert segments[-1].endswith("？") and any(s.endswith("！") for s in segments)


def test_chinese_lines_never_start_with_closing_punctuation_random_text():
    rng = random.Random(7)
    alphabet = "星空小狐狸雪原太阳家人朋友回路" * 3 + "，。！？、；：」）”…"
    for _ in range(300):
        # (a text that itself starts with a closing mark has nowhere to move it)
        text = "星" + "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 90)))
        max_chars = rng.randint(4, 20)
        for seg in segment_text(text, "zh", max_chars):
            assert seg.count("\n") <= 1
            for line in seg.split("\n"):
                assert line and line[0] not in CLOSING, (text, max_chars, seg)
                # closing marks stay glued to their character even when that overflows
                assert len(line.rstrip("".join(CLOSING))) <= max_chars, (text, max_chars, seg)


def test_english_wraps_on_word_boundaries():
    max_chars = 30
    segments = segment_text(EN_PARAGRAPH, "en", max_chars)
    assert len(segments) >= 3
    words = EN_PARAGRAPH.split()
    shown: list[str] = []
    for seg in segments:
        assert seg.count("\n") <= 1
        for line in seg.split("\n"):
            assert len(line) <= max_chars, line
            shown += line.split()
    # every shown token is a whole source word (a trailing comma may be dropped), in order
    assert [w.rstrip(",") for w in shown] == [w.rstrip(",") for w in words]


def test_mixed_chinese_keeps_latin_words_whole():
    segments = segment_text("我喜欢Python语言和machine learning技术，真的很有趣。", "zh", 8)
    lines = [line for s in segments for line in s.split("\n")]
    assert any("Python" in line for line in lines)
    assert not any(line.startswith(("ython", "achine", "earning")) for line in lines)


def test_clamp_keeps_cues_inside_the_video_and_srt_round_trips(tmp_path):
    cues = [Cue(0.0, 1.5, "一"), Cue(1.2, 3.0, "二\n三"), Cue(3.0, 5.0, "四"), Cue(4.95, 6.0, "五")]
    clamped = clamp_cues(cues, video_s=4.0)
    assert [c.text for c in clamped] == ["一", "二\n三", "四"]
    for a, b in zip(clamped, clamped[1:]):
        assert a.end <= b.start
    assert clamped[-1].end < 4.0
    path = write_srt(clamped, tmp_path / "subs.srt")
    parsed = list(srt.parse(path.read_text(encoding="utf-8")))
    assert [p.content for p in parsed] == [c.text for c in clamped]
    for p, c in zip(parsed, clamped):
        assert p.start.total_seconds() == pytest.approx(c.start, abs=1e-3)
        assert p.end.total_seconds() == pytest.approx(c.end, abs=1e-3)
    vtt = write_vtt([Cue(0, 1, "<script>a & b</script>")], tmp_path / "subs.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT") and "&lt;script&gt;a &amp; b" in vtt and "00:00:00.000 --> 00:00:01.000" in vtt
