"""Downloads are checked: the cloud video and the HTTP voice against local fake servers.

The cloud video: no redirect is followed, the answer must be a video, and it is cut off past
generation.cloud.max_download_mb. The HTTP voice: its key never follows a redirect, it talks
https only (plain http to this machine), and its answer is cut off past post.tts_max_mb.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from generation.dashscope import DashScopeGenerator, sidecar_path
from postprocess.tts import HttpVoice, narrate
from reelgate.errors import BackendUnavailable, ConfigError, MediaError
from reelgate.records import GeneratedShot, ShotSpec
from reelgate.settings import CloudSettings, GenerationSettings, PostSettings, Settings
from tests.fake_dashscope import FakeDashScope, make_video

KEY = "sk-download-test-key-5e7a"


class _Server:
    """A local HTTP server answering every request with `answer(handler)`; records (method, path, headers)."""

    def __init__(self, answer) -> None:
        self.hits: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.hits.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                answer(self)

            do_GET = do_POST = _serve

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> "_Server":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _send(handler, status: int, headers: dict[str, str], body: bytes = b"", length: bool = True) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    if length:
        handler.send_header("Content-Length", str(len(body)))
    else:
        handler.close_connection = True
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)


# ---------- the cloud video ----------

@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory) -> bytes:
    return make_video(tmp_path_factory.mktemp("fake") / "clip.mp4").read_bytes()


@pytest.fixture
def fake(video_bytes, monkeypatch):
    for var in ("REELGATE_GENERATION__CLOUD__API_KEY", "DASHSCOPE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with FakeDashScope(video_bytes, api_key=KEY) as server:
        yield server


def _generate(fake: FakeDashScope, out: Path, **cloud):
    options = dict(poll_interval_s=0.01, task_timeout_s=5, request_timeout_s=5, request_retries=1, base_url=fake.base_url)
    settings = GenerationSettings(backend="dashscope", cloud=CloudSettings(api_key=KEY, **{**options, **cloud}))
    shot = ShotSpec(index=0, text="A fox runs.", prompt="A red fox runs through snow", duration_s=3.5, seed=7)
    return DashScopeGenerator(settings).generate(shot, seed=1, attempt=0, out_path=out)


def _nothing_saved(out: Path) -> bool:
    return not out.exists() and not [p for p in out.parent.iterdir() if ".partial" in p.name]


def test_a_redirected_video_link_is_not_followed(fake, tmp_path):
    with _Server(lambda h: _send(h, 200, {"Content-Type": "video/mp4"}, b"elsewhere")) as elsewhere:
        fake.script.video_redirect = f"{elsewhere.url}/stolen.mp4"
        out = tmp_path / "shot.mp4"
        with pytest.raises(BackendUnavailable, match=r"answered a redirect \(HTTP 302\) to 127.0.0.1.*does not follow"):
            _generate(fake, out)
        assert elsewhere.hits == []  # never asked
    assert _nothing_saved(out)
    assert sidecar_path(out).is_file()  # the paid task is kept: the retry asks for its link again


def test_an_answer_that_is_not_a_video_is_refused(fake, tmp_path):
    fake.script.video_content_type = "text/html; charset=utf-8"
    out = tmp_path / "shot.mp4"
    with pytest.raises(BackendUnavailable, match=r"came as 'text/html', not a video"):
        _generate(fake, out)
    assert _nothing_saved(out)


def test_octet_stream_is_accepted_as_a_video(fake, tmp_path):
    fake.script.video_content_type = "application/octet-stream"
    assert isinstance(_generate(fake, tmp_path / "shot.mp4"), GeneratedShot)


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "no content-length"])
def test_a_video_over_the_download_cap_is_refused_and_nothing_is_kept(fake, tmp_path, video_bytes, announced):
    fake.script.video_without_length = not announced
    out = tmp_path / "shot.mp4"
    cap_mb = len(video_bytes) / 2 / 2**20  # half the video
    with pytest.raises(MediaError, match=r"larger than .* MiB \(generation.cloud.max_download_mb, "
                                          r"REELGATE_GENERATION__CLOUD__MAX_DOWNLOAD_MB\)") as caught:
        _generate(fake, out, max_download_mb=cap_mb)
    assert ("announced" in str(caught.value)) is announced  # counted while streaming when not announced
    assert _nothing_saved(out)
    fake.script.video_without_length = not announced
    assert isinstance(_generate(fake, tmp_path / "ok.mp4", max_download_mb=1.0), GeneratedShot)


# ---------- the HTTP voice ----------

def test_the_voice_key_never_follows_a_redirect(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_TTS_KEY", "sekret-voice-key")
    with _Server(lambda h: _send(h, 200, {"Content-Type": "audio/wav"}, b"RIFF")) as elsewhere:
        target = f"{elsewhere.url}/collect"
        with _Server(lambda h: _send(h, 307, {"Location": target})) as voice_server:
            url = f"{voice_server.url}/v1/audio/speech"
            voice = HttpVoice(url, "en", "tts-1", "alloy", "MY_TTS_KEY", timeout_s=5)
            with pytest.raises(ConfigError, match=r"answered a redirect \(HTTP 307\).*not followed"):
                voice.synthesize("The fox sleeps.", tmp_path / "a.wav", 1.0)
            assert voice_server.hits[0][2]["authorization"] == "Bearer sekret-voice-key"
        assert elsewhere.hits == []  # neither the key nor the text went there


@pytest.mark.integration  # the offline voice that speaks instead is the real piper model
def test_a_redirecting_voice_falls_back_to_the_offline_voice_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_TTS_KEY", "sekret-voice-key")
    with _Server(lambda h: _send(h, 200, {"Content-Type": "audio/wav"}, b"RIFF")) as elsewhere:
        target = f"{elsewhere.url}/collect"
        with _Server(lambda h: _send(h, 307, {"Location": target})) as voice_server:
            url = f"{voice_server.url}/v1/audio/speech"
            # Through the voice chain: the offline voice speaks and the failure is recorded.
            settings = PostSettings(tts_url=url, tts_api_key_env="MY_TTS_KEY")
            piece = narrate("The fox sleeps.", "en", tmp_path / "b.wav", settings)
            assert piece.voice != "http" and "redirect" in piece.failures[0]
        assert elsewhere.hits == []  # neither the key nor the text went there


@pytest.mark.parametrize("url", [
    "http://tts.example.com/v1/audio/speech", "http://10.0.0.7:8000/v1/audio/speech", "ftp://tts.example.com/x",
])
def test_the_voice_url_must_be_https_except_on_this_machine(url, monkeypatch):
    with pytest.raises(ValidationError, match="REELGATE_POST__TTS_URL"):
        PostSettings(tts_url=url)
    monkeypatch.setenv("REELGATE_POST__TTS_URL", url)
    with pytest.raises(ValidationError, match="use https|not an https"):
        Settings()
    with pytest.raises(ConfigError, match="post.tts_url"):
        HttpVoice(url, "en", "tts-1", "alloy", "", timeout_s=5)


@pytest.mark.parametrize("url", [
    "https://tts.example.com/v1/audio/speech", "http://127.0.0.1:8000/v1", "http://localhost/v1", "http://[::1]:9/v1",
])
def test_https_and_loopback_voice_urls_are_accepted(url):
    assert PostSettings(tts_url=url).tts_url == url


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "no content-length"])
def test_a_voice_answer_over_the_cap_is_refused(tmp_path, announced):
    big = b"RIFF" + b"\0" * (3 * 2**20)
    with _Server(lambda h: _send(h, 200, {"Content-Type": "audio/wav"}, big, length=announced)) as server:
        voice = HttpVoice(f"{server.url}/v1/audio/speech", "en", "tts-1", "alloy", "", timeout_s=5,
                          max_bytes=2**20)
        with pytest.raises(MediaError, match=r"more than 1 MiB of audio \(post.tts_max_mb, REELGATE_POST__TTS_MAX_MB\)"):
            voice.synthesize("The fox sleeps.", tmp_path / "a.wav", 1.0)
    assert not (tmp_path / "a.wav").exists()
    assert PostSettings(tts_max_mb=2).tts_max_mb == 2


@pytest.mark.parametrize("url", ["http://dashscope.example.com", "ftp://dashscope.example.com", "dashscope"])
def test_the_cloud_key_is_only_sent_over_tls_or_to_this_machine(url):
    from pydantic import ValidationError

    from reelgate.settings import CloudSettings

    with pytest.raises(ValidationError, match="REELGATE_GENERATION__CLOUD__BASE_URL"):
        CloudSettings(base_url=url)
    assert CloudSettings(base_url="http://127.0.0.1:8080").base_url == "http://127.0.0.1:8080"
    assert CloudSettings().base_url.startswith("https://")
