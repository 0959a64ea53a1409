"""The offline default generator: a readable animatic of the shot, drawn from its fields.

Not a diffusion model: it paints a layered scene (sky, clouds, far terrain, mist, hills,
ground, a subject silhouette) coloured by time of day and mood, then moves a camera
through it as the shot asks (push, pull, pan, tilt, or static with moving elements),
with parallax between layers. Layers are drawn once; each frame is a few affine warps
and alpha blends, so a 3.5 s 640x360 shot renders in well under a second on one core.
Same shot and seed give identical frames; another seed gives another composition.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from generation.base import ProgressFn
from generation.memory import PeakMemory
from reelgate.fonts import find_cjk_font
from reelgate.media import VideoWriter
from reelgate.records import GeneratedShot, ShotSpec
from reelgate.settings import GenerationSettings

RGB = tuple[float, float, float]

# sky top, sky at the horizon, far terrain, hills, ground, sun or moon, clouds
_PALETTES: dict[str, dict[str, RGB]] = {
    "dawn": dict(top=(70, 88, 160), low=(250, 182, 140), far=(126, 112, 152), mid=(92, 100, 116),
                 near=(82, 104, 78), light=(255, 214, 160), cloud=(250, 205, 200)),
    "day": dict(top=(64, 136, 222), low=(192, 226, 250), far=(118, 148, 186), mid=(92, 150, 96),
                near=(84, 140, 66), light=(255, 250, 222), cloud=(250, 252, 255)),
    "dusk": dict(top=(42, 40, 102), low=(250, 132, 72), far=(96, 62, 104), mid=(72, 50, 74),
                 near=(50, 42, 54), light=(255, 166, 86), cloud=(236, 150, 150)),
    "night": dict(top=(6, 8, 26), low=(30, 42, 84), far=(30, 36, 62), mid=(22, 28, 46),
                  near=(16, 22, 32), light=(236, 236, 212), cloud=(60, 70, 100)),
}
# mood -> (tint colour, tint strength, saturation multiplier)
_MOODS: dict[str, tuple[RGB, float, float]] = {
    "calm": ((120, 170, 200), 0.08, 0.95),
    "joyful": ((255, 220, 120), 0.14, 1.2),
    "mysterious": ((110, 70, 170), 0.28, 0.9),
    "tense": ((170, 40, 40), 0.2, 0.8),
    "sad": ((100, 115, 140), 0.3, 0.55),
    "epic": ((255, 150, 60), 0.18, 1.15),
}
# depth (parallax share of the camera move) of each layer, far to near
_DEPTH = dict(sky=0.04, clouds=0.12, far=0.3, mist=0.45, mid=0.6, near=1.0, air=1.1)

_SUBJECT_WORDS = {
    "bird": ["bird", "eagle", "crow", "dragon", "swallow", "鸟", "鹰", "龙", "燕", "鹊", "鹤", "magpie", "crane", "owl", "phoenix", "凤"],
    "boat": ["boat", "ship", "sail", "船", "帆"],
    "house": ["house", "castle", "tower", "temple", "cabin", "lighthouse", "房", "城堡", "塔", "庙", "屋", "灯塔"],
    "tree": ["tree", "树"],
    "animal": ["cat", "dog", "fox", "wolf", "horse", "deer", "rabbit", "tiger", "bear", "animal",
               "猫", "狗", "狐", "狼", "马", "鹿", "兔", "虎", "熊"],
    "figure": ["girl", "boy", "man", "woman", "child", "person", "robot", "knight", "king", "queen",
               "女孩", "男孩", "人", "孩", "少年", "少女", "老人", "骑士", "机器人"],
}
_GROUND_WORDS = {
    "water": ["sea", "ocean", "lake", "river", "harbor", "harbour", "海", "湖", "河", "江", "港"],
    "snow": ["snow", "winter", "ice", "雪", "冬", "冰"],
    "sand": ["desert", "beach", "dune", "沙"],
}
_RAIN_WORDS = ["rain", "storm", "雨"]
_CITY_WORDS = ["city", "town", "street", "village", "城市", "城", "街", "镇", "村"]
_FOREST_WORDS = ["forest", "wood", "jungle", "森林", "林"]

# Subject silhouettes in units of the subject's size: x from its centre, y up from its feet
# (negative). ("e", x, y, half-width, half-height) is an ellipse, ("p", points) a polygon.
_SHAPES: dict[str, list[tuple]] = {
    "figure": [("e", 0, -0.88, 0.12, 0.12),
               ("p", [(-0.16, -0.35), (-0.08, -0.78), (0.08, -0.78), (0.16, -0.35)]),
               ("p", [(-0.1, 0), (-0.06, -0.4), (0.06, -0.4), (0.1, 0), (0.04, 0), (0, -0.25), (-0.04, 0)]),
               ("p", [(-0.09, -0.75), (-0.24, -0.45), (-0.2, -0.43), (-0.05, -0.68)])],
    "animal": [("e", 0, -0.55, 0.42, 0.2), ("e", 0.45, -0.77, 0.14, 0.12),
               ("p", [(0.38, -0.85), (0.42, -1.01), (0.48, -0.87)]),
               ("p", [(-0.38, -0.55), (-0.75, -0.9), (-0.7, -0.93), (-0.3, -0.63)])]
    + [("p", [(x - 0.035, -0.55), (x + 0.035, -0.55), (x + 0.035, 0), (x - 0.035, 0)]) for x in (-0.3, -0.15, 0.15, 0.3)],
    "bird": [("p", [(-0.7, -1.0), (0, -0.6), (0.7, -1.0), (0, -0.45)]), ("e", 0, -0.55, 0.12, 0.08)],
    "boat": [("p", [(-0.6, -0.2), (0.6, -0.2), (0.45, 0), (-0.45, 0)]),
             ("p", [(-0.015, -0.2), (-0.015, -1.1), (0.015, -1.1), (0.015, -0.2)]),
             ("p", [(0.03, -0.3), (0.03, -1.05), (0.5, -0.3)])],
    "house": [("p", [(-0.35, 0), (-0.35, -0.5), (0, -0.85), (0.35, -0.5), (0.35, 0)])],
    "tree": [("p", [(-0.05, 0), (-0.04, -0.5), (0.04, -0.5), (0.05, 0)]), ("e", 0, -0.68, 0.3, 0.3)],
}


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(x + (y - x) * t for x, y in zip(a, b))  # type: ignore[return-value]


def _graded(color: RGB, mood: str) -> tuple[int, int, int]:
    """Apply the mood's tint and saturation to a palette colour."""
    tint, strength, saturation = _MOODS.get(mood, _MOODS["calm"])
    r, g, b = _mix(color, tint, strength)
    grey = 0.3 * r + 0.59 * g + 0.11 * b
    return tuple(int(np.clip(grey + (c - grey) * saturation, 0, 255)) for c in (r, g, b))  # type: ignore[return-value]


