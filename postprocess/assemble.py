"""The final mux: shots on the timeline, transitions, narration, subtitles, AI labels, chapters.

One ffmpeg run streams everything (no frames pass through Python). The shots reach it
through ffmpeg's concat demuxer, which opens ONE shot at a time, so ffmpeg holds one
decoder however many shots an episode has and its memory stays flat as episodes grow.
Each list entry carries its slot's length (`duration`): the demuxer places every shot at
its slot start, and the `fps` filter repeats a shot's last frame until the next one
starts (a shot shorter than its slot is held).

Transitions keep every slot where the timeline put it, so the episode length, chapters
and subtitle cues never move:
    cut         shots end to end.
    fade_black  the last transition_s/2 of a slot fades to black, the next slot fades in.
    crossfade   centred on the slot boundary: each shot starts transition_s/2 before its
                slot and is held transition_s/2 past it. Even shots come from one concat
                input, odd shots from a second (two decoders, still flat); the odd stream
                is laid over the even one with an alpha that ramps in and out at the
                boundaries.

All user text reaches ffmpeg through files (ASS/SRT for subtitles, a `textfile` for the
label, an ffmetadata file for metadata and chapters, concat lists), so quotes, colons,
percent signs or `<script>` in a story cannot break the filter graph; paths are escaped.

The implicit AI-content label follows China's AIGC labelling rules (GB 45438-2025): an
`AIGC` metadata tag holding JSON with Label, ContentProducer and ProduceID, plus the
generator, model and date; the same dict is returned for the manifest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field

from postprocess.subtitles import (
    Cue, SubtitleStyle, clamp_cues, render_safe, subtitle_font_size, write_ass, write_srt,
)  # fmt: skip
from postprocess.timeline import Slot
from reelgate.errors import InputError, MediaError
from reelgate.files import atomic_path, write_text
from reelgate.fonts import find_cjk_font
from reelgate.media import ffmpeg_exe, local_inputs, probe, run_ffmpeg
from reelgate.settings import PostSettings

GENERATOR = "reelgate"
# ISO 639-2 (bibliographic, as ffmpeg and most players write it) for the languages we narrate
# Odd-sized shots are re-encoded at this CRF before the join: visually lossless. (Truly
# lossless x264 is High 4:4:4 Predictive, which the shared decoder garbled after a High stream.)
_NORMALISE_CRF = 10
_LANGUAGE_TAGS = {"zh": "chi", "en": "eng", "ja": "jpn", "ko": "kor", "fr": "fre", "de": "ger", "es": "spa"}


class AssemblyReport(BaseModel):
    """What the final mux produced, measured from the written file."""

    path: Path
    duration_s: float = Field(description="Duration of the written MP4, seconds.")
    width: int
    height: int
    has_audio: bool
    subtitle_cues: int = Field(description="Cues in the subtitle track (after clamping to the video).")
    seconds_taken: float = Field(description="Wall time of the assembly.")
    transition: str = Field("cut", description="Transition used between shots.")
    transition_s: float = Field(0.0, description="Transition length used (capped at the shortest slot), seconds.")
    chapters: int = Field(0, description="Chapters in the written file (one per shot).")
    language: str = Field("und", description="ISO 639-2 language tag on the streams.")
    aigc: dict[str, str] = Field(
        default_factory=dict, description="The implicit AI-content label written into the file; for the manifest."
    )


def escape_filter_value(value: str) -> str:
    """Quote a value (a file path) for use as a filter option inside an ffmpeg filter graph.

    Two levels, as ffmpeg's "Quoting and escaping" docs describe: quote for the option
    parser, then backslash the characters the graph parser treats specially.
    """
    quoted = "'" + value.replace("'", "'\\''") + "'"
    return re.sub(r"([\\'\[\],;])", r"\\\1", quoted)


def language_tag(language: str) -> str:
    """ISO 639-2 code for a language such as "zh", "en-US" or "chi"; "und" when unknown."""
    lang = language.strip().lower()
    if re.fullmatch(r"[a-z]{3}", lang):
        return lang
    return _LANGUAGE_TAGS.get(lang[:2], "und")


def _ffmeta_escape(text: str) -> str:
    return re.sub(r"([=;#\\\n])", r"\\\1", text)


def _concat_escape(path: Path) -> str:
    return "'" + str(path.resolve()).replace("'", "'\\''") + "'"


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


def _write_ffmetadata(path: Path, metadata: dict[str, str], counts: list[int], fps: float, titles: list[str]) -> None:
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


def aigc_label(metadata: dict[str, str], settings: PostSettings, produce_id: str, when: datetime) -> dict[str, str]:
    """The implicit AI-content label (China's AIGC labelling rules) as a flat dict of strings.

    Label "1": the content is AI-generated. metadata may carry generator, model, date.
    """
    return {
        "Label": "1",
        "ContentProducer": settings.ai_producer,
        "ProduceID": produce_id,
        "generator": str(metadata.get("generator") or GENERATOR),
        "model": str(metadata.get("model") or "unknown"),
        "date": str(metadata.get("date") or when.isoformat(timespec="seconds").replace("+00:00", "Z")),
    }


def episode_metadata(
    metadata: dict[str, str], settings: PostSettings, language: str, out_mp4: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """(global tags for the MP4, the AIGC label dict): title, language, series, episode, date, comment, AIGC."""
    when = datetime.now(timezone.utc)
    meta = {k: str(v) for k, v in metadata.items() if str(v) != ""}
    produce_id = meta.get("episode_id") or meta.get("episode") or out_mp4.stem
    aigc = aigc_label(meta, settings, produce_id, when)
    meta.setdefault("title", out_mp4.stem)
    # (ffmpeg's own MP4 reader hides a global `language` key; other readers show it)
    meta["language"] = language_tag(language)
    meta.setdefault("episode", produce_id)
    meta["date"] = aigc["date"][:10]  # the day; the AIGC label keeps the full timestamp
    meta.setdefault("comment", f"AI-generated content; generator={aigc['generator']}; model={aigc['model']}")
    meta["AIGC"] = json.dumps(aigc, ensure_ascii=False, separators=(",", ":"))
    return meta, aigc


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


# --- shots into one stream --------------------------------------------------------------


@dataclass(frozen=True)
class _ShotFormat:
    codec: str
    pix_fmt: str
    width: int
    height: int
    timescale: int  # the MP4 track's time base denominator ("tbn")


_STREAM_LINE = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+).*?, (\w+)(?:\([^)]*\))?, (\d+)x(\d+).*?(\d+)(k?) tbn")


def _shot_format(index: int, path: Path) -> _ShotFormat:
    # reelgate.media.probe has no time base; one ffmpeg call reads it all
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *local_inputs(["-i", str(path)])],
                          capture_output=True, text=True)
    m = _STREAM_LINE.search(proc.stderr)
    if m is None:
        raise MediaError(f"shot {index} has no readable video stream: {path}")
    codec, pix_fmt, w, h, tbn, kilo = m.groups()
    return _ShotFormat(codec, pix_fmt, int(w), int(h), int(tbn) * (1000 if kilo else 1))


def _uniform_shots(shot_videos: list[Path], work: Path) -> list[Path]:
    """The shots, with any whose format differs from the rest's brought in line.

    The concat demuxer feeds every shot to one decoder and reads timestamps in the FIRST
    file's time base, and a size or format change in mid-stream would make ffmpeg rebuild
    the filter graph (losing its timing state). So: a shot with another time base only is
    remuxed (stream copy, no quality cost); one with another codec, size or pixel format
    is re-encoded to the most common size at CRF 10 (visually lossless). Generated
    episodes normally need neither.
    """
    formats = [_shot_format(i, p) for i, p in enumerate(shot_videos)]
    usable = [f for f in formats if f.codec == "h264" and f.pix_fmt == "yuv420p"]
    ref = Counter(usable or formats).most_common(1)[0][0]
    ref_w, ref_h = ref.width + ref.width % 2, ref.height + ref.height % 2
    out = []
    for i, (path, fmt) in enumerate(zip(shot_videos, formats)):
        same_picture = (fmt.codec, fmt.pix_fmt, fmt.width, fmt.height) == ("h264", "yuv420p", ref_w, ref_h)
        if same_picture and fmt.timescale == ref.timescale:
            out.append(path)
            continue
        norm = work / f"shot{i:03d}.norm.mp4"
        timescale = ["-video_track_timescale", str(ref.timescale)]
        if same_picture:
            args = ["-i", str(path), "-map", "0:v:0", "-c:v", "copy", *timescale, str(norm)]
        else:
            args = [
                "-i", str(path), "-map", "0:v:0", "-an",
                "-vf", f"scale=w={ref_w}:h={ref_h}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
                       f"pad={ref_w}:{ref_h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", str(_NORMALISE_CRF), *timescale, str(norm),
            ]  # fmt: skip
        run_ffmpeg(args, f"bringing shot {i} ({fmt.codec} {fmt.width}x{fmt.height}) in line with the others")
        out.append(norm)
    return out


@dataclass
class _Window:
    """Where one shot shows in the episode (seconds): its content starts at `start`."""

    start: float
    end: float


def _windows(bounds: list[float], half: float) -> list[_Window]:
    """Each shot's window: its slot, widened by `half` at every inner boundary (crossfades)."""
    n = len(bounds) - 1
    return [
        _Window(bounds[k] - (half if k > 0 else 0.0), bounds[k + 1] + (half if k < n - 1 else 0.0)) for k in range(n)
    ]


def _write_concat_list(path: Path, shots: list[Path], windows: list[_Window], total_s: float) -> Path:
    """A concat-demuxer list placing each shot at its window start, cut at its window end.

    `duration` is the gap to the next listed shot, so shots not listed (the other half of a
    crossfade pair) or a shot shorter than its window leave a hole the fps filter fills
    by repeating the last frame.
    """
    lines = ["ffconcat version 1.0"]
    for j, (shot, win) in enumerate(zip(shots, windows)):
        next_start = windows[j + 1].start if j + 1 < len(windows) else total_s
        lines += [f"file {_concat_escape(shot)}", f"duration {next_start - win.start:.6f}",
                  f"outpoint {win.end - win.start:.6f}"]  # fmt: skip
    return write_text(path, "\n".join(lines) + "\n")


def _shot_stream(index: int, width: int, height: int, fps: float, frames: int, delay_s: float, label: str) -> str:
    """Filter chain: one concat input scaled into the frame, at the episode rate, exactly `frames` long."""
    # scale/pad before fps: they then run once per decoded frame, not on repeated ones
    chain = (
        f"[{index}:v]scale=w={width}:h={height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p,fps={fps}"
    )
    # the last shot is held to the end of its slot; trim makes the length exact. One tpad:
    # a second one in the same chain restarts its timestamps (ffmpeg 9)
    delay = f"start_duration={delay_s:.6f}:start_mode=clone:" if delay_s > 0 else ""
    chain += f",tpad={delay}stop_mode=clone:stop_duration={frames / fps + 1:.3f}"
    chain += f",trim=end_frame={frames},setpts=PTS-STARTPTS"
    return chain + f"[{label}]"


def _between(a: float, b: float) -> str:
    return f"between(t\\,{a:.6f}\\,{b:.6f})"


def _video_graph(
    shots: list[Path], bounds: list[float], fps: float, frames: int, width: int, height: int,
    transition: str, trans_s: float, work: Path, input_args: list[str],
) -> tuple[list[str], str]:
    """Inputs are appended to `input_args`; returns (graph parts, label of the composed video)."""
    total = bounds[-1]
    base = input_args.count("-i")
    concat = ["-f", "concat", "-safe", "0"]
    if transition == "crossfade" and trans_s > 0 and len(shots) > 1:
        half = trans_s / 2
        wins = _windows(bounds, half)
        even, odd = list(range(0, len(shots), 2)), list(range(1, len(shots), 2))
        a = _write_concat_list(work / "shots_even.ffconcat", [shots[k] for k in even], [wins[k] for k in even], total)
        b_wins = [_Window(wins[k].start - wins[1].start, wins[k].end - wins[1].start) for k in odd]
        b = _write_concat_list(work / "shots_odd.ffconcat", [shots[k] for k in odd], b_wins, total - wins[1].start)
        input_args += [*concat, "-i", str(a), *concat, "-i", str(b)]
        graph = [
            _shot_stream(base, width, height, fps, frames, 0.0, "va"),
            _shot_stream(base + 1, width, height, fps, frames, wins[1].start, "vb0"),
        ]
        # the odd stream's alpha ramps up over the first trans_s of its window and down over the last
        ramps = []
        for k in odd:
            w = wins[k]
            up = _between(w.start, w.start + trans_s)
            ramps.append(f"fade=t=in:alpha=1:st={w.start:.6f}:d={trans_s:.6f}:enable='{up}'")
            if k < len(shots) - 1:
                st = w.end - trans_s
                ramps.append(f"fade=t=out:alpha=1:st={st:.6f}:d={trans_s:.6f}:enable='{_between(st, w.end)}'")
        graph.append("[vb0]format=yuva420p," + ",".join(ramps) + "[vb]")
        shown = "+".join(_between(wins[k].start, wins[k].end) for k in odd)
        graph.append(f"[va][vb]overlay=format=yuv420:eof_action=pass:enable='{shown}'[vcomp]")
        return graph, "vcomp"

    wins = _windows(bounds, 0.0)
    lst = _write_concat_list(work / "shots.ffconcat", shots, wins, total)
    input_args += [*concat, "-i", str(lst)]
    chain = _shot_stream(base, width, height, fps, frames, 0.0, "vcomp")
    if transition == "fade_black" and trans_s > 0 and len(shots) > 1:
        half = trans_s / 2
        fades = []
        for b in bounds[1:-1]:
            fades.append(f"fade=t=out:st={b - half:.6f}:d={half:.6f}:enable='{_between(b - half, b)}'")
            fades.append(f"fade=t=in:st={b:.6f}:d={half:.6f}:enable='{_between(b, b + half)}'")
        chain = chain.removesuffix("[vcomp]") + "," + ",".join(fades) + "[vcomp]"
    return [chain], "vcomp"


def _label_filter(label_file: Path, font: Path, settings: PostSettings, width: int, height: int) -> str:
    """drawtext for the visible AI label in the configured corner, size and opacity."""
    size = max(10, round(min(width, height) * settings.ai_label_size))
    margin = max(4, round(min(width, height) * 0.03))
    vertical, horizontal = settings.ai_label_position.split("-")
    x = f"{margin}" if horizontal == "left" else f"w-tw-{margin}"
    y = f"{margin}" if vertical == "top" else f"h-th-{margin}"
    return (
        f"drawtext=fontfile={escape_filter_value(str(font))}"
        f":textfile={escape_filter_value(str(label_file))}:expansion=none"
        f":fontsize={size}:fontcolor=white:alpha={settings.ai_label_opacity:.3f}"
        f":borderw={max(1, round(size / 15))}:bordercolor=black"
        f":x={x}:y={y}"
    )


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
        language: "zh", "en" (or an ISO 639-2 code); tags every stream and the file.
        metadata: global tags: title, series, episode_id (-> episode, ProduceID), generator and
            model (-> the AIGC label), date (ISO; default now), comment; anything else is kept.
        chapters: one title per shot; default "Shot 1", "Shot 2", ...
        work_dir: where the intermediate subtitle/metadata/list files go; default a temp folder.
    """
    started = time.perf_counter()
    shot_videos = [Path(p) for p in shot_videos]
    out_mp4 = Path(out_mp4)
    _check_inputs(slots, shot_videos, Path(audio_wav), width, height, fps)
    if chapters is not None and len(chapters) != len(slots):
        raise InputError(f"need one chapter title per shot: got {len(chapters)} titles for {len(slots)} shots")
    titles = chapters if chapters is not None else [f"Shot {i + 1}" for i in range(len(slots))]

    counts = _frame_counts(slots, fps)
    frames = sum(counts)
    video_s = frames / fps
    bounds = [0.0]
    for count in counts:
        bounds.append(bounds[-1] + count / fps)
    # a transition may not be longer than the shortest slot (windows would overlap)
    trans_s = min(settings.transition_s, min(c / fps for c in counts)) if settings.transition != "cut" else 0.0
    cues = clamp_cues(cues, video_s)
    burn = settings.burn_subtitles and bool(cues)
    label = settings.ai_label.strip()
    font = find_cjk_font(settings.font) if (burn or label) else None
    lang_tag = language_tag(language)
    meta, aigc = episode_metadata(metadata, settings, language, out_mp4)

    with tempfile.TemporaryDirectory(prefix="reelgate-assemble-") as tmp_dir:
        work = Path(work_dir) if work_dir is not None else Path(tmp_dir)
        work.mkdir(parents=True, exist_ok=True)
        shots = _uniform_shots(shot_videos, work)
        args: list[str] = []
        graph, vlabel = _video_graph(
            shots, bounds, fps, frames, width, height, settings.transition, trans_s, work, args
        )
        chain = f"[{vlabel}]null"
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
                style=SubtitleStyle.from_settings(settings),
            )
            chain += (
                f",subtitles=filename={escape_filter_value(str(ass))}"
                f":fontsdir={escape_filter_value(str(fonts_dir))}"
            )
        if label:
            assert font is not None
            chain += "," + _label_filter(write_text(work / "ai_label.txt", label), font, settings, width, height)
        graph.append(chain + ",format=yuv420p[vout]")

        audio_index = args.count("-i")
        args += ["-i", str(audio_wav)]
        graph.append(
            f"[{audio_index}:a]aresample=48000,apad=whole_dur={video_s:.6f},"
            f"atrim=end={video_s:.6f},asetpts=PTS-STARTPTS[aout]"
        )
        next_index = audio_index + 1
        sub_index = None
        if cues:
            muxed = [Cue(c.start, c.end, render_safe(c.text)) for c in cues]
            srt_path = write_srt(muxed, work / "subtitles.srt")
            args += ["-i", str(srt_path)]
            sub_index, next_index = next_index, next_index + 1
        meta_path = work / "metadata.ffmeta"
        _write_ffmetadata(meta_path, meta, counts, fps, titles)
        args += ["-f", "ffmetadata", "-i", str(meta_path)]
        meta_index = next_index

        args += ["-filter_complex", ";".join(graph), "-map", "[vout]", "-map", "[aout]"]
        if sub_index is not None:
            args += ["-map", f"{sub_index}:s", "-c:s", "mov_text"]
        args += ["-metadata:s", f"language={lang_tag}"]  # every stream
        args += [
            "-map_metadata", str(meta_index), "-map_chapters", str(meta_index),
            "-c:v", "libx264", "-preset", settings.video_preset, "-crf", str(settings.video_crf),
            "-pix_fmt", "yuv420p", "-r", f"{fps}",
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
        transition=settings.transition if trans_s > 0 else "cut",
        transition_s=round(trans_s, 6),
        chapters=info.chapters,
        language=lang_tag,
        aigc=aigc,
    )
