"""The timeline and the final mux: what a viewer and a publisher rely on (subtitle cues: tests/test_subtitles.py)."""

from __future__ import annotations

import json
import struct
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from postprocess.assemble import AssemblyReport, assemble, language_tag
from postprocess.subtitles import episode_cues, max_chars_per_line, segment_text, subtitle_font_size
from postprocess.timeline import Slot, SpokenSegment, build_timeline
from reelgate.errors import ConfigError, InputError, MediaError
from reelgate.fonts import find_cjk_font
from reelgate.media import VideoWriter, ffmpeg_exe, probe
from reelgate.settings import PostSettings
from tests.test_subtitles import ZH_PARAGRAPH, han

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


def _spoken(slots: list[Slot], texts: list[str], max_chars: int) -> list[list[SpokenSegment]]:
    """Spoken segments as `narrate_segments` returns them (here: evenly spread over each voice)."""
    out = []
    for slot, text in zip(slots, texts):
        parts = segment_text(text, "zh", max_chars)
        step = slot.voice_s / len(parts)
        out.append([SpokenSegment(p, i * step, step * 0.9) for i, p in enumerate(parts)])
    return out


def _top_level_atoms(path: Path) -> list[str]:
    """The MP4's top-level box types in file order, read from the bytes."""
    atoms = []
    data = path.read_bytes()
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
        atoms.append(kind.decode("latin-1"))
        if size < 8:
            break
        at += size
    return atoms


def _mdta_tags(path: Path) -> dict[str, str]:
    """The MP4's global metadata as written (mdta keys and their ilst values), read from the bytes.

    ffmpeg's reader hides some keys (a global `language`), so the file itself is read.
    """
    data = path.read_bytes()
    k = data.index(b"keys")
    count = struct.unpack(">I", data[k + 8 : k + 12])[0]
    keys, at = [], k + 12
    for _ in range(count):
        size = struct.unpack(">I", data[at : at + 4])[0]
        keys.append(data[at + 8 : at + size].decode("utf-8"))
        at += size
    i = data.index(b"ilst")
    end = i - 4 + struct.unpack(">I", data[i - 4 : i])[0]
    tags, at = {}, i + 4
    while at < end:
        size, index = struct.unpack(">II", data[at : at + 8])
        tags[keys[index - 1]] = data[at + 24 : at + size].decode("utf-8")  # 'data' box: 16-byte header
        at += size
    return tags


def _chapter_starts_ms(path: Path) -> list[int]:
    meta = subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-f", "ffmetadata", "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    starts, timebase = [], 1.0
    for line in meta.splitlines():
        if line.startswith("TIMEBASE="):
            num, den = line.split("=")[1].split("/")
            timebase = int(num) / int(den)
        elif line.startswith("START="):
            starts.append(round(int(line.split("=")[1]) * timebase * 1000))
    return starts


def _slot_starts_ms(slots: list[Slot], fps: int = 24) -> list[int]:
    return [round(round(s.start_s * fps) / fps * 1000) for s in slots]


FONT_PX = 20  # height/18 would be 10 px at 180p: too thin to measure reliably
RED, BLUE = (200, 30, 30), (30, 30, 200)


@pytest.fixture
def episode(tmp_path):
    # a folder name with quotes, colons, commas and brackets must not break the filter graph
    work = tmp_path / "it's: a,[work];dir"
    work.mkdir()
    shots = [_make_shot(work / "shot0.mp4", RED), _make_shot(work / "shot1.mp4", BLUE)]
    wav = _make_wav(work / "mix.wav", 1.5)  # shorter than the video: padded
    slots = build_timeline([1.0, 1.0], [1.6, 1.2])  # both slots longer than their 1 s shot
    max_chars = max_chars_per_line(320, FONT_PX, "zh")
    texts = ["小狐狸望着星星。", '"引号" 100% a:b \\n {\\an8} <script>alert(1)</script>：星星！']
    cues = episode_cues(slots, _spoken(slots, texts, max_chars), sum(s.duration_s for s in slots))
    return work, shots, wav, slots, cues


def _assemble(episode, settings: PostSettings, name: str = "ep.mp4", **metadata: str) -> AssemblyReport:
    work, shots, wav, slots, cues = episode
    return assemble(
        slots, shots, wav, cues, work / name, settings,
        width=320, height=180, fps=24, language="zh",
        metadata={"title": "星空: a=b; #1", "episode_id": "ep-1", **metadata},
        chapters=["第一镜", "second: 'shot'"], work_dir=work / "mux",
    )  # fmt: skip


