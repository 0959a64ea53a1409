"""The constellation of a star myth: a figure of bright stars joined by thin lines, and its night sky.

The channel tells "a constellation myth a day", so a shot of the stars shows one figure as
a star chart does: five to nine bright stars, the lines between them stopping short of each
star. The figure is the one the shot names (staging.STAR_FIGURES: Orion, the Big Dipper, 北斗,
天琴座...), else one chosen by the seed. Clouds hide it: a shot in rain, snow, fog or a storm draws no figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from generation.animatic.draw import DEPTH, Layer, over

if TYPE_CHECKING:
    from generation.animatic.scene import Scene

# name -> (stars as (x, y) in figure units, y down, about 1 wide; lines as pairs of star indices)
FIGURES: dict[str, tuple[tuple[tuple[float, float], ...], tuple[tuple[int, int], ...]]] = {
    "dipper": (((0.0, 0.3), (0.17, 0.26), (0.32, 0.3), (0.47, 0.36), (0.52, 0.58), (0.8, 0.64), (0.86, 0.38)),
               ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 3))),
    "orion": (((0.5, 0.0), (0.15, 0.16), (0.85, 0.22), (0.39, 0.5), (0.5, 0.53), (0.61, 0.56), (0.22, 0.95), (0.84, 0.9)),
              ((0, 1), (0, 2), (1, 3), (2, 5), (3, 4), (4, 5), (3, 6), (5, 7))),
    "cassiopeia": (((0.0, 0.1), (0.24, 0.42), (0.45, 0.16), (0.66, 0.44), (0.92, 0.08)),
                   ((0, 1), (1, 2), (2, 3), (3, 4))),
    "lyra": (((0.38, 0.0), (0.42, 0.3), (0.66, 0.38), (0.56, 0.86), (0.3, 0.78)),
             ((0, 1), (1, 2), (2, 3), (3, 4), (4, 1))),
    "andromeda": (((0.0, 0.62), (0.24, 0.56), (0.48, 0.46), (0.86, 0.24), (0.52, 0.26), (0.58, 0.08)),
                  ((0, 1), (1, 2), (2, 3), (2, 4), (4, 5))),
    "cygnus": (((0.5, 0.0), (0.5, 0.36), (0.5, 0.95), (0.08, 0.22), (0.28, 0.3), (0.72, 0.42), (0.94, 0.52)),
               ((0, 1), (1, 2), (3, 4), (4, 1), (1, 5), (5, 6))),
}
def turning(scene: Scene) -> Callable[[float], tuple[float, float]]:
    """The drift of a constellation sky: the stars wheel slowly across it (a tenth of the frame in
    three seconds), so a still shot of a figure under the stars still moves, as a time-lapse would."""
    speed = 0.03 * scene.h

    def drift(t: float) -> tuple[float, float]:
        return speed * t, 0.0

    return drift


def shows(scene: Scene) -> bool:
    """Whether the shot shows a constellation: asked for, outdoors, and no cloud hides it."""
    return "constellation" in scene.staging.settings and not scene.overcast and "interior" not in scene.staging.settings


def figure(scene: Scene) -> Layer | None:
    """The constellation as its own layer (role "constellation"), or None: not asked, or clouds hide it."""
    if not shows(scene):
        return None
    rng = np.random.default_rng([int(scene.rng.integers(1 << 31)), 7])
    name = scene.staging.star_figure or str(rng.choice(sorted(FIGURES)))
    stars, lines = FIGURES[name]
    pts = np.array(stars, np.float64)
    # A tilt of the chart, and its size and place in the upper sky, fixed by the seed.
    angle = math.radians(rng.uniform(-18, 18))
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    size = rng.uniform(0.34, 0.42) * scene.h
    pts = (pts - pts.mean(axis=0)) @ rot.T * size
    centre = (rng.uniform(-0.22, 0.22) * scene.w, -0.2 * scene.h)
    pts += centre
    unit = max(0.5, scene.h / 360)
    pad = int(8 * unit) + 4
    x0, y0 = int(pts[:, 0].min()) - pad, int(pts[:, 1].min()) - pad
    x1, y1 = int(pts[:, 0].max()) + pad, int(pts[:, 1].max()) + pad
    img = np.zeros((y1 - y0, x1 - x0, 4), np.uint8)
    local = pts - (x0, y0)
    radii = rng.uniform(1.3, 2.3, len(local)) * unit
    glow = np.zeros_like(img)
    for (x, y), r in zip(local, radii):
        cv2.circle(glow, (int(x * 16), int(y * 16)), int(r * 3.2 * 16), (120, 150, 230, 150), -1, cv2.LINE_AA, shift=4)
    img = over(img, cv2.GaussianBlur(glow, (0, 0), 2.0 * unit))
    # Lines stop short of the stars, as on a star chart: the stars stay points.
    for a, b in lines:
        pa, pb = local[a], local[b]
        d = pb - pa
        length = float(np.hypot(*d))
        if length < 1e-6:
            continue
        gap_a, gap_b = (radii[a] + 2.5 * unit) / length, (radii[b] + 2.5 * unit) / length
        s, e = pa + d * gap_a, pb - d * gap_b
        colour = (int(150 * 0.8), int(175 * 0.8), int(235 * 0.8), 205)  # premultiplied pale blue
        cv2.line(img, (int(s[0] * 16), int(s[1] * 16)), (int(e[0] * 16), int(e[1] * 16)), colour,
                 max(1, int(round(unit))), cv2.LINE_AA, shift=4)
    for (x, y), r in zip(local, radii):
        cv2.circle(img, (int(x * 16), int(y * 16)), max(1, int(r * 16)), (255, 250, 235, 255), -1, cv2.LINE_AA, shift=4)
    return Layer(img, (x0, y0), DEPTH["sky"], turning(scene), role="constellation")


def milky_way(scene: Scene, img: np.ndarray, origin: tuple[int, int]) -> None:
    """A faint band of the Milky Way across the sky image (RGB(A), painted in place), and a crowd of small stars."""
    h, w = img.shape[:2]
    x0, y0 = origin
    rng = scene.rng
    # The band's centre line: through a point of the upper sky at a slant.
    cx, cy = rng.uniform(-0.3, 0.3) * scene.w - x0, -0.28 * scene.h - y0
    slope = rng.choice([-1, 1]) * rng.uniform(0.25, 0.5)
    ys, xs = np.mgrid[0:h:4, 0:w:4].astype(np.float32)
    dist = np.abs((ys - cy) - slope * (xs - cx)) / math.sqrt(1 + slope**2)
    width = 0.12 * scene.h
    # Mottled: a coarse random field, smoothed, makes star clouds and dark lanes.
    mottle = cv2.GaussianBlur(rng.uniform(0.4, 1.0, xs.shape).astype(np.float32), (0, 0), 3)
    band = np.exp(-((dist / width) ** 2)) * mottle * 0.22
    band = cv2.resize(band, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    sky = img[..., :3].astype(np.float32)
    img[..., :3] = np.clip(sky + (np.array((170, 180, 225), np.float32) - sky) * band, 0, 255).astype(np.uint8)
    # Small dim stars, crowded in the band.
    n = int(w * h / 500)
    sx, sy = rng.uniform(0, w, n), rng.uniform(0, h * 0.75, n)
    near_band = np.abs((sy - cy) - slope * (sx - cx)) / math.sqrt(1 + slope**2) < 1.2 * width
    keep = near_band | (rng.random(n) < 0.45)
    for x, y, level in zip(sx[keep], sy[keep], rng.uniform(0.35, 0.9, int(keep.sum()))):
        base = img[int(y), int(x), :3].astype(np.float32)
        colour = tuple(int(c) for c in base + (np.array((235, 238, 255)) - base) * level)
        img[int(y), int(x), :3] = colour
