"""One shot's scene: its layers drawn once, then each frame composited as the camera moves."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import cv2
import numpy as np

from generation.animatic import constellation, figures, landscape, weather
from generation.animatic.camera import Camera
from generation.animatic.draw import Layer, blend, mix, no_drift
from generation.animatic.light import OVERCAST, PALETTES, graded, overcast, sky_time
from generation.animatic.staging import read_staging
from reelgate.records import MOTION_WEIGHT_WORDS, ShotSpec


class Scene:
    """Everything drawn once for one shot: the layers, the camera and the slate."""

    def __init__(self, shot: ShotSpec, seed: int, width: int, height: int, fps: int, slug: bool = True) -> None:
        self.w, self.h = width, height
        self.frames = max(1, round(shot.duration_s * fps))
        self.duration = self.frames / fps
        subject_key = zlib.crc32(shot.subject.encode("utf-8"))
        self.rng = np.random.default_rng([seed, subject_key])
        self.staging = read_staging(shot)
        self.weather = self.staging.weather
        # A keyword's strength (ShotSpec.weights, or "(storm:1.5)" in the prompt): 1 draws exactly as without.
        self.weather_weight = shot.weight(self.weather) if self.weather != "clear" else 1.0
        self.speed = shot.weight(*MOTION_WEIGHT_WORDS)
        time_of_day = sky_time(shot.time_of_day, self.staging.settings)
        self.night = time_of_day == "night"
        self.overcast = self.weather in ("rain", "snow", "fog", "storm")  # hides sun, moon and stars
        grey, dark = OVERCAST[self.weather]
        pal = PALETTES.get(time_of_day, PALETTES["day"])
        self.col = {k: graded(overcast(v, grey, dark), shot.mood) for k, v in pal.items()}
        self.fog = graded(overcast(mix(pal["low"], (255, 255, 255), 0.35), 0.7, 1.0), shot.mood)
        self.horizon = 0.18 * height  # world y of the ground line (frame centre is 0)
        self.wind_side = float(self.rng.choice([-1, 1]))  # which way wind, rain and snow blow
        figures.place_subject(self, shot, np.random.default_rng([seed, subject_key, 1]))
        self.camera = Camera(shot.camera, self.duration, width, height, shot.shot_size, shot.angle, self.focus,
                             follow=self.subject_speed, speed=self.speed)

        self.sky = landscape.sky(self)
        far_air, near_air = weather.air(self)
        layers = [constellation.figure(self), landscape.clouds(self), weather.bolt(self), landscape.far(self),
                  landscape.mist(self), landscape.mid(self), landscape.waves(self), far_air, landscape.near(self),
                  figures.subject_layer(self), near_air, weather.fog_banks(self)]
        self.layers = [layer for layer in layers if layer is not None]
        self.flash = weather.flashes(self)
        self.slate = self._slate(shot) if slug else None

    # ---- helpers the drawing modules use -------------------------------------------

    def extent(self, depth: float, drift: Callable[[float], tuple[float, float]]) -> tuple[int, int, int, int]:
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

    def canvas(self, depth: float, drift=no_drift) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        x0, y0, x1, y1 = self.extent(depth, drift)
        return np.zeros((y1 - y0, x1 - x0, 4), np.uint8), (x0, y0, x1, y1)

    def ridge(self, xs: np.ndarray, base: float, amp: float, scale: float) -> np.ndarray:
        """A smooth random skyline height (world y) over world x, fixed by the seed."""
        y = np.full_like(xs, base, dtype=np.float64)
        for k in range(4):
            wavelength = scale * self.w / (1.7**k)
            phase = self.rng.uniform(0, 2 * math.pi)
            y -= amp / (1.6**k) * np.abs(np.sin(xs / wavelength * math.pi + phase))
        return y

    def tiled(self, depth: float, velocity: tuple[float, float], paint: Callable[[np.ndarray], None],
               sway: tuple[float, float] = (0.0, 0.0), blur: float = 0.0, role: str = "weather") -> Layer:
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
        x0, y0, x1, y1 = self.extent(depth, no_drift)
        x0, y0, x1 = x0 - tw - int(abs(amp)) - 2, y0 - th - 2, x1 + int(abs(amp)) + 2
        # Canvas pixel (y, x) is tile pixel (y mod th, x mod tw), world coordinates.
        start = np.roll(tile, (-(y0 % th), -(x0 % tw)), axis=(0, 1))
        canvas = np.tile(start, (-(-(y1 - y0) // th), -(-(x1 - x0) // tw), 1))[: y1 - y0, : x1 - x0]
        return Layer(np.ascontiguousarray(canvas), (x0, y0), depth, drift, role=role)

    def wrapped(self, x: float, y: float, margin: float) -> list[tuple[float, float]]:
        """A particle's position in a tile and its copies across the edges it is within `margin` of."""
        xs = [x] + ([x + self.w] if x < margin else []) + ([x - self.w] if x > self.w - margin else [])
        ys = [y] + ([y + self.h] if y < margin else []) + ([y - self.h] if y > self.h - margin else [])
        return [(a, b) for a in xs for b in ys]

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

    def _matrix(self, layer: Layer, t: float) -> np.ndarray:
        cx, cy, zoom = self.camera.at(t)
        z = zoom**layer.depth
        dx, dy = layer.drift(t)
        ox, oy = layer.origin
        zi = z / layer.scale
        return np.array([[zi, 0.0, z * (ox + dx - cx * layer.depth) + self.w / 2],
                         [0.0, zi, z * (oy + dy - cy * layer.depth) + self.h / 2 + self.camera.screen_dy]])

    def render(self, i: int, skip: frozenset[str] = frozenset()) -> np.ndarray:
        """Frame `i` as RGB uint8 (H, W, 3); `skip` leaves out layers of those roles (subject, weather)."""
        t = i / self.frames * self.duration
        out = cv2.warpAffine(self.sky.image, self._matrix(self.sky, t), (self.w, self.h),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        flash = self.flash.get(i, 0.0)
        for layer in self.layers:
            if (layer.flash_only and flash < 0.5) or layer.role in skip:
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
            blend(out[fy0:fy1, fx0:fx1], warped)
        if flash:  # lightning lights the whole scene for a moment
            light, strength = np.full_like(out, (225, 230, 255)), (0.5 if self.night else 0.35) * flash
            out = cv2.addWeighted(out, 1.0 - strength, light, strength, 0.0)
        if self.slate is not None:
            image, (sx, sy) = self.slate
            blend(out[sy:sy + image.shape[0], sx:sx + image.shape[1]], image)
        return out