def _has(words: list[str], text: str) -> bool:
    return any(w in text for w in words)


@dataclass
class _Layer:
    """A premultiplied RGBA image placed in world space and moved by the camera."""

    image: np.ndarray
    origin: tuple[float, float]  # world position of the image's top-left pixel
    depth: float
    drift: Callable[[float], tuple[float, float]]  # the layer's own motion (world px) at time t
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # x0, y0, x1, y1 of its visible content

    def __post_init__(self) -> None:
        alpha = self.image[..., 3] if self.image.shape[2] == 4 else np.full(self.image.shape[:2], 255, np.uint8)
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        self.box = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1) if len(rows) else (0, 0, 0, 0)


def _no_drift(t: float) -> tuple[float, float]:
    return 0.0, 0.0


class _Camera:
    """Camera position (world px) and zoom over time, from the shot's camera move.

    Every move of the plan's vocabulary (reelgate.records.CameraMove) moves: pans, tilts and
    cranes travel; push, pull and zooms scale; a track travels with a slight push; handheld
    drifts with a smooth, seeded-free wobble (sums of slow sines, the same every render);
    an orbit swings side to side while closing in. Only "static" stands still.
    """

    def __init__(self, kind: str, duration: float, width: int, height: int) -> None:
        self.kind, self.duration = kind, duration
        self.width, self.height = width, height
        pan_total = min(0.2 * height * duration, 1.2 * width)
        tilt_total = min(0.1 * height * duration, 0.5 * height)
        crane_total = min(0.14 * height * duration, 0.6 * height)
        self.zoom_total = min(math.log(1.35) / 3.5 * duration, math.log(1.6))
        self.span = {"pan_left": (-pan_total, 0.0), "pan_right": (pan_total, 0.0),
                     "tilt_up": (0.0, -tilt_total), "tilt_down": (0.0, tilt_total),
                     "crane_up": (0.0, -crane_total), "crane_down": (0.0, crane_total),
                     "track": (0.8 * pan_total, 0.0)}.get(kind, (0.0, 0.0))

    def at(self, t: float) -> tuple[float, float, float]:
        """(x, y, zoom) at time t; smooth in time so motion is even."""
        u = t / self.duration if self.duration > 0 else 0.0
        x, y = self.span[0] * (u - 0.5), self.span[1] * (u - 0.5)
        if self.kind in ("push", "zoom_in"):
            return x, y, math.exp(self.zoom_total * u * (1.4 if self.kind == "zoom_in" else 1.0))
        if self.kind in ("pull", "zoom_out"):
            return x, y, math.exp(self.zoom_total * (1.0 - u) * (1.4 if self.kind == "zoom_out" else 1.0))
        if self.kind == "track":
            return x, y, math.exp(0.3 * self.zoom_total * u)
        if self.kind == "crane_up":
            return x, y, math.exp(0.4 * self.zoom_total * (1.0 - u))  # rising, the view widens
        if self.kind == "crane_down":
            return x, y, math.exp(0.4 * self.zoom_total * u)
        if self.kind == "handheld":
            amp = 0.012 * self.height
            wobble_x = amp * (math.sin(2.1 * t) + 0.6 * math.sin(3.7 * t + 1.3) + 0.3 * math.sin(7.3 * t + 0.4))
            wobble_y = amp * (0.8 * math.sin(1.7 * t + 0.7) + 0.5 * math.sin(4.3 * t + 2.1))
            return 0.15 * self.width * (u - 0.5) + wobble_x, wobble_y, 1.04
        if self.kind == "orbit":
            swing = 0.35 * self.width * math.sin(math.pi * (u - 0.5))
            return swing, 0.0, math.exp(0.5 * self.zoom_total * u)
        return x, y, 1.0


