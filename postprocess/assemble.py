"""The final mux: shots on the timeline, narration, subtitles, AI labels, chapters.

One ffmpeg run streams everything (no frames pass through Python): each shot is scaled
and padded to the episode size, resampled to the episode frame rate, and held on its last
frame until its slot ends; the shots are concatenated, subtitles and the visible AI label
are drawn in, and the narration, a soft subtitle track, chapters and the implicit AIGC
metadata label go into one faststart MP4.

All user text reaches ffmpeg through files (ASS/SRT for subtitles, a `textfile` for the
label, an ffmetadata file for metadata and chapters), so quotes, colons, percent signs or
`<script>` in a story cannot break the filter graph; file paths are escaped for it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, Field

from postprocess.subtitles import Cue, clamp_cues, render_safe, subtitle_font_size, write_ass, write_srt
from postprocess.timeline import Slot
from reelgate.errors import InputError, MediaError
from reelgate.files import atomic_path, write_text
from reelgate.fonts import find_cjk_font
from reelgate.media import probe, run_ffmpeg, video_info
from reelgate.settings import PostSettings

GENERATOR = "reelgate"
_LANGUAGE_TAGS = {"zh": "chi", "en": "eng"}


class AssemblyReport(BaseModel):
    """What the final mux produced, measured from the written file."""

    path: Path
    duration_s: float = Field(description="Duration of the written MP4, seconds.")
    width: int
    height: int
    has_audio: bool
    subtitle_cues: int = Field(description="Cues in the subtitle track (after clamping to the video).")
    seconds_taken: float = Field(description="Wall time of the assembly.")


def escape_filter_value(value: str) -> str:
    """Quote a value (a file path) for use as a filter option inside an ffmpeg filter graph.

    Two levels, as ffmpeg's "Quoting and escaping" docs describe: quote for the option
    parser, then backslash the characters the graph parser treats specially.
    """
    quoted = "'" + value.replace("'", "'\\''") + "'"
    return re.sub(r"([\\'\[\],;])", r"\\\1", quoted)


def _ffmeta_escape(text: str) -> str:
    return re.sub(r"([=;#\\\n])", r"\\\1", text)


def _font_family(font: Path) -> str:
    """The family name libass will match, read from the font file (face 0 of a collection)."""
    from PIL import ImageFont

    try:
        family, _style = ImageFont.truetype(str(font), 16).getname()
    except OSError as exc:
        raise MediaError(
            f"cannot read font {font}: {exc}; set REELGATE_POST__FONT to a .ttf/.ttc/.otf file with CJK glyphs"
        ) from exc
    return family or font.stem


def _link_font(font: Path, fonts_dir: Path) -> None:
    # libass scans every file in fontsdir: give it a folder holding only our font
    fonts_dir.mkdir(parents=True, exist_ok=True)
    target = fonts_dir / ("font" + font.suffix.lower())
    target.unlink(missing_ok=True)
    try:
        os.symlink(font.resolve(), target)
    except OSError:
        shutil.copyfile(font, target)


def _frame_counts(slots: list[Slot], fps: float) -> list[int]:
    """Frames per slot, rounded on cumulative boundaries so the total never drifts."""
    counts = []
    start = 0.0
    for slot in slots:
        end = start + slot.duration_s
        counts.append(max(1, round(end * fps) - round(start * fps)))
        start = end
    return counts


def _write_ffmetadata(
    path: Path, metadata: dict[str, str], slots: list[Slot], counts: list[int], fps: float, titles: list[str]
) -> None:
    lines = [";FFMETADATA1"]
    for key, value in metadata.items():
        safe_key = re.sub(r"[^A-Za-z0-9_]", "_", key)
        lines.append(f"{safe_key}={_ffmeta_escape(str(value))}")
    frame = 0
    for count, title in zip(counts, titles):
        start_ms = round(frame / fps * 1000)
        frame += count
        end_ms = round(frame / fps * 1000)
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={start_ms}", f"END={end_ms}"]
        lines.append(f"title={_ffmeta_escape(title)}")
    write_text(path, "\n".join(lines) + "\n")


def _with_aigc_label(metadata: dict[str, str], out_mp4: Path) -> dict[str, str]:
    """The metadata dict with the implicit AI-content label China's AIGC rules ask for."""
    meta = {k: str(v) for k, v in metadata.items() if str(v) != ""}
    meta.setdefault("title", out_mp4.stem)
    meta.setdefault("comment", f"AI-generated content; generator={GENERATOR}")
    meta.setdefault(
        "AIGC",
        json.dumps(
            {"Label": "1", "ContentProducer": GENERATOR, "ProduceID": meta.get("episode_id", out_mp4.stem)},
            ensure_ascii=False,
            separators=(",", ":"),
        ),
    )
    return meta


