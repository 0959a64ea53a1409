"""Synthetic clips for the enhancement steps, made in code from scikit-image photographs.

Used by tests/test_enhance_*.py and bench/enhance.py. Each helper writes a small H.264 MP4
and returns its path. Blocks are kept per step so parallel work merges cleanly.


Photographs from scikit-image stand in for generated shots: they have real edges, texture
and smooth areas, and the clean frame is known, so a step can be scored against it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.quality_clips import pan, photo, view

# ==== colour (grade, match) ============================================================

COLOUR_SIZE = (160, 96)  # small: each ffmpeg pass over a 1 s clip is ~0.2 s
COLOUR_FPS = 12.0

Drift = Callable[[np.ndarray], np.ndarray]  # float RGB (0..1) frame -> drifted frame


def gains(r: float, g: float, b: float, lift: float = 0.0) -> Drift:
    """A colour drift: per-channel gains and an offset, as a generator's cast wanders between shots."""
    return lambda x: np.clip(x * np.array([r, g, b]) + lift, 0.0, 1.0)


# A deep blue sky turned purple: red up, green down (the drift issue 18 describes).
PURPLE = gains(1.18, 0.86, 1.02, 0.02)
# The next shot gone warm and green, a little dark.
MURKY = gains(1.04, 1.08, 0.78, -0.02)


def colour_pan(path: Path, name: str = "rocket", drift: Drift | None = None, centre: tuple[float, float] = (384, 300),
               vx: float = 3.0, seconds: float = 1.0, size: tuple[int, int] = COLOUR_SIZE,
               fps: float = COLOUR_FPS) -> Path:
    """A pan across photograph `name` (scikit-image) through `centre`, with `drift` applied to every frame.

    The rocket photo is a launch pad under a deep blue sky: the sky is the colour a viewer
    notices drifting. vx: photo px per frame; the window shows ~1/3 of the photo (zoom 0.5).
    """
    from reelgate.media import VideoWriter

    n = max(2, round(seconds * fps))
    camera = pan(vx, n=n, centre=centre)
    image = photo(name)
    with VideoWriter(Path(path), size[0], size[1], fps) as writer:
        for i in range(n):
            cx, cy, _ = camera(i)
            frame = view(image, cx, cy, 0.5 * size[0] / 160, *size)
            if drift is not None:
                frame = (drift(frame.astype(np.float64) / 255.0) * 255.0 + 0.5).astype(np.uint8)
            writer.write(frame)
    return Path(path)


