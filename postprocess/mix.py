"""The episode's audio mix: narration clips on a timeline over ducked music, loudness-normalised.

Memory stays flat as the episode grows: nothing holds the whole episode's samples. Only
10 ms analysis frames (a few hundred kB for an hour) are kept whole; the samples are
rendered in 10 s blocks, straight from the WAV files, twice: once to measure the loudness
(ffmpeg `ebur128` fed through a pipe), once to apply the gain and the true-peak limiter
and write the file. The written file is measured again, and the gain corrected if the
limiter cost loudness.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from postprocess.audio import (
    SAMPLE_RATE,
    LoudnessMeter,
    is_house_wav,
    measure_file_loudness,
    read_wav_range,
    to_db,
    to_house_wav,
    wav_frames,
    write_wav_blocks,
)
from postprocess.music_library import episode_music
from reelgate.errors import InputError, MediaError
from reelgate.settings import PostSettings

BLOCK = 10 * SAMPLE_RATE  # samples rendered at a time
_HOP = SAMPLE_RATE // 100  # 10 ms analysis frames for ducking
_VOICE_ACTIVE_DB = -45.0  # a 10 ms voice frame above this (dBFS) counts as speech
_HOLD_S = 0.25  # keep the duck through short pauses between words (no pumping)
_ATTACK_S = 0.05
_RELEASE_S = 0.3
_MAX_GAIN_DB = 30.0  # never blow up near-silence to reach the target
_SLACK_S = 0.005  # a clip may overrun total_s by rounding only
_LUFS_TOLERANCE = 0.5  # re-render when the written file is further than this from the target
_PEAK_MARGIN_DB = 0.2  # ebur128's true-peak filter differs a little from ours
_LIMIT_EASE_S = 0.005  # the limiter eases its gain over this much on each side of a peak
_CONTEXT = 3 * int(_LIMIT_EASE_S * SAMPLE_RATE) + 128  # samples either side a block's limiter must see


@dataclass
class MixReport:
    """What was written and how loud it measured."""

    path: Path
    duration_s: float
    integrated_lufs: float  # measured by ebur128 on the written file
    voice_over_music_db: float | None  # voice RMS over ducked-music RMS while speaking; None: no music or voice
    true_peak_db: float | None = None  # measured by ebur128 on the written file
    music: str | None = None  # where the music came from (library file, licence / synthesised mood); None: none


def make_soundtrack(
    voice_clips: list[tuple[float, Path]], total_s: float, out_dir: Path, mood: str, seed: int, settings: PostSettings
) -> MixReport:
    """The episode's soundtrack in one call: pick the music (library or synthesised), mix, normalise.

    Writes `out_dir/soundtrack.wav` (and the music's WAV beside it).
    """
    choice = episode_music(total_s, mood, seed, Path(out_dir), settings)
    report = mix_audio(
        voice_clips, total_s, Path(out_dir) / "soundtrack.wav",
        music=choice.path if choice else None,
        music_loop=choice.loop if choice else None,
        music_gain_db=settings.music_gain_db,
        duck_db=settings.duck_db,
        target_lufs=settings.target_lufs,
        true_peak_db=settings.true_peak_db,
    )
    report.music = choice.describe() if choice else None
    return report


def mix_audio(
    voice_clips: list[tuple[float, Path]],
    total_s: float,
    out_wav: Path,
    *,
    music: Path | None,
    music_gain_db: float = -20.0,
    duck_db: float = 12.0,
    target_lufs: float = -16.0,
    true_peak_db: float = -1.5,
    music_loop: tuple[float, float] | None = None,
) -> MixReport:
    """Place narration clips at their start times over (ducked) music and normalise loudness.

    voice_clips: (start in seconds, audio path) per clip; a clip must end by `total_s`.
    music: a music file (any format ffmpeg reads), looped or trimmed to `total_s`; None: voice only.
    music_gain_db: music RMS level in dBFS before ducking and normalisation.
    duck_db: how far the music drops while the voice speaks.
    target_lufs: integrated loudness of the result; true_peak_db: its true-peak ceiling.
    music_loop: (start, end) seconds of the music to repeat after its first play; None: the whole file.
    """
    if not total_s > 0:
        raise InputError(f"mix length must be positive, got total_s={total_s}")
    n = int(round(total_s * SAMPLE_RATE))
    with tempfile.TemporaryDirectory(prefix="reelgate-mix-") as tmp:
        clips = [_Clip.place(start, Path(path), n, total_s, Path(tmp) / f"voice{i}.wav")
                 for i, (start, path) in enumerate(voice_clips)]
        active = _voice_activity(clips, n)
        bed = _Bed(Path(music), n, music_gain_db, music_loop, Path(tmp)) if music is not None else None
        duck = _duck_gain(active, duck_db)
        mixer = _Mixer(clips, bed, duck, n)

        with LoudnessMeter() as meter:
            for a, b in _blocks(n):
                voice, bed_block = mixer.render(a, b)
                meter.add(voice + bed_block)
                mixer.tally(a, voice, bed_block, active)
        lufs, _ = meter.result()

        ceiling = 10 ** ((true_peak_db - _PEAK_MARGIN_DB) / 20)
        gain_db = 0.0 if lufs <= -69.0 else min(target_lufs - lufs, _MAX_GAIN_DB)  # -70: ebur128's silence
        for _ in range(3):
            write_wav_blocks(out_wav, mixer.limited_blocks(10 ** (gain_db / 20), ceiling))
            lufs, peak = measure_file_loudness(out_wav)
            if lufs <= -69.0 or abs(lufs - target_lufs) <= _LUFS_TOLERANCE or gain_db >= _MAX_GAIN_DB:
                break
            gain_db = min(gain_db + target_lufs - lufs, _MAX_GAIN_DB)  # the limiter ate some loudness
    return MixReport(
        path=Path(out_wav), duration_s=n / SAMPLE_RATE, integrated_lufs=lufs,
        voice_over_music_db=mixer.voice_over_music_db() if bed is not None else None, true_peak_db=peak,
    )


def _blocks(n: int) -> Iterator[tuple[int, int]]:
    for a in range(0, n, BLOCK):
        yield a, min(n, a + BLOCK)


@dataclass
class _Clip:
    start: int  # sample index in the episode
    length: int  # samples that fall inside the episode
    path: Path  # a house WAV

    @classmethod
    def place(cls, start_s: float, path: Path, n: int, total_s: float, work_wav: Path) -> "_Clip":
        if not path.is_file():
            raise MediaError(f"no such narration clip: {path}")
        house = path if is_house_wav(path, SAMPLE_RATE) else to_house_wav(path, work_wav)
        length = wav_frames(house)
        i0 = int(round(start_s * SAMPLE_RATE))
        if start_s < 0 or i0 + length > n + int(_SLACK_S * SAMPLE_RATE):
            raise InputError(
                f"narration clip {path} ({length / SAMPLE_RATE:.2f} s at {start_s:.2f} s) does not fit in "
                f"the {total_s:.2f} s episode; plan the timeline so every clip ends by the end"
            )
        return cls(start=i0, length=min(length, n - i0), path=house)


def _voice_activity(clips: list[_Clip], n: int) -> np.ndarray:
    """Per 10 ms frame: is someone speaking (with a hold through short pauses)?"""
    frames = -(-n // _HOP)
    energy = np.zeros(frames, dtype=np.float64)
    for clip in clips:  # one narration piece at a time: seconds, not the episode
        lead = clip.start % _HOP
        x = np.concatenate([np.zeros(lead, np.float32), read_wav_range(clip.path, 0, clip.length)])
        k = -(-len(x) // _HOP)
        x = np.pad(x, (0, k * _HOP - len(x)))
        f0 = clip.start // _HOP
        energy[f0:f0 + k] += np.square(x.reshape(k, _HOP), dtype=np.float64).sum(axis=1)[: frames - f0]
    active = to_db(np.sqrt(energy / _HOP)) > _VOICE_ACTIVE_DB
    hold = int(_HOLD_S * SAMPLE_RATE / _HOP)
    if hold and active.any():
        # Dilate forward by the hold: a frame stays active while speech was within `hold`.
        idx = np.flatnonzero(active)
        held = np.zeros_like(active)
        for k in range(hold + 1):
            held[np.minimum(idx + k, len(active) - 1)] = True
        active = held
    return active


def _duck_gain(active: np.ndarray, duck_db: float) -> np.ndarray:
    """Per-frame music gain: down by duck_db while speaking, with attack/release smoothing.

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
    return gain


class _Bed:
    """The music, looped (crossfaded at each seam) or trimmed to the episode, faded, at a set RMS.

    Any span is rendered on demand from the decoded WAV, so the bed never exists whole.
    """

    def __init__(self, path: Path, n: int, gain_db: float, loop: tuple[float, float] | None, work: Path) -> None:
        if not path.is_file():
            raise MediaError(f"no such music file: {path}")
        self.path = path if is_house_wav(path, SAMPLE_RATE) else to_house_wav(path, work / "music.wav")
        size = wav_frames(self.path)
        if size < SAMPLE_RATE // 10:
            raise MediaError(f"music file {path} is empty or shorter than 0.1 s")
        if loop is None:
            self.loop_start, self.loop_end = 0, size
            self.xf = min(SAMPLE_RATE // 2, size // 4)
        else:
            self.loop_start = int(round(loop[0] * SAMPLE_RATE))
            self.loop_end = min(size, int(round(loop[1] * SAMPLE_RATE)))
            if self.loop_end - self.loop_start < SAMPLE_RATE // 10:
                raise InputError(f"music loop {loop} of {path} is shorter than 0.1 s; widen loop_start/loop_end")
            self.xf = min(SAMPLE_RATE // 100, (self.loop_end - self.loop_start) // 4)  # marked loop: just declick
        self.n = n
        sumsq = sum(float(np.sum(np.square(read_wav_range(self.path, a, b), dtype=np.float64)))
                    for a, b in _blocks(self.loop_end))
        rms = np.sqrt(sumsq / self.loop_end)
        self.scale = 10 ** (gain_db / 20) / rms if rms > 0 else 1.0
        self.fade_in, self.fade_out = min(SAMPLE_RATE, n // 4), min(2 * SAMPLE_RATE, n // 3)

    def _copy(self, k: int) -> tuple[int, int, int]:
        """(episode position, source offset, length) of the k-th play of the music."""
        if k == 0:
            return 0, 0, self.loop_end
        span = self.loop_end - self.loop_start
        return self.loop_end - self.xf + (k - 1) * (span - self.xf), self.loop_start, span

    def render(self, a: int, b: int) -> np.ndarray:
        out = np.zeros(b - a, dtype=np.float32)
        step = self.loop_end - self.loop_start - self.xf
        first = max(0, (a - self.loop_end) // step)
        k = first
        while True:
            pos, src, length = self._copy(k)
            if pos >= b or (k > 0 and self._copy(k - 1)[0] + self._copy(k - 1)[2] >= self.n):
                break  # past the block, or the previous play already reaches the end
            lo, hi = max(a, pos), min(b, pos + length)
            if hi > lo:
                seg = read_wav_range(self.path, src + lo - pos, src + hi - pos)
                j = np.arange(lo - pos, hi - pos)
                if k > 0:
                    head = j < self.xf
                    seg[head] *= j[head] / self.xf
                if pos + length < self.n:  # another play follows: fade under it
                    tail = j >= length - self.xf
                    seg[tail] *= (length - j[tail]) / self.xf
                out[lo - a:hi - a] += seg
            k += 1
        out *= self.scale
        idx = np.arange(a, b)
        head, tail = idx < self.fade_in, idx >= self.n - self.fade_out
        out[head] *= idx[head] / self.fade_in
        out[tail] *= (self.n - idx[tail]) / self.fade_out
        return out


class _Mixer:
    """Renders any span of the mix: voice clips plus the ducked bed."""

    def __init__(self, clips: list[_Clip], bed: _Bed | None, duck: np.ndarray, n: int) -> None:
        self.clips, self.bed, self.duck, self.n = clips, bed, duck, n
        self.centres = (np.arange(len(duck)) + 0.5) * _HOP
        self._voice_sq = self._bed_sq = 0.0

    def render(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(voice, ducked music) for samples [a, b), float32."""
        voice = np.zeros(b - a, dtype=np.float32)
        for clip in self.clips:
            lo, hi = max(a, clip.start), min(b, clip.start + clip.length)
            if hi > lo:
                voice[lo - a:hi - a] += read_wav_range(clip.path, lo - clip.start, hi - clip.start)
        if self.bed is None:
            return voice, np.zeros_like(voice)
        bed = self.bed.render(a, b)
        bed *= np.interp(np.arange(a, b), self.centres, self.duck).astype(np.float32)
        return voice, bed

    def tally(self, a: int, voice: np.ndarray, bed: np.ndarray, active: np.ndarray) -> None:
        """Add a block to the voice-over-music measurement (energy while speaking)."""
        mask = active[np.arange(a, a + len(voice)) // _HOP]
        self._voice_sq += float(np.sum(np.square(voice[mask], dtype=np.float64)))
        self._bed_sq += float(np.sum(np.square(bed[mask], dtype=np.float64)))

    def voice_over_music_db(self) -> float | None:
        if self._voice_sq <= 0:
            return None
        return float(to_db(np.sqrt(self._voice_sq)) - to_db(np.sqrt(self._bed_sq)))

    def limited_blocks(self, gain: float, ceiling: float) -> Iterator[np.ndarray]:
        """The mix times `gain`, through the true-peak limiter, block by block.

        Each block is rendered with some context either side, so that the limiter sees peaks
        just past the block's edges exactly as if it ran on the whole episode.
        """
        for a, b in _blocks(self.n):
            lo, hi = max(0, a - _CONTEXT), min(self.n, b + _CONTEXT)
            voice, bed = self.render(lo, hi)
            x = voice
            x += bed
            x *= gain
            x *= _limiter_gain(x, ceiling)
            yield x[a - lo:b - lo]


def _limiter_gain(x: np.ndarray, ceiling: float) -> np.ndarray | float:
    """Smooth peak-limiter gain: the true peak never passes `ceiling`, eased over ~5 ms each side."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d
    from scipy.signal import resample_poly

    # |x| including inter-sample peaks (4x oversampling).
    peaks = np.maximum(np.abs(resample_poly(x, 4, 1)).reshape(-1, 4).max(axis=1), np.abs(x))
    if peaks.max() <= ceiling:
        return 1.0
    need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-9)).astype(np.float32)
    w = int(_LIMIT_EASE_S * SAMPLE_RATE)
    # A box average of width w over a minimum filter of width 2w stays at or below `need`.
    return uniform_filter1d(minimum_filter1d(need, size=2 * w + 1), size=w + 1)
