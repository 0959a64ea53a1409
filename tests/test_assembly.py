"""Subtitles, timeline and the final mux: what a viewer and a publisher rely on."""

from __future__ import annotations

import random
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import srt

from postprocess.assemble import assemble
from postprocess.subtitles import (
    CLOSING,
    Cue,
    clamp_cues,
    cues_for_voice,
    max_chars_per_line,
    segment_text,
    subtitle_font_size,
    write_srt,
    write_vtt,
)
from postprocess.timeline import build_timeline
from reelgate.errors import ConfigError, InputError, MediaError
from reelgate.fonts import find_cjk_font
from reelgate.media import VideoWriter, ffmpeg_exe, probe
from reelgate.settings import PostSettings

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


def _han(text: str) -> str:
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
    assert _han("".join(segments)) == _han(ZH_PARAGRAPH)
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


# --- timeline and cue timing ---------------------------------------------------------------


def test_timeline_slots_fit_voice_and_are_contiguous():
    slots = build_timeline([3.0, 2.0, 4.0], [2.0, 3.0, 0.0], lead_s=0.25, tail_s=0.35)
    assert [round(s.duration_s, 6) for s in slots] == [3.0, 3.6, 4.0]  # voice longer than shot 1
    assert [round(s.start_s, 6) for s in slots] == [0.0, 3.0, 6.6]
    assert [round(s.voice_start_s - s.start_s, 6) for s in slots] == [0.25] * 3
    for slot in slots:
        assert slot.voice_start_s + slot.voice_s <= slot.start_s + slot.duration_s + 1e-9
    with pytest.raises(InputError):
        build_timeline([1.0], [1.0, 2.0])


def test_cues_split_measured_voice_contiguously_and_in_proportion():
    cues = cues_for_voice(ZH_PARAGRAPH, "zh", voice_start_s=10.25, voice_s=18.0, max_chars=14)
    assert len(cues) >= 4
    assert cues[0].start == pytest.approx(10.25)
    assert cues[-1].end == pytest.approx(28.25)
    for a, b in zip(cues, cues[1:]):
        assert a.end == pytest.approx(b.start)  # contiguous, in order, no overlap
    assert all(c.end - c.start >= 0.8 - 1e-6 for c in cues)
    # a cue with more to say stays up longer (time per Chinese character roughly equal)
    rates = [(c.end - c.start) / len(_han(c.text)) for c in cues if len(_han(c.text)) >= 5]
    assert max(rates) / min(rates) < 1.6


def test_short_cues_get_minimum_duration_when_voice_allows():
    text = "好。" + "这是一个比较长的句子，里面有很多很多的字要读出来。"
    cues = cues_for_voice(text, "zh", 0.0, 4.0, max_chars=14)
    assert cues[0].text == "好"
    assert cues[0].end - cues[0].start >= 0.8 - 1e-6
    assert cues[-1].end == pytest.approx(4.0)


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


# --- the mux ------------------------------------------------------------------------------


