"""The offline default generator: a readable animatic of the shot, drawn from its fields.

Not a diffusion model: it paints a layered scene (sky, clouds, far terrain, mist, hills,
ground, a subject silhouette) coloured by time of day and mood, in the shot's weather
(rain, snow, fog, storm with lightning, wind), framed by its shot size and angle, then
moves a camera through it as the shot asks, with parallax between layers. Layers are
drawn once; weather particles are seamless tiles that travel at a constant velocity
(position = start + velocity * t, wrapped), so they move coherently, never redrawn at
random. Each frame is a few affine warps and alpha blends: a 640x360 second renders in
about 0.1-0.16 s on one core (scene and frames; encoding the MP4 is extra). Same shot
and seed give identical frames; another seed gives another composition. A small slug
(shot number, size, move) may sit at the top-left; the shot's words are never printed
(subtitles carry them).
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
_DEPTH = dict(sky=0.04, clouds=0.12, bolt=0.1, far=0.3, mist=0.45, mid=0.6, rain_far=0.7, near=1.0, air=1.1)
# shot size -> (zoom of the near layers, how far the view centres on the subject 0..1, subject scale)
_FRAMING: dict[str, tuple[float, float, float]] = {
    "extreme_wide": (0.85, 0.0, 0.6), "wide": (1.0, 0.0, 1.0), "medium": (1.35, 0.5, 1.0),
    "close_up": (2.0, 1.0, 1.0), "extreme_close_up": (3.0, 1.0, 1.0),
}
# angle -> (screen shift in frame heights, + lowers the horizon; zoom factor). A change of angle
# is a rotation: it shifts every layer alike, no parallax.
_ANGLES: dict[str, tuple[float, float]] = {
    "eye_level": (0.0, 1.0), "low": (0.2, 1.15), "high": (-0.16, 0.95), "birds_eye": (-0.4, 0.9),
}
# weather -> (how far the palette greys toward an overcast sky 0..1, how dark that grey is)
_OVERCAST: dict[str, tuple[float, float]] = {
    "clear": (0.0, 1.0), "wind": (0.1, 1.0), "rain": (0.45, 0.8), "snow": (0.6, 1.05), "fog": (0.6, 1.0),
    "storm": (0.65, 0.55),
}

_SUBJECT_WORDS = {
    "bird": ["bird", "eagle", "crow", "dragon", "swallow", "鸟", "鹰", "龙", "燕", "鹊", "鹤", "magpie", "crane", "owl", "phoenix", "凤"],
    "boat": ["boat", "ship", "sail", "船", "帆"],
    "house": ["house", "castle", "tower", "temple", "cabin", "lighthouse", "房", "城堡", "塔", "庙", "屋", "灯塔"],
    "tree": ["tree", "树"],
    "animal": ["cat", "dog", "fox", "wolf", "horse", "deer", "rabbit", "tiger", "bear", "animal",
               "猫", "狗", "狐", "狼", "马", "鹿", "兔", "虎", "熊"],
    "figure": ["girl", "boy", "man", "woman", "child", "person", "robot", "knight", "king", "queen",
               "maiden", "princess", "prince", "goddess", "god", "hero", "heroine", "hunter", "warrior",
               "soldier", "detective", "sailor", "fisherman", "farmer", "shepherd", "weaver", "herdsman",
               "女孩", "男孩", "人", "孩", "少年", "少女", "老人", "骑士", "机器人", "仙女", "女子", "男子",
               "侦探", "猎人", "将军", "英雄", "公主", "王子", "织女", "牛郎", "嫦娥", "后羿"],
}
# The kind is read from the subject first (a maiden chained before a sea monster is a
# maiden), then from the sentence. Names (Europa, 织女) and anything unknown are a
# neutral standing figure, never an animal drawn by chance.
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


def _overcast(color: RGB, amount: float, dark: float) -> RGB:
    """Grey a palette colour toward a cloudy sky's: `amount` of the way to its own grey times `dark`."""
    grey = (0.3 * color[0] + 0.59 * color[1] + 0.11 * color[2]) * dark
    return _mix(color, (grey, grey, min(255.0, grey * 1.06)), amount)


