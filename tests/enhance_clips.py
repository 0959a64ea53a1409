"""Synthetic clips for the enhancement steps, made in code from scikit-image photographs.

Used by tests/test_enhance_*.py and bench/enhance.py. Each helper writes a small H.264 MP4
and returns its path. Blocks are kept per step so parallel work merges cleanly.
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
