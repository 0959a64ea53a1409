"""Measures of an animatic frame a user would check by eye: where the subject is, how big,
what shape and what colour. Shared by the figure tests and a contact-sheet measure.

The subject's mask is the pixels that change when the frame is rendered without the
subject layer (Scene.render(skip={"subject"})), so it is measured on pixels, as drawn.
"""

from __future__ import annotations

import cv2
import numpy as np

from generation.animatic.scene import Scene
from reelgate.records import ShotSpec

SUBJECT = frozenset({"subject"})


def subject_mask(scene: Scene, i: int, threshold: int = 24) -> np.ndarray:
    """Bool (H, W): the pixels the subject covers in frame `i` (differs by more than `threshold`)."""
    with_subject = scene.render(i).astype(np.int16)
    without = scene.render(i, skip=SUBJECT).astype(np.int16)
    return np.abs(with_subject - without).max(axis=2) > threshold


def area(mask: np.ndarray) -> float:
    """Share of the frame the mask covers."""
    return float(mask.mean())


def box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 (exclusive) of the mask; all zero when it is empty."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return 0, 0, 0, 0
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def aspect(mask: np.ndarray) -> float:
    """Width over height of the mask's box: above 1 a wide thing (a serpent, a flyer), below a tall one."""
    x0, y0, x1, y1 = box(mask)
    return (x1 - x0) / max(1, y1 - y0)


def centroid(mask: np.ndarray) -> tuple[float, float]:
    """(x, y) of the mask's centre of mass, in pixels."""
    ys, xs = np.nonzero(mask)
    return float(xs.mean()), float(ys.mean())


def hue_share(frame: np.ndarray, mask: np.ndarray, hues: tuple[int, int], min_saturation: int = 90,
              min_value: int = 60) -> float:
    """Share of the mask's pixels of a saturated hue in `hues` (OpenCV degrees 0..180; red wraps: (170, 10))."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[mask]
    if not len(hsv):
        return 0.0
    h, s, v = hsv[:, 0].astype(int), hsv[:, 1], hsv[:, 2]
    lo, hi = hues
    in_hue = (h >= lo) & (h <= hi) if lo <= hi else (h >= lo) | (h <= hi)
    return float((in_hue & (s >= min_saturation) & (v >= min_value)).mean())


def value_share(frame: np.ndarray, mask: np.ndarray, below: int | None = None, above: int | None = None) -> float:
    """Share of the mask's pixels darker than `below` or brighter than `above` (HSV value, 0..255)."""
    v = frame.max(axis=2)[mask].astype(int)
    if not len(v):
        return 0.0
    keep = np.ones(len(v), bool)
    if below is not None:
        keep &= v < below
    if above is not None:
        keep &= v > above
    return float(keep.mean())


# ---- settings: water, walls, stars, rooms (tests/test_animatic_settings.py) -------------------


def setting_shot(text: str, **fields) -> ShotSpec:
    """A static wide 1-second shot of a person whose scene is `text` (its environment too, unless given)."""
    base = dict(index=0, text=text, subject="a girl", action="stands", environment=text, camera="static",
                time_of_day="day", mood="calm", prompt=text, duration_s=1.0, seed=5)
    return ShotSpec(**{**base, **fields})


def render_frames(shot: ShotSpec, seed: int = 5, size: tuple[int, int] = (320, 180), fps: int = 12,
                  skip: frozenset[str] = frozenset({"subject", "weather", "ambient"})) -> np.ndarray:
    """Every frame of `shot` as (N, H, W, 3) RGB, without the slug; `skip` leaves those layer roles out."""
    scene = Scene(shot, seed, size[0], size[1], fps, slug=False)
    return np.stack([scene.render(i, skip=skip) for i in range(scene.frames)])


def row_repeat(frame: np.ndarray, rows: tuple[int, int], lags: tuple[int, int] = (6, 40)) -> tuple[int, float]:
    """(period px, correlation) of the most regular row in `rows`: battlements repeat, hills and skylines do not.

    Each row's brightness across the frame, detrended, is correlated with itself shifted by
    each lag in `lags`; the best lag of the best row wins. A row that barely varies (open
    sky) is left out.
    """
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    best = (0, 0.0)
    for row in grey[rows[0]:rows[1]]:
        p = row - cv2.blur(row.reshape(1, -1), (41, 1)).ravel()
        if p.std() < 4:
            continue
        p = p - p.mean()
        for lag in range(*lags):
            a, b = p[:-lag], p[lag:]
            corr = float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-6))
            if corr > best[1]:
                best = (lag, corr)
    return best


def lit_windows(frame: np.ndarray) -> int:
    """Small warm bright spots (lit windows of a night skyline)."""
    r, g, b = (frame[..., k].astype(np.int16) for k in range(3))
    warm = ((r > 190) & (g > 150) & (b < 170) & (r - b > 60)).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(warm)
    return int(((stats[1:, cv2.CC_STAT_AREA] >= 2) & (stats[1:, cv2.CC_STAT_AREA] <= 40)).sum())


def star_lines(frame: np.ndarray, rows: tuple[int, int]) -> float:
    """Total length (px) of thin straight bright lines in `rows` of the frame: a constellation's figure lines.

    A top-hat keeps what is brighter than its surroundings and thin; Hough finds the straight
    runs among it. Single stars are dots, too short to count.
    """
    grey = cv2.cvtColor(frame[rows[0]:rows[1]], cv2.COLOR_RGB2GRAY)
    hat = cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    mask = (hat > 18).astype(np.uint8) * 255
    lines = cv2.HoughLinesP(mask, 1, np.pi / 180, threshold=12, minLineLength=14, maxLineGap=2)
    if lines is None:
        return 0.0
    return float(sum(np.hypot(x1 - x0, y1 - y0) for x0, y0, x1, y1 in lines.reshape(-1, 4)))


def row_colours(frame: np.ndarray, rows: tuple[int, int]) -> np.ndarray:
    """The median colour of each row in `rows` (what most of a row shows: sky, wall)."""
    return np.median(frame[rows[0]:rows[1]].astype(np.float32), axis=1)
