"""Video, audio and image file helpers over the ffmpeg that ships inside imageio-ffmpeg.

One ffmpeg, found the same way everywhere, so nobody has to put one on PATH. Frames are
streamed in and out (never a whole video in memory). No ffprobe is needed: `probe`
reads ffmpeg's own stream listing.

ffmpeg reads only local files: every input it opens gets `-protocol_whitelist file,pipe`
(`local_inputs`), so a playlist (m3u8, ffconcat) or any file naming a URL is refused
instead of fetched, and the refusal is said plainly (`network_refusal`). A user's image is
decoded only after its header shows it within a pixel cap (`read_image_rgb`).
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from reelgate.errors import MediaError


@cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# The protocols ffmpeg may open: local files and pipes. Playlists and concat lists pass the
# whitelist on to what they open, so a URL inside one is refused too.
LOCAL_PROTOCOLS = "file,pipe"
_WHITELIST = ("-protocol_whitelist", LOCAL_PROTOCOLS)


def local_inputs(args: list[str]) -> list[str]:
    """ffmpeg arguments with `-protocol_whitelist file,pipe` in front of every input (`-i`)."""
    out: list[str] = []
    for arg in args:
        if arg == "-i" and out[-2:] != list(_WHITELIST):
            out += _WHITELIST
        out.append(arg)
    return out


_REFUSED_URL = re.compile(
    r"Protocol '([\w.+-]+)' not on whitelist|Impossible to open '([a-zA-Z][\w.+-]*:[^']*)'"
    r"|first segment '([a-zA-Z][\w.+-]*://[^']*)'"
)


def network_refusal(stderr: str, source: Path | str) -> str | None:
    """A plain message when ffmpeg refused to open a URL named inside `source`; None otherwise."""
    what = None
    for m in _REFUSED_URL.finditer(stderr or ""):
        if m[2] or m[3]:  # the URL itself
            what = m[2] or m[3]
            break
        what = what or f"a {m[1]}: address"
    if what is None:
        return None
    return (f"{source} refers to {what}; reelgate reads only local media files (ffmpeg protocol whitelist "
            f"{LOCAL_PROTOCOLS}), never a network address: download the media and give the local file")


def _ffmpeg_failure(stderr: str, what: str, source: Path | str | None = None) -> MediaError:
    refused = network_refusal(stderr, source or "an input") if stderr else None
    if refused:
        return MediaError(refused)
    tail = "\n".join((stderr or "").strip().splitlines()[-8:])
    return MediaError(f"ffmpeg failed while {what}:\n{tail}")


def run_ffmpeg(args: list[str], what: str, frames_done: Callable[[int], None] | None = None) -> None:
    """Run ffmpeg with `args` (inputs restricted to local files); raise MediaError with ffmpeg's last lines if it fails.

    frames_done: called with the count of frames written so far, as ffmpeg reports them.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if frames_done is None:
        proc = subprocess.run([*cmd, *local_inputs(args)], capture_output=True, text=True)
        code, stderr = proc.returncode, proc.stderr
    else:
        with tempfile.TemporaryFile("w+") as err:  # a file, not a pipe: a chatty ffmpeg cannot block on it
            with subprocess.Popen([*cmd, "-progress", "pipe:1", "-nostats", *local_inputs(args)],
                                  stdout=subprocess.PIPE, stderr=err, text=True) as live:
                for line in live.stdout:
                    if line.startswith("frame="):
                        frames_done(int(line.split("=", 1)[1].strip() or 0))
            code = live.returncode
            err.seek(0)
            stderr = err.read()
    if code != 0:
        raise _ffmpeg_failure(stderr, what)


@dataclass
class StreamInfo:
    kind: str  # video, audio, subtitle, data
    codec: str
    language: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    pix_fmt: str | None = None


@dataclass
class ProbeResult:
    duration_s: float
    streams: list[StreamInfo] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    chapters: int = 0

    def of_kind(self, kind: str) -> list[StreamInfo]:
        return [s for s in self.streams if s.kind == kind]


_STREAM = re.compile(r"Stream #\d+:\d+(?:\[0x[0-9a-f]+\])?(?:\((\w+)\))?: (Video|Audio|Subtitle|Data): (\w+)(.*)")


