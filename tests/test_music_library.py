"""The music library: mood tags, per-episode picks, broken files skipped, clear index errors."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest

from postprocess.audio import SAMPLE_RATE, read_wav, write_wav
from postprocess.mix import make_soundtrack
from postprocess.music_library import candidates, episode_music, load_index, pick_track
from reelgate.errors import ConfigError, InputError
from reelgate.media import ffmpeg_exe
from reelgate.settings import PostSettings


def _track(path: Path, hz: float, seconds: float = 2.0) -> Path:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return write_wav(path, (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32))


def _library(folder: Path, index: str, files: dict[str, float]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, hz in files.items():
        _track(folder / name, hz)
    (folder / "music.yaml").write_text(index, encoding="utf-8")
    return folder


def test_mood_tag_picks_a_matching_track_deterministically(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", """
tracks:
  - {file: calm1.wav, moods: [calm]}
  - {file: calm2.wav, moods: [Calm, sad]}
  - {file: calm3.wav, moods: calm}
  - {file: tense.wav, moods: [tense, epic], title: Drums, licence: CC0}
""", {"calm1.wav": 220, "calm2.wav": 330, "calm3.wav": 440, "tense.wav": 550})
    assert pick_track(lib, "tense", seed=5) == lib / "tense.wav"
    assert pick_track(lib, "EPIC", seed=9) == lib / "tense.wav"
    picks = {pick_track(lib, "calm", seed=s) for s in range(12)}
    assert picks <= {lib / "calm1.wav", lib / "calm2.wav", lib / "calm3.wav"} and len(picks) >= 2  # seeds vary it
    assert all(pick_track(lib, "calm", seed=s) == pick_track(lib, "calm", seed=s) for s in range(4))
    assert pick_track(lib, "joyful", seed=1) is None


def test_corrupt_and_missing_files_are_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lib = _library(tmp_path / "lib", """
tracks:
  - file: broken.mp3
    moods: [calm]
  - file: gone.ogg
    moods: [calm]
  - file: good.flac
    moods: [calm]
""", {})
    (lib / "broken.mp3").write_bytes(np.random.default_rng(0).bytes(4000))
    wav = _track(tmp_path / "good.wav", 440)
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(wav), str(lib / "good.flac")], check=True)
    tracks = load_index(lib)
    # A seed whose order tries both bad files before the good one.
    seed = next(s for s in range(100) if candidates(tracks, "calm", s)[-1].file.name == "good.flac")

    with caplog.at_level(logging.WARNING, logger="postprocess.music_library"):
        choice = episode_music(20.0, "calm", seed, tmp_path / "ep", PostSettings(music_dir=lib))
    assert choice is not None and choice.source == "library" and choice.track.file.name == "good.flac"
    skipped = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "broken.mp3" in skipped and "gone.ogg" in skipped
    x, rate = read_wav(choice.path)  # decoded from FLAC into the house format
    assert rate == SAMPLE_RATE and len(x) == pytest.approx(2 * SAMPLE_RATE, abs=SAMPLE_RATE // 50)


def test_no_matching_or_usable_track_falls_back_to_synthesised_music(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", "tracks:\n  - {file: a.wav, moods: [joyful]}\n", {"a.wav": 220})
    choice = episode_music(12.0, "mysterious", 3, tmp_path / "ep", PostSettings(music_dir=lib))
    assert choice is not None and choice.source == "synth" and choice.mood == "mysterious"
    assert len(read_wav(choice.path)[0]) == 12 * SAMPLE_RATE
    # The mood override wins over the plan's mood; music off gives none.
    forced = episode_music(12.0, "mysterious", 3, tmp_path / "ep2", PostSettings(music_dir=lib, music_mood="Joyful"))
    assert forced is not None and forced.source == "library" and forced.track.file.name == "a.wav"
    assert episode_music(12.0, "calm", 3, tmp_path / "ep3", PostSettings(music=False)) is None
    default = episode_music(12.0, "calm", 3, tmp_path / "ep4", PostSettings())
    assert default is not None and default.source == "synth"


def test_json_index_and_loop_points_reach_the_choice(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    _track(lib / "t.wav", 330, seconds=4.0)
    (lib / "index.json").write_text(json.dumps({"tracks": [
        {"file": "t.wav", "moods": ["calm"], "title": "Tide", "license": "CC-BY 4.0",
         "loop_start": 1.0, "loop_end": 3.5},
    ]}))
    choice = episode_music(30.0, "calm", 0, tmp_path / "ep", PostSettings(music_dir=lib))
    assert choice is not None and choice.loop == (1.0, 3.5)
    assert choice.describe() == "library: t.wav, Tide, CC-BY 4.0"


@pytest.mark.parametrize(("index", "message"), [
    ("tracks:\n  - file: a.wav\n    moods: [calm\n", r"not valid YAML/JSON at line \d+"),
    ("tracks:\n  - {file: a.wav, moods: [calm]}\n  - {file: b.wav}\n", r"entry 2 \(line 3\): 'moods' must be a list"),
    ("tracks:\n  - {file: a.wav, mood: [calm]}\n",
     r"entry 1 \(line 2\): unknown key\(s\) \['mood'\]; allowed keys: .*moods"),
    ("tracks:\n  - {moods: [calm]}\n", r"entry 1 \(line 2\): 'file' must be"),
    ("tracks:\n  - {file: a.wav, moods: [calm], loop_start: 5, loop_end: 2}\n", r"'loop_end' \(2\) must be more than"),
    ("tracks: []\n", r"non-empty list under 'tracks:'"),
])
def test_malformed_index_says_which_entry_and_what_to_change(tmp_path: Path, index: str, message: str) -> None:
    lib = _library(tmp_path / "lib", index, {"a.wav": 220})
    with pytest.raises(InputError, match=message):
        load_index(lib)


def test_missing_folder_or_index_names_what_to_create(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="post.music_dir"):
        load_index(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="music.yaml"):
        load_index(tmp_path / "empty")


def test_soundtrack_in_one_call_uses_the_library_and_settings(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", "tracks:\n  - {file: bed.wav, moods: [calm], title: Bed, licence: CC0}\n",
                   {"bed.wav": 262})
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    voice = write_wav(tmp_path / "v.wav", (0.4 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 4 * t) > 0))
                      .astype(np.float32))
    settings = PostSettings(music_dir=lib, target_lufs=-23.0, duck_db=15.0)
    report = make_soundtrack([(2.0, voice)], 9.0, tmp_path / "ep", "calm", 1, settings)
    assert report.path == tmp_path / "ep" / "soundtrack.wav"
    assert report.music == "library: bed.wav, Bed, CC0"
    assert report.integrated_lufs == pytest.approx(-23.0, abs=1.0)
    assert report.true_peak_db is not None and report.true_peak_db <= settings.true_peak_db
    assert report.voice_over_music_db is not None and report.voice_over_music_db >= 10.0