@pytest.mark.integration
def test_assemble_muxes_streams_labels_and_chapters(episode):
    work, shots, wav, slots, cues = episode
    report = _assemble(
        episode, PostSettings(ai_label="AI生成 50% 'x':y", font_size=FONT_PX, ai_producer="Studio 7"),
        series="小狐狸", generator="reelgate/wan", model="Wan2.1-T2V-1.3B", date="2026-11-05T10:00:00Z",
    )
    total = sum(s.duration_s for s in slots)
    assert report.duration_s == pytest.approx(total, abs=0.05)
    assert (report.width, report.height, report.has_audio) == (320, 180, True)
    assert report.subtitle_cues == len(cues) and report.chapters == len(shots) and report.language == "chi"

    info = probe(report.path)
    (video,) = info.of_kind("video")
    (audio,) = info.of_kind("audio")
    (subs,) = info.of_kind("subtitle")
    assert (video.codec, video.pix_fmt, video.fps, video.language) == ("h264", "yuv420p", 24.0, "chi")
    assert (audio.codec, audio.sample_rate, audio.language) == ("aac", 48000, "chi")
    assert (subs.codec, subs.language) == ("mov_text", "chi")
    meta = _mdta_tags(report.path)
    assert meta["title"] == info.metadata["title"] == "星空: a=b; #1"
    assert (meta["language"], meta["series"], meta["episode"], meta["date"]) == ("chi", "小狐狸", "ep-1", "2026-11-05")
    assert "AI-generated" in meta["comment"]

    # the implicit AIGC label: in the file and in the report (for the manifest), the same
    aigc = json.loads(info.metadata["AIGC"])
    assert aigc == report.aigc == {
        "Label": "1", "ContentProducer": "Studio 7", "ProduceID": "ep-1",
        "generator": "reelgate/wan", "model": "Wan2.1-T2V-1.3B", "date": "2026-11-05T10:00:00Z",
    }  # fmt: skip

    # one chapter per shot, starting where its slot starts (on a frame)
    assert _chapter_starts_ms(report.path) == _slot_starts_ms(slots)

    # faststart: the index (moov) comes before the media data, so playback starts at once
    atoms = _top_level_atoms(report.path)
    assert "moov" in atoms and "mdat" in atoms and atoms.index("moov") < atoms.index("mdat"), atoms

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


def test_language_tags_are_iso_639_2():
    assert [language_tag(x) for x in ("zh", "zh-CN", "en", "EN-us", "jpn", "xx")] == ["chi", "chi", "eng", "eng", "jpn", "und"]


@pytest.mark.integration
def test_transitions_keep_the_timeline_and_blend_at_the_boundary(episode):
    work, shots, wav, slots, cues = episode
    boundary = slots[1].start_s  # 2.2 s
    total = sum(s.duration_s for s in slots)
    times = [1.0, boundary - 0.2, boundary, boundary + 0.2, 3.2]

    def colour(frame: np.ndarray) -> np.ndarray:
        return frame[90:125].reshape(-1, 3).mean(axis=0)  # between the moving bar and the subtitles

    seen = {}
    for transition in ("cut", "fade_black", "crossfade"):
        settings = PostSettings(transition=transition, transition_s=0.6, burn_subtitles=False, ai_label="")
        report = _assemble(episode, settings, f"{transition}.mp4")
        assert report.duration_s == pytest.approx(total, abs=0.05), transition  # slots keep their lengths
        assert report.subtitle_cues == len(cues)
        assert _chapter_starts_ms(report.path) == _slot_starts_ms(slots)
        frames = _frames_at(report.path, 24, times)
        seen[transition] = {t: colour(frames[t]) for t in times}
        assert seen[transition][1.0][0] > 170 and seen[transition][3.2][2] > 170, transition  # slots untouched

    cut, black, cross = seen["cut"], seen["fade_black"], seen["crossfade"]
    assert cut[boundary - 0.2][0] > 170 and cut[boundary][2] > 170  # red up to the boundary, then blue
    assert black[boundary].max() < 15  # black at the boundary
    assert 60 < black[boundary - 0.2][0] < 150 and 60 < black[boundary + 0.2][2] < 150  # dimmed either side
    r, _, b = cross[boundary]
    assert 90 < r < 140 and 90 < b < 140  # half red, half blue
    assert cross[boundary - 0.2][0] > cross[boundary - 0.2][2] + 60  # mostly red, blue coming in
    assert cross[boundary + 0.2][2] > cross[boundary + 0.2][0] + 60  # mostly blue


