"""The weather: particles that travel on straight paths (rain, snow, leaves, pollen), fog banks, lightning."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from generation.animatic.draw import DEPTH, Layer, ellipse, mix, no_drift, over, premultiplied, split_rgba

if TYPE_CHECKING:
    from generation.animatic.scene import Scene


def bolt(scene: Scene) -> Layer | None:
    """A lightning bolt in the sky, shown only on the flash frames of a storm."""
    if scene.weather != "storm":
        return None
    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["bolt"])
    x = scene.rng.uniform(-0.3, 0.3) * scene.w - x0
    top, bottom = -0.55 * scene.h - y0, scene.horizon - 0.08 * scene.h - y0
    steps = 9
    ys = np.linspace(top, bottom, steps)
    xs = x + np.cumsum(scene.rng.uniform(-0.045, 0.045, steps) * scene.h)
    trunk = np.column_stack([xs, ys])
    fork_at = int(scene.rng.integers(3, 6))
    fork = trunk[fork_at] + np.cumsum(
        np.column_stack([scene.rng.uniform(0.01, 0.05, 4) * scene.h * scene.rng.choice([-1, 1]),
                         np.full(4, 0.06 * scene.h)]), axis=0)
    fork = np.vstack([trunk[fork_at], fork])
    glow = np.zeros_like(img)
    for line, width in ((trunk, 1.0), (fork, 0.6)):
        pts = [np.round(line * 16).astype(np.int32)]
        cv2.polylines(glow, pts, False, (200, 210, 255, 160), max(2, int(scene.h * 0.02 * width)), cv2.LINE_AA, shift=4)
        cv2.polylines(img, pts, False, (250, 250, 255, 255), max(1, int(scene.h * 0.006 * width)), cv2.LINE_AA, shift=4)
    img = over(img, cv2.GaussianBlur(glow, (0, 0), 0.01 * scene.h + 1))
    return Layer(img, (x0, y0), DEPTH["bolt"], no_drift, flash_only=True, role="weather")


def flashes(scene: Scene) -> dict[int, float]:
    """Lightning: how much each frame is lit (frame index -> 0..1), at times fixed by the seed."""
    if scene.weather != "storm":
        return {}
    # A strike and its flicker, a few frames long; one or two per shot, well apart.
    envelope = (1.0, 0.35, 0.8, 0.25)
    count = 1 if scene.duration < 3 else 2
    flash: dict[int, float] = {}
    slots = np.array_split(np.arange(scene.frames), count)
    for slot in slots:
        usable = slot[: max(1, len(slot) - len(envelope))]
        start = int(scene.rng.choice(usable[len(usable) // 5:] if len(usable) > 5 else usable))
        for k, level in enumerate(envelope):
            if start + k < scene.frames:
                flash[start + k] = level
    return flash


def air(scene: Scene) -> tuple[Layer | None, Layer | None]:
    """Particles of the weather, (behind the subject, in front of everything).

    Rain streaks, snowflakes, wind-blown leaves; fireflies at night or drifting pollen when
    the sky is clear, dust in a room, nothing in front of a constellation. Two depths of
    rain and snow give them parallax.
    """
    side, h = scene.wind_side, scene.h
    unit = h / 360  # particle sizes scale with the frame
    if scene.weather in ("rain", "storm"):
        storm = scene.weather == "storm"
        vx, vy = (0.12 if storm else 0.04) * h * side, (0.55 if storm else 0.45) * h
        colour = (120, 130, 150) if scene.night else mix(scene.col["light"], (205, 215, 235), 0.6)
        far = _streaks(scene, vx, vy, max(5.0, 0.022 * h), 500 if storm else 900, colour, 90 if scene.night else 130)
        near = _streaks(scene, vx, vy, max(8.0, (0.05 if storm else 0.035) * h), 500 if storm else 800, colour,
                        150 if scene.night else 210)
        # Soft streaks falling about half a frame a second: fast thin lines are what optical
        # flow cannot follow, and the quality check would call the shot boiling.
        return (scene.tiled(DEPTH["rain_far"], (0.7 * vx, 0.7 * vy), far, blur=0.8),
                scene.tiled(DEPTH["air"], (vx, vy), near, blur=0.8))
    if scene.weather == "snow" or (scene.weather == "clear" and scene.staging.ground == "snow"):
        heavy = scene.weather == "snow"
        vx, vy = 0.05 * h * side, 0.16 * h
        far = _dots(scene, 500, (0.8, 1.4), (245, 245, 250), 210)
        near = _dots(scene, 260 if heavy else 700, (1.2, 2.6), (250, 250, 255), 235)
        return (scene.tiled(DEPTH["rain_far"], (0.6 * vx, 0.6 * vy), far, sway=(0.02 * h, 0.3), blur=0.6) if heavy else None,
                scene.tiled(DEPTH["air"], (vx, vy), near, sway=(0.03 * h, 0.22), blur=0.7))
    if scene.weather == "wind":
        vx, vy = 0.7 * h * side * _strength(scene), 0.06 * h  # a stronger wind blows faster too
        return None, scene.tiled(DEPTH["air"], (vx, vy), _leaves(scene, 5000 * unit**2), sway=(0.02 * h, 0.6))
    if "constellation" in scene.staging.settings and scene.staging.ground != "floor":
        return None, None  # a firefly in the sky reads as one more star: the figure stands alone
    # Indoors, a few pale motes of dust; outdoors fireflies at night, pollen by day.
    kind = "dust" if scene.staging.ground == "floor" else "fireflies" if scene.night else "pollen"
    vx, vy = {"fireflies": (0.06, -0.03), "pollen": (0.12, -0.02), "dust": (0.02, 0.01)}[kind]
    color, alpha = {"fireflies": ((255, 236, 140), 230), "pollen": ((255, 250, 230), 120),
                    "dust": ((235, 225, 205), 70)}[kind]
    fog = scene.weather == "fog"
    density = {"fireflies": 3000, "pollen": 4000, "dust": 9000}[kind] * (3 if fog else 1)
    return None, scene.tiled(DEPTH["air"], (vx * h * side, vy * h), _dots(scene, density, (0.8, 2.2), color, alpha), blur=0.7,
                               role="ambient")  # not weather: what a clear sky carries


def _strength(scene: Scene) -> float:
    """The weather word's weight (ShotSpec.weights, "(rain:1.5)"): 1 as planned, 2 twice the particles, 0 none."""
    return getattr(scene, "weather_weight", 1.0)


