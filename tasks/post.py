"""Stage 6-7 tasks: narration, music, subtitles and the final mux."""

from __future__ import annotations

from pathlib import Path

from postprocess.assemble import AssemblyReport, assemble
from postprocess.mix import MixReport, mix_audio
from postprocess.music import synth_music
from postprocess.subtitles import (
    Cue, clamp_cues, cues_for_voice, max_chars_per_line, subtitle_font_size, write_srt, write_vtt,
)
from postprocess.timeline import Slot
from postprocess.tts import NarrationPiece, narrate
from reelgate.settings import PostSettings
from tasks.common import stage_task


@stage_task("narrate", ("postprocess",))
def narrate_shot(text: str, language: str, out_wav: Path, settings: PostSettings) -> NarrationPiece:
    return narrate(text, language, out_wav, settings)


@stage_task("mix_audio", ("postprocess",))
def mix_soundtrack(
    voice_clips: list[tuple[float, Path]], total_s: float, out_dir: Path, mood: str, seed: int, settings: PostSettings
) -> MixReport:
    music = synth_music(total_s, mood, Path(out_dir) / "music.wav", seed) if settings.music else None
    return mix_audio(
        voice_clips, total_s, Path(out_dir) / "soundtrack.wav", music=music, music_gain_db=settings.music_gain_db
    )


@stage_task("write_subtitles", ("postprocess",), retries=0)
def write_subtitles(
    texts: list[str], slots: list[Slot], language: str, width: int, height: int, out_dir: Path, settings: PostSettings
) -> list[Cue]:
    max_chars = max_chars_per_line(width, subtitle_font_size(height, settings.font_size), language)
    cues: list[Cue] = []
    for text, slot in zip(texts, slots, strict=True):
        cues += cues_for_voice(text, language, slot.voice_start_s, slot.voice_s, max_chars)
    total = sum(s.duration_s for s in slots)
    cues = clamp_cues(cues, total)
    write_srt(cues, Path(out_dir) / "subtitles.srt")
    write_vtt(cues, Path(out_dir) / "subtitles.vtt")
    return cues


@stage_task("mux_episode", ("postprocess",))
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