class _Scene:
    """Everything drawn once for one shot: the layers, the camera and the slate."""

    def __init__(self, shot: ShotSpec, seed: int, width: int, height: int, fps: int) -> None:
        self.w, self.h = width, height
        self.frames = max(1, round(shot.duration_s * fps))
        self.duration = self.frames / fps
        self.camera = _Camera(shot.camera, self.duration, width, height)
        words = " ".join([shot.subject, shot.action, shot.environment, shot.text, shot.prompt]).lower()
        self.rng = np.random.default_rng([seed, zlib.crc32(shot.subject.encode("utf-8"))])
        pal = _PALETTES.get(shot.time_of_day, _PALETTES["day"])
        self.col = {k: _graded(v, shot.mood) for k, v in pal.items()}
        self.night = shot.time_of_day == "night"
        self.ground = next((g for g, ws in _GROUND_WORDS.items() if _has(ws, words)), "grass")
        self.city = _has(_CITY_WORDS, words)
        self.forest = _has(_FOREST_WORDS, words)
        self.subject = self._pick_subject(shot, seed)
        self.rain = _has(_RAIN_WORDS, words)
        self.horizon = 0.18 * height  # world y of the ground line (frame centre is 0)

        self.sky = self._sky()
        self.layers = [
            self._clouds(), self._far(), self._mist(), self._mid(), self._near(), self._subject_layer(), self._air()
        ]
        self.slate = self._slate(shot)

    # ---- layout helpers -------------------------------------------------------------

    def _pick_subject(self, shot: ShotSpec, seed: int) -> str:
        text = " ".join([shot.subject, shot.text]).lower()
        for kind, ws in _SUBJECT_WORDS.items():
            if _has(ws, text):
                return kind
        return ("figure", "animal")[(seed + zlib.crc32(shot.subject.encode("utf-8"))) % 2]

    def _extent(self, depth: float, drift: Callable[[float], tuple[float, float]]) -> tuple[int, int, int, int]:
        """World rectangle (x0, y0, x1, y1) a layer must cover over the whole shot."""
        xs, ys = [], []
        for t in np.linspace(0.0, self.duration, 33):
            cx, cy, zoom = self.camera.at(float(t))
            z = zoom**depth
            dx, dy = drift(float(t))
            hw, hh = self.w / (2 * z), self.h / (2 * z)
            xs += [cx * depth - dx - hw, cx * depth - dx + hw]
            ys += [cy * depth - dy - hh, cy * depth - dy + hh]
        pad = 8
        return int(min(xs)) - pad, int(min(ys)) - pad, int(max(xs)) + pad, int(max(ys)) + pad

    def _canvas(self, depth: float, drift=_no_drift) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        x0, y0, x1, y1 = self._extent(depth, drift)
        return np.zeros((y1 - y0, x1 - x0, 4), np.uint8), (x0, y0, x1, y1)

    @staticmethod
    def _poly(img: np.ndarray, pts: np.ndarray, color: tuple[int, ...], alpha: int = 255) -> None:
        """Antialiased filled polygon; drawn on transparent black this yields premultiplied RGBA."""
        cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], (*color, alpha), cv2.LINE_AA, shift=4)

    @classmethod
    def _rect(cls, img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color, alpha: int = 255) -> None:
        cls._poly(img, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64), color, alpha)

    @staticmethod
    def _ellipse(img, center, axes, color, alpha=255, angle=0.0) -> None:
        c = (int(round(center[0] * 16)), int(round(center[1] * 16)))
        a = (max(1, int(round(axes[0] * 16))), max(1, int(round(axes[1] * 16))))
        cv2.ellipse(img, c, a, angle, 0, 360, (*color, alpha), -1, cv2.LINE_AA, shift=4)

    def _ridge(self, xs: np.ndarray, base: float, amp: float, scale: float) -> np.ndarray:
        """A smooth random skyline height (world y) over world x, fixed by the seed."""
        y = np.full_like(xs, base, dtype=np.float64)
        for k in range(4):
            wavelength = scale * self.w / (1.7**k)
            phase = self.rng.uniform(0, 2 * math.pi)
            y -= amp / (1.6**k) * np.abs(np.sin(xs / wavelength * math.pi + phase))
        return y

    def _shade(self, img: np.ndarray, top: float, toward: tuple[int, int, int], amount: float) -> None:
        """Blend a layer's colour toward `toward` with height: haze near its base."""
        h = img.shape[0]
        ramp = np.clip((np.arange(h) - top) / max(1.0, h - top), 0, 1)[:, None] * amount
        a = img[..., 3:4].astype(np.float32) / 255.0
        rgb = img[..., :3].astype(np.float32)
        rgb += (np.asarray(toward, np.float32) * a - rgb) * ramp[..., None]
        img[..., :3] = np.clip(rgb, 0, 255).astype(np.uint8)

    # ---- layers, far to near --------------------------------------------------------

    def _sky(self) -> _Layer:
        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["sky"])
        ys = np.arange(y0, y1, dtype=np.float32)
        u = np.clip((ys + self.h / 2) / (self.h / 2 + self.horizon), 0, 1)[:, None] ** 1.4
        top, low = (np.asarray(self.col[k], np.float32) for k in ("top", "low"))
        img[..., :3] = (top + (low - top) * u[..., None]).astype(np.uint8)
        img[..., 3] = 255
        if self.night:
            n = int((x1 - x0) * (y1 - y0) / 900)
            sx, sy = self.rng.uniform(0, x1 - x0, n), self.rng.uniform(0, (y1 - y0) * 0.7, n)
            for x, y, r in zip(sx, sy, self.rng.uniform(0.6, 1.6, n)):
                self._ellipse(img, (x, y), (r, r), (230, 230, 255))
        lx = self.rng.uniform(-0.35, 0.35) * self.w - x0
        ly = self.rng.uniform(-0.38, -0.26) * self.h - y0
        radius = (0.045 if self.night else 0.06) * self.h
        # A soft halo, blurred only in a patch around the disc (blurring the whole sky is slow).
        r = int(radius * 5)
        px0, py0 = max(0, int(lx) - r), max(0, int(ly) - r)
        patch = img[py0:int(ly) + r, px0:int(lx) + r]
        halo = np.zeros_like(patch)
        self._ellipse(halo, (lx - px0, ly - py0), (radius * 1.6,) * 2, self.col["light"], 150)
        patch[..., :3] = _blended(patch[..., :3], cv2.GaussianBlur(halo, (0, 0), radius))
        self._ellipse(img, (lx, ly), (radius, radius), self.col["light"])
        if self.night:  # a crescent: the sky colour over most of the disc
            shade = tuple(int(c) for c in img[int(ly), int(min(lx + 3 * radius, x1 - x0 - 1)), :3])
            self._ellipse(img, (lx + radius * 0.45, ly - radius * 0.2), (radius * 0.85,) * 2, shade)
        return _Layer(img[..., :3].copy(), (x0, y0), _DEPTH["sky"], _no_drift)

    def _clouds(self) -> _Layer:
        speed = self.rng.choice([-1, 1]) * 0.1 * self.h

        def drift(t: float) -> tuple[float, float]:
            return speed * t, 0.0

        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["clouds"], drift)
        n = max(3, int((x1 - x0) / self.w * 7))
        alpha = 170 if self.night else 235
        for _ in range(n):
            cx = self.rng.uniform(0, x1 - x0)
            cy = self.rng.uniform(-0.42, -0.12) * self.h - y0
            size = self.rng.uniform(0.05, 0.1) * self.h
            for _ in range(5):
                ox, oy = self.rng.uniform(-2.2, 2.2) * size, self.rng.uniform(-0.4, 0.3) * size
                axes = (size * self.rng.uniform(1.0, 1.8), size * self.rng.uniform(0.6, 1.0))
                self._ellipse(img, (cx + ox, cy + oy), axes, self.col["cloud"], alpha)
        img = cv2.GaussianBlur(img, (0, 0), 1.2)
        return _Layer(img, (x0, y0), _DEPTH["clouds"], drift)

    def _far(self) -> _Layer:
        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["far"])
        xs = np.arange(x0, x1 + 4, 4, dtype=np.float64)
        color = self.col["far"]
        if self.city:  # a skyline of blocks instead of mountains
            x = float(x0)
            while x < x1:
                bw = self.rng.uniform(0.04, 0.1) * self.w
                top = self.horizon - self.rng.uniform(0.12, 0.4) * self.h
                self._rect(img, x - x0, top - y0, x + bw - x0, y1 - y0, color)
                if self.night:  # lit windows
                    for wy in np.arange(top + 6, self.horizon - 4, 9):
                        for wx in np.arange(x + 4, x + bw - 4, 8):
                            if self.rng.random() < 0.3:
                                self._rect(img, wx - x0, wy - y0, wx + 3 - x0, wy + 4 - y0, (250, 220, 140))
                x += bw + self.rng.uniform(0, 0.02) * self.w
        else:
            ys = self._ridge(xs, self.horizon - 0.04 * self.h, 0.2 * self.h, 0.9)
            pts = np.column_stack([xs - x0, ys - y0])
            self._poly(img, np.vstack([pts, [[x1 - x0 + 4, y1 - y0], [0, y1 - y0]]]), color)
            if self.ground == "snow" or self.rng.random() < 0.3:  # snow caps
                snowline = ys.min() + 0.08 * self.h
                caps = np.column_stack([xs - x0, np.maximum(ys, np.minimum(ys + 0.05 * self.h, snowline)) - y0])
                self._poly(img, np.vstack([pts, caps[::-1]]), _mix(color, (245, 245, 250), 0.7))
        self._shade(img, self.horizon - 0.35 * self.h - y0, self.col["low"], 0.45)
        return _Layer(img, (x0, y0), _DEPTH["far"], _no_drift)

    def _mist(self) -> _Layer:
        speed = self.rng.choice([-1, 1]) * 0.12 * self.h

        def drift(t: float) -> tuple[float, float]:
            return speed * t, 0.0

        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["mist"], drift)
        n = max(3, int((x1 - x0) / self.w * 6))
        color = _mix(self.col["low"], (255, 255, 255), 0.3)
        for _ in range(n):
            cx, cy = self.rng.uniform(0, x1 - x0), self.horizon - self.rng.uniform(0.0, 0.08) * self.h - y0
            self._ellipse(img, (cx, cy), (self.rng.uniform(0.12, 0.3) * self.w, 0.025 * self.h), color, 90)
        img = cv2.GaussianBlur(img, (0, 0), 4)
        return _Layer(img, (x0, y0), _DEPTH["mist"], drift)

    def _mid(self) -> _Layer:
        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["mid"])
        xs = np.arange(x0, x1 + 4, 4, dtype=np.float64)
        ys = self._ridge(xs, self.horizon + 0.04 * self.h, 0.1 * self.h, 1.4)
        pts = np.column_stack([xs - x0, ys - y0])
        color = self.col["mid"]
        self._poly(img, np.vstack([pts, [[x1 - x0 + 4, y1 - y0], [0, y1 - y0]]]), color)
        if self.forest or self.rng.random() < 0.5:  # a row of trees along the hills
            dark = _mix(color, (0, 0, 0), 0.25)
            for x in np.arange(x0, x1, self.rng.uniform(0.025, 0.05) * self.w):
                gx = x + self.rng.uniform(-6, 6)
                base = np.interp(gx, xs, ys) + 4
                th = self.rng.uniform(0.06, 0.12) * self.h
                tree = [[gx - th * 0.25, base], [gx, base - th], [gx + th * 0.25, base]]
                self._poly(img, np.array(tree) - (x0, y0), dark)
        self._shade(img, self.horizon - 0.1 * self.h - y0, self.col["low"], 0.25)
        return _Layer(img, (x0, y0), _DEPTH["mid"], _no_drift)

    def _near(self) -> _Layer:
        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["near"])
        xs = np.arange(x0, x1 + 4, 4, dtype=np.float64)
        top = self.horizon + 0.1 * self.h
        ys = top + 0.03 * self.h * np.sin(xs / self.w * 2.5 + self.rng.uniform(0, 6.3))
        color = {"water": _mix(self.col["top"], self.col["low"], 0.45), "snow": _mix((235, 238, 245), self.col["top"], 0.15),
                 "sand": _mix((214, 184, 128), self.col["near"], 0.3)}.get(self.ground, self.col["near"])
        if self.ground == "water":
            ys = np.full_like(xs, top)
        pts = np.column_stack([xs - x0, ys - y0])
        self._poly(img, np.vstack([pts, [[x1 - x0 + 4, y1 - y0], [0, y1 - y0]]]), color)
        # Texture (strokes, ripples) gives the eye and optical flow something to follow.
        n = int((x1 - x0) * (y1 - top) / 260)
        light = _mix(color, self.col["light"], 0.35)
        dark = _mix(color, (0, 0, 0), 0.3)
        for _ in range(max(0, n)):
            x = self.rng.uniform(0, x1 - x0)
            y = self.rng.uniform(top + 6, y1) - y0
            depth = (y + y0 - top) / max(1.0, y1 - top)
            if self.ground == "water":
                L = 6 + 18 * depth
                self._poly(img, np.array([[x - L, y], [x + L, y], [x + L, y + 1.2], [x - L, y + 1.2]]), light, 200)
            else:
                L = 3 + 9 * depth
                c = light if self.rng.random() < 0.5 else dark
                self._poly(img, np.array([[x - 1, y], [x + self.rng.uniform(-2, 2), y - L], [x + 1, y]]), c)
        self._shade(img, top - y0, _mix(color, (0, 0, 0), 0.5), 0.4)
        return _Layer(img, (x0, y0), _DEPTH["near"], _no_drift)

    def _subject_layer(self) -> _Layer:
        s = self.h
        kind = self.subject
        color = _mix(self.col["near"], (0, 0, 0), 0.7)
        rim = _mix(self.col["low"], (255, 255, 255), 0.2)
        size = {"figure": 0.3, "animal": 0.22, "bird": 0.14, "boat": 0.3, "house": 0.4, "tree": 0.45}[kind] * s
        pad = 4
        img = np.zeros((int(size * 1.3) + 2 * pad, int(size * 1.6) + 2 * pad, 4), np.uint8)
        hh, ww = img.shape[:2]
        cx, foot = ww / 2, hh - pad - 1

        def place(points) -> np.ndarray:
            return np.array([(cx + x * size, foot + y * size) for x, y in points], np.float64)

        # A light rim first, the silhouette over it: readable on any background.
        for colour, grow in ((rim, 1.5), (color, 0.0)):
            for shape in _SHAPES[kind]:
                if shape[0] == "e":
                    _, x, y, ax, ay = shape
                    self._ellipse(img, (cx + x * size, foot + y * size), (ax * size + grow, ay * size + grow), colour)
                else:
                    pts = place(shape[1])
                    centre = pts.mean(axis=0)
                    d = pts - centre
                    self._poly(img, centre + d * (1 + grow / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-6)), colour)
        if kind == "house":  # a window, lit at night
            lit = self.night or self.rng.random() < 0.5
            self._poly(img, place([(-0.08, -0.3), (0.08, -0.3), (0.08, -0.15), (-0.08, -0.15)]), (250, 214, 130) if lit else rim)

        moves = kind in ("figure", "animal", "bird", "boat")
        direction = float(self.rng.choice([-1, 1]))
        speed = {"figure": 0.16, "animal": 0.2, "bird": 0.3, "boat": 0.1}.get(kind, 0.0) * s * direction
        if direction < 0:
            img = img[:, ::-1].copy()
        bob_amp = {"figure": 0.012, "animal": 0.01, "bird": 0.03, "boat": 0.008}.get(kind, 0.0) * s
        bob_hz = {"figure": 1.8, "animal": 2.4, "bird": 0.8, "boat": 0.5}.get(kind, 0.0)
        half = self.duration / 2

        def drift(t: float) -> tuple[float, float]:
            # Walk through the middle of the frame at mid-shot; a smooth sinusoidal bob.
            return speed * (t - half), bob_amp * math.sin(2 * math.pi * bob_hz * t)

        gx = self.rng.uniform(-0.25, 0.25) * self.w if moves else self.rng.uniform(-0.3, 0.3) * self.w
        ground_y = self.horizon + 0.16 * s if kind != "bird" else -0.25 * s
        origin = (gx - ww / 2, ground_y - foot)
        return _Layer(img, origin, _DEPTH["near"] if kind != "bird" else 0.5, drift if moves else _no_drift)

    def _air(self) -> _Layer:
        """Particles in front of everything: rain, snow, fireflies at night, or drifting pollen."""
        kind = "rain" if self.rain else "snow" if self.ground == "snow" else "fireflies" if self.night else "pollen"
        side = float(self.rng.choice([-1, 1]))
        vx, vy = {"rain": (0.08, 0.9), "snow": (0.05, 0.16), "fireflies": (0.06, -0.03), "pollen": (0.12, -0.02)}[kind]
        vx, vy = vx * self.h * side, vy * self.h

        def drift(t: float) -> tuple[float, float]:
            return vx * t, vy * t

        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["air"], drift)
        area = (x1 - x0) * (y1 - y0)
        n = int(area / {"rain": 900, "snow": 700, "fireflies": 3000, "pollen": 4000}[kind])
        xs, ys = self.rng.uniform(0, x1 - x0, n), self.rng.uniform(0, y1 - y0, n)
        if kind == "rain":
            dx, dy = vx / math.hypot(vx, vy) * 10, vy / math.hypot(vx, vy) * 10
            for x, y in zip(xs, ys):
                start, end = (int(x * 16), int(y * 16)), (int((x + dx) * 16), int((y + dy) * 16))
                cv2.line(img, start, end, (200, 210, 230, 130), 1, cv2.LINE_AA, shift=4)
        else:
            color, alpha = {"snow": ((250, 250, 255), 230), "fireflies": ((255, 236, 140), 230), "pollen": ((255, 250, 230), 120)}[kind]
            for x, y, r in zip(xs, ys, self.rng.uniform(0.8, 2.2, n)):
                self._ellipse(img, (x, y), (r, r), color, alpha)
            img = cv2.GaussianBlur(img, (0, 0), 0.7)
        return _Layer(img, (x0, y0), _DEPTH["air"], drift)

    def _slate(self, shot: ShotSpec) -> tuple[np.ndarray, tuple[int, int]]:
        """The small caption at the top-left (subtitles go at the bottom later)."""
        from PIL import Image, ImageDraw, ImageFont

        size = max(10, self.h // 26)
        font = ImageFont.truetype(str(find_cjk_font()), size)
        text = shot.text.strip().replace("\n", " ")
        lines = [f"Shot {shot.index + 1} · {shot.camera} · {shot.time_of_day}", text[:40] + ("…" if len(text) > 40 else "")]
        measure = ImageDraw.Draw(Image.new("L", (1, 1)))
        pad = max(3, size // 3)
        tw = int(max(measure.textlength(line, font=font) for line in lines if line)) + 2 * pad
        line_h = int(size * 1.25)
        th = line_h * len([line for line in lines if line]) + 2 * pad
        tw, th = min(tw, self.w - 8), min(th, self.h // 3)
        box = Image.new("RGBA", (tw, th), (0, 0, 0, 120))
        draw = ImageDraw.Draw(box)
        for i, line in enumerate(line for line in lines if line):
            draw.text((pad, pad + i * line_h), line, font=font, fill=(255, 255, 255, 235))
        rgba = np.asarray(box).astype(np.float32)
        rgba[..., :3] *= rgba[..., 3:4] / 255.0
        return rgba.round().astype(np.uint8), (max(4, self.w // 80), max(4, self.h // 60))

    # ---- per frame ------------------------------------------------------------------

    def _matrix(self, layer: _Layer, t: float) -> np.ndarray:
        cx, cy, zoom = self.camera.at(t)
        z = zoom**layer.depth
        dx, dy = layer.drift(t)
        ox, oy = layer.origin
        return np.array([[z, 0.0, z * (ox + dx - cx * layer.depth) + self.w / 2],
                         [0.0, z, z * (oy + dy - cy * layer.depth) + self.h / 2]])

    def render(self, i: int) -> np.ndarray:
        """Frame `i` as RGB uint8 (H, W, 3)."""
        t = i / self.frames * self.duration
        out = cv2.warpAffine(self.sky.image, self._matrix(self.sky, t), (self.w, self.h),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        for layer in self.layers:
            m = self._matrix(layer, t)
            bx0, by0, bx1, by1 = layer.box
            corners = m @ np.array([[bx0, bx1, bx0, bx1], [by0, by0, by1, by1], [1, 1, 1, 1]], np.float64)
            fx0, fy0 = max(0, int(corners[0].min()) - 1), max(0, int(corners[1].min()) - 1)
            fx1, fy1 = min(self.w, int(corners[0].max()) + 2), min(self.h, int(corners[1].max()) + 2)
            if fx1 <= fx0 or fy1 <= fy0:
                continue
            m[:, 2] -= (fx0, fy0)
            warped = cv2.warpAffine(layer.image, m, (fx1 - fx0, fy1 - fy0), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            _blend(out[fy0:fy1, fx0:fx1], warped)
        image, (sx, sy) = self.slate
        _blend(out[sy:sy + image.shape[0], sx:sx + image.shape[1]], image)
        return out


def _blended(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA `src` composited over RGB `dst`."""
    inverse = cv2.cvtColor(cv2.bitwise_not(np.ascontiguousarray(src[..., 3])), cv2.COLOR_GRAY2RGB)
    return cv2.add(cv2.multiply(np.ascontiguousarray(dst), inverse, scale=1 / 255), cv2.cvtColor(src, cv2.COLOR_RGBA2RGB))


def _blend(dst: np.ndarray, src: np.ndarray) -> None:
    """Composite premultiplied RGBA `src` over RGB `dst`, in place."""
    dst[:] = _blended(dst, src)


class AnimaticGenerator:
    """Draws a moving storyboard of each shot: offline, fast and deterministic."""

    name = "animatic"
    uses_gpu = False

    def __init__(self, settings: GenerationSettings) -> None:
        self.settings = settings

    def generate(
        self,
        shot: ShotSpec,
        *,
        seed: int,
        attempt: int,
        out_path: Path,
        progress: ProgressFn | None = None,
    ) -> GeneratedShot:
        """Render `shot` with `seed` into an MP4 at `out_path`."""
        s = self.settings
        started = time.perf_counter()
        scene = _Scene(shot, seed, s.width, s.height, s.fps)
        with PeakMemory(cuda=False) as memory, VideoWriter(out_path, s.width, s.height, s.fps) as writer:
            for i in range(scene.frames):
                writer.write(scene.render(i))
                if progress is not None and ((i + 1) % 12 == 0 or i + 1 == scene.frames):
                    progress(i + 1, scene.frames)
        return GeneratedShot(
            index=shot.index,
            attempt=attempt,
            path=Path(out_path),
            backend=self.name,
            model=None,
            seed=seed,
            width=s.width,
            height=s.height,
            fps=s.fps,
            frames=scene.frames,
            seconds_taken=round(time.perf_counter() - started, 3),
            peak_memory_mb=round(memory.peak_mb, 1),
            device="cpu",
        )