def _alpha(alpha: int, scene: Scene) -> int:
    """A particle's opacity under the weather's weight: fainter below 1, bolder above (capped), the same at 1."""
    strength = _strength(scene)
    return alpha if strength == 1.0 else min(255, round(alpha * (strength if strength < 1 else min(strength, 2.0) ** 0.5)))


def _weighted(scene: Scene, base: list[tuple], draw: Callable[[np.random.Generator, int], list[tuple]]) -> list[tuple]:
    """`base` particles (drawn from the scene's generator, as without a weight) thinned or added to by
    the weather's weight. Extra ones come from a generator of their own, so a weight changes only
    the weather: every later layer draws the same numbers it would without one."""
    strength = _strength(scene)
    if strength == 1.0:
        return base
    want = int(len(base) * strength)
    if want <= len(base):
        return base[:want]
    extra = np.random.default_rng([len(base), round(strength * 1000), 0x5EED])
    return base + draw(extra, want - len(base))


def _streaks(scene: Scene, vx: float, vy: float, length: float, per: float, colour, alpha: int) -> Callable[[np.ndarray], None]:
    """Paints rain: thin streaks along the fall direction, one per `per` square px of the tile."""
    def paint(tile: np.ndarray) -> None:
        n = int(scene.w * scene.h / per)
        dx, dy = vx / math.hypot(vx, vy) * length, vy / math.hypot(vx, vy) * length
        c = premultiplied(colour, _alpha(alpha, scene))
        base = list(zip(scene.rng.uniform(0, scene.w, n), scene.rng.uniform(0, scene.h, n)))
        for x, y in _weighted(scene, base, lambda g, k: list(zip(g.uniform(0, scene.w, k), g.uniform(0, scene.h, k)))):
            for px, py in scene.wrapped(x, y, length + 2):
                start, end = (int(px * 16), int(py * 16)), (int((px + dx) * 16), int((py + dy) * 16))
                cv2.line(tile, start, end, c, 1, cv2.LINE_AA, shift=4)
    return paint


