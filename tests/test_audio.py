"""Music and the mix: measured properties of the audio a viewer hears (narration: test_narration.py)."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from postprocess.audio import SAMPLE_RATE, frame_rms, measure_file_loudness, read_wav, to_db, write_wav
from postprocess.mix import mix_audio
from postprocess.music import MOODS, synth_music
from reelgate.errors import InputError


def _house_format(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as wf:
        return wf.getframerate(), wf.getnchannels(), wf.getsampwidth()


def _tone(seconds: float, hz: float = 220.0, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    # Syllable-like bursts (4 per second), so it behaves like speech for the ducker.
    bursts = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 4 * t))
    return (level * np.sin(2 * np.pi * hz * t) * bursts).astype(np.float32)


# --- music -----------------------------------------------------------------------------

@pytest.mark.integration  # wall-clock (bench/post_episode.py reports music+mix per episode)
def test_a_minute_of_music_is_synthesised_in_seconds(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    synth_music(60.0, "calm", tmp_path / "a.wav", seed=7)
    took = time.perf_counter() - t0
    print(f"music: 60 s synthesised in {took:.2f} s")
    assert took < 3.0


def test_music_has_the_asked_duration_and_is_deterministic(tmp_path: Path) -> None:
    a = synth_music(60.0, "calm", tmp_path / "a.wav", seed=7)
    b = synth_music(60.0, "calm", tmp_path / "b.wav", seed=7)
    x, rate = read_wav(a)
    assert _house_format(a) == (SAMPLE_RATE, 1, 2)
    assert len(x) == 60 * rate
    assert a.read_bytes() == b.read_bytes()
    assert float(np.sqrt(np.mean(x**2))) > 0.05
    # Fades: quiet at the very ends, no click at the start.
    assert np.abs(x[:480]).max() < 0.01 and np.abs(x[-480:]).max() < 0.01
    assert np.abs(np.diff(x)).max() < 0.3


def test_moods_and_seeds_change_the_music(tmp_path: Path) -> None:
    base, _ = read_wav(synth_music(8.0, "calm", tmp_path / "calm.wav", seed=1))
    for mood in set(MOODS) - {"calm"}:
        other, _ = read_wav(synth_music(8.0, mood, tmp_path / f"{mood}.wav", seed=1))
        assert np.abs(other - base).mean() > 0.02, mood
    reseeded, _ = read_wav(synth_music(8.0, "calm", tmp_path / "calm2.wav", seed=2))
    assert not np.array_equal(reseeded, base)
    unknown, _ = read_wav(synth_music(8.0, "whimsical", tmp_path / "unknown.wav", seed=1))
    assert np.array_equal(unknown, base)  # unknown moods play calm


# --- mix -------------------------------------------------------------------------------

@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_mix_is_on_length_on_loudness_target_and_ducks_music(tmp_path: Path) -> None:
    voice_a = write_wav(tmp_path / "a.wav", _tone(2.0))
    voice_b = write_wav(tmp_path / "b.wav", _tone(1.5, hz=330))
    music = synth_music(5.0, "joyful", tmp_path / "music.wav", seed=3)  # shorter than the mix: looped

    t0 = time.perf_counter()
    report = mix_audio([(3.0, voice_a), (7.0, voice_b)], 10.0, tmp_path / "mix.wav", music=music)
    print(f"mix: 10 s mixed and normalised in {time.perf_counter() - t0:.2f} s; {report}")

    assert _house_format(report.path) == (SAMPLE_RATE, 1, 2)
    x, rate = read_wav(report.path)
    assert len(x) == 10 * rate and report.duration_s == pytest.approx(10.0)
    lufs, true_peak = measure_file_loudness(report.path)
    assert lufs == pytest.approx(-16.0, abs=1.0) and report.integrated_lufs == pytest.approx(lufs, abs=0.1)
    assert true_peak <= -1.0

    # The same music mixed with no voice is the reference; levels are matched where neither is ducked.
    ref = mix_audio([], 10.0, tmp_path / "ref.wav", music=music)
    y, _ = read_wav(ref.path)
    free = slice(int(1.0 * rate), int(2.5 * rate))
    k = np.sqrt(np.mean(x[free] ** 2) / np.mean(y[free] ** 2))
    # Under the voice (after the 50 ms attack): remove the voice, scaled as in the mix.
    tone = _tone(2.0)
    gain = np.dot(x[3 * rate:5 * rate], tone) / np.dot(tone, tone)
    speaking = slice(3 * rate + rate // 10, 5 * rate)
    music_under_voice = x[speaking] - gain * tone[rate // 10:]
    music_level = to_db(np.sqrt(np.mean(music_under_voice**2)))
    ducked_by = to_db(k * np.sqrt(np.mean(y[speaking] ** 2))) - music_level
    assert ducked_by == pytest.approx(12.0, abs=1.5)
    assert to_db(gain * np.sqrt(np.mean(tone**2))) - music_level >= 10.0
    assert report.voice_over_music_db is not None and report.voice_over_music_db >= 10.0


@pytest.mark.integration  # real ffmpeg encodes and mixes whole clips: 0.5-1.5 s
def test_mix_without_music_and_clip_overrun(tmp_path: Path) -> None:
    voice = write_wav(tmp_path / "a.wav", _tone(2.0))
    report = mix_audio([(0.5, voice)], 3.0, tmp_path / "mix.wav", music=None)
    assert report.voice_over_music_db is None
    assert report.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    with pytest.raises(InputError, match=r"a\.wav"):
        mix_audio([(1.5, voice)], 3.0, tmp_path / "late.wav", music=None)
    assert not (tmp_path / "late.wav").exists()


def _ebur128(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) read off ffmpeg's own ebur128 summary: an independent check."""
    import re
    import subprocess

    from reelgate.media import ffmpeg_exe

    log = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-i", str(path),
                          "-af", "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True).stderr
    summary = log[log.rfind("Summary:"):]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))
    return lufs, peak