def probe(path: Path) -> ProbeResult:
    """Read duration, streams, metadata and chapter count of a media file."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"no such media file: {path}")
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", *_WHITELIST, "-i", str(path)], capture_output=True, text=True
    )
    text = proc.stderr
    m = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    if not m:
        raise MediaError(network_refusal(text, path)
                         or f"{path} is not a readable media file ({text.strip().splitlines()[-1:]})")
    h, mi, s = m.groups()
    result = ProbeResult(duration_s=int(h) * 3600 + int(mi) * 60 + float(s))
    result.chapters = len(re.findall(r"^\s+Chapter #", text, flags=re.M))
    in_global_meta = False
    for line in text.splitlines():
        sm = _STREAM.search(line)
        if sm:
            in_global_meta = False
            lang, kind, codec, rest = sm.groups()
            info = StreamInfo(kind=kind.lower(), codec=codec, language=None if lang in (None, "und") else lang)
            if dm := re.search(r", (\d{2,5})x(\d{2,5})", rest):
                info.width, info.height = int(dm.group(1)), int(dm.group(2))
            if fm := re.search(r"([\d.]+) fps", rest):
                info.fps = float(fm.group(1))
            if am := re.search(r"(\d+) Hz", rest):
                info.sample_rate = int(am.group(1))
            if pm := re.search(r"\), (yuv\w+|rgb\w+|gray\w*)", rest) or re.search(r", (yuv\w+|rgb\w+)", rest):
                info.pix_fmt = pm.group(1)
            result.streams.append(info)
        elif line.startswith("  Metadata:") and not result.streams:
            in_global_meta = True
        elif in_global_meta and (mm := re.match(r"^\s{4}(\S[^:]*?)\s*: (.*)$", line)):
            result.metadata[mm.group(1).strip()] = mm.group(2).strip()
        elif in_global_meta and not line.startswith("    "):
            in_global_meta = False
    return result


def read_frames(path: Path, size: tuple[int, int] | None = None, fps: float | None = None,
                filters: tuple[str, ...] = ()) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames (H, W, 3), optionally resized and resampled, streaming.

    filters: ffmpeg filter fragments applied while decoding, before any resampling; they
    must keep the frame size (an enhancement pass fused with the step that reads them).
    """
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"no such video file: {path}")
    filters = [*filters, *([f"fps={fps}"] if fps else [])]
    if size is not None:
        # ffmpeg shrinks while decoding: cheaper than full-size frames resized in Python.
        filters.append(f"scale={size[0]}:{size[1]}:flags=area")
    try:
        gen = imageio_ffmpeg.read_frames(
            str(path), input_params=list(_WHITELIST), output_params=["-vf", ",".join(filters)] if filters else None
        )
        # imageio-ffmpeg warns that the scaled size differs from the source: that is the point.
        quiet = logging.getLogger("imageio_ffmpeg")
        level, quiet.level = quiet.level, logging.ERROR
        try:
            meta = next(gen)
        finally:
            quiet.setLevel(level)
    except (RuntimeError, OSError, StopIteration) as exc:
        gen.close()
        raise MediaError(network_refusal(str(exc), path) or f"cannot read video {path}: {exc}") from exc
    w, h = meta["size"] if size is None else size
    try:
        for raw in gen:
            yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
    finally:
        gen.close()  # stops ffmpeg at once when the reader stops early


def video_info(path: Path) -> tuple[int, int, float, float]:
    """(width, height, fps, duration_s) of the first video stream."""
    info = probe(path)
    videos = info.of_kind("video")
    if not videos or not videos[0].width:
        raise MediaError(f"{path} has no video stream")
    v = videos[0]
    return v.width or 0, v.height or 0, v.fps or 0.0, info.duration_s


