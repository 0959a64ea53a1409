"""Background music from a user's library folder, with the synthesised moods as the fallback.

The folder holds audio files (anything ffmpeg reads) and one index, `music.yaml`:

    tracks:
      - file: rain_on_roof.mp3
        moods: [calm, sad]
        title: Rain on the roof        # optional
        licence: CC-BY 4.0 (Jane Doe)  # optional; goes into the manifest
        loop_start: 4.0                # optional: seconds; the loop replays [loop_start, loop_end)
        loop_end: 36.0                 # optional: seconds; default the end of the file

(`index.json` with the same structure is read when there is no `music.yaml`.) A track is
picked per episode: the tracks tagged with the mood, in an order fixed by the episode seed;
a missing or undecodable file is skipped with a warning and the next one is tried; when
none is left, the project's own synthesised music for the mood plays.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from postprocess.audio import SAMPLE_RATE, to_house_wav, wav_frames
from postprocess.music import synth_music
from reelgate.errors import ConfigError, InputError, MediaError
from reelgate.settings import PostSettings
from reelgate.yaml_safe import load_yaml_nodes, read_yaml_text

log = logging.getLogger(__name__)

INDEX_NAMES = ("music.yaml", "music.yml", "index.json")
_KEYS = {"file", "moods", "title", "licence", "license", "loop_start", "loop_end"}
_EXAMPLE = "tracks:\n  - file: song.mp3\n    moods: [calm, joyful]"


@dataclass(frozen=True)
class Track:
    """One entry of a library index."""

    file: Path  # absolute
    moods: tuple[str, ...]  # lower case
    title: str | None = None
    licence: str | None = None
    loop_start_s: float = 0.0
    loop_end_s: float | None = None  # None: the end of the file


@dataclass(frozen=True)
class MusicChoice:
    """The music of one episode, ready for `mix_audio`."""

    path: Path  # a house WAV (48 kHz mono 16-bit)
    source: str  # "library" or "synth"
    mood: str
    loop: tuple[float, float] | None = None  # seconds of `path` to repeat; None: the whole file
    track: Track | None = None  # the library entry, when source is "library"

    def describe(self) -> str:
        """One line for logs and the manifest."""
        if self.track is None:
            return f"synthesised ({self.mood})"
        parts = [self.track.file.name, self.track.title or "", self.track.licence or ""]
        return "library: " + ", ".join(p for p in parts if p)


def load_index(folder: Path) -> list[Track]:
    """Read and check a library folder's index; InputError says which entry is wrong and why."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"post.music_dir {folder} is not a folder; point it at your music library or unset it")
    index = next((folder / name for name in INDEX_NAMES if (folder / name).is_file()), None)
    if index is None:
        raise ConfigError(
            f"music library {folder} has no index; create {folder / 'music.yaml'} listing the tracks, e.g.\n{_EXAMPLE}"
        )
    try:
        text = read_yaml_text(index, "music index")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the music index {index}: {exc}; fix or remove it") from exc
    try:
        data, root = load_yaml_nodes(text, str(index))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"music index {index} is not valid YAML/JSON{where}: {getattr(exc, 'problem', exc)}") from exc

    entries, nodes = data, root
    if isinstance(data, dict) and "tracks" in data:
        entries = data["tracks"]
        nodes = next((v for k, v in root.value if k.value == "tracks"), None)
    if not isinstance(entries, list) or not entries:
        raise InputError(f"music index {index} must hold a non-empty list under 'tracks:', e.g.\n{_EXAMPLE}")
    lines = [node.start_mark.line + 1 for node in nodes.value] if isinstance(nodes, yaml.SequenceNode) else []
    return [
        _track(entry, folder, f"{index}, entry {i + 1}" + (f" (line {lines[i]})" if i < len(lines) else ""))
        for i, entry in enumerate(entries)
    ]


