"""Stage 6-7 tasks: narration, music, subtitles and the final mux."""

from __future__ import annotations

from pathlib import Path

from postprocess.assemble import AssemblyReport, assemble
from postprocess.mix import MixReport, make_soundtrack
from postprocess.subtitles import Cue, episode_cues, max_chars_per_line, subtitle_font_size, write_srt, write_vtt
from postprocess.timeline import Slot, SpokenSegment
from postprocess.tts import NarrationPiece, narrate_segments
from reelgate.settings import PostSettings
from tasks.common import stage_task


@stage_task(("postprocess",))
def narrate_shot(
    text: str, language: str, out_wav: Path, settings: PostSettings, width: int, height: int,
    voice: str | None = None, rate: float | None = None,
) -> NarrationPiece:
    """One shot's narration, spoken a subtitle segment at a time (so cue times are measured)."""
    max_chars = max_chars_per_line(
        width, subtitle_font_size(height, settings.font_size), language, settings.subtitle_margin_side
    )
    return narrate_segments(text, language, out_wav, settings, max_chars, voice=voice, rate=rate)


@stage_task(("postprocess",), file_inputs=("voice_clips",))
def mix_soundtrack(
    voice_clips: list[tuple[float, Path]], total_s: float, out_dir: Path, mood: str, seed: int, settings: PostSettings
) -> MixReport:
    return make_soundtrack(voice_clips, total_s, Path(out_dir), mood, seed, settings)


# Always written (it takes milliseconds): a cached run would return the cues without the files.
@stage_task(("postprocess",), retries=0, refresh_cache=True)
def write_subtitles(
    segments_per_shot: list[list[SpokenSegment]], slots: list[Slot], out_dir: Path
) -> list[Cue]:
    """SRT and WebVTT cues at the measured times of the spoken segments, inside the video."""
    cues = episode_cues(slots, segments_per_shot, sum(s.duration_s for s in slots))
    write_srt(cues, Path(out_dir) / "subtitles.srt")
    write_vtt(cues, Path(out_dir) / "subtitles.vtt")
    return cues


@stage_task(("postprocess",), file_inputs=("shot_videos", "audio_wav"))
def mux_episode(
    slots: list[Slot],
    shot_videos: list[Path],
    audio_wav: Path,
    cues: list[Cue],
    out_mp4: Path,
    settings: PostSettings,
    width: int,
    height: int,
    fps: float,
    language: str,
    metadata: dict[str, str],
    chapters: list[str],
) -> AssemblyReport:
    return assemble(
        slots, shot_videos, audio_wav, cues, out_mp4, settings,
        width=width, height=height, fps=fps, language=language, metadata=metadata, chapters=chapters,
    )