def read_image_rgb(path: Path, max_pixels: int, setting: str = "the pixel cap") -> tuple[bytes, np.ndarray]:
    """(the file's bytes, its picture as RGB uint8) of a user's image, refused from its header when too large.

    The width and height are read from the header before anything is decoded, so a forged
    30000x30000 PNG costs nothing; EXIF orientation is applied, as cameras mean it.
    max_pixels: largest width x height decoded; setting: how the user changes it (named in the error).
    Raises MediaError naming the file and the limit, or saying it is not an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    # A compressed picture within the cap is never much bigger than its raw pixels.
    max_bytes = 4 * max_pixels + (1 << 20)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise MediaError(
                f"{path} is {size:,} bytes, more than any picture of at most {max_pixels:,} pixels ({setting}); "
                "use a smaller photo"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise MediaError(f"cannot read {path}: {exc.strerror or exc}") from exc
    too_large = (f"{path} is {{}} pixels; reelgate decodes images of at most {max_pixels:,} pixels ({setting}): "
                 "scale the photo down (a face needs no more than a few megapixels)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own cap decides
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise MediaError(too_large.format(f"{width}x{height} ({width * height:,})"))
                rgb = np.array(ImageOps.exif_transpose(image).convert("RGB"))  # writable: detectors may draw on it
    except Image.DecompressionBombError as exc:  # Pillow's own hard limit, above any cap we allow
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise MediaError(too_large.format(f"{int(found[1]):,}" if found else "too many")) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"{path} is not an image reelgate can read ({exc}); use a JPEG or PNG photo") from exc
    return data, rgb


@dataclass(frozen=True)
class H264:
    """How a VideoWriter encodes: x264 quality, speed and threads, and where RGB becomes YUV.

    The default is what every backend has always used. A backend that encodes many cheap
    frames (the animatic) passes its own: a faster preset at the same CRF, one thread
    (honest about one core, and x264 then writes the same bytes whatever the core count), and
    the RGB to yuv420p conversion done by OpenCV before the pipe (about 0.06 ms a 640x360
    frame against ~1 ms in ffmpeg's swscale, and half the bytes piped; the same BT.601
    limited-range matrix, so colours match).
    """

    crf: int = 20  # lower: better quality, larger files
    preset: str = "veryfast"  # x264 preset: ultrafast, superfast, veryfast, faster, fast, medium...
    threads: int = 0  # 0: x264 picks by the machine's cores
    yuv_in_python: bool = False  # convert frames to yuv420p with OpenCV before piping them
    x264_params: str = ""  # x264's own options over the preset, "key=value:key=value"

    def args(self) -> list[str]:
        """ffmpeg output arguments for libx264."""
        return ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", str(self.crf), "-preset", self.preset,
                *(["-threads", str(self.threads)] if self.threads else []),
                *(["-x264-params", self.x264_params] if self.x264_params else [])]


class VideoWriter:
    """Stream RGB frames into an H.264 (yuv420p) MP4 without holding them in memory.

    Use as a context manager; the file appears at `path` only when writing succeeded.
    ffmpeg is started directly (no pre-exec hook), so that starting it from a process
    holding a large model costs well under a millisecond instead of a full fork.
    `encoding` picks x264's settings (H264; its default unless a backend needs its own);
    `filters` runs ffmpeg filters over the frames before they are encoded.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, crf: int = 20,
                 encoding: H264 | None = None, filters: tuple[str, ...] = ()) -> None:
        if width % 2 or height % 2:
            raise MediaError(f"H.264 needs even dimensions, got {width}x{height}")
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.size = (width, height)
        self.fps = fps
        self.encoding = encoding or H264(crf=crf)
        self.filters = filters  # ffmpeg filters between the frames written and the encoder (they may resize)
        self.frames = 0
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> "VideoWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        width, height = self.size
        cmd = [
            ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "yuv420p" if self.encoding.yuv_in_python else "rgb24",
            "-s", f"{width}x{height}", "-r", f"{self.fps}", "-i", "-",
            *(["-vf", ",".join(self.filters)] if self.filters else []),
            "-an", *self.encoding.args(), "-movflags", "+faststart", str(self.tmp),
        ]
        # A new session: Ctrl-C in the terminal reaches reelgate, which then closes ffmpeg itself.
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        return self

    def write(self, frame: np.ndarray) -> None:
        w, h = self.size
        if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            raise MediaError(f"frame must be uint8 ({h}, {w}, 3), got {frame.dtype} {frame.shape}")
        assert self._proc is not None and self._proc.stdin is not None
        if self.encoding.yuv_in_python:
            import cv2

            frame = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except BrokenPipeError:
            raise MediaError(f"ffmpeg stopped while writing {self.path}: {self._finish()}") from None
        self.frames += 1

    def _finish(self) -> str:
        """Close ffmpeg's input, wait for it, and return what it said on stderr."""
        assert self._proc is not None
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        err = self._proc.stderr.read().decode("utf-8", "replace").strip()
        self._proc.wait()
        return err

    def __exit__(self, exc_type, exc, tb) -> None:
        err = self._finish()
        if exc_type is None and self._proc.returncode != 0:
            self.tmp.unlink(missing_ok=True)
            raise MediaError(f"ffmpeg could not write {self.path} (exit {self._proc.returncode}): {err[-500:]}")
        if exc_type is None and self.frames > 0:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)
            if exc_type is None:
                raise MediaError(f"no frames were written to {self.path}")
