"""Synthetic clips for the enhancement steps, made in code from scikit-image photographs.

Used by tests/test_enhance_*.py and bench/enhance.py. Each helper writes a small H.264 MP4
and returns its path. Blocks are kept per step so parallel work merges cleanly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.quality_clips import pan, photo, view

# ==== colour (grade, match) ===================================================================

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
