"""Narration, music and the mix: measured properties of the audio a viewer hears."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from postprocess.audio import SAMPLE_RATE, frame_rms, measure_file_loudness, read_wav, to_db, write_wav
from postprocess.mix import mix_audio
from postprocess.music import MOODS, synth_music
from postprocess.tts import EspeakPinyinVoice, NarrationPiece, PiperVoice, narrate, to_pinyin, voices_for
from reelgate.errors import BackendUnavailable, InputError, UnknownBackendError
from reelgate.settings import PostSettings


def _house_format(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as wf:
        return wf.getframerate(), wf.getnchannels(), wf.getsampwidth()


def _leading_silence_s(samples: np.ndarray) -> float:
    rms = to_db(frame_rms(samples, SAMPLE_RATE // 100))
    return float(np.argmax(rms > -40.0)) / 100


def _tone(seconds: float, hz: float = 220.0, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    # Syllable-like bursts (4 per second), so it behaves like speech for the ducker.
    bursts = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 4 * t))
    return (level * np.sin(2 * np.pi * hz * t) * bursts).astype(np.float32)


class ToneVoice:
    """A stand-in voice: a tone padded with silence at both ends, length from the text."""

    language = "en"

    def __init__(self, name: str = "tone", lead_s: float = 0.8, tail_s: float = 0.6) -> None:
        self.name, self.lead_s, self.tail_s = name, lead_s, tail_s

    def synthesize(self, text: str, out_wav: Path, rate: float) -> None:
        x = np.concatenate([np.zeros(int(self.lead_s * 22050)), np.sin(np.arange(int(0.1 * len(text) * 22050)) * 0.06),
                            np.zeros(int(self.tail_s * 22050))])
        write_wav(out_wav, 0.3 * x, sample_rate=22050)  # not the house rate: narrate must convert


class BrokenVoice:
    language = "en"

    def __init__(self, name: str) -> None:
        self.name = name

    def synthesize(self, text: str, out_wav: Path, rate: float) -> None:
        raise RuntimeError(f"{self.name} exploded")


# --- narration -------------------------------------------------------------------------

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

    faster = narrate(sentence, "en", tmp_path / "fast.wav", settings.model_copy(update={"speech_rate": 1.5}))
    assert faster.duration_s < 0.8 * piece.duration_s


@pytest.mark.integration
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


def test_pinyin_conversion_numbers_tones_and_keeps_pauses() -> None:
    assert to_pinyin("天上的星星") == "tian1 shang4 de5 xing1 xing1"
    assert to_pinyin("天上的星星，很亮。") == "tian1 shang4 de5 xing1 xing1, hen3 liang4."
    assert to_pinyin("我爱 Python！") == "wo3 ai4 Python!"


def test_fallback_names_the_voice_that_failed(tmp_path: Path) -> None:
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
    with pytest.raises(InputError, match="narration text is empty"):
        narrate("  \n", "en", tmp_path / "a.wav", PostSettings(), voices=[ToneVoice()])


def test_silence_is_trimmed_and_duration_measured_from_audio(tmp_path: Path) -> None:
    text = "x" * 20  # the stand-in speaks 2.0 s for this, between 0.8 s and 0.6 s of silence
    piece = narrate(text, "en", tmp_path / "a.wav", PostSettings(), voices=[ToneVoice()])
    samples, rate = read_wav(piece.path)
    assert rate == SAMPLE_RATE
    assert _leading_silence_s(samples) < 0.1
    assert piece.duration_s == pytest.approx(2.0, abs=0.1)


def test_voice_chains_per_language() -> None:
    assert [v.name for v in voices_for("en", PostSettings())] == ["piper", "espeak"]
    assert [v.name for v in voices_for("en", PostSettings(voice_en="espeak"))] == ["espeak"]
    assert [v.name for v in voices_for("zh", PostSettings())] == ["espeak-pinyin"]
    assert isinstance(voices_for("en", PostSettings())[0], PiperVoice)
    assert isinstance(voices_for("zh", PostSettings())[0], EspeakPinyinVoice)
    with pytest.raises(UnknownBackendError, match="espeak-pinyin, piper"):
        voices_for("en", PostSettings(voice_en="edge"))
    with pytest.raises(InputError, match="post.voice_zh"):
        voices_for("zh", PostSettings(voice_zh="piper"))


# --- music -----------------------------------------------------------------------------

def test_music_has_the_asked_duration_and_is_deterministic(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    a = synth_music(60.0, "calm", tmp_path / "a.wav", seed=7)
    took = time.perf_counter() - t0
    print(f"music: 60 s synthesised in {took:.2f} s")
    assert took < 3.0
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


def test_mix_without_music_and_clip_overrun(tmp_path: Path) -> None:
    voice = write_wav(tmp_path / "a.wav", _tone(2.0))
    report = mix_audio([(0.5, voice)], 3.0, tmp_path / "mix.wav", music=None)
    assert report.voice_over_music_db is None
    assert report.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    with pytest.raises(InputError, match=r"a\.wav"):
        mix_audio([(1.5, voice)], 3.0, tmp_path / "late.wav", music=None)
    assert not (tmp_path / "late.wav").exists()