@pytest.mark.integration  # real ffmpeg: two ebur128 passes and the limiter per target
@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_mix_meets_loudness_target_and_true_peak_ceiling(tmp_path: Path, target: float) -> None:
    # Speech-like tone with full-scale 1 ms clicks: normalising to the target pushes the
    # clicks far over full scale, so only the limiter keeps the true peak under the ceiling.
    x = _tone(6.0, level=0.15)
    for s in np.arange(0.3, 6.0, 0.5):
        i = int(s * SAMPLE_RATE)
        x[i:i + 48] = np.sign(np.sin(np.arange(48) * 0.3))
    voice = write_wav(tmp_path / "v.wav", x)
    music = synth_music(4.0, "tense", tmp_path / "m.wav", seed=2)
    report = mix_audio([(1.0, voice)], 8.0, tmp_path / "mix.wav", music=music,
                       target_lufs=target, true_peak_db=-1.5, duck_db=15.0)
    lufs, peak = _ebur128(report.path)
    assert lufs == pytest.approx(target, abs=1.0)
    assert peak <= -1.5
    assert report.integrated_lufs == pytest.approx(lufs, abs=0.1)
    assert report.true_peak_db == pytest.approx(peak, abs=0.1)
    assert report.voice_over_music_db is not None and report.voice_over_music_db >= 10.0


def test_short_track_loops_to_a_long_episode_with_fades(tmp_path: Path) -> None:
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    # A 3 s phrase that swells from silence: a loop with no crossfade would drop out at each seam.
    phrase = (0.3 * np.sin(2 * np.pi * 330 * t) * np.minimum(1.0, t / 0.2)).astype(np.float32)
    music = write_wav(tmp_path / "phrase.wav", phrase)
    report = mix_audio([], 40.0, tmp_path / "mix.wav", music=music)
    x, rate = read_wav(report.path)
    assert len(x) == 40 * rate
    level = to_db(frame_rms(x, rate // 20))  # 50 ms frames
    body = level[20:-40]  # after the 1 s fade-in, before the 2 s fade-out
    assert body.max() - body.min() < 3.0  # no drop-outs at the 12 seams
    assert level[0] < body.mean() - 20 and level[-1] < body.mean() - 20  # faded in and out
    assert np.all(np.diff(level[:20]) > -0.5)  # the fade-in only rises
    assert np.abs(np.diff(x)).max() < 0.2  # no clicks


def test_marked_loop_replays_only_the_loop(tmp_path: Path) -> None:
    # 1 s intro at 220 Hz, then a 2 s loop at 440 Hz: after the first play only 440 Hz repeats.
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    track = np.where(t < 1.0, np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 440 * t)).astype(np.float32) * 0.3
    music = write_wav(tmp_path / "track.wav", track)
    report = mix_audio([], 12.0, tmp_path / "mix.wav", music=music, music_loop=(1.0, 3.0))
    x, rate = read_wav(report.path)

    def share_220(seg: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(seg))
        f = np.fft.rfftfreq(len(seg), 1 / rate)
        return float(spec[(f > 200) & (f < 240)].sum() / spec[(f > 200) & (f < 460)].sum())

    assert share_220(x[int(0.3 * rate):int(0.9 * rate)]) > 0.8  # the intro plays once
    assert share_220(x[3 * rate:9 * rate]) < 0.02  # then only the loop


def _peak_rss_growth_mb(minutes: float, tmp_path: Path) -> float:
    import subprocess
    import sys

    # Peak RSS from /proc, reset after the imports: a child forked from pytest inherits its
    # parent's ru_maxrss, which would hide the mixer's own growth.
    script = f"""
import re, numpy as np, scipy.signal, scipy.ndimage
from pathlib import Path
from postprocess.audio import SAMPLE_RATE, write_wav
from postprocess.mix import mix_audio
from postprocess.music import synth_music
def kb(field):
    return int(re.search(field + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
d, total = Path({str(tmp_path)!r}), {60 * minutes}
t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
clip = write_wav(d / "v.wav", (0.5 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 4 * t) > 0)).astype(np.float32))
Path("/proc/self/clear_refs").write_text("5")
base = kb("VmRSS")
music = synth_music(total, "calm", d / "m.wav", seed=1)
mix_audio([(s, clip) for s in np.arange(1.0, total - 5, 6.0)], total, d / "mix.wav", music=music)
print((kb("VmHWM") - base) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.integration
def test_mix_memory_is_flat_with_episode_length(tmp_path: Path) -> None:
    one = _peak_rss_growth_mb(1, tmp_path)
    five = _peak_rss_growth_mb(5, tmp_path)
    print(f"music + mix peak RSS growth: 1 min {one:.1f} MB, 5 min {five:.1f} MB")
    # The samples alone are 11.5 MB a minute as float32: whole-episode arrays would show as +46 MB per copy.
    assert five <= one + 10.0
    assert five < 60.0