def _dots(scene: Scene, per: float, radius: tuple[float, float], colour, alpha: int) -> Callable[[np.ndarray], None]:
    """Paints round particles (snow, pollen, fireflies), one per `per` square px of the tile."""
    def paint(tile: np.ndarray) -> None:
        n = int(scene.w * scene.h / per) if per else 0
        unit = max(0.6, scene.h / 360)
        rs = scene.rng.uniform(*radius, n) * unit
        base = list(zip(scene.rng.uniform(0, scene.w, n), scene.rng.uniform(0, scene.h, n), rs))
        if scene.weather == "snow":  # snowfall follows its weight; ambient motes keep their count

            def more(g: np.random.Generator, k: int) -> list[tuple]:
                r = g.uniform(*radius, k) * unit
                return list(zip(g.uniform(0, scene.w, k), g.uniform(0, scene.h, k), r))

            base = _weighted(scene, base, more)
        for x, y, r in base:
            for px, py in scene.wrapped(x, y, r + 3):
                ellipse(tile, (px, py), (r, r), *split_rgba(premultiplied(colour, alpha)))
    return paint


def _leaves(scene: Scene, per: float) -> Callable[[np.ndarray], None]:
    """Paints leaves for the wind: small tilted ovals in autumn and summer colours."""
    colours = [(196, 120, 48), (214, 160, 60), (150, 60, 40), mix(scene.col["near"], (255, 255, 255), 0.2)]
    def paint(tile: np.ndarray) -> None:
        n = max(6, int(scene.w * scene.h / per))
        unit = max(0.8, scene.h / 360)

        def leaves(g: np.random.Generator, k: int) -> list[tuple]:
            return [(x, y, g.uniform(3.0, 5.0) * unit, colours[int(g.integers(len(colours)))], g.uniform(0, 180))
                    for x, y in zip(g.uniform(0, scene.w, k), g.uniform(0, scene.h, k))]

        for x, y, r, colour, angle in _weighted(scene, leaves(scene.rng, n), leaves):
            for px, py in scene.wrapped(x, y, r + 3):
                ellipse(tile, (px, py), (r, r * 0.55), *split_rgba(premultiplied(colour, 240)), angle)
    return paint


def fog_banks(scene: Scene) -> Layer | None:
    """Fog: soft banks drifting slowly across the whole frame, in front of the scene."""
    if scene.weather != "fog":
        return None
    alpha = min(255, round(70 * _strength(scene)))  # the fog's weight: how thick its banks are

    def paint(tile: np.ndarray) -> None:
        for _ in range(10):
            x, y = scene.rng.uniform(0, scene.w), scene.rng.uniform(0.2, 1.0) * scene.h
            axes = (scene.rng.uniform(0.2, 0.45) * scene.w, scene.rng.uniform(0.04, 0.09) * scene.h)
            for px, py in scene.wrapped(x, y, axes[0] + 2):
                ellipse(tile, (px, py), axes, *split_rgba(premultiplied(scene.fog, alpha)))
    return scene.tiled(0.8, (0.05 * scene.h * scene.wind_side, 0.0), paint, blur=0.03 * scene.h)