def _make_shot(
    path: Path, color: tuple[int, int, int], w: int = 320, h: int = 180, fps: int = 24, seconds: float = 1.0
) -> Path:
    with VideoWriter(path, w, h, fps) as writer:
        for f in range(int(seconds * fps)):
            frame = np.zeros((h, w, 3), np.uint8)
            frame[:] = color
            x = (f * 8) % (w - 20)
            frame[: h // 3, x : x + 20] = 255  # moving bar, kept out of the subtitle area
            writer.write(frame)
    return path


def _make_wav(path: Path, seconds: float, sr: int = 48000) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(sr)
        wf.writeframes(samples.tobytes())
    return path


def _frames_at(path: Path, fps: float, times: list[float], w: int = 320, h: int = 180) -> dict[float, np.ndarray]:
    # decoded with ffmpeg directly: reelgate.media.read_frames fails with this imageio-ffmpeg
    out = {}
    for t in times:
        raw = subprocess.run(
            [ffmpeg_exe(), "-loglevel", "error", "-ss", f"{t}", "-i", str(path), "-frames:v", "1",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        out[t] = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
    return out


FONT_PX = 20  # height/18 would be 10 px at 180p: too thin to measure reliably


@pytest.fixture
def episode(tmp_path):
    # a folder name with quotes, colons, commas and brackets must not break the filter graph
    work = tmp_path / "it's: a,[work];dir"
    work.mkdir()
    shots = [_make_shot(work / "shot0.mp4", (200, 30, 30)), _make_shot(work / "shot1.mp4", (30, 30, 200))]
    wav = _make_wav(work / "mix.wav", 1.5)  # shorter than the video: padded
    slots = build_timeline([1.0, 1.0], [1.6, 1.2])  # both slots longer than their 1 s shot
    max_chars = max_chars_per_line(320, FONT_PX, "zh")
    texts = ["小狐狸望着星星。", '"引号" 100% a:b \\n {\\an8} <script>alert(1)</script>：星星！']
    cues = [c for s, t in zip(slots, texts) for c in cues_for_voice(t, "zh", s.voice_start_s, s.voice_s, max_chars)]
    return work, shots, wav, slots, cues


def _assemble(episode, settings: PostSettings, name: str = "ep.mp4"):
    work, shots, wav, slots, cues = episode
    return assemble(
        slots, shots, wav, cues, work / name, settings,
        width=320, height=180, fps=24, language="zh",
        metadata={"title": "星空: a=b; #1", "episode_id": "ep-1"},
        chapters=["第一镜", "second: 'shot'"], work_dir=work / "mux",
    )  # fmt: skip


@pytest.mark.integration
def test_assemble_muxes_streams_labels_and_chapters(episode):
    work, shots, wav, slots, cues = episode
    report = _assemble(episode, PostSettings(ai_label="AI生成 50% 'x':y", font_size=FONT_PX))
    total = sum(s.duration_s for s in slots)
    assert report.duration_s == pytest.approx(total, abs=0.1)
    assert (report.width, report.height, report.has_audio) == (320, 180, True)
    assert report.subtitle_cues == len(cues)

    info = probe(report.path)
    (video,) = info.of_kind("video")
    (audio,) = info.of_kind("audio")
    (subs,) = info.of_kind("subtitle")
    assert (video.codec, video.pix_fmt, video.fps) == ("h264", "yuv420p", 24.0)
    assert (audio.codec, audio.sample_rate) == ("aac", 48000)
    assert (subs.codec, subs.language) == ("mov_text", "chi")
    assert info.chapters == len(shots)
    assert info.metadata["title"] == "星空: a=b; #1"
    assert '"Label":"1"' in info.metadata["AIGC"]
    assert "AI-generated" in info.metadata["comment"]

    # the soft track carries the text, markup shown as text rather than obeyed or dropped
    soft = subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-i", str(report.path), "-map", "0:s", "-f", "srt", "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "小狐狸望着星星" in soft and "script" in soft and "an8" in soft

    # shots are held on their last frame until the slot ends, then the next shot starts
    frames = _frames_at(report.path, 24, [0.5, 1.9, 2.5])
    assert frames[0.5][100:, :, 0].mean() > 150  # red shot
    assert frames[1.9][100:, :, 0].mean() > 150  # still red: shot 0 (1 s) held to 2.2 s
    assert frames[2.5][100:, :, 2].mean() > 150  # blue shot


@pytest.mark.integration
def test_burned_chinese_subtitles_and_label_are_visible(episode):
    work, shots, wav, slots, cues = episode
    burned = _assemble(episode, PostSettings(font_size=FONT_PX), "burned.mp4")
    plain = _assemble(episode, PostSettings(burn_subtitles=False, ai_label=""), "plain.mp4")
    t = (cues[0].start + cues[0].end) / 2
    on = _frames_at(burned.path, 24, [t])[t].astype(int)
    off = _frames_at(plain.path, 24, [t])[t].astype(int)

    def bright_and_dark(region: np.ndarray) -> tuple[int, int]:
        return int((region.min(axis=2) > 200).sum()), int((region.max(axis=2) < 60).sum())

    sub_on, sub_off = on[130:, :], off[130:, :]  # bottom of the frame, where subtitles sit
    bright, dark = bright_and_dark(sub_on)
    assert bright > 60 and dark > 60, (bright, dark)  # white glyphs with a black outline
    assert bright_and_dark(sub_off) == (0, 0)  # the source has neither there
    label_on, label_off = on[:30, 220:], off[:30, 220:]
    changed = int((np.abs(label_on - label_off).max(axis=2) > 40).sum())
    assert changed > 50, changed  # the AI label sits top-right

    # the font has real glyphs for the cue's Chinese characters (no tofu boxes)
    from PIL import ImageFont

    font = ImageFont.truetype(str(find_cjk_font(None)), 32)
    notdef = bytes(font.getmask("\U000f0000"))
    for ch in _han(cues[0].text):
        assert bytes(font.getmask(ch)) != notdef, ch
    assert bytes(font.getmask("星")) != notdef


@pytest.mark.integration
def test_missing_inputs_and_font_give_clear_errors(episode, tmp_path):
    work, shots, wav, slots, cues = episode
    with pytest.raises(ConfigError, match="REELGATE_POST__FONT"):
        _assemble(episode, PostSettings(font=tmp_path / "no-such-font.ttf"))
    with pytest.raises(MediaError, match="shot 1"):
        assemble(
            slots, [shots[0], tmp_path / "gone.mp4"], wav, cues, tmp_path / "x.mp4", PostSettings(),
            width=320, height=180, fps=24, language="zh", metadata={},
        )  # fmt: skip
    with pytest.raises(MediaError, match="narration"):
        assemble(
            slots, shots, tmp_path / "gone.wav", cues, tmp_path / "x.mp4", PostSettings(),
            width=320, height=180, fps=24, language="zh", metadata={},
        )  # fmt: skip
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.integration
def test_ten_second_640x360_episode_wall_time(tmp_path):
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    shots = [_make_shot(tmp_path / f"s{i}.mp4", c, 640, 360, 24, 2.0) for i, c in enumerate(colors)]
    voice = [2.7, 2.8, 2.7]  # + 0.6 s lead/tail each: 10 s
    slots = build_timeline([2.0] * 3, voice)
    total = sum(s.duration_s for s in slots)
    wav = _make_wav(tmp_path / "mix.wav", total)
    max_chars = max_chars_per_line(640, subtitle_font_size(360), "zh")
    cues = [c for s in slots for c in cues_for_voice(ZH_PARAGRAPH[:40], "zh", s.voice_start_s, s.voice_s, max_chars)]
    started = time.perf_counter()
    report = assemble(
        slots, shots, wav, cues, tmp_path / "ep.mp4", PostSettings(),
        width=640, height=360, fps=24, language="zh", metadata={"title": "t"},
    )  # fmt: skip
    wall = time.perf_counter() - started
    print(f"\nassembly of a {total:.1f} s 640x360 episode took {wall:.2f} s")
    assert total == pytest.approx(10.0, abs=0.05)
    assert report.duration_s == pytest.approx(total, abs=0.1)