def _split(rgba: tuple[int, int, int, int]) -> tuple[tuple[int, int, int], int]:
    return rgba[:3], rgba[3]


def _premultiplied(color, alpha: int) -> tuple[int, int, int, int]:
    """An RGBA drawing colour that stays premultiplied when drawn on transparent black at `alpha` < 255."""
    return (*(int(round(c * alpha / 255)) for c in color), alpha)  # type: ignore[return-value]


def _has(words: list[str], text: str) -> bool:
    return any(w in text for w in words)


@dataclass
class _Layer:
    """A premultiplied RGBA image placed in world space and moved by the camera."""

    image: np.ndarray
    origin: tuple[float, float]  # world position of the image's top-left pixel
    depth: float
    drift: Callable[[float], tuple[float, float]]  # the layer's own motion (world px) at time t
    scale: float = 1.0  # image pixels per world pixel (a close-up's subject is drawn finer)
    flash_only: bool = False  # shown only while lightning lights the sky
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # x0, y0, x1, y1 of its visible content

    def __post_init__(self) -> None:
        alpha = self.image[..., 3] if self.image.shape[2] == 4 else np.full(self.image.shape[:2], 255, np.uint8)
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        self.box = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1) if len(rows) else (0, 0, 0, 0)


def _no_drift(t: float) -> tuple[float, float]:
    return 0.0, 0.0


