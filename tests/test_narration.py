"""Narration: voices, the fallback chain, per-segment speech and user-configured voices."""

from __future__ import annotations

import io
import json
import shlex
import sys
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest

from postprocess.audio import SAMPLE_RATE, frame_rms, read_wav, to_db, write_wav
from postprocess.tts import (
    CommandVoice, EspeakPinyinVoice, HttpVoice, NarrationPiece, PiperVoice, narrate, narrate_segments, to_pinyin,
    voices_for,
)
from reelgate.errors import BackendUnavailable, ConfigError, InputError, UnknownBackendError
from reelgate.settings import PostSettings


def _house_format(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as wf:
        return wf.getframerate(), wf.getnchannels(), wf.getsampwidth()


def _leading_silence_s(samples: np.ndarray) -> float:
    rms = to_db(frame_rms(samples, SAMPLE_RATE // 100))
    return float(np.argmax(rms > -40.0)) / 100


class ToneVoice:
    """A stand-in voice: a tone padded with silence at both ends, 0.1 s per character / rate."""

    language = "en"

    def __init__(self, name: str = "tone", lead_s: float = 0.8, tail_s: float = 0.6) -> None:
        self.name, self.lead_s, self.tail_s = name, lead_s, tail_s

    def synthesize(self, text: str, out_wav: Path, rate: float) -> None:
        x = np.concatenate([np.zeros(int(self.lead_s * 22050)),
                            np.sin(np.arange(int(0.1 * len(text) / rate * 22050)) * 0.06),
                            np.zeros(int(self.tail_s * 22050))])
        write_wav(out_wav, 0.3 * x, sample_rate=22050)  # not the house rate: narrate must convert


class BrokenVoice:
    language = "en"

    def __init__(self, name: str, after: int = 0) -> None:
        self.name, self.after, self.calls = name, after, 0

    def synthesize(self, text: str, out_wav: Path, rate: float) -> None:
        self.calls += 1
        if self.calls > self.after:
            raise RuntimeError(f"{self.name} exploded")
        ToneVoice().synthesize(text, out_wav, rate)


# A fake user TTS program: writes 16 kHz stereo (not the house format) of 0.05 s per character / rate.
_FAKE_TTS = (
    "import sys, wave, math; text = open(sys.argv[1], encoding='utf-8').read(); rate = float(sys.argv[3]); "
    "n = int(16000 * 0.05 * len(text) / rate); w = wave.open(sys.argv[2], 'wb'); w.setnchannels(2); "
    "w.setsampwidth(2); w.setframerate(16000); "
    "w.writeframes(b''.join(int(8000 * math.sin(i * 0.05)).to_bytes(2, 'little', signed=True) * 2 for i in range(n)))"
)


def _fake_command() -> str:
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(_FAKE_TTS)} {{text_file}} {{wav}} {{rate}}"


# --- offline voices --------------------------------------------------------------------

@pytest.mark.integration
def test_piper_speaks_english_in_house_format(tmp_path: Path) -> None:
    settings = PostSettings()
    sentence = "The little fox looked up at the stars and smiled."
    narrate("Warm up.", "en", tmp_path / "warm.wav", settings)  # model load is not speech time
    t0 = time.perf_counter()
    piece = narrate(sentence, "en", tmp_path / "en.wav", settings)
    took = time.perf_counter() - t0
    print(f"piper: {piece.duration_s:.2f} s of speech in {took:.2f} s (real-time factor {took / piece.duration_s:.3f})")

    assert piece.voice == "piper" and piece.failures == []
    assert _house_format(piece.path) == (SAMPLE_RATE, 1, 2)
    samples, _ = read_wav(piece.path)
    assert 1.0 < piece.duration_s < 6.0
    assert piece.duration_s == pytest.approx(len(samples) / SAMPLE_RATE)
    assert float(np.sqrt(np.mean(samples**2))) > 0.03  # clearly audible, not near-silence
    assert _leading_silence_s(samples) < 0.1

    faster = narrate(sentence, "en", tmp_path / "fast.wav", settings, rate=1.5)  # a series' own speed
    assert faster.duration_s < 0.8 * piece.duration_s


def test_chinese_speaks_through_espeak_pinyin_and_grows_with_text(tmp_path: Path) -> None:
    settings = PostSettings()
    short = narrate("天上的星星。", "zh", tmp_path / "short.wav", settings)
    long = narrate("天上的星星很亮，小狐狸抬起头，看了很久很久。", "zh", tmp_path / "long.wav", settings)
    assert short.voice == long.voice == "espeak-pinyin"
    assert _house_format(long.path) == (SAMPLE_RATE, 1, 2)
    samples, _ = read_wav(long.path)
    assert float(np.sqrt(np.mean(samples**2))) > 0.03
    # 5 syllables vs 20 syllables: the long one takes well over twice as long.
    assert 0.5 < short.duration_s < 3.0
    assert long.duration_s > 2.5 * short.duration_s
    # a series that speaks faster gets shorter clips
    fast = narrate("天上的星星很亮，小狐狸抬起头，看了很久很久。", "zh", tmp_path / "fast.wav", settings, rate=1.6)
    assert fast.duration_s < 0.8 * long.duration_s


def test_pinyin_conversion_numbers_tones_and_keeps_pauses() -> None:
    assert to_pinyin("天上的星星") == "tian1 shang4 de5 xing1 xing1"
    assert to_pinyin("天上的星星，很亮。") == "tian1 shang4 de5 xing1 xing1, hen3 liang4."
    assert to_pinyin("我爱 Python！") == "wo3 ai4 Python!"


# --- the fallback chain ----------------------------------------------------------------

def test_fallback_names_the_voice_that_spoke_and_the_one_that_failed(tmp_path: Path) -> None:
    piece = narrate("hello there", "en", tmp_path / "a.wav", PostSettings(),
                    voices=[BrokenVoice("first"), ToneVoice("second")])
    assert isinstance(piece, NarrationPiece)
    assert piece.voice == "second"
    assert len(piece.failures) == 1 and piece.failures[0].startswith("first:") and "exploded" in piece.failures[0]
    assert piece.path.is_file()


def test_all_voices_failing_is_a_transient_error_listing_each(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable) as info:
        narrate("hello", "en", tmp_path / "a.wav", PostSettings(), voices=[BrokenVoice("a"), BrokenVoice("b")])
    assert "a: RuntimeError: a exploded" in str(info.value) and "b: RuntimeError: b exploded" in str(info.value)
    assert not (tmp_path / "a.wav").exists()


def test_empty_text_is_an_input_error(tmp_path: Path) -> None:
    for speak in (narrate, lambda *a, **k: narrate_segments(*a, max_chars=14, **k)):
        with pytest.raises(InputError, match="narration text is empty; give each shot a sentence"):
            speak("  \n", "en", tmp_path / "a.wav", PostSettings(), voices=[ToneVoice()])
    with pytest.raises(InputError, match="nothing to speak"):
        narrate_segments("。。", "zh", tmp_path / "b.wav", PostSettings(), 14, voices=[ToneVoice()])
    with pytest.raises(InputError, match="speech rate"):
        narrate("hi", "en", tmp_path / "c.wav", PostSettings(), voices=[ToneVoice()], rate=5.0)
    assert not any(tmp_path.iterdir())


def test_silence_is_trimmed_and_duration_measured_from_audio(tmp_path: Path) -> None:
    text = "x" * 20  # the stand-in speaks 2.0 s for this, between 0.8 s and 0.6 s of silence
    piece = narrate(text, "en", tmp_path / "a.wav", PostSettings(), voices=[ToneVoice()])
    samples, rate = read_wav(piece.path)
    assert rate == SAMPLE_RATE
    assert _leading_silence_s(samples) < 0.1
    assert piece.duration_s == pytest.approx(2.0, abs=0.1)
    assert [(s.offset_s, s.duration_s) for s in piece.segments] == [(0.0, piece.duration_s)]


def test_voice_chains_per_language_and_series() -> None:
    assert [v.name for v in voices_for("en", PostSettings())] == ["piper", "espeak"]
    assert [v.name for v in voices_for("en", PostSettings(voice_en="espeak"))] == ["espeak"]
    assert [v.name for v in voices_for("zh", PostSettings())] == ["espeak-pinyin"]
    assert isinstance(voices_for("en", PostSettings())[0], PiperVoice)
    assert isinstance(voices_for("zh", PostSettings())[0], EspeakPinyinVoice)
    # a series' own voice goes first, the rest stay behind it as fallbacks
    assert [v.name for v in voices_for("en", PostSettings(), voice="espeak")] == ["espeak", "piper"]
    with pytest.raises(UnknownBackendError, match="command, espeak, espeak-pinyin, http, piper"):
        voices_for("en", PostSettings(voice_en="edge"))
    with pytest.raises(InputError, match="post.voice_zh"):
        voices_for("zh", PostSettings(voice_zh="piper"))
    with pytest.raises(InputError, match="post.voice_zh"):
        voices_for("zh", PostSettings(), voice="espeak")


def test_user_voices_come_first_where_configured() -> None:
    both = PostSettings(tts_command="mytts --text {text_file} --out {wav}", tts_url="http://127.0.0.1:9/v1/audio/speech")
    assert [v.name for v in voices_for("zh", both)] == ["command", "http", "espeak-pinyin"]
    assert [v.name for v in voices_for("en", both)] == ["command", "http", "piper", "espeak"]
    assert isinstance(voices_for("en", both)[0], CommandVoice) and isinstance(voices_for("en", both)[1], HttpVoice)
    # a series that asks for a built-in voice gets it first
    assert [v.name for v in voices_for("en", both, voice="espeak")] == ["espeak", "command", "http", "piper"]
    en_only = both.model_copy(update={"tts_user_languages": ["en"]})
    assert [v.name for v in voices_for("zh", en_only)] == ["espeak-pinyin"]
    with pytest.raises(ConfigError, match="post.tts_command is empty"):
        voices_for("en", PostSettings(), voice="command")
    with pytest.raises(ConfigError, match=r"\{wav\}"):
        voices_for("en", PostSettings(tts_command="mytts --text {text_file}"))


# --- user voices -----------------------------------------------------------------------

def test_command_voice_speaks_through_a_user_program(tmp_path: Path) -> None:
    settings = PostSettings(tts_command=_fake_command(), voice_en="espeak")
    piece = narrate("x" * 40, "en", tmp_path / "a.wav", settings)  # the fake speaks 0.05 s per character
    assert piece.voice == "command" and piece.failures == []
    assert _house_format(piece.path) == (SAMPLE_RATE, 1, 2)
    assert piece.duration_s == pytest.approx(2.0, abs=0.08)
    fast = narrate("x" * 40, "en", tmp_path / "b.wav", settings, rate=2.0)  # {rate} reaches the program
    assert fast.duration_s == pytest.approx(1.0, abs=0.08)


def test_failing_command_voice_falls_back_to_an_offline_voice(tmp_path: Path) -> None:
    missing = PostSettings(tts_command="no-such-tts-program --out {wav}", voice_en="espeak")
    piece = narrate("The fox sleeps.", "en", tmp_path / "a.wav", missing)
    assert piece.voice == "espeak"
    assert len(piece.failures) == 1 and piece.failures[0].startswith("command: ConfigError")
    assert "no-such-tts-program" in piece.failures[0]

    crashing = PostSettings(tts_command=f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(\"model missing\")' {{wav}}",
                            voice_en="espeak")
    piece = narrate("The fox sleeps.", "en", tmp_path / "b.wav", crashing)
    assert piece.voice == "espeak" and "model missing" in piece.failures[0]


class _SpeechServer(BaseHTTPRequestHandler):
    requests: list[tuple[dict, str | None]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((body, self.headers.get("Authorization")))
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b'{"error": "bad key"}')
            return
        n = int(24000 * 0.05 * len(body["input"]) / body["speed"])
        pcm = (0.3 * np.sin(np.arange(n) * 0.05) * 32767).astype("<i2").tobytes()
        buf = io.BytesIO()
        with wave.open(buf, "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(24000)
            wf.writeframes(pcm)
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.end_headers()
        self.wfile.write(buf.getvalue())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def speech_server():
    _SpeechServer.requests, _SpeechServer.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _SpeechServer)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)  # stops in 20 ms, not 0.5 s
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1/audio/speech"
    server.shutdown()
    server.server_close()


def test_http_voice_posts_openai_style_with_the_key_from_the_environment(
    tmp_path: Path, speech_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TTS_KEY", "sekret")
    settings = PostSettings(tts_url=speech_server, tts_api_key_env="MY_TTS_KEY", tts_http_voice="nova")
    piece = narrate("你好，世界。", "zh", tmp_path / "a.wav", settings, rate=1.25)
    assert piece.voice == "http" and piece.failures == []
    body, auth = _SpeechServer.requests[0]
    assert auth == "Bearer sekret"
    assert body == {"model": "tts-1", "input": "你好，世界。", "voice": "nova", "speed": 1.25, "response_format": "wav"}
    assert piece.duration_s == pytest.approx(0.05 * 6 / 1.25, abs=0.08)

    _SpeechServer.status = 401  # a refused key: the offline voice speaks and the manifest says why
    piece = narrate("你好，世界。", "zh", tmp_path / "b.wav", settings)
    assert piece.voice == "espeak-pinyin"
    assert piece.failures[0].startswith("http: ConfigError") and "MY_TTS_KEY" in piece.failures[0]


# --- per-segment narration -------------------------------------------------------------

def test_segments_are_spoken_one_by_one_with_measured_offsets(tmp_path: Path) -> None:
    text = "小狐狸住在森林的边上，每天晚上都会爬到山坡上看星星。它最喜欢的那颗星星特别亮。"
    settings = PostSettings(segment_gap_s=0.2)
    piece = narrate_segments(text, "zh", tmp_path / "a.wav", settings, max_chars=10, voices=[ToneVoice()])
    assert piece.voice == "tone" and len(piece.segments) >= 3
    samples, _ = read_wav(piece.path)
    assert piece.duration_s == pytest.approx(len(samples) / SAMPLE_RATE)
    assert piece.segments[0].offset_s == 0.0
    assert piece.segments[-1].end_s == pytest.approx(piece.duration_s, abs=1e-6)
    for a, b in zip(piece.segments, piece.segments[1:]):
        assert b.offset_s - a.end_s == pytest.approx(0.2, abs=1e-4)  # the configured pause, exactly
    # the stand-in speaks 0.1 s per character of the spoken text (+ the 2 x 30 ms trim margin)
    for seg in piece.segments:
        shown = len(seg.text.replace("\n", ""))  # the display drops the comma or full stop at each line end
        assert 0.1 * shown <= seg.duration_s <= 0.1 * (shown + 2) + 0.07
        assert seg.text.count("\n") <= 1


def test_one_voice_speaks_a_whole_clip(tmp_path: Path) -> None:
    # the first voice speaks one segment then breaks: the second one speaks them all
    first = BrokenVoice("first", after=1)
    piece = narrate_segments("第一句话。第二句话。第三句话。", "zh", tmp_path / "a.wav", PostSettings(), 14,
                             voices=[first, ToneVoice("second")])
    assert piece.voice == "second" and len(piece.segments) == 3
    assert piece.failures == ["first: RuntimeError: first exploded"]
