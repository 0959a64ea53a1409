"""Drawing primitives of the animatic: premultiplied RGBA layers and the shapes painted on them.

Every layer is drawn on transparent black with antialiased shapes, so its pixels are
premultiplied RGBA; frames composite them over the sky with `blend`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

RGB = tuple[float, float, float]

# depth (parallax share of the camera move) of each layer, far to near
DEPTH = dict(sky=0.04, clouds=0.12, bolt=0.1, far=0.3, mist=0.45, mid=0.6, rain_far=0.7, near=1.0, air=1.1)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(x + (y - x) * t for x, y in zip(a, b))  # type: ignore[return-value]


def split_rgba(rgba: tuple[int, int, int, int]) -> tuple[tuple[int, int, int], int]:
    return rgba[:3], rgba[3]


def premultiplied(color, alpha: int) -> tuple[int, int, int, int]:
    """An RGBA drawing colour that stays premultiplied when drawn on transparent black at `alpha` < 255."""
    return (*(int(round(c * alpha / 255)) for c in color), alpha)  # type: ignore[return-value]


@dataclass
class Layer:
    """A premultiplied RGBA image placed in world space and moved by the camera."""

    image: np.ndarray
    origin: tuple[float, float]  # world position of the image's top-left pixel
    depth: float
    drift: Callable[[float], tuple[float, float]]  # the layer's own motion (world px) at time t
    scale: float = 1.0  # image pixels per world pixel (a close-up's subject is drawn finer)
    flash_only: bool = False  # shown only while lightning lights the sky
    role: str = "setting"  # setting, subject or weather: what a measure may leave out (Scene.render(skip=...))
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # x0, y0, x1, y1 of its visible content

    def __post_init__(self) -> None:
        alpha = self.image[..., 3] if self.image.shape[2] == 4 else np.full(self.image.shape[:2], 255, np.uint8)
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        self.box = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1) if len(rows) else (0, 0, 0, 0)


def no_drift(t: float) -> tuple[float, float]:
    return 0.0, 0.0


def poly(img: np.ndarray, pts: np.ndarray, color: tuple[int, ...], alpha: int = 255) -> None:
    """Antialiased filled polygon; drawn on transparent black this yields premultiplied RGBA."""
    cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], (*color, alpha), cv2.LINE_AA, shift=4)


def rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color, alpha: int = 255) -> None:
    poly(img, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64), color, alpha)


def ellipse(img, center, axes, color, alpha=255, angle=0.0) -> None:
    c = (int(round(center[0] * 16)), int(round(center[1] * 16)))
    a = (max(1, int(round(axes[0] * 16))), max(1, int(round(axes[1] * 16))))
    cv2.ellipse(img, c, a, angle, 0, 360, (*color, alpha), -1, cv2.LINE_AA, shift=4)


def shade(img: np.ndarray, top: float, toward: tuple[int, int, int], amount: float) -> None:
    """Blend a layer's colour toward `toward` with height: haze near its base."""
    h = img.shape[0]
    ramp = np.clip((np.arange(h) - top) / max(1.0, h - top), 0, 1)[:, None] * amount
    a = img[..., 3:4].astype(np.float32) / 255.0
    rgb = img[..., :3].astype(np.float32)
    rgb += (np.asarray(toward, np.float32) * a - rgb) * ramp[..., None]
    img[..., :3] = np.clip(rgb, 0, 255).astype(np.uint8)


def fade(img: np.ndarray, toward: tuple[int, int, int], amount: float) -> None:
    """Blend a premultiplied layer's colour toward `toward` everywhere: fog swallowing it."""
    a = img[..., 3:4].astype(np.float32) / 255.0
    rgb = img[..., :3].astype(np.float32)
    rgb += (np.asarray(toward, np.float32) * a - rgb) * amount
    img[..., :3] = np.clip(rgb, 0, 255).astype(np.uint8)


def blended(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA `src` composited over RGB `dst`."""
    inverse = cv2.cvtColor(cv2.bitwise_not(np.ascontiguousarray(src[..., 3])), cv2.COLOR_GRAY2RGB)
    return cv2.add(cv2.multiply(np.ascontiguousarray(dst), inverse, scale=1 / 255), cv2.cvtColor(src, cv2.COLOR_RGBA2RGB))


def over(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA `src` composited over premultiplied RGBA `dst`."""
    inverse = 1.0 - src[..., 3:4].astype(np.float32) / 255.0
    return np.clip(src.astype(np.float32) + dst.astype(np.float32) * inverse, 0, 255).round().astype(np.uint8)


def blend(dst: np.ndarray, src: np.ndarray) -> None:
    """Composite premultiplied RGBA `src` over RGB `dst`, in place."""
    dst[:] = blended(dst, src)