@pytest.mark.integration
def test_visible_label_sits_in_the_chosen_corner(episode):
    plain = _assemble(episode, PostSettings(burn_subtitles=False, ai_label=""), "plain.mp4")
    t = 0.5
    off = _frames_at(plain.path, 24, [t])[t].astype(int)
    corners = {"top-left": (slice(0, 45), slice(0, 120)), "top-right": (slice(0, 45), slice(200, 320)),
               "bottom-left": (slice(135, 180), slice(0, 120)), "bottom-right": (slice(135, 180), slice(200, 320))}
    for position, region in corners.items():
        settings = PostSettings(burn_subtitles=False, ai_label="AI生成", ai_label_position=position,
                                ai_label_size=0.12, ai_label_opacity=1.0)
        on = _frames_at(_assemble(episode, settings, f"{position}.mp4").path, 24, [t])[t].astype(int)
        changed = np.abs(on - off).max(axis=2) > 60
        inside = int(changed[region].sum())
        assert inside > 80, (position, inside)
        assert int(changed.sum()) - inside < 10, position  # nothing drawn elsewhere
        assert np.abs(on - off).max() > 180  # opaque: white glyphs on the red shot

    # opacity 0.3: the glyphs change the picture about 0.3 as much
    faint = PostSettings(burn_subtitles=False, ai_label="AI生成", ai_label_size=0.12, ai_label_opacity=0.3)
    on = _frames_at(_assemble(episode, faint, "faint.mp4").path, 24, [t])[t].astype(int)
    assert 30 < np.abs(on - off)[corners["top-right"]].max() < 110


@pytest.mark.integration
def test_shots_of_other_sizes_and_rates_keep_their_slots(tmp_path):
    shots = [
        _make_shot(tmp_path / "a.mp4", RED),
        _make_shot(tmp_path / "b.mp4", BLUE, w=160, h=160),  # another size: letterboxed
        _make_shot(tmp_path / "c.mp4", (30, 200, 30), fps=30),  # another frame rate and time base
        _make_shot(tmp_path / "d.mp4", RED),
    ]
    slots = build_timeline([1.0] * 4, [0.0] * 4)
    report = assemble(
        slots, shots, _make_wav(tmp_path / "m.wav", 4.0), [], tmp_path / "ep.mp4", PostSettings(ai_label=""),
        width=320, height=180, fps=24, language="en", metadata={},
    )  # fmt: skip
    assert report.duration_s == pytest.approx(4.0, abs=0.05) and report.language == "eng"
    frames = _frames_at(report.path, 24, [0.95, 1.05, 1.5, 1.95, 2.05, 2.95, 3.05])
    assert frames[1.5][100:, 130:190, 2].mean() > 150  # the square shot in the middle
    assert frames[1.5][:, :40].max() < 20 and frames[1.5][:, -40:].max() < 20  # black bars either side
    # each shot shows exactly in its own slot
    assert frames[0.95][100:, :, 0].mean() > 150 and frames[1.05][100:, 130:190, 2].mean() > 150
    assert frames[1.95][100:, 130:190, 2].mean() > 150 and frames[2.05][100:, :, 1].mean() > 150
    assert frames[2.95][100:, :, 1].mean() > 150 and frames[3.05][100:, :, 0].mean() > 150


@pytest.mark.integration
def test_burned_chinese_subtitles_and_label_are_visible(episode):
    work, shots, wav, slots, cues = episode
    burned = _assemble(episode, PostSettings(font_size=FONT_PX, ai_label_size=0.1), "burned.mp4")
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
    assert changed > 50, changed  # the AI label sits top-right by default

    # the font has real glyphs for the cue's Chinese characters (no tofu boxes)
    from PIL import ImageFont

    font = ImageFont.truetype(str(find_cjk_font(None)), 32)
    notdef = bytes(font.getmask("\U000f0000"))
    for ch in han(cues[0].text):
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
    with pytest.raises(InputError, match="even"):
        assemble(
            slots, shots, wav, cues, tmp_path / "x.mp4", PostSettings(),
            width=321, height=180, fps=24, language="zh", metadata={},
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
    cues = episode_cues(slots, _spoken(slots, [ZH_PARAGRAPH[:40]] * 3, max_chars), total)
    started = time.perf_counter()
    report = assemble(
        slots, shots, wav, cues, tmp_path / "ep.mp4", PostSettings(transition="crossfade"),
        width=640, height=360, fps=24, language="zh", metadata={"title": "t"},
    )  # fmt: skip
    wall = time.perf_counter() - started
    print(f"\nassembly of a {total:.1f} s 640x360 episode (crossfade, burned subtitles) took {wall:.2f} s")
    assert total == pytest.approx(10.0, abs=0.05)
    assert report.duration_s == pytest.approx(total, abs=0.05)
    assert report.transition == "crossfade" and report.transition_s == 0.5