def drifted_episode(folder: Path, size: tuple[int, int] = COLOUR_SIZE, fps: float = COLOUR_FPS,
                    seconds: float = 1.0) -> list[Path]:
    """Three shots of one scene, each framed differently: as generated (the reference), gone purple, gone murky."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kw = {"size": size, "fps": fps, "seconds": seconds}
    return [
        colour_pan(folder / "shot0.mp4", centre=(384, 300), vx=3.0, **kw),
        colour_pan(folder / "shot1.mp4", drift=PURPLE, centre=(330, 360), vx=-3.0, **kw),
        colour_pan(folder / "shot2.mp4", drift=MURKY, centre=(430, 420), vx=2.0, **kw),
    ]

# ==== end colour ==============================================================================
# ==== motion (interpolate, aspect) ============================================================
# Small frames keep each ffmpeg pass well under a second; the pans are those of
# postprocess/enhance/interpolate.pan_frames, so the tests score what the bench scores.

MOTION_SIZE = (192, 112)
MOTION_FPS = 16


def motion_pan_clip(path: Path, seconds: float = 1.0, fps: int = MOTION_FPS, size: tuple[int, int] = MOTION_SIZE,
                    photo: str = "astronaut") -> Path:
    """A smooth pan over `photo` at `fps` (4 px a frame across, 1 down) into an MP4."""
    from postprocess.enhance.interpolate import pan_frames
    from reelgate.media import H264, VideoWriter

    with VideoWriter(path, size[0], size[1], fps, encoding=H264(crf=12)) as writer:
        for frame in pan_frames(round(fps * seconds), *size, speed=(4.0, 1.0), photo=photo):
            writer.write(frame)
    return path


def motion_cut_frames(n_before: int, n_after: int, size: tuple[int, int] = MOTION_SIZE,
                      speed: float = 4.0) -> list[np.ndarray]:
    """A pan (`speed` px a frame) over one photograph, then a hard cut to a pan over a very different one."""
    from postprocess.enhance.interpolate import pan_frames

    before = pan_frames(n_before, *size, speed=(speed, 0.0), photo="astronaut")
    after = pan_frames(n_after, *size, speed=(-speed, 0.0), photo="coffee")
    return before + after


def motion_cut_clip(path: Path, cut_s: float = 0.5, seconds: float = 1.0, fps: int = MOTION_FPS,
                    size: tuple[int, int] = MOTION_SIZE, film_fps: int | None = None) -> tuple[Path, list[np.ndarray]]:
    """A clip at `fps` with a hard cut at `cut_s` (on a frame boundary).

    Returns its path and the true frames at `film_fps` (a multiple of fps; default fps):
    the clip holds every (film_fps / fps)-th of them, the rest are the true in-betweens.
    """
    from reelgate.media import H264, VideoWriter

    film = film_fps or fps
    n_before = round(cut_s * film)
    frames = motion_cut_frames(n_before, round(seconds * film) - n_before, size, speed=4.0 * fps / film)
    with VideoWriter(path, size[0], size[1], fps, encoding=H264(crf=12)) as writer:
        for frame in frames[:: film // fps]:
            writer.write(frame)
    return path, frames


def motion_grid_clip(path: Path, size: tuple[int, int], fps: int = 8, seconds: float = 0.5) -> Path:
    """A still test card: a numbered 8x8 grid of distinct colours, so a crop or pad can be located."""
    from reelgate.media import VideoWriter

    w, h = size
    ys, xs = np.mgrid[0:h, 0:w]
    cell = (ys * 8 // h) * 8 + (xs * 8 // w)  # 0..63, row-major
    frame = np.stack([(cell * 37) % 256, (cell * 91) % 256, (cell * 53 + 40) % 256], axis=-1).astype(np.uint8)
    with VideoWriter(path, w, h, fps, crf=10) as writer:
        for _ in range(max(1, round(fps * seconds))):
            writer.write(frame)
    return path

# ---------------------------------------------------------------------------------------
# Detail steps (clean-up, upscaling): a slow pan across a photograph, and the same pan
# degraded the way a generator's output is (soft, noisy from frame to frame, banded skies).
# ---------------------------------------------------------------------------------------

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def full_photo(name: str) -> np.ndarray:
    """An RGB uint8 photograph from skimage.data (astronaut, coffee, chelsea, rocket, ...)."""
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[:, :, :3])


def photo_pan(name: str, width: int, height: int, frames: int, sky: bool = True) -> list[np.ndarray]:
    """A slow horizontal pan across photograph `name`, `frames` frames of width x height.

    The photo is resized so its height is 1.15 x `height` (the window also drifts down a
    little) and the window moves about 1 % of the width a frame: motion, so a temporal
    denoiser that averages blindly leaves ghosts that PSNR sees. With `sky`, the top
    quarter of every frame is blended into a smooth colour gradient: the kind of area
    where banding shows.
    """
    import cv2

    img = full_photo(name)
    scale = 1.15 * height / img.shape[0]
    big_w = max(int(img.shape[1] * scale), int(width * 1.3))
    big = cv2.resize(img, (big_w, int(round(img.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    travel_x = big.shape[1] - width
    travel_y = big.shape[0] - height
    out = []
    for i in range(frames):
        t = i / max(1, frames - 1)
        x = int(round(t * min(travel_x, 0.01 * width * frames)))
        y = int(round(t * travel_y * 0.5))
        out.append(np.ascontiguousarray(big[y:y + height, x:x + width]))
    if sky:
        band = height // 4
        yy, xx = np.mgrid[0:band, 0:width].astype(np.float32)
        grad = np.stack([60 + 50 * yy / band + 20 * xx / width, 110 + 40 * yy / band, 190 - 30 * xx / width], -1)
        alpha = np.clip(1.3 - yy / band, 0, 1)[..., None]  # fades into the photo below
        for f in out:
            f[:band] = np.clip(alpha * grad + (1 - alpha) * f[:band], 0, 255).astype(np.uint8)
    return out


def degrade(frames: list[np.ndarray], factor: float = 2.0, blur: float = 0.8, noise: float = 5.0,
            band_step: int = 6, seed: int = 0) -> list[np.ndarray]:
    """`frames` as a generator might give them: soft, noisy and banded.

    factor: downscale then bilinear upscale back (lost detail, soft edges).
    blur: Gaussian sigma in pixels over that.
    band_step: smooth areas (a range under 5 levels over 5x5 pixels) are quantised to
        this many levels a step: the bands of an 8-bit sky.
    noise: Gaussian sigma in grey levels, new every frame (what temporal denoise removes).
    """
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        h, w = f.shape[:2]
        small = cv2.resize(f, (int(w / factor), int(h / factor)), interpolation=cv2.INTER_AREA)
        soft = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        if blur > 0:
            soft = cv2.GaussianBlur(soft, (0, 0), blur)
        if band_step > 1:
            grey = soft.mean(axis=2)
            local = cv2.dilate(grey, np.ones((5, 5))) - cv2.erode(grey, np.ones((5, 5)))
            smooth = (local < 5.0)[..., None]
            soft = np.where(smooth, np.round(soft / band_step) * band_step, soft)
        if noise > 0:
            soft = soft + rng.normal(0, noise, soft.shape).astype(np.float32)
        out.append(np.clip(soft + 0.5, 0, 255).astype(np.uint8))
    return out


def gradient_frames(width: int, height: int, frames: int, band_step: int = 0) -> list[np.ndarray]:
    """A still, smooth colour gradient (a clear sky), quantised to `band_step` levels a step when above 1."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([40 + 80 * yy / height + 30 * xx / width, 90 + 60 * yy / height, 200 - 50 * xx / width], -1)
    if band_step > 1:
        sky = np.round(sky / band_step) * band_step
    frame = np.clip(sky + 0.5, 0, 255).astype(np.uint8)
    return [frame.copy() for _ in range(frames)]


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 16.0) -> Path:
    """Encode `frames` near-losslessly (x264 CRF 10) so the codec hardly touches the score."""
    from reelgate.media import VideoWriter

    h, w = frames[0].shape[:2]
    with VideoWriter(Path(path), w, h, fps, crf=10) as out:
        for f in frames:
            out.write(f)
    return Path(path)


def read_clip(path: Path) -> list[np.ndarray]:
    """All frames of a (small) video as RGB uint8 arrays."""
    from reelgate.media import read_frames

    return [f.copy() for f in read_frames(Path(path))]


# --------------------------------------------------------------------- end detail steps
