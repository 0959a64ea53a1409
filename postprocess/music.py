"""Offline background music: soft pad chords and a gentle arpeggio, synthesised with numpy.

Not a composer: a pleasant, unobtrusive bed so that the default episode has music with no
download. A mood picks key, scale, tempo, chord progression and timbre; the seed picks the
progression variant, arpeggio pattern and small detunes, so the same (mood, seed) always
gives the same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from postprocess.audio import SAMPLE_RATE, write_wav_blocks
from reelgate.errors import InputError

# Music is written at this RMS; the mixer sets the final level (post.music_gain_db).
_TARGET_RMS_DB = -18.0


@dataclass(frozen=True)
class Mood:
    tonic: int  # MIDI note of the key's root (octave 3/4)
    scale: tuple[int, ...]  # semitones of the 7 scale degrees
    bpm: float
    progressions: tuple[tuple[int, ...], ...]  # chord roots as 0-based scale degrees, one per bar
    harmonics: tuple[float, ...]  # pad timbre: amplitude of partials 1, 2, 3, ...
    arp_steps: int  # arpeggio notes per beat
    arp_level: float
    arp_decay_s: float


_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_DORIAN = (0, 2, 3, 5, 7, 9, 10)
_PHRYGIAN = (0, 1, 3, 5, 7, 8, 10)

MOODS: dict[str, Mood] = {
    "calm": Mood(tonic=60, scale=_MAJOR, bpm=72, progressions=((0, 5, 3, 4), (0, 3, 5, 4), (0, 4, 5, 3)),
                 harmonics=(1.0, 0.3, 0.1), arp_steps=2, arp_level=0.22, arp_decay_s=0.9),
    "joyful": Mood(tonic=67, scale=_MAJOR, bpm=112, progressions=((0, 4, 5, 3), (0, 3, 4, 4), (0, 5, 3, 4)),
                   harmonics=(1.0, 0.5, 0.3, 0.15), arp_steps=2, arp_level=0.3, arp_decay_s=0.35),
    "mysterious": Mood(tonic=62, scale=_DORIAN, bpm=60, progressions=((0, 6, 5, 0), (0, 3, 6, 4), (0, 5, 6, 3)),
                       harmonics=(1.0, 0.15, 0.35, 0.05, 0.12), arp_steps=2, arp_level=0.2, arp_decay_s=1.2),
    "tense": Mood(tonic=64, scale=_PHRYGIAN, bpm=92, progressions=((0, 1, 0, 5), (0, 5, 1, 0), (0, 0, 1, 6)),
                  harmonics=(1.0, 0.45, 0.35, 0.25, 0.15), arp_steps=4, arp_level=0.18, arp_decay_s=0.18),
    "sad": Mood(tonic=57, scale=_MINOR, bpm=58, progressions=((0, 3, 5, 4), (0, 5, 3, 4), (0, 3, 6, 2)),
                harmonics=(1.0, 0.2, 0.05), arp_steps=1, arp_level=0.22, arp_decay_s=1.4),
    "epic": Mood(tonic=62, scale=_MINOR, bpm=80, progressions=((0, 5, 2, 6), (0, 5, 6, 4), (0, 2, 5, 6)),
                 harmonics=(1.0, 0.6, 0.4, 0.3, 0.2, 0.1), arp_steps=2, arp_level=0.25, arp_decay_s=0.5),
}


def synth_music(duration_s: float, mood: str, out_wav: Path, seed: int) -> Path:
    """Write `duration_s` seconds of background music for `mood` (unknown moods play calm).

    Deterministic for (duration_s, mood, seed); fades in and out at the ends. Written in
    blocks from one seamless loop, so memory does not grow with the duration.
    """
    if not duration_s > 0:
        raise InputError(f"music duration must be positive, got {duration_s}")
    return write_wav_blocks(out_wav, _music_blocks(duration_s, mood, seed))


def render_music(duration_s: float, mood: str, seed: int) -> np.ndarray:
    """The samples of `synth_music` (float32, house sample rate), in one array."""
    return np.concatenate([np.zeros(0, dtype=np.float32), *_music_blocks(duration_s, mood, seed)])


def _music_blocks(duration_s: float, mood: str, seed: int, block: int = 10 * SAMPLE_RATE) -> Iterator[np.ndarray]:
    loop = render_loop(mood, seed)
    n = int(round(duration_s * SAMPLE_RATE))
    ni = min(int(min(1.5, duration_s / 4) * SAMPLE_RATE), n)
    no = min(int(min(2.5, duration_s / 3) * SAMPLE_RATE), n)
    for b0 in range(0, n, block):
        idx = np.arange(b0, min(n, b0 + block))
        x = loop[idx % len(loop)]
        head = idx < ni
        x[head] *= np.sin(0.5 * np.pi * idx[head] / ni).astype(np.float32) ** 2
        tail = idx >= n - no
        x[tail] *= np.cos(0.5 * np.pi * (idx[tail] - (n - no)) / no).astype(np.float32) ** 2
        yield np.clip(x, -1.0, 1.0, out=x)


def render_loop(mood: str, seed: int) -> np.ndarray:
    """One seamless cycle of the mood's chord progression (float32, at the house music RMS).

    Notes ringing past the end of the cycle wrap round to its start, so the cycle repeated
    end to end is the same music as one long rendering, with no seam.
    """
    m = MOODS.get(mood.strip().lower(), MOODS["calm"])
    rng = np.random.default_rng(seed)
    sr = SAMPLE_RATE
    beat = 60.0 / m.bpm
    bar = 4 * beat
    progression = m.progressions[rng.integers(len(m.progressions))]
    pattern = _arp_pattern(rng, m.arp_steps)
    detune = rng.uniform(-3.0, 3.0, size=4)  # cents, per pad voice: gentle chorus
    n = int(round(len(progression) * bar * sr))
    out = np.zeros(n + 8 * sr, dtype=np.float32)  # room for the tails of the last notes

    for b, degree in enumerate(progression):
        t0 = b * bar
        chord = _triad(m, degree)
        # Pad: chord tones with slow attack and release overlapping the next bar (no gaps).
        for v, note in enumerate(chord):
            _add(out, t0, bar + 0.6 * bar, _hz(note, detune[v]), m.harmonics, 0.16,
                 attack=0.35 * bar, release=0.6 * bar)
        _add(out, t0, bar + 0.3 * bar, _hz(chord[0] - 12), (1.0, 0.25), 0.2, attack=0.1 * bar, release=0.3 * bar)
        # Arpeggio an octave up: short plucks with exponential decay.
        steps = 4 * m.arp_steps
        arp_notes = [*chord, chord[0] + 12, chord[1] + 12]
        for s in range(steps):
            idx = pattern[s % len(pattern)]
            if idx < 0:
                continue
            _pluck(out, t0 + s * beat / m.arp_steps, _hz(arp_notes[idx] + 12), m.arp_level, m.arp_decay_s)

    loop = out[:n].copy()
    for k in range(n, len(out), n):  # wrap the tails round
        tail = out[k:k + n]
        loop[:len(tail)] += tail
    rms = float(np.sqrt(np.mean(np.square(loop))))
    if rms > 0:
        loop *= 10 ** (_TARGET_RMS_DB / 20) / rms
    return loop


def _hz(midi: float, cents: float = 0.0) -> float:
    return 440.0 * 2 ** ((midi - 69 + cents / 100.0) / 12)


def _triad(m: Mood, degree: int) -> list[int]:
    """Root, third and fifth (plus the seventh, for a softer colour) of a scale degree."""
    def note(d: int) -> int:
        return m.tonic + m.scale[d % 7] + 12 * (d // 7)

    return [note(degree), note(degree + 2), note(degree + 4), note(degree + 6) - 12]


def _arp_pattern(rng: np.random.Generator, steps_per_beat: int) -> list[int]:
    """Indices into the chord tones (-1 = rest), one bar long."""
    shapes = [[0, 1, 2, 4], [0, 2, 1, 2], [0, 1, 2, 1], [2, 1, 0, 4], [0, 2, 4, 5]]
    shape = shapes[rng.integers(len(shapes))]
    notes = 4 * steps_per_beat
    pattern = [shape[i % len(shape)] for i in range(notes)]
    if notes >= 8:  # sparse rests keep fast arpeggios from getting busy
        for i in rng.choice(notes, size=notes // 4, replace=False):
            if i % steps_per_beat:
                pattern[i] = -1
    return pattern


def _add(out: np.ndarray, t0: float, length: float, hz: float, harmonics: tuple[float, ...],
         level: float, attack: float, release: float) -> None:
    """Add a sustained tone with a raised-cosine attack and release (click-free)."""
    sr = SAMPLE_RATE
    i0 = int(t0 * sr)
    n = min(int(length * sr), len(out) - i0)
    if n <= 0:
        return
    t = np.arange(n, dtype=np.float32) / sr
    wave = np.zeros(n, dtype=np.float32)
    for k, a in enumerate(harmonics, start=1):
        if hz * k < sr / 2.5:
            wave += a * np.sin(2 * np.pi * hz * k * t, dtype=np.float32)
    env = np.ones(n, dtype=np.float32)
    na, nr = min(int(attack * sr), n), min(int(release * sr), n)
    env[:na] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, na, dtype=np.float32))
    env[n - nr:] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, nr, dtype=np.float32))
    out[i0:i0 + n] += level * env * wave


def _pluck(out: np.ndarray, t0: float, hz: float, level: float, decay_s: float) -> None:
    """Add a soft plucked note: 5 ms attack, exponential decay, a touch of the octave."""
    sr = SAMPLE_RATE
    i0 = int(t0 * sr)
    n = min(int(decay_s * 4 * sr), len(out) - i0)
    if n <= 0:
        return
    t = np.arange(n, dtype=np.float32) / sr
    env = np.exp(-t / decay_s) * np.minimum(1.0, t / 0.005)
    env[-min(n, 256):] *= np.linspace(1, 0, min(n, 256), dtype=np.float32)
    tone = np.sin(2 * np.pi * hz * t) + 0.25 * np.sin(4 * np.pi * hz * t) * np.exp(-t / (decay_s / 2))
    out[i0:i0 + n] += (level * env * tone).astype(np.float32)