class _Camera:
    """Camera position (world px) and zoom over time, from the shot's move, size and angle.

    Every move of the plan's vocabulary (reelgate.records.CameraMove) moves: pans, tilts and
    cranes travel; push, pull and zooms scale; a track travels with a slight push; handheld
    drifts with a smooth, seeded-free wobble (sums of slow sines, the same every render);
    an orbit swings side to side while closing in. Only "static" stands still.

    The framing sits under the move: the shot size sets a base zoom centred on `focus` (the
    subject, world px at its own depth), the angle shifts the whole picture up or down
    (`screen_dy`, px) so the horizon sits low (low angle) or high (high, bird's-eye).
    """

    def __init__(self, kind: str, duration: float, width: int, height: int, shot_size: str = "wide",
                 angle: str = "eye_level", focus: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> None:
        self.kind, self.duration = kind, duration
        self.width, self.height = width, height
        zoom, centring, _ = _FRAMING.get(shot_size, _FRAMING["wide"])
        shift, angle_zoom = _ANGLES.get(angle, _ANGLES["eye_level"])
        self.base_zoom = zoom * angle_zoom
        fx, fy, depth = focus
        # Centre on the subject: with parallax a layer of depth d sits at camera * d.
        self.base = (centring * fx / depth, centring * fy / depth)
        self.screen_dy = shift * height
        # Moves keep about the same speed on screen whatever the base zoom.
        travel = 1.0 / self.base_zoom
        pan_total = min(0.2 * height * duration, 1.2 * width) * travel
        tilt_total = min(0.1 * height * duration, 0.5 * height) * travel
        crane_total = min(0.14 * height * duration, 0.6 * height) * travel
        self.zoom_total = min(math.log(1.35) / 3.5 * duration, math.log(1.6))
        self.span = {"pan_left": (-pan_total, 0.0), "pan_right": (pan_total, 0.0),
                     "tilt_up": (0.0, -tilt_total), "tilt_down": (0.0, tilt_total),
                     "crane_up": (0.0, -crane_total), "crane_down": (0.0, crane_total),
                     "track": (0.8 * pan_total, 0.0)}.get(kind, (0.0, 0.0))

    def at(self, t: float) -> tuple[float, float, float]:
        """(x, y, zoom) at time t, framing included; smooth in time so motion is even."""
        x, y, zoom = self._move(t)
        return self.base[0] + x, self.base[1] + y, zoom * self.base_zoom

    def _move(self, t: float) -> tuple[float, float, float]:
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
            amp = 0.012 * self.height / self.base_zoom
            wobble_x = amp * (math.sin(2.1 * t) + 0.6 * math.sin(3.7 * t + 1.3) + 0.3 * math.sin(7.3 * t + 0.4))
            wobble_y = amp * (0.8 * math.sin(1.7 * t + 0.7) + 0.5 * math.sin(4.3 * t + 2.1))
            return 0.15 * self.width / self.base_zoom * (u - 0.5) + wobble_x, wobble_y, 1.04
        if self.kind == "orbit":
            swing = 0.35 * self.width / self.base_zoom * math.sin(math.pi * (u - 0.5))
            return swing, 0.0, math.exp(0.5 * self.zoom_total * u)
        return x, y, 1.0


class _Scene:
    """Everything drawn once for one shot: the layers, the camera and the slate."""

    def __init__(self, shot: ShotSpec, seed: int, width: int, height: int, fps: int, slug: bool = True) -> None:
        self.w, self.h = width, height
        self.frames = max(1, round(shot.duration_s * fps))
        self.duration = self.frames / fps
        words = " ".join([shot.subject, shot.action, shot.environment, shot.text, shot.prompt]).lower()
        subject_key = zlib.crc32(shot.subject.encode("utf-8"))
        self.rng = np.random.default_rng([seed, subject_key])
        self.weather = shot.weather
        if self.weather == "clear" and _has(_RAIN_WORDS, words):  # a plan written before the weather field
            self.weather = "rain"
        self.night = shot.time_of_day == "night"
        self.overcast = self.weather in ("rain", "snow", "fog", "storm")  # hides sun, moon and stars
        grey, dark = _OVERCAST[self.weather]
        pal = _PALETTES.get(shot.time_of_day, _PALETTES["day"])
        self.col = {k: _graded(_overcast(v, grey, dark), shot.mood) for k, v in pal.items()}
        self.fog = _graded(_overcast(_mix(pal["low"], (255, 255, 255), 0.35), 0.7, 1.0), shot.mood)
        self.ground = next((g for g, ws in _GROUND_WORDS.items() if _has(ws, words)), "grass")
        if self.weather == "snow" and self.ground != "water":
            self.ground = "snow"
        self.city = _has(_CITY_WORDS, words)
        self.forest = _has(_FOREST_WORDS, words)
        self.horizon = 0.18 * height  # world y of the ground line (frame centre is 0)
        self.wind_side = float(self.rng.choice([-1, 1]))  # which way wind, rain and snow blow
        self.subject = self._pick_subject(shot, seed)
        self._place_subject(shot, np.random.default_rng([seed, subject_key, 1]))
        self.camera = _Camera(shot.camera, self.duration, width, height, shot.shot_size, shot.angle, self.focus)

        self.sky = self._sky()
        far_air, near_air = self._air()
        layers = [self._clouds(), self._bolt(), self._far(), self._mist(), self._mid(), far_air, self._near(),
                  self._subject_layer(), near_air, self._fog_banks()]
        self.layers = [layer for layer in layers if layer is not None]
        self.flash = self._flashes()
        self.slate = self._slate(shot) if slug else None

    # ---- layout helpers -------------------------------------------------------------

    def _pick_subject(self, shot: ShotSpec, seed: int) -> str:
        for text in (shot.subject.lower(), shot.text.lower()):
            for kind, ws in _SUBJECT_WORDS.items():
                if text and _has(ws, text):
                    return kind
        return "figure"

    def _place_subject(self, shot: ShotSpec, rng: np.random.Generator) -> None:
        """Where the subject stands and how big it is; the camera frames it from there."""
        kind = self.subject
        zoom, _, scale = _FRAMING.get(shot.shot_size, _FRAMING["wide"])
        share = {"figure": 0.3, "animal": 0.22, "bird": 0.14, "boat": 0.3, "house": 0.4, "tree": 0.45}[kind]
        self.subject_size = share * self.h * scale
        self.subject_moves = kind in ("figure", "animal", "bird", "boat")
        self.subject_direction = float(rng.choice([-1, 1]))
        spread = 0.25 if self.subject_moves else 0.3
        self.subject_x = rng.uniform(-spread, spread) * self.w
        self.subject_ground = self.horizon + 0.16 * self.h if kind != "bird" else -0.25 * self.h
        self.subject_depth = _DEPTH["near"] if kind != "bird" else 0.5
        # A close-up looks at the upper body (the head, extreme close-up), a wider shot at the middle.
        lift = {"close_up": 0.6, "extreme_close_up": 0.78}.get(shot.shot_size, 0.5)
        self.focus = (self.subject_x, self.subject_ground - lift * self.subject_size, self.subject_depth)
        self.subject_zoom = zoom

    def _extent(self, depth: float, drift: Callable[[float], tuple[float, float]]) -> tuple[int, int, int, int]:
        """World rectangle (x0, y0, x1, y1) a layer must cover over the whole shot."""
        xs, ys = [], []
        for t in np.linspace(0.0, self.duration, 33):
            cx, cy, zoom = self.camera.at(float(t))
            z = zoom**depth
            dx, dy = drift(float(t))
            hw, hh, shift = self.w / (2 * z), self.h / (2 * z), self.camera.screen_dy / z
            xs += [cx * depth - dx - hw, cx * depth - dx + hw]
            ys += [cy * depth - dy - hh - shift, cy * depth - dy + hh - shift]
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

    @staticmethod
    def _fade(img: np.ndarray, toward: tuple[int, int, int], amount: float) -> None:
        """Blend a premultiplied layer's colour toward `toward` everywhere: fog swallowing it."""
        a = img[..., 3:4].astype(np.float32) / 255.0
        rgb = img[..., :3].astype(np.float32)
        rgb += (np.asarray(toward, np.float32) * a - rgb) * amount
        img[..., :3] = np.clip(rgb, 0, 255).astype(np.uint8)

    def _tiled(self, depth: float, velocity: tuple[float, float], paint: Callable[[np.ndarray], None],
               sway: tuple[float, float] = (0.0, 0.0), blur: float = 0.0) -> _Layer:
        """A layer of particles that travel at `velocity` (world px/s), swaying (amplitude px, Hz) sideways.

        `paint` draws one seamless tile (a frame's size); the layer repeats it, and its drift is
        start + velocity * t wrapped by the tile: every particle follows a straight path, the
        canvas stays small however long the shot, and a wrap is invisible.
        """
        tw, th = self.w, self.h
        (vx, vy), (amp, hz) = velocity, sway

        def drift(t: float) -> tuple[float, float]:
            return (vx * t) % tw + amp * math.sin(2 * math.pi * hz * t), (vy * t) % th

        tile = np.zeros((th, tw, 4), np.uint8)
        paint(tile)
        if blur:
            m = int(3 * blur) + 1
            tile = cv2.GaussianBlur(np.pad(tile, ((m, m), (m, m), (0, 0)), mode="wrap"), (0, 0), blur)[m:-m, m:-m]
        x0, y0, x1, y1 = self._extent(depth, _no_drift)
        x0, y0, x1 = x0 - tw - int(abs(amp)) - 2, y0 - th - 2, x1 + int(abs(amp)) + 2
        # Canvas pixel (y, x) is tile pixel (y mod th, x mod tw), world coordinates.
        start = np.roll(tile, (-(y0 % th), -(x0 % tw)), axis=(0, 1))
        canvas = np.tile(start, (-(-(y1 - y0) // th), -(-(x1 - x0) // tw), 1))[: y1 - y0, : x1 - x0]
        return _Layer(np.ascontiguousarray(canvas), (x0, y0), depth, drift)

    def _wrapped(self, x: float, y: float, margin: float) -> list[tuple[float, float]]:
        """A particle's position in a tile and its copies across the edges it is within `margin` of."""
        xs = [x] + ([x + self.w] if x < margin else []) + ([x - self.w] if x > self.w - margin else [])
        ys = [y] + ([y + self.h] if y < margin else []) + ([y - self.h] if y > self.h - margin else [])
        return [(a, b) for a in xs for b in ys]

    # ---- layers, far to near --------------------------------------------------------

    def _sky(self) -> _Layer:
        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["sky"])
        ys = np.arange(y0, y1, dtype=np.float32)
        u = np.clip((ys + self.h / 2) / (self.h / 2 + self.horizon), 0, 1)[:, None] ** 1.4
        top, low = (np.asarray(self.col[k], np.float32) for k in ("top", "low"))
        img[..., :3] = (top + (low - top) * u[..., None]).astype(np.uint8)
        img[..., 3] = 255
        if self.weather == "fog":
            sky = img[..., :3].astype(np.float32)
            img[..., :3] = (sky + (np.asarray(self.fog, np.float32) - sky) * 0.55).astype(np.uint8)
        if self.overcast:  # clouds hide the sun, the moon and the stars
            return _Layer(img[..., :3].copy(), (x0, y0), _DEPTH["sky"], _no_drift)
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
        speed = self.rng.choice([-1, 1]) * 0.1 * self.h * (2.5 if self.weather in ("wind", "storm") else 1.0)

        def drift(t: float) -> tuple[float, float]:
            return speed * t, 0.0

        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["clouds"], drift)
        # Rain and storms bring a heavier, lower cover.
        heavy = {"storm": 2.5, "rain": 1.8, "snow": 1.5}.get(self.weather, 1.0)
        n = max(3, int((x1 - x0) / self.w * 7 * heavy))
        alpha = 235 if self.overcast or not self.night else 170
        for _ in range(n):
            cx = self.rng.uniform(0, x1 - x0)
            cy = self.rng.uniform(-0.42, -0.12 + 0.04 * (heavy - 1)) * self.h - y0
            size = self.rng.uniform(0.05, 0.1) * self.h * math.sqrt(heavy)
            for _ in range(5):
                ox, oy = self.rng.uniform(-2.2, 2.2) * size, self.rng.uniform(-0.4, 0.3) * size
                axes = (size * self.rng.uniform(1.0, 1.8), size * self.rng.uniform(0.6, 1.0))
                self._ellipse(img, (cx + ox, cy + oy), axes, self.col["cloud"], alpha)
        img = cv2.GaussianBlur(img, (0, 0), 1.2)
        if self.weather == "fog":
            self._fade(img, self.fog, 0.5)
        return _Layer(img, (x0, y0), _DEPTH["clouds"], drift)

    def _bolt(self) -> _Layer | None:
        """A lightning bolt in the sky, shown only on the flash frames of a storm."""
        if self.weather != "storm":
            return None
        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["bolt"])
        x = self.rng.uniform(-0.3, 0.3) * self.w - x0
        top, bottom = -0.55 * self.h - y0, self.horizon - 0.08 * self.h - y0
        steps = 9
        ys = np.linspace(top, bottom, steps)
        xs = x + np.cumsum(self.rng.uniform(-0.045, 0.045, steps) * self.h)
        trunk = np.column_stack([xs, ys])
        fork_at = int(self.rng.integers(3, 6))
        fork = trunk[fork_at] + np.cumsum(
            np.column_stack([self.rng.uniform(0.01, 0.05, 4) * self.h * self.rng.choice([-1, 1]),
                             np.full(4, 0.06 * self.h)]), axis=0)
        fork = np.vstack([trunk[fork_at], fork])
        glow = np.zeros_like(img)
        for line, width in ((trunk, 1.0), (fork, 0.6)):
            pts = [np.round(line * 16).astype(np.int32)]
            cv2.polylines(glow, pts, False, (200, 210, 255, 160), max(2, int(self.h * 0.02 * width)), cv2.LINE_AA, shift=4)
            cv2.polylines(img, pts, False, (250, 250, 255, 255), max(1, int(self.h * 0.006 * width)), cv2.LINE_AA, shift=4)
        img = _over(img, cv2.GaussianBlur(glow, (0, 0), 0.01 * self.h + 1))
        return _Layer(img, (x0, y0), _DEPTH["bolt"], _no_drift, flash_only=True)

    def _flashes(self) -> dict[int, float]:
        """Lightning: how much each frame is lit (frame index -> 0..1), at times fixed by the seed."""
        if self.weather != "storm":
            return {}
        # A strike and its flicker, a few frames long; one or two per shot, well apart.
        envelope = (1.0, 0.35, 0.8, 0.25)
        count = 1 if self.duration < 3 else 2
        flash: dict[int, float] = {}
        slots = np.array_split(np.arange(self.frames), count)
        for slot in slots:
            usable = slot[: max(1, len(slot) - len(envelope))]
            start = int(self.rng.choice(usable[len(usable) // 5:] if len(usable) > 5 else usable))
            for k, level in enumerate(envelope):
                if start + k < self.frames:
                    flash[start + k] = level
        return flash

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
        if self.weather == "fog":
            self._fade(img, self.fog, 0.75)
        return _Layer(img, (x0, y0), _DEPTH["far"], _no_drift)

    def _mist(self) -> _Layer:
        speed = self.rng.choice([-1, 1]) * 0.12 * self.h * (2.0 if self.weather in ("wind", "storm") else 1.0)

        def drift(t: float) -> tuple[float, float]:
            return speed * t, 0.0

        img, (x0, y0, x1, y1) = self._canvas(_DEPTH["mist"], drift)
        thick = self.weather == "fog"
        n = max(3, int((x1 - x0) / self.w * (12 if thick else 6)))
        color = self.fog if thick else _mix(self.col["low"], (255, 255, 255), 0.3)
        for _ in range(n):
            cx, cy = self.rng.uniform(0, x1 - x0), self.horizon - self.rng.uniform(0.0, 0.08) * self.h - y0
            axes = (self.rng.uniform(0.12, 0.3) * self.w, (0.06 if thick else 0.025) * self.h)
            self._ellipse(img, (cx, cy), axes, color, 130 if thick else 90)
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
        if self.weather == "fog":
            self._fade(img, self.fog, 0.45)
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
        n = int((x1 - x0) * (y1 - top) / 260) if y1 > top + 6 else 0  # a low angle may show no ground
        light = _mix(color, self.col["light"], 0.35)
        dark = _mix(color, (0, 0, 0), 0.3)
        lean = {"wind": 0.9, "storm": 0.6}.get(self.weather, 0.0) * self.wind_side  # grass bent by the wind
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
                self._poly(img, np.array([[x - 1, y], [x + self.rng.uniform(-2, 2) + lean * L, y - L], [x + 1, y]]), c)
        self._shade(img, top - y0, _mix(color, (0, 0, 0), 0.5), 0.4)
        if self.weather == "fog":
            self._fade(img, self.fog, 0.2)
        return _Layer(img, (x0, y0), _DEPTH["near"], _no_drift)

    def _subject_layer(self) -> _Layer:
        s = self.h
        kind = self.subject
        color = _mix(self.col["near"], (0, 0, 0), 0.7)
        rim = _mix(self.col["low"], (255, 255, 255), 0.2)
        # Drawn finer for a close-up (image px per world px), so the zoom does not blur it.
        res = min(3.0, max(1.0, self.subject_zoom))
        size = self.subject_size * res
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

        moves, direction = self.subject_moves, self.subject_direction
        # A close-up keeps its subject in frame: it travels as far on screen as in a wide shot.
        speed = {"figure": 0.16, "animal": 0.2, "bird": 0.3, "boat": 0.1}.get(kind, 0.0) * s * direction / self.subject_zoom
        if direction < 0:
            img = img[:, ::-1].copy()
        bob_amp = {"figure": 0.012, "animal": 0.01, "bird": 0.03, "boat": 0.008}.get(kind, 0.0) * self.subject_size / 0.3
        bob_hz = {"figure": 1.8, "animal": 2.4, "bird": 0.8, "boat": 0.5}.get(kind, 0.0)
        half = self.duration / 2

        def drift(t: float) -> tuple[float, float]:
            # Walk through the middle of the frame at mid-shot; a smooth sinusoidal bob.
            return speed * (t - half), bob_amp * math.sin(2 * math.pi * bob_hz * t)

        if self.weather == "fog":
            self._fade(img, self.fog, 0.3)
        origin = (self.subject_x - ww / 2 / res, self.subject_ground - foot / res)
        return _Layer(img, origin, self.subject_depth, drift if moves else _no_drift, scale=res)

    def _air(self) -> tuple[_Layer | None, _Layer | None]:
        """Particles of the weather, (behind the subject, in front of everything).

        Rain streaks, snowflakes, wind-blown leaves; fireflies at night or drifting pollen when
        the sky is clear. Two depths of rain and snow give them parallax.
        """
        side, h = self.wind_side, self.h
        unit = h / 360  # particle sizes scale with the frame
        if self.weather in ("rain", "storm"):
            storm = self.weather == "storm"
            vx, vy = (0.12 if storm else 0.04) * h * side, (0.55 if storm else 0.45) * h
            colour = (120, 130, 150) if self.night else _mix(self.col["light"], (205, 215, 235), 0.6)
            far = self._streaks(vx, vy, max(5.0, 0.022 * h), 500 if storm else 900, colour, 90 if self.night else 130)
            near = self._streaks(vx, vy, max(8.0, (0.05 if storm else 0.035) * h), 500 if storm else 800, colour,
                                 150 if self.night else 210)
            # Soft streaks falling about half a frame a second: fast thin lines are what optical
            # flow cannot follow, and the quality check would call the shot boiling.
            return (self._tiled(_DEPTH["rain_far"], (0.7 * vx, 0.7 * vy), far, blur=0.8),
                    self._tiled(_DEPTH["air"], (vx, vy), near, blur=0.8))
        if self.weather == "snow" or (self.weather == "clear" and self.ground == "snow"):
            heavy = self.weather == "snow"
            vx, vy = 0.05 * h * side, 0.16 * h
            far = self._dots(500, (0.8, 1.4), (245, 245, 250), 210)
            near = self._dots(260 if heavy else 700, (1.2, 2.6), (250, 250, 255), 235)
            return (self._tiled(_DEPTH["rain_far"], (0.6 * vx, 0.6 * vy), far, sway=(0.02 * h, 0.3), blur=0.6) if heavy else None,
                    self._tiled(_DEPTH["air"], (vx, vy), near, sway=(0.03 * h, 0.22), blur=0.7))
        if self.weather == "wind":
            vx, vy = 0.7 * h * side, 0.06 * h
            return None, self._tiled(_DEPTH["air"], (vx, vy), self._leaves(5000 * unit**2), sway=(0.02 * h, 0.6))
        kind = "fireflies" if self.night else "pollen"
        vx, vy = {"fireflies": (0.06, -0.03), "pollen": (0.12, -0.02)}[kind]
        color, alpha = {"fireflies": ((255, 236, 140), 230), "pollen": ((255, 250, 230), 120)}[kind]
        fog = self.weather == "fog"
        density = {"fireflies": 3000, "pollen": 4000}[kind] * (3 if fog else 1)
        return None, self._tiled(_DEPTH["air"], (vx * h * side, vy * h), self._dots(density, (0.8, 2.2), color, alpha), blur=0.7)

    def _streaks(self, vx: float, vy: float, length: float, per: float, colour, alpha: int) -> Callable[[np.ndarray], None]:
        """Paints rain: thin streaks along the fall direction, one per `per` square px of the tile."""
        def paint(tile: np.ndarray) -> None:
            n = int(self.w * self.h / per)
            dx, dy = vx / math.hypot(vx, vy) * length, vy / math.hypot(vx, vy) * length
            c = _premultiplied(colour, alpha)
            for x, y in zip(self.rng.uniform(0, self.w, n), self.rng.uniform(0, self.h, n)):
                for px, py in self._wrapped(x, y, length + 2):
                    start, end = (int(px * 16), int(py * 16)), (int((px + dx) * 16), int((py + dy) * 16))
                    cv2.line(tile, start, end, c, 1, cv2.LINE_AA, shift=4)
        return paint

    def _dots(self, per: float, radius: tuple[float, float], colour, alpha: int) -> Callable[[np.ndarray], None]:
        """Paints round particles (snow, pollen, fireflies), one per `per` square px of the tile."""
        def paint(tile: np.ndarray) -> None:
            n = int(self.w * self.h / per) if per else 0
            unit = max(0.6, self.h / 360)
            rs = self.rng.uniform(*radius, n) * unit
            for x, y, r in zip(self.rng.uniform(0, self.w, n), self.rng.uniform(0, self.h, n), rs):
                for px, py in self._wrapped(x, y, r + 3):
                    self._ellipse(tile, (px, py), (r, r), *_split(_premultiplied(colour, alpha)))
        return paint

    def _leaves(self, per: float) -> Callable[[np.ndarray], None]:
        """Paints leaves for the wind: small tilted ovals in autumn and summer colours."""
        colours = [(196, 120, 48), (214, 160, 60), (150, 60, 40), _mix(self.col["near"], (255, 255, 255), 0.2)]
        def paint(tile: np.ndarray) -> None:
            n = max(6, int(self.w * self.h / per))
            unit = max(0.8, self.h / 360)
            for x, y in zip(self.rng.uniform(0, self.w, n), self.rng.uniform(0, self.h, n)):
                r = self.rng.uniform(3.0, 5.0) * unit
                colour = colours[int(self.rng.integers(len(colours)))]
                angle = self.rng.uniform(0, 180)
                for px, py in self._wrapped(x, y, r + 3):
                    self._ellipse(tile, (px, py), (r, r * 0.55), *_split(_premultiplied(colour, 240)), angle)
        return paint

    def _fog_banks(self) -> _Layer | None:
        """Fog: soft banks drifting slowly across the whole frame, in front of the scene."""
        if self.weather != "fog":
            return None
        def paint(tile: np.ndarray) -> None:
            for _ in range(10):
                x, y = self.rng.uniform(0, self.w), self.rng.uniform(0.2, 1.0) * self.h
                axes = (self.rng.uniform(0.2, 0.45) * self.w, self.rng.uniform(0.04, 0.09) * self.h)
                for px, py in self._wrapped(x, y, axes[0] + 2):
                    self._ellipse(tile, (px, py), axes, *_split(_premultiplied(self.fog, 70)))
        return self._tiled(0.8, (0.05 * self.h * self.wind_side, 0.0), paint, blur=0.03 * self.h)

    def _slate(self, shot: ShotSpec) -> tuple[np.ndarray, tuple[int, int]]:
        """The slug at the top-left: shot number, size and move (the words are the subtitles' job)."""
        text = f"{shot.index + 1}  {shot.shot_size.replace('_', ' ')}  {shot.camera.replace('_', ' ')}".upper()
        scale = max(0.3, self.h / 800)
        thick = 1
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        pad = max(2, int(th * 0.4))
        box = np.zeros((th + base + 2 * pad, tw + 2 * pad, 4), np.uint8)
        box[...] = (0, 0, 0, 110)
        cv2.putText(box, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (235, 235, 235, 255), thick, cv2.LINE_AA)
        # Text drawn over the box's premultiplied black: colour and alpha rise together.
        return box, (max(4, self.w // 80), max(4, self.h // 60))

    # ---- per frame ------------------------------------------------------------------

    def _matrix(self, layer: _Layer, t: float) -> np.ndarray:
        cx, cy, zoom = self.camera.at(t)
        z = zoom**layer.depth
        dx, dy = layer.drift(t)
        ox, oy = layer.origin
        zi = z / layer.scale
        return np.array([[zi, 0.0, z * (ox + dx - cx * layer.depth) + self.w / 2],
                         [0.0, zi, z * (oy + dy - cy * layer.depth) + self.h / 2 + self.camera.screen_dy]])

    def render(self, i: int) -> np.ndarray:
        """Frame `i` as RGB uint8 (H, W, 3)."""
        t = i / self.frames * self.duration
        out = cv2.warpAffine(self.sky.image, self._matrix(self.sky, t), (self.w, self.h),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        flash = self.flash.get(i, 0.0)
        for layer in self.layers:
            if layer.flash_only and flash < 0.5:
                continue
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
        if flash:  # lightning lights the whole scene for a moment
            light, strength = np.full_like(out, (225, 230, 255)), (0.5 if self.night else 0.35) * flash
            out = cv2.addWeighted(out, 1.0 - strength, light, strength, 0.0)
        if self.slate is not None:
            image, (sx, sy) = self.slate
            _blend(out[sy:sy + image.shape[0], sx:sx + image.shape[1]], image)
        return out


def _blended(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA `src` composited over RGB `dst`."""
    inverse = cv2.cvtColor(cv2.bitwise_not(np.ascontiguousarray(src[..., 3])), cv2.COLOR_GRAY2RGB)
    return cv2.add(cv2.multiply(np.ascontiguousarray(dst), inverse, scale=1 / 255), cv2.cvtColor(src, cv2.COLOR_RGBA2RGB))


def _over(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA `src` composited over premultiplied RGBA `dst`."""
    inverse = 1.0 - src[..., 3:4].astype(np.float32) / 255.0
    return np.clip(src.astype(np.float32) + dst.astype(np.float32) * inverse, 0, 255).round().astype(np.uint8)


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
        scene = _Scene(shot, seed, s.width, s.height, s.fps, slug=s.animatic_slug)
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
