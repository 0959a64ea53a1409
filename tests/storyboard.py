"""Measures of an animatic frame a user would check by eye: where the subject is, how big,
what shape and what colour. Shared by the figure tests and a contact-sheet measure.

The subject's mask is the pixels that change when the frame is rendered without the
subject layer (Scene.render(skip={"subject"})), so it is measured on pixels, as drawn.
"""

from __future__ import annotations

import cv2
import numpy as np

from generation.animatic.scene import Scene

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