def _check_inputs(
    slots: list[Slot], shot_videos: list[Path], audio_wav: Path, width: int, height: int, fps: float
) -> None:
    if not slots:
        raise InputError("nothing to assemble: the timeline has no slots")
    if len(slots) != len(shot_videos):
        raise InputError(
            f"assembly needs one shot video per slot: got {len(slots)} slots and {len(shot_videos)} videos"
        )
    for i, path in enumerate(shot_videos):
        if not Path(path).is_file():
            raise MediaError(f"shot {i} video is missing: {path}")
    if not Path(audio_wav).is_file():
        raise MediaError(f"narration audio is missing: {audio_wav}")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise InputError(f"output size must be positive and even for H.264 (yuv420p), got {width}x{height}")
    if fps <= 0:
        raise InputError(f"fps must be positive, got {fps}")


def assemble(
    slots: list[Slot],
    shot_videos: list[Path],
    audio_wav: Path,
    cues: list[Cue],
    out_mp4: Path,
    settings: PostSettings,
    *,
    width: int,
    height: int,
    fps: float,
    language: str,
    metadata: dict[str, str],
    chapters: list[str] | None = None,
    work_dir: Path | None = None,
) -> AssemblyReport:
    """Mux shots, narration and subtitles into the episode MP4 at `out_mp4` (atomically).

    Args:
        slots: the timeline (see `postprocess.timeline.build_timeline`), one slot per shot.
        shot_videos: the shot files, in slot order; shorter shots hold their last frame.
        audio_wav: the mixed narration/music track; padded with silence or cut to the video.
        cues: subtitles in episode time; clamped to the video before writing.
        language: "zh" or "en"; tags the soft subtitle track.
        metadata: global tags (title, comment, ...); an `AIGC` label is added if absent.
        chapters: one title per shot; default "Shot 1", "Shot 2", ...
        work_dir: where the intermediate subtitle/metadata files go; default a temp folder.
    """
    started = time.perf_counter()
    shot_videos = [Path(p) for p in shot_videos]
    out_mp4 = Path(out_mp4)
    _check_inputs(slots, shot_videos, Path(audio_wav), width, height, fps)
    if chapters is not None and len(chapters) != len(slots):
        raise InputError(f"need one chapter title per shot: got {len(chapters)} titles for {len(slots)} shots")
    titles = chapters if chapters is not None else [f"Shot {i + 1}" for i in range(len(slots))]

    counts = _frame_counts(slots, fps)
    video_s = sum(counts) / fps
    cues = clamp_cues(cues, video_s)
    burn = settings.burn_subtitles and bool(cues)
    label = settings.ai_label.strip()
    font = find_cjk_font(settings.font) if (burn or label) else None

    with tempfile.TemporaryDirectory(prefix="reelgate-assemble-") as tmp_dir:
        work = Path(work_dir) if work_dir is not None else Path(tmp_dir)
        work.mkdir(parents=True, exist_ok=True)
        args: list[str] = []
        graph: list[str] = []
        for i, (path, count) in enumerate(zip(shot_videos, counts)):
            shot_s = video_info(path)[3]
            hold_s = max(0.0, count / fps - shot_s) + 1.0
            args += ["-i", str(path)]
            graph.append(
                f"[{i}:v]setpts=PTS-STARTPTS,"
                f"scale=w={width}:h={height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
                f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,fps={fps},format=yuv420p,"
                f"tpad=stop_mode=clone:stop_duration={hold_s:.3f},trim=end_frame={count},setpts=PTS-STARTPTS[v{i}]"
            )
        n = len(slots)
        chain = "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0"
        if burn:
            assert font is not None
            fonts_dir = work / "fonts"
            _link_font(font, fonts_dir)
            ass = write_ass(
                cues,
                work / "subtitles.ass",
                width=width,
                height=height,
                font_family=_font_family(font),
                font_size=subtitle_font_size(height, settings.font_size),
                margin_v=round(height * 0.06),
            )
            chain += (
                f",subtitles=filename={escape_filter_value(str(ass))}"
                f":fontsdir={escape_filter_value(str(fonts_dir))}"
            )
        if label:
            assert font is not None
            label_file = write_text(work / "ai_label.txt", label)
            margin = max(4, round(height * 0.03))
            chain += (
                f",drawtext=fontfile={escape_filter_value(str(font))}"
                f":textfile={escape_filter_value(str(label_file))}:expansion=none"
                f":fontsize={max(10, round(height / 24))}:fontcolor=white@0.7"
                f":borderw={max(1, round(height / 360))}:bordercolor=black@0.5"
                f":x=w-tw-{margin}:y={margin}"
            )
        graph.append(chain + ",format=yuv420p[vout]")

        audio_index = n
        args += ["-i", str(audio_wav)]
        graph.append(
            f"[{audio_index}:a]aresample=48000,apad=whole_dur={video_s:.6f},"
            f"atrim=end={video_s:.6f},asetpts=PTS-STARTPTS[aout]"
        )
        next_index = n + 1
        sub_index = None
        if cues:
            muxed = [Cue(c.start, c.end, render_safe(c.text)) for c in cues]
            srt_path = write_srt(muxed, work / "subtitles.srt")
            args += ["-i", str(srt_path)]
            sub_index, next_index = next_index, next_index + 1
        meta_path = work / "metadata.ffmeta"
        _write_ffmetadata(meta_path, _with_aigc_label(metadata, out_mp4), slots, counts, fps, titles)
        args += ["-f", "ffmetadata", "-i", str(meta_path)]
        meta_index = next_index

        args += ["-filter_complex", ";".join(graph), "-map", "[vout]", "-map", "[aout]"]
        if sub_index is not None:
            lang_tag = _LANGUAGE_TAGS.get(language.lower()[:2], "und")
            args += ["-map", f"{sub_index}:s", "-c:s", "mov_text", "-metadata:s:s:0", f"language={lang_tag}"]
        args += [
            "-map_metadata", str(meta_index), "-map_chapters", str(meta_index),
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-r", f"{fps}",
            "-c:a", "aac", "-b:a", "160k", "-ar", "48000",
            "-t", f"{video_s:.6f}",
            # use_metadata_tags keeps custom keys such as AIGC in the MP4
            "-movflags", "+faststart+use_metadata_tags",
        ]  # fmt: skip
        with atomic_path(out_mp4) as tmp_out:
            run_ffmpeg([*args, "-f", "mp4", str(tmp_out)], f"assembling {out_mp4.name}")

    info = probe(out_mp4)
    video = info.of_kind("video")
    return AssemblyReport(
        path=out_mp4,
        duration_s=info.duration_s,
        width=(video[0].width or 0) if video else 0,
        height=(video[0].height or 0) if video else 0,
        has_audio=bool(info.of_kind("audio")),
        subtitle_cues=len(cues),
        seconds_taken=time.perf_counter() - started,
    )
