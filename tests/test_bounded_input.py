"""Hostile media in bounded time and memory: long videos, network playlists, pixel bombs, missing galleries.

Memory is measured in a fresh process (peak RSS growth from resource.getrusage), so one
test's allocations cannot hide or inflate another's; time is measured around the call. Those measurements, and everything that encodes the long
clips, are in the integration tier; the refusals that need no long clip stay fast.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from cli import main
from reelgate.errors import ConfigError, MediaError
from reelgate.media import probe, read_frames, read_image_rgb, run_ffmpeg
from reelgate.records import Action
from reelgate.settings import SafetySettings, Settings
from safety import check as check_module
from safety import frames as frames_module
from safety.check import check_video
from safety.gallery import Gallery, check_gallery

ROOT = Path(__file__).resolve().parent.parent


def _lavfi_clip(path: Path, source: str, seconds: int) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", source, "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", str(path)], f"making {path.name}")
    return path


@pytest.fixture(scope="module")
def ten_hours(tmp_path_factory) -> Path:
    """A 10-hour, 1-fps, 64x36 clip: 36,000 frames, made in about two seconds."""
    started = time.perf_counter()
    clip = _lavfi_clip(tmp_path_factory.mktemp("long") / "ten_hours.mp4", "color=c=gray:size=64x36:rate=1", 36_000)
    assert time.perf_counter() - started < 30
    assert probe(clip).duration_s == pytest.approx(36_000, abs=1)
    return clip


@pytest.fixture(scope="module")
def twenty_minutes(tmp_path_factory) -> Path:
    """1,200 frames of 320x180 at 1 fps: 200 MB if every sampled frame were held at once."""
    return _lavfi_clip(tmp_path_factory.mktemp("mid") / "twenty_minutes.mp4", "testsrc=size=320x180:rate=1", 1200)


def _measured(code: str, timeout_s: float = 180) -> dict:
    """Run `code` in a fresh python (this worktree's modules first); it prints one JSON line last."""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


_MEASURE = """
import contextlib, io, json, resource, time
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


# ---------- long videos ----------

@pytest.mark.integration
def test_a_ten_hour_video_given_to_moderate_is_refused_in_seconds_with_bounded_memory(ten_hours):
    result = _measured(_MEASURE + f"""
from cli import main
import safety.check  # imported first: what is measured is the command's own work
before = peak_mb()
err = io.StringIO()
started = time.perf_counter()
with contextlib.redirect_stderr(err):
    code = main(["moderate", {str(ten_hours)!r}])
print(json.dumps({{"code": code, "err": err.getvalue(), "s": time.perf_counter() - started,
                  "grown_mb": peak_mb() - before}}))
""")
    print(f"\n10-hour clip to moderate: exit {result['code']} in {result['s']:.2f} s, "
          f"peak RSS grew {result['grown_mb']:.1f} MB")
    assert result["code"] == 2
    assert "36000 s (10.0 h) long" in result["err"] and "at most 3600 s" in result["err"]
    assert "REELGATE_SAFETY__MAX_VIDEO_S" in result["err"]
    assert result["s"] < 5 and result["grown_mb"] < 50


_STREAMING = _MEASURE + """
from pathlib import Path
from reelgate.records import Action
from reelgate.settings import SafetySettings
from safety.check import check_video
from safety.report import Finding

class Nudity:  # sends every 100th frame to review, so some frames are kept whole
    def detect(self, frames, policy):
        return [Finding(time_s=f.time_s, check="nudity", label="BUTTOCKS_COVERED", score=0.7,
                        action=Action.REVIEW) for f in frames if f.index % 100 == 0]

class Faces:
    def detect(self, frames, min_confidence):
        return []

settings = SafetySettings(concepts=False, likeness=False, sample_fps=1.0, max_video_s=36_000)
fakes = {"nudity": Nudity(), "faces": Faces()}
out = Path(OUT)
check_video(Path(WARM), settings, detectors=fakes, contact_sheet=out / "warm.png")  # first-use costs
before = peak_mb()
started = time.perf_counter()
report = check_video(Path(CLIP), settings, detectors=fakes, contact_sheet=out / "sheet.png")
print(json.dumps({"frames": report.frames_checked, "action": report.action.value, "s": time.perf_counter() - started,
                  "grown_mb": peak_mb() - before, "flagged": len(report.findings), "sheet": str(report.contact_sheet)}))
"""


@pytest.mark.integration
def test_checking_a_long_video_streams_in_bounded_memory(twenty_minutes, tmp_path):
    warm = _lavfi_clip(tmp_path / "warm.mp4", "testsrc=size=320x180:rate=1", 40)
    code = _STREAMING.replace("OUT", repr(str(tmp_path))).replace("WARM", repr(str(warm))).replace(
        "CLIP", repr(str(twenty_minutes)))
    result = _measured(code)
    print(f"\n20-minute clip, 1,200 sampled 320x180 frames: {result['s']:.1f} s, "
          f"peak RSS grew {result['grown_mb']:.1f} MB")
    assert result["frames"] == 1200 and result["action"] == "review" and result["flagged"] == 12
    # Holding every sampled frame (as before) grew the peak by ~190 MB here; two windows of
    # 32 frames, the sheet's thumbnails and 12 flagged frames are ~20 MB.
    assert result["grown_mb"] < 80
    sheet = Image.open(result["sheet"])
    rows = (sheet.height - 34 - 8) // (135 + 22 + 8)
    assert rows * 6 <= check_module.SHEET_FRAMES + 1 + 12 + 6  # bounded, whatever the length


@pytest.mark.integration
def test_the_checks_never_see_more_than_one_window_of_frames(twenty_minutes):
    seen: list[int] = []

    class Counting:
        def detect(self, frames, policy_or_confidence):
            seen.append(len(frames))
            return []

    settings = SafetySettings(concepts=False, likeness=False, sample_fps=1.0, max_video_s=36_000)
    report = check_video(twenty_minutes, settings, detectors={"nudity": Counting(), "faces": Counting()})
    assert report.frames_checked == 1200 and sum(seen) == 2 * 1200
    assert max(seen) == check_module.WINDOW_FRAMES


@pytest.mark.integration
def test_sampling_runs_under_the_check_timeout(ten_hours):
    settings = SafetySettings(concepts=False, likeness=False, max_video_s=36_000, check_timeout_s=1.0)
    started = time.perf_counter()
    report = check_video(ten_hours, settings, detectors={"nudity": _Nothing(), "faces": _Nothing()})
    elapsed = time.perf_counter() - started
    assert elapsed < 8, elapsed  # decoding all of it takes ~4 s of decoding here, plus the checks
    assert report.action == Action.REVIEW  # what was not sampled was not checked: fail closed
    [reason] = [r for r in report.reasons if r.startswith("check sampling unavailable")]
    assert "did not finish in 1 s (safety.check_timeout_s)" in reason and "only the first" in reason
    assert 0 < report.frames_checked < 36_000 * 2


class _Nothing:
    def detect(self, frames, _):
        return []


@pytest.mark.integration
def test_a_video_longer_than_its_header_says_is_stopped_while_decoding(ten_hours, monkeypatch):
    monkeypatch.setattr(frames_module, "video_info", lambda path: (64, 36, 1.0, 10.0))  # the header lies
    settings = SafetySettings(concepts=False, likeness=False, max_video_s=60)
    started = time.perf_counter()
    with pytest.raises(MediaError, match=r"runs past 60 s \(safety.max_video_s"):
        check_video(ten_hours, settings, detectors={"nudity": _Nothing(), "faces": _Nothing()})
    assert time.perf_counter() - started < 5


def test_video_frames_over_the_pixel_cap_are_refused_from_the_header(tmp_path):
    big = _lavfi_clip(tmp_path / "big.mp4", "color=c=gray:size=1280x800:rate=1", 1)
    settings = SafetySettings(concepts=False, likeness=False, max_image_pixels=1_000_000)
    with pytest.raises(MediaError, match=r"1280x800 frames \(1,024,000 pixels\).*REELGATE_SAFETY__MAX_IMAGE_PIXELS"):
        check_video(big, settings)


# ---------- ffmpeg reads only local files ----------

class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def listening() -> str:
    """A local HTTP server that records every request it gets."""
    _Recorder.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _playlist(path: Path, url: str) -> Path:
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{url}\n#EXT-X-ENDLIST\n", encoding="utf-8")
    return path


def test_an_m3u8_naming_an_http_url_given_to_moderate_gets_a_clear_error(tmp_path, capsys):
    playlist = _playlist(tmp_path / "clip.m3u8", "http://127.0.0.1:9/x.ts")
    assert main(["moderate", str(playlist)]) == 2
    err = capsys.readouterr().err
    assert f"{playlist} refers to http://127.0.0.1:9/x.ts" in err and "only local media files" in err


@pytest.mark.integration  # wall-clock: the fast tier asserts the error above, not its time
def test_an_m3u8_naming_an_http_url_given_to_moderate_gets_a_clear_error_in_seconds(tmp_path, capsys):
    playlist = _playlist(tmp_path / "clip.m3u8", "http://127.0.0.1:9/x.ts")
    started = time.perf_counter()
    assert main(["moderate", str(playlist)]) == 2
    assert time.perf_counter() - started < 5
    err = capsys.readouterr().err
    assert f"{playlist} refers to http://127.0.0.1:9/x.ts" in err and "only local media files" in err


@pytest.mark.parametrize("reader", ["probe", "read_frames", "load_audio", "to_house_wav", "sample"])
def test_no_media_reader_fetches_what_a_playlist_names(tmp_path, listening, reader):
    from postprocess.audio import load_audio, to_house_wav
    from safety.frames import sample_frames

    playlist = _playlist(tmp_path / "clip.m3u8", f"{listening}/segment.ts")
    read = {
        "probe": lambda: probe(playlist),
        "read_frames": lambda: next(read_frames(playlist)),
        "load_audio": lambda: load_audio(playlist),
        "to_house_wav": lambda: to_house_wav(playlist, tmp_path / "out.wav"),
        "sample": lambda: sample_frames(playlist, 2.0),
    }[reader]
    with pytest.raises(MediaError, match=rf"refers to {listening}/segment.ts; reelgate reads only local"):
        read()
    assert _Recorder.hits == []


def test_a_concat_list_naming_a_url_is_refused_by_every_ffmpeg_run(tmp_path, listening):
    listing = tmp_path / "shots.ffconcat"
    listing.write_text(f"ffconcat version 1.0\nfile '{listening}/shot.mp4'\n", encoding="utf-8")
    with pytest.raises(MediaError, match=rf"refers to {listening}/shot.mp4"):
        run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-f", "null", "-"], "concatenating")
    assert _Recorder.hits == []


# ---------- pixel caps on a user's images ----------

def forged_png(path: Path, width: int, height: int) -> Path:
    """A valid 8x8 PNG whose header claims width x height (CRC fixed): only a decoder that trusts it pays."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    assert data[12:16] == b"IHDR"
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.integration
def test_a_30000_pixel_square_png_for_the_gallery_is_refused_in_seconds(tmp_path, capsys):
    png = forged_png(tmp_path / "face.png", 30_000, 30_000)
    gallery = tmp_path / "gallery"
    started = time.perf_counter()
    assert main(["gallery", "add", "Someone", str(png), "--gallery", str(gallery)]) == 2
    elapsed = time.perf_counter() - started  # includes loading the face models the command builds first
    err = capsys.readouterr().err
    assert "900,000,000" in err and "at most 50,000,000 pixels" in err and "REELGATE_SAFETY__MAX_IMAGE_PIXELS" in err
    assert elapsed < 30 and not gallery.exists()  # nothing enrolled, nothing written


@pytest.mark.integration
def test_the_pixel_cap_holds_in_bounded_memory(tmp_path):
    png = forged_png(tmp_path / "face.png", 30_000, 30_000)
    result = _measured(_MEASURE + f"""
from pathlib import Path
from reelgate.errors import MediaError
from safety.gallery import Gallery
before = peak_mb()
started = time.perf_counter()
try:
    Gallery(Path({str(tmp_path / 'g')!r})).add("Someone", [Path({str(png)!r})], detector=None, embedder=None)
    said = "no error"
except MediaError as exc:
    said = str(exc)
print(json.dumps({{"said": said, "s": time.perf_counter() - started, "grown_mb": peak_mb() - before}}))
""")
    print(f"\nforged 30000x30000 PNG: refused in {result['s'] * 1000:.0f} ms, peak RSS grew {result['grown_mb']:.1f} MB")
    # Decoding it would need 2.7 GB for the pixels alone.
    assert "900,000,000" in result["said"] and result["s"] < 2 and result["grown_mb"] < 30


@pytest.mark.parametrize(("size", "says"), [
    ((10_000, 10_000), "10000x10000 (100,000,000) pixels"),  # under Pillow's own limit: our cap decides
    ((30_000, 30_000), "900,000,000 pixels"),  # over Pillow's own limit too
])
def test_read_image_refuses_from_the_header_and_names_the_setting(tmp_path, size, says):
    png = forged_png(tmp_path / "x.png", *size)
    with pytest.raises(MediaError, match=re.escape(f"{says}; reelgate decodes images of at most 50,000,000 pixels (MY_SETTING)")):
        read_image_rgb(png, 50_000_000, "MY_SETTING")
    data, rgb = read_image_rgb(forged_png(tmp_path / "ok.png", 8, 8), 50_000_000)
    assert rgb.shape == (8, 8, 3) and rgb.flags.writeable and data.startswith(b"\x89PNG")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(MediaError, match="not an image"):
        read_image_rgb(tmp_path / "junk.png", 50_000_000)


# ---------- likeness fails closed on configuration ----------

def test_a_gallery_that_is_set_but_missing_is_an_error_naming_the_setting(tmp_path):
    settings = SafetySettings(gallery_dir=tmp_path / "nope")
    assert settings.gallery_required is True
    with pytest.raises(ConfigError, match=r"gallery .*nope does not exist.*REELGATE_SAFETY__GALLERY_DIR"):
        check_gallery(settings)


def test_an_unset_gallery_stays_a_note_and_keeps_that_meaning_on_a_worker(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.safety.gallery_dir == tmp_path / "data" / "gallery" and settings.safety.gallery_required is False
    assert "no protected-people gallery" in check_gallery(settings.safety)
    # Settings travel to workers as data: the default must not turn into "set by the user" there.
    again = Settings.model_validate(settings.model_dump())
    assert again.safety.gallery_required is False and check_gallery(again.safety) is not None
    assert check_gallery(settings.safety.model_copy(update={"likeness": False})) is None


def test_a_gallery_set_in_the_environment_is_required(tmp_path, monkeypatch):
    monkeypatch.setenv("REELGATE_SAFETY__GALLERY_DIR", str(tmp_path / "missing"))
    settings = Settings()
    assert settings.safety.gallery_required is True
    with pytest.raises(ConfigError):
        check_gallery(settings.safety)
    (tmp_path / "missing").mkdir()
    assert check_gallery(settings.safety) is None  # there, and empty: nothing to refuse


@pytest.mark.parametrize("broken", ["a file", "a malformed entry"])
def test_an_unreadable_gallery_is_an_error(tmp_path, broken):
    folder = tmp_path / "gallery"
    if broken == "a file":
        folder.write_text("not a folder")
    else:
        folder.mkdir()
        (folder / "someone.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ConfigError, match="unusable"):
        check_gallery(SafetySettings(gallery_dir=folder))


def test_a_set_but_missing_gallery_fails_before_any_frame_is_decoded(tmp_path):
    settings = SafetySettings(concepts=False, gallery_dir=tmp_path / "nope")
    # The video does not exist either: the gallery is refused first, before any decoding.
    with pytest.raises(ConfigError, match="REELGATE_SAFETY__GALLERY_DIR"):
        check_video(tmp_path / "no-such-video.mp4", settings)
    with pytest.raises(MediaError):
        check_video(tmp_path / "no-such-video.mp4", settings.model_copy(update={"likeness": False}))


def test_gallery_enrolment_still_reads_real_photos(tmp_path):
    """The header check sits in front of the decoder the gallery always used."""
    from skimage import data as skdata

    photo = tmp_path / "astronaut.png"
    Image.fromarray(skdata.astronaut()).save(photo)
    seen = []

    class Detector:
        def detect(self, frames, min_confidence):
            from safety.faces import FaceBox

            seen.append(frames[0].image.shape)
            return [FaceBox(time_s=0.0, box=(170, 40, 290, 190), confidence=0.99)]

    class Embedder:
        name = "fake"

        def embed(self, image, box):
            return [1.0, 0.0]

    person = Gallery(tmp_path / "g").add("Eileen", [photo], Detector(), Embedder())
    assert seen == [(512, 512, 3)] and person.embeddings == [[1.0, 0.0]]
    with pytest.raises(MediaError, match="at most 1,000,000 pixels"):
        Gallery(tmp_path / "g", max_image_pixels=1_000_000).add("Big", [forged_png(tmp_path / "b.png", 2000, 1000)],
                                                                 Detector(), Embedder())
