"""Small WAV helpers shared by narration, music and the mixer.

Every audio file reelgate writes is in one house format: WAV, 48 kHz, mono, 16-bit PCM,
so the mixer and the muxer never have to guess. In memory, audio is float32 in [-1, 1].
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from reelgate.errors import MediaError
from reelgate.files import atomic_path
from reelgate.media import ffmpeg_exe, local_inputs, network_refusal

SAMPLE_RATE = 48_000


def load_audio(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode any audio file ffmpeg reads into mono float32 samples at `sample_rate`."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"no such audio file: {path}")
    if is_house_wav(path, sample_rate):  # our own files need no decoder
        return read_wav(path)[0]
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *local_inputs(["-i", str(path)]),
           "-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace")
        tail = stderr.strip().splitlines()[-3:]
        raise MediaError(network_refusal(stderr, path) or f"cannot decode audio {path}: {' / '.join(tail)}")
    return np.frombuffer(proc.stdout, dtype=np.float32).copy()


def is_house_wav(path: Path, sample_rate: int = SAMPLE_RATE) -> bool:
    """Is `path` a WAV in the house format (mono, 16-bit, `sample_rate`)?"""
    try:
        with wave.open(str(path), "rb") as wf:
            return wf.getnchannels() == 1 and wf.getsampwidth() == 2 and wf.getframerate() == sample_rate
    except (wave.Error, EOFError):
        return False


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono float samples as 16-bit PCM WAV, atomically. Values are clipped to [-1, 1]."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with atomic_path(Path(path)) as tmp:
        with wave.open(str(tmp), "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(sample_rate)
            wf.writeframes(pcm.tobytes())
    return Path(path)


def write_wav_blocks(path: Path, blocks: Iterable[np.ndarray], sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono float blocks one after another as a house WAV, atomically; memory is one block."""
    with atomic_path(Path(path)) as tmp:
        with wave.open(str(tmp), "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(sample_rate)
            for block in blocks:
                wf.writeframes((np.clip(block, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes())
    return Path(path)


def read_wav_range(path: Path, start: int, stop: int) -> np.ndarray:
    """Samples [start, stop) of a house WAV as float32; zeros where the range lies outside the file."""
    out = np.zeros(max(0, stop - start), dtype=np.float32)
    try:
        with wave.open(str(path), "rb") as wf:
            n = wf.getnframes()
            lo, hi = max(0, start), min(n, stop)
            if hi > lo:
                wf.setpos(lo)
                raw = wf.readframes(hi - lo)
                out[lo - start:hi - start] = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    except (wave.Error, EOFError, FileNotFoundError) as exc:
        raise MediaError(f"cannot read WAV {path}: {exc}") from exc
    return out


def wav_frames(path: Path) -> int:
    """Number of samples in a WAV file, from its header."""
    with wave.open(str(path), "rb") as wf:
        return wf.getnframes()


def to_house_wav(src: Path, dst: Path) -> Path:
    """Decode any audio file ffmpeg reads into a house WAV (ffmpeg streams it: no samples in Python)."""
    src = Path(src)
    if not src.is_file():
        raise MediaError(f"no such audio file: {src}")
    with atomic_path(Path(dst)) as tmp:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *local_inputs(["-i", str(src)]),
               "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)]
        proc = subprocess.run(cmd, capture_output=True)
        if proc.returncode != 0:
            stderr = proc.stderr.decode(errors="replace")
            tail = stderr.strip().splitlines()[-3:]
            raise MediaError(network_refusal(stderr, src)
                             or f"cannot decode audio {src}: {' / '.join(tail) or 'ffmpeg failed'}")
    return Path(dst)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM mono WAV (the house format) as (float32 samples, sample rate)."""
    try:
        with wave.open(str(path), "rb") as wf:
            if wf.getsampwidth() != 2 or wf.getnchannels() != 1:
                raise MediaError(
                    f"{path} is not 16-bit mono PCM ({wf.getnchannels()} ch, {8 * wf.getsampwidth()} bit)"
                )
            rate = wf.getframerate()
            raw = wf.readframes(wf.getnframes())
    except (wave.Error, EOFError, FileNotFoundError) as exc:
        raise MediaError(f"cannot read WAV {path}: {exc}") from exc
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0, rate


def wav_duration(path: Path) -> float:
    """Duration of a WAV file in seconds, from its header."""
    with wave.open(str(path), "rb") as wf:
        return wf.getnframes() / wf.getframerate()


def frame_rms(samples: np.ndarray, hop: int) -> np.ndarray:
    """RMS of consecutive non-overlapping frames of `hop` samples (last partial frame included)."""
    n = -(-len(samples) // hop)
    padded = np.zeros(n * hop, dtype=np.float32)
    padded[: len(samples)] = samples
    return np.sqrt(np.mean(np.square(padded.reshape(n, hop)), axis=1))


def to_db(x: float | np.ndarray) -> float | np.ndarray:
    """Amplitude to dB (floor at -120 dB)."""
    return 20.0 * np.log10(np.maximum(x, 1e-6))


def measure_loudness(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) from ffmpeg's `ebur128` filter."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-f", "f32le", "-ar", str(sample_rate),
           "-ac", "1", "-i", "-", "-af", "ebur128=peak=true", "-f", "null", "-"]
    proc = subprocess.run(cmd, input=np.ascontiguousarray(samples, dtype=np.float32).tobytes(),
                          capture_output=True)
    return _parse_ebur128(proc.stderr.decode(errors="replace"), proc.returncode)


class LoudnessMeter:
    """Integrated loudness of audio fed block by block (ffmpeg `ebur128` behind a pipe).

    Use as a context manager; `add` float blocks, then `result()` after the block.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE) -> None:
        self.sample_rate = sample_rate
        self._log = tempfile.TemporaryFile()  # a file, not a pipe: ffmpeg's log can never block it
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-f", "f32le", "-ar", str(sample_rate),
               "-ac", "1", "-i", "-", "-af", "ebur128=peak=true", "-f", "null", "-"]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)
        self._result: tuple[float, float] | None = None

    def add(self, block: np.ndarray) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())

    def result(self) -> tuple[float, float]:
        """(integrated LUFS, true peak dBTP) of everything added."""
        if self._result is None:
            raise RuntimeError("LoudnessMeter.result() is ready only after the with-block")
        return self._result

    def __enter__(self) -> "LoudnessMeter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        code = self._proc.wait()
        self._log.seek(0)
        log = self._log.read().decode(errors="replace")
        self._log.close()
        if exc_type is None:
            self._result = _parse_ebur128(log, code)


def measure_file_loudness(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of an audio file, measured by ffmpeg `ebur128`."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", *local_inputs(["-i", str(path)]),
           "-af", "ebur128=peak=true", "-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    return _parse_ebur128(proc.stderr.decode(errors="replace"), proc.returncode)


def _parse_ebur128(log: str, returncode: int) -> tuple[float, float]:
    summary = log[log.rfind("Summary:"):]
    i = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    p = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if returncode != 0 or not i or not p:
        raise MediaError(f"ffmpeg ebur128 gave no loudness summary: {log.strip().splitlines()[-3:]}")
    return float(i.group(1)), float(p.group(1))