def _track(entry: object, folder: Path, where: str) -> Track:
    if not isinstance(entry, dict):
        raise InputError(f"{where}: a track must be a mapping with 'file' and 'moods', e.g.\n{_EXAMPLE}")
    unknown = set(map(str, entry)) - _KEYS
    if unknown:
        raise InputError(f"{where}: unknown key(s) {sorted(unknown)}; allowed keys: {', '.join(sorted(_KEYS))}")
    file = entry.get("file")
    if not isinstance(file, str) or not file.strip():
        raise InputError(f"{where}: 'file' must be the audio file's name inside the library folder")
    moods = entry.get("moods")
    if isinstance(moods, str):
        moods = [moods]
    if not isinstance(moods, list) or not moods or not all(isinstance(m, str) and m.strip() for m in moods):
        raise InputError(f"{where}: 'moods' must be a list of mood words, e.g. moods: [calm, sad]")
    loop_start, loop_end = entry.get("loop_start", 0.0), entry.get("loop_end")
    for key, value in (("loop_start", loop_start), ("loop_end", loop_end)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise InputError(f"{where}: '{key}' must be a number of seconds >= 0, got {value!r}")
    if loop_end is not None and loop_end <= loop_start + 0.1:
        raise InputError(f"{where}: 'loop_end' ({loop_end}) must be more than 0.1 s after 'loop_start' ({loop_start})")
    path = Path(file).expanduser()
    return Track(
        file=path if path.is_absolute() else folder / path,
        moods=tuple(m.strip().lower() for m in moods),
        title=_text(entry.get("title")),
        licence=_text(entry.get("licence", entry.get("license"))),
        loop_start_s=float(loop_start),
        loop_end_s=None if loop_end is None else float(loop_end),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def candidates(tracks: list[Track], mood: str, seed: int) -> list[Track]:
    """The tracks tagged with `mood`, in an order fixed by `seed` (same episode, same order)."""
    mood = mood.strip().lower()
    matching = sorted((t for t in tracks if mood in t.moods), key=lambda t: str(t.file))
    order = np.random.default_rng(seed).permutation(len(matching))
    return [matching[i] for i in order]


def choose_track(folder: Path, mood: str, seed: int, work_dir: Path) -> tuple[Track, Path] | None:
    """The first usable track for `mood`, decoded into `work_dir` as a house WAV; None: no usable match.

    A missing, undecodable or too short file is skipped with a warning.
    """
    for track in candidates(load_index(folder), mood, seed):
        decoded = Path(work_dir) / "music_track.wav"
        try:
            to_house_wav(track.file, decoded)
            length_s = wav_frames(decoded) / SAMPLE_RATE
            if length_s < 0.5:
                raise MediaError(f"{track.file} holds only {length_s:.2f} s of audio")
            end = track.loop_end_s if track.loop_end_s is not None else length_s
            if end > length_s + 0.05 or track.loop_start_s > end - 0.1:
                raise MediaError(
                    f"loop {track.loop_start_s}-{end} s does not fit in {track.file} ({length_s:.2f} s)"
                )
        except MediaError as exc:
            log.warning("music library: skipping %s: %s", track.file.name, exc)
            decoded.unlink(missing_ok=True)
            continue
        return track, decoded
    return None


def pick_track(folder: Path, mood: str, seed: int) -> Path | None:
    """The library file that would play for (mood, seed), checked to decode; None: no usable match."""
    with tempfile.TemporaryDirectory() as tmp:
        picked = choose_track(folder, mood, seed, Path(tmp))
    return picked[0].file if picked else None


def episode_music(total_s: float, mood: str, seed: int, out_dir: Path, settings: PostSettings) -> MusicChoice | None:
    """The episode's music: a library track for the mood, else the synthesised mood; None when music is off.

    mood: the plan's mood; `settings.music_mood` overrides it.
    """
    if not settings.music:
        return None
    mood = (settings.music_mood or mood or "calm").strip().lower()
    out_dir = Path(out_dir)
    if settings.music_dir is not None:
        picked = choose_track(settings.music_dir, mood, seed, out_dir)
        if picked is not None:
            track, decoded = picked
            loop = None
            if track.loop_start_s > 0 or track.loop_end_s is not None:
                end = track.loop_end_s if track.loop_end_s is not None else wav_frames(decoded) / SAMPLE_RATE
                loop = (track.loop_start_s, end)
            return MusicChoice(path=decoded, source="library", mood=mood, loop=loop, track=track)
        log.info("music library %s has no usable track for mood %r; using synthesised music", settings.music_dir, mood)
    return MusicChoice(path=synth_music(total_s, mood, out_dir / "music.wav", seed), source="synth", mood=mood)
