"""Synthetic clips for the enhancement tests and bench/enhance.py.

Photographs from scikit-image stand in for generated shots: they have real edges, texture
and smooth areas, and the clean frame is known, so a step can be scored against it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# ---------------------------------------------------------------------------------------
# Detail steps (clean-up, upscaling): a slow pan across a photograph, and the same pan
# degraded the way a generator's output is (soft, noisy from frame to frame, banded skies).
# ---------------------------------------------------------------------------------------

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def photo(name: str) -> np.ndarray:
    """An RGB uint8 photograph from skimage.data (astronaut, coffee, chelsea, rocket, ...)."""
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[:, :, :3])


def pan_frames(name: str, width: int, height: int, frames: int, sky: bool = True) -> list[np.ndarray]:
    """A slow horizontal pan across photograph `name`, `frames` frames of width x height.

    The photo is resized so its height is 1.15 x `height` (the window also drifts down a
    little) and the window moves about 1 % of the width a frame: motion, so a temporal
    denoiser that averages blindly leaves ghosts that PSNR sees. With `sky`, the top
    quarter of every frame is blended into a smooth colour gradient: the kind of area
    where banding shows.
    """
    import cv2

    img = photo(name)
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
