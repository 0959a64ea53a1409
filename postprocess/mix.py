"""The episode's audio mix: narration clips on a timeline over ducked music, loudness-normalised.

Everything is in memory as float32 (an episode is minutes: ~11 MB per minute at 48 kHz),
measured with ffmpeg's `ebur128` and written in the house format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from postprocess.audio import (
    SAMPLE_RATE,
    frame_rms,
    load_audio,
    measure_file_loudness,
    measure_loudness,
    to_db,
    write_wav,
)
from reelgate.errors import InputError, MediaError

_HOP = SAMPLE_RATE // 100  # 10 ms analysis frames for ducking
_VOICE_ACTIVE_DB = -45.0  # a 10 ms voice frame above this (dBFS) counts as speech
_HOLD_S = 0.25  # keep the duck through short pauses between words (no pumping)
_ATTACK_S = 0.05
_RELEASE_S = 0.3
_TRUE_PEAK_DB = -1.5
_MAX_GAIN_DB = 30.0  # never blow up near-silence to reach the target
_SLACK_S = 0.005  # a clip may overrun total_s by rounding only


@dataclass
class MixReport:
    """What was written and how loud it measured."""

    path: Path
    duration_s: float
    integrated_lufs: float  # measured by ebur128 after normalisation
    voice_over_music_db: float | None  # voice RMS over ducked-music RMS while speaking; None: no music or voice


def mix_audio(
    voice_clips: list[tuple[float, Path]],
    total_s: float,
    out_wav: Path,
    *,
    music: Path | None,
    music_gain_db: float = -20.0,
    duck_db: float = 12.0,
    target_lufs: float = -16.0,
) -> MixReport:
    """Place narration clips at their start times over (ducked) music and normalise loudness.

    voice_clips: (start in seconds, WAV path) per clip; a clip must end by `total_s`.
    music: a music file (any format ffmpeg reads), looped or trimmed to `total_s`; None: voice only.
    music_gain_db: music RMS level in dBFS before ducking and normalisation.
    duck_db: how far the music drops while the voice speaks.
    """
    if not total_s > 0:
        raise InputError(f"mix length must be positive, got total_s={total_s}")
    n = int(round(total_s * SAMPLE_RATE))
    voice = np.zeros(n, dtype=np.float32)
    for start, path in voice_clips:
        clip = load_audio(path)
        i0 = int(round(start * SAMPLE_RATE))
        if start < 0 or i0 + len(clip) > n + int(_SLACK_S * SAMPLE_RATE):
            raise InputError(
                f"narration clip {path} ({len(clip) / SAMPLE_RATE:.2f} s at {start:.2f} s) does not fit in "
                f"the {total_s:.2f} s episode; plan the timeline so every clip ends by the end"
            )
        clip = clip[: n - i0]
        voice[i0:i0 + len(clip)] += clip

    mix = voice.copy()
    ratio_db: float | None = None
    if music is not None:
        bed = _music_bed(music, n, music_gain_db)
        active = _voice_activity(voice)
        bed *= _duck_gain(active, n, duck_db)
        mix += bed
        if active.any():
            ratio_db = _ratio_db(voice, bed, active)

    mix = _normalise(mix, target_lufs)
    write_wav(out_wav, mix)
    lufs, _ = measure_file_loudness(out_wav)
    return MixReport(path=Path(out_wav), duration_s=n / SAMPLE_RATE, integrated_lufs=lufs, voice_over_music_db=ratio_db)


def _music_bed(path: Path, n: int, gain_db: float) -> np.ndarray:
    """Music looped (with a short crossfade at each seam) or trimmed to n samples, faded, at gain_db RMS."""
    src = load_audio(path)
    if src.size < SAMPLE_RATE // 10:
        raise MediaError(f"music file {path} is empty or shorter than 0.1 s")
    xf = min(SAMPLE_RATE // 2, src.size // 4)
    if src.size >= n:
        bed = src[:n].copy()
    else:
        step = src.size - xf
        bed = np.zeros(n + src.size, dtype=np.float32)
        ramp_in = np.linspace(0, 1, xf, dtype=np.float32)
        piece = src.copy()
        piece[:xf] *= ramp_in
        piece[-xf:] *= ramp_in[::-1]
        for i0 in range(0, n, step):
            bed[i0:i0 + src.size] += piece
        bed = bed[:n]
        bed[:xf] = src[:xf]  # the very first entry needs no fade-in from the loop
    rms = float(np.sqrt(np.mean(np.square(bed))))
    if rms > 0:
        bed *= 10 ** (gain_db / 20) / rms
    fi, fo = min(SAMPLE_RATE, n // 4), min(2 * SAMPLE_RATE, n // 3)
    bed[:fi] *= np.linspace(0, 1, fi, dtype=np.float32)
    bed[n - fo:] *= np.linspace(1, 0, fo, dtype=np.float32)
    return bed


def _voice_activity(voice: np.ndarray) -> np.ndarray:
    """Per 10 ms frame: is someone speaking (with a hold through short pauses)?"""
    active = to_db(frame_rms(voice, _HOP)) > _VOICE_ACTIVE_DB
    hold = int(_HOLD_S * SAMPLE_RATE / _HOP)
    if hold and active.any():
        # Dilate forward by the hold: a frame stays active while speech was within `hold`.
        idx = np.flatnonzero(active)
        held = np.zeros_like(active)
        for k in range(hold + 1):
            held[np.minimum(idx + k, len(active) - 1)] = True
        active = held
    return active


def _duck_gain(active: np.ndarray, n: int, duck_db: float) -> np.ndarray:
    """Per-sample music gain: down by duck_db while speaking, with attack/release smoothing.

    The attack is started early (look-ahead) so the music is already down when the voice starts.
    """
    low = 10 ** (-duck_db / 20)
    lead = int(round(_ATTACK_S * SAMPLE_RATE / _HOP))
    target = np.where(active, low, 1.0)
    if lead:
        shifted = np.ones_like(target)
        shifted[:-lead] = target[lead:]
        target = np.minimum(target, shifted)
    a_att = np.exp(-1.0 / (_ATTACK_S * SAMPLE_RATE / _HOP / 3))  # ~95% of the way in the attack time
    a_rel = np.exp(-1.0 / (_RELEASE_S * SAMPLE_RATE / _HOP / 3))
    gain = np.empty_like(target)
    g = 1.0
    for i, t in enumerate(target):  # one step per 10 ms: cheap even for an hour
        a = a_att if t < g else a_rel
        g = a * g + (1 - a) * t
        gain[i] = g
    centres = (np.arange(len(gain)) + 0.5) * _HOP
    return np.interp(np.arange(n), centres, gain).astype(np.float32)


def _ratio_db(voice: np.ndarray, bed: np.ndarray, active: np.ndarray) -> float:
    mask = np.repeat(active, _HOP)[: len(voice)]
    v = float(np.sqrt(np.mean(np.square(voice[mask]))))
    m = float(np.sqrt(np.mean(np.square(bed[mask]))))
    return float(to_db(v) - to_db(m))


def _normalise(mix: np.ndarray, target_lufs: float) -> np.ndarray:
    """Gain to the loudness target, then a look-ahead peak limiter at -1.5 dBTP; twice at most."""
    for _ in range(2):
        lufs, _ = measure_loudness(mix)
        if lufs <= -69.0:  # ebur128's floor: silence, nothing to normalise
            return mix
        if abs(lufs - target_lufs) < 0.3:
            break
        mix *= 10 ** (min(target_lufs - lufs, _MAX_GAIN_DB) / 20)
        mix = _limit(mix, 10 ** (_TRUE_PEAK_DB / 20))
    return mix


def _limit(x: np.ndarray, ceiling: float) -> np.ndarray:
    """Smooth peak limiter: gain never lets the true peak pass `ceiling`, eased over ~5 ms each side."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    need = np.minimum(1.0, ceiling / np.maximum(_true_peaks(x), 1e-9)).astype(np.float32)
    if need.min() >= 1.0:
        return x
    w = int(0.005 * SAMPLE_RATE)
    # A box average of width w over a minimum filter of width 2w stays at or below `need`.
    gain = uniform_filter1d(minimum_filter1d(need, size=2 * w + 1), size=w + 1)
    return x * gain


def _true_peaks(x: np.ndarray, block: int = 10 * SAMPLE_RATE, pad: int = 64) -> np.ndarray:
    """Per-sample |x| including inter-sample peaks (4x oversampling), in blocks to bound memory."""
    from scipy.signal import resample_poly

    out = np.empty(len(x), dtype=np.float32)
    for b0 in range(0, len(x), block):
        lo, hi = max(0, b0 - pad), min(len(x), b0 + block + pad)
        over = np.abs(resample_poly(x[lo:hi], 4, 1)).reshape(-1, 4).max(axis=1)
        b1 = min(len(x), b0 + block)
        out[b0:b1] = np.maximum(over[b0 - lo:b1 - lo], np.abs(x[b0:b1]))
    return out
