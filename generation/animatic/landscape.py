"""The setting, far to near: sky, clouds, far terrain, mist, hills or a wall, water, and the ground.

Each element of the staging's settings changes one layer, drawn once: mountains raise the far
terrain into peaks, plains flatten it; a forest fills the hills with trees, an ancient wall
stands in their place; the sea and a lake lie to the horizon with bands of waves that travel
slowly and coherently (a periodic layer that drifts, never redrawn); a river winds through the
ground toward the horizon; rocks rise as a cliff beside the subject; a room (interior) is a
back wall with a window and a door over a floor, with no sky or hills at all.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

from generation.animatic.constellation import milky_way, shows, turning
from generation.animatic.draw import (DEPTH, RGB, Layer, blended, ellipse, fade, mix, no_drift, poly, premultiplied, rect,
                                      shade, split_rgba)

if TYPE_CHECKING:
    from generation.animatic.scene import Scene


def _has(scene: Scene, setting: str) -> bool:
    return setting in scene.staging.settings


def _lit(scene: Scene, colour: RGB) -> RGB:
    """A bright material (snow, sand, stone) as the light of the shot shows it: dim and blue at night."""
    return mix(colour, scene.col["low"], 0.6) if scene.night else colour


def sky(scene: Scene) -> Layer:
    stars = shows(scene)
    drift = turning(scene) if stars else no_drift  # a constellation's sky wheels with it
    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["sky"], drift)
    if _has(scene, "interior"):  # the room's back wall covers it; a plain fill behind
        img[..., :3], img[..., 3] = _room_colours(scene)[0], 255
        return Layer(img[..., :3].copy(), (x0, y0), DEPTH["sky"], no_drift)
    ys = np.arange(y0, y1, dtype=np.float32)
    u = np.clip((ys + scene.h / 2) / (scene.h / 2 + scene.horizon), 0, 1)[:, None] ** 1.4
    top, low = (np.asarray(scene.col[k], np.float32) for k in ("top", "low"))
    img[..., :3] = (top + (low - top) * u[..., None]).astype(np.uint8)
    img[..., 3] = 255
    if scene.weather == "fog":
        sky = img[..., :3].astype(np.float32)
        img[..., :3] = (sky + (np.asarray(scene.fog, np.float32) - sky) * 0.55).astype(np.uint8)
    if scene.overcast:  # clouds hide the sun, the moon and the stars
        return Layer(img[..., :3].copy(), (x0, y0), DEPTH["sky"], no_drift)
    if stars:
        milky_way(scene, img, (x0, y0))
    if scene.night:
        n = int((x1 - x0) * (y1 - y0) / 900)
        sx, sy = scene.rng.uniform(0, x1 - x0, n), scene.rng.uniform(0, (y1 - y0) * 0.7, n)
        for x, y, r in zip(sx, sy, scene.rng.uniform(0.6, 1.6, n)):
            ellipse(img, (x, y), (r, r), (230, 230, 255))
    if stars:  # no moon: its glare would drown the constellation
        return Layer(img[..., :3].copy(), (x0, y0), DEPTH["sky"], drift)
    lx = scene.rng.uniform(-0.35, 0.35) * scene.w - x0
    ly = scene.rng.uniform(-0.38, -0.26) * scene.h - y0
    radius = (0.045 if scene.night else 0.06) * scene.h
    # A soft halo, blurred only in a patch around the disc (blurring the whole sky is slow).
    r = int(radius * 5)
    px0, py0 = max(0, int(lx) - r), max(0, int(ly) - r)
    patch = img[py0:int(ly) + r, px0:int(lx) + r]
    halo = np.zeros_like(patch)
    ellipse(halo, (lx - px0, ly - py0), (radius * 1.6,) * 2, scene.col["light"], 150)
    patch[..., :3] = blended(patch[..., :3], cv2.GaussianBlur(halo, (0, 0), radius))
    ellipse(img, (lx, ly), (radius, radius), scene.col["light"])
    if scene.night:  # a crescent: the sky colour over most of the disc
        shade = tuple(int(c) for c in img[int(ly), int(min(lx + 3 * radius, x1 - x0 - 1)), :3])
        ellipse(img, (lx + radius * 0.45, ly - radius * 0.2), (radius * 0.85,) * 2, shade)
    return Layer(img[..., :3].copy(), (x0, y0), DEPTH["sky"], no_drift)


def clouds(scene: Scene) -> Layer | None:
    if _has(scene, "interior") or (_has(scene, "constellation") and not scene.overcast):
        return None  # a room has no sky; a star myth's sky is clear
    speed = scene.rng.choice([-1, 1]) * 0.1 * scene.h * (2.5 if scene.weather in ("wind", "storm") else 1.0)

    def drift(t: float) -> tuple[float, float]:
        return speed * t, 0.0

    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["clouds"], drift)
    # Rain and storms bring a heavier, lower cover.
    heavy = {"storm": 2.5, "rain": 1.8, "snow": 1.5}.get(scene.weather, 1.0)
    n = max(3, int((x1 - x0) / scene.w * 7 * heavy))
    alpha = 235 if scene.overcast or not scene.night else 170
    for _ in range(n):
        cx = scene.rng.uniform(0, x1 - x0)
        cy = scene.rng.uniform(-0.42, -0.12 + 0.04 * (heavy - 1)) * scene.h - y0
        size = scene.rng.uniform(0.05, 0.1) * scene.h * math.sqrt(heavy)
        for _ in range(5):
            ox, oy = scene.rng.uniform(-2.2, 2.2) * size, scene.rng.uniform(-0.4, 0.3) * size
            axes = (size * scene.rng.uniform(1.0, 1.8), size * scene.rng.uniform(0.6, 1.0))
            ellipse(img, (cx + ox, cy + oy), axes, scene.col["cloud"], alpha)
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    if scene.weather == "fog":
        fade(img, scene.fog, 0.5)
    return Layer(img, (x0, y0), DEPTH["clouds"], drift)


def far(scene: Scene) -> Layer | None:
    """Far terrain: mountains, hills, dunes or a modern skyline; nothing over an open sea or in a room."""
    if _has(scene, "interior") or (_has(scene, "sea") and not _has(scene, "mountains")):
        return None
    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["far"])
    xs = np.arange(x0, x1 + 4, 4, dtype=np.float64)
    color = scene.col["far"]
    if scene.staging.ground == "sand":
        color = mix(color, (206, 168, 118), 0.55)
    if scene.staging.city:  # a skyline of blocks instead of mountains
        x = float(x0)
        while x < x1:
            bw = scene.rng.uniform(0.04, 0.1) * scene.w
            top = scene.horizon - scene.rng.uniform(0.12, 0.4) * scene.h
            rect(img, x - x0, top - y0, x + bw - x0, y1 - y0, color)
            if scene.night:  # lit windows
                for wy in np.arange(top + 6, scene.horizon - 4, 9):
                    for wx in np.arange(x + 4, x + bw - 4, 8):
                        if scene.rng.random() < 0.3:
                            rect(img, wx - x0, wy - y0, wx + 3 - x0, wy + 4 - y0, (250, 220, 140))
            x += bw + scene.rng.uniform(0, 0.02) * scene.w
    else:
        low = False
        if _has(scene, "mountains"):
            ys = _peaks(scene, xs, scene.horizon, 0.5 * scene.h)
        else:
            # Plains and a star myth's sky keep the far land low: a wide open sky; battlements
            # stand against the sky, not against grey hills of the same tone.
            low = (any(_has(scene, s) for s in ("plains", "constellation", "wall"))
                   or scene.staging.ground in ("sand", "water"))
            amp = (0.035 if _has(scene, "wall") else 0.06 if low else 0.2) * scene.h
            ys = scene.ridge(xs, scene.horizon - (0.0 if _has(scene, "wall") else 0.04) * scene.h, amp, 0.9)
        pts = np.column_stack([xs - x0, ys - y0])
        poly(img, np.vstack([pts, [[x1 - x0 + 4, y1 - y0], [0, y1 - y0]]]), color)
        snowy = _has(scene, "mountains") or scene.staging.ground == "snow" or _has(scene, "snowfield")
        if snowy or (scene.staging.ground == "grass" and not low and scene.rng.random() < 0.3):  # snow caps
            peaks = _has(scene, "mountains")  # every tall peak wears a cap, not only the highest
            snowline = max(ys.min() + 0.12 * scene.h, scene.horizon - 0.3 * scene.h) if peaks else ys.min() + 0.08 * scene.h
            cap = (0.08 if peaks else 0.05) * scene.h
            caps = np.column_stack([xs - x0, np.maximum(ys, np.minimum(ys + cap, snowline)) - y0])
            poly(img, np.vstack([pts, caps[::-1]]), mix(color, (245, 245, 250), 0.7))
    shade(img, scene.horizon - 0.35 * scene.h - y0, scene.col["low"], 0.45)
    if scene.weather == "fog":
        fade(img, scene.fog, 0.75)
    return Layer(img, (x0, y0), DEPTH["far"], no_drift)


def _peaks(scene: Scene, xs: np.ndarray, base: float, height: float) -> np.ndarray:
    """A mountain range (world y over world x): a few tall sharp peaks with jagged slopes, fixed by the seed."""
    span = xs[-1] - xs[0]
    n = max(3, int(span / scene.w * 5))
    ys = np.full_like(xs, base - 0.05 * height)
    for cx in np.linspace(xs[0], xs[-1], n) + scene.rng.uniform(-0.3, 0.3, n) * span / n:
        top = scene.rng.uniform(0.55, 1.0) * height
        slope = scene.rng.uniform(0.9, 1.5) * height / (0.3 * scene.w)
        ys = np.minimum(ys, base - top + slope * np.abs(xs - cx))
    jag = np.interp(xs, xs[::3], scene.rng.uniform(-1, 1, len(xs[::3]))) * 0.012 * scene.h
    return ys + jag


def mist(scene: Scene) -> Layer | None:
    if _has(scene, "interior"):
        return None
    speed = scene.rng.choice([-1, 1]) * 0.12 * scene.h * (2.0 if scene.weather in ("wind", "storm") else 1.0)

    def drift(t: float) -> tuple[float, float]:
        return speed * t, 0.0

    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["mist"], drift)
    thick = scene.weather == "fog"
    n = max(3, int((x1 - x0) / scene.w * (12 if thick else 6)))
    color = scene.fog if thick else mix(scene.col["low"], (255, 255, 255), 0.3)
    for _ in range(n):
        cx, cy = scene.rng.uniform(0, x1 - x0), scene.horizon - scene.rng.uniform(0.0, 0.08) * scene.h - y0
        axes = (scene.rng.uniform(0.12, 0.3) * scene.w, (0.06 if thick else 0.025) * scene.h)
        ellipse(img, (cx, cy), axes, color, 130 if thick else 90)
    img = cv2.GaussianBlur(img, (0, 0), 4)
    return Layer(img, (x0, y0), DEPTH["mist"], drift)


def mid(scene: Scene) -> Layer:
    """The middle distance: hills (with trees, a forest, or a winding river), a city wall, open water, or a room's wall."""
    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["mid"])
    if _has(scene, "interior"):
        _room(scene, img, (x0, y0, x1, y1))
        return Layer(img, (x0, y0), DEPTH["mid"], no_drift)
    xs = np.arange(x0, x1 + 4, 4, dtype=np.float64)
    sea = _has(scene, "sea")
    flat = _has(scene, "plains") or _has(scene, "wall") or scene.staging.ground == "water"  # no hill over a wall
    ys = scene.ridge(xs, scene.horizon + 0.04 * scene.h, (0.03 if flat else 0.1) * scene.h, 1.4)
    pts = np.column_stack([xs - x0, ys - y0])
    color = scene.col["mid"]
    if scene.staging.ground == "sand":
        color = mix(_lit(scene, (214, 176, 120)), color, 0.25)
    elif scene.staging.ground == "snow":
        color = mix(color, _lit(scene, (232, 236, 244)), 0.6)
    if not sea:
        poly(img, np.vstack([pts, [[x1 - x0 + 4, y1 - y0], [0, y1 - y0]]]), color)
    if _has(scene, "forest"):
        _forest(scene, img, (x0, y0, x1, y1), xs, ys, color)
    elif not (sea or flat) and scene.staging.ground != "sand" and scene.rng.random() < 0.5:
        dark = mix(color, (0, 0, 0), 0.25)  # a row of trees along the hills
        for x in np.arange(x0, x1, scene.rng.uniform(0.025, 0.05) * scene.w):
            gx = x + scene.rng.uniform(-6, 6)
            base = np.interp(gx, xs, ys) + 4
            th = scene.rng.uniform(0.06, 0.12) * scene.h
            tree = [[gx - th * 0.25, base], [gx, base - th], [gx + th * 0.25, base]]
            poly(img, np.array(tree) - (x0, y0), dark)
    if _has(scene, "wall"):
        _city_wall(scene, img, (x0, y0, x1, y1))
    if scene.staging.ground == "water":  # the sea to the horizon, a lake before its far shore
        _water(scene, img, (x0, y0, x1, y1), _water_top(scene))
    shade(img, scene.horizon - 0.1 * scene.h - y0, scene.col["low"], 0.25)
    if scene.weather == "fog":
        fade(img, scene.fog, 0.45)
    return Layer(img, (x0, y0), DEPTH["mid"], no_drift)


def _forest(scene: Scene, img: np.ndarray, box: tuple[int, int, int, int], xs: np.ndarray, ys: np.ndarray,
            color: RGB) -> None:
    """Dense conifers over the hills: a darker back row, a taller front row, trunks touching."""
    x0, y0, x1, _ = box
    for row, (shade_to, height, step) in enumerate(((0.35, (0.1, 0.16), 0.014), (0.2, (0.13, 0.24), 0.02))):
        dark = mix(color, (0, 0, 0), shade_to)
        light = mix(dark, scene.col["light"], 0.12)
        for x in np.arange(x0, x1, step * scene.w):
            gx = x + scene.rng.uniform(-0.4, 0.4) * step * scene.w
            base = np.interp(gx, xs, ys) + (2 + 0.02 * scene.h * row)
            th = scene.rng.uniform(*height) * scene.h
            half = th * 0.22
            tree = np.array([[gx - half, base], [gx, base - th], [gx + half, base]]) - (x0, y0)
            poly(img, tree, dark)
            poly(img, np.array([[gx, base - th], [gx + half, base], [gx + half * 0.3, base]]) - (x0, y0), light)


def _city_wall(scene: Scene, img: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """An ancient city wall across the view: crenellated battlements, coursed stone, a gate tower."""
    x0, y0, x1, y1 = box
    h, w = scene.h, scene.w
    stone = mix(mix(_lit(scene, (158, 142, 118)), scene.col["far"], 0.35), scene.col["light"], 0.1)
    dark = mix(stone, (0, 0, 0), 0.35)
    top, base = scene.horizon - 0.1 * h, y1
    merlon_h, period = 0.035 * h, max(8.0, round(0.04 * w))
    rect(img, 0, top - y0, x1 - x0, base - y0, stone)
    # Battlements: merlons at a fixed period, the notches between them show the sky.
    start = x0 - (x0 % period)
    for mx in np.arange(start, x1 + period, period):
        rect(img, mx - x0, top - merlon_h - y0, mx + 0.6 * period - x0, top + 1 - y0, stone)
    # Stone courses and a shadow under the wall walk.
    # Marks on an opaque layer are drawn opaque, their colour pre-mixed: a translucent colour
    # would replace the layer's alpha and open a hole onto what lies behind.
    rect(img, 0, top - y0, x1 - x0, top + 0.012 * h - y0, mix(stone, dark, 0.8))
    for cy in np.arange(top + 0.035 * h, scene.horizon + 0.1 * h, 0.03 * h):
        cv2.line(img, (0, int((cy - y0) * 16)), (int((x1 - x0) * 16), int((cy - y0) * 16)), (*mix(stone, dark, 0.6), 255),
                 1, cv2.LINE_AA, shift=4)
    # The gate tower: taller, its own battlements, a dark arched gate at its foot.
    gx = scene.rng.uniform(-0.3, 0.3) * w
    if abs(gx - scene.subject_x) < 0.12 * w:  # not hidden behind the subject
        gx += 0.25 * w * (1 if gx >= scene.subject_x else -1)
    tw, tt = 0.16 * w, top - 0.13 * h
    rect(img, gx - tw / 2 - x0, tt - y0, gx + tw / 2 - x0, base - y0, mix(stone, scene.col["light"], 0.08))
    tp = tw / 5
    for k in range(3):
        mx = gx - tw / 2 + k * 2 * tp
        rect(img, mx - x0, tt - merlon_h - y0, mx + tp - x0, tt + 1 - y0, mix(stone, scene.col["light"], 0.08))
    gate_w, gate_top = 0.06 * w, scene.horizon - 0.03 * h
    foot = scene.horizon + 0.1 * h
    gate = [[gx - gate_w / 2, foot], [gx - gate_w / 2, gate_top], [gx, gate_top - gate_w * 0.45], [gx + gate_w / 2, gate_top],
            [gx + gate_w / 2, foot]]
    poly(img, np.array(gate) - (x0, y0), mix(dark, (0, 0, 0), 0.55))
    for k in (-1, 1):  # arrow slits on the tower
        sx = gx + k * tw * 0.25
        rect(img, sx - 1.5 - x0, tt + 0.04 * h - y0, sx + 1.5 - x0, tt + 0.08 * h - y0, dark)


def _water_top(scene: Scene) -> float:
    """World y (at mid depth) where water begins: the horizon for the sea, below the far shore for a lake."""
    return scene.horizon - (0.02 if _has(scene, "sea") else -0.03) * scene.h


def _water_colours(scene: Scene) -> tuple[RGB, RGB]:
    """(water at the horizon, water near): the sky's light far off, deeper blue near."""
    deep = (18, 58, 96) if _has(scene, "sea") else (34, 78, 96)
    return (mix(scene.col["low"], deep, 0.35), mix(scene.col["top"], deep, 0.55))


def _water(scene: Scene, img: np.ndarray, box: tuple[int, int, int, int], top: float) -> None:
    """Open water from `top` down: a smooth gradient, lighter toward the horizon."""
    x0, y0, x1, y1 = box
    far_c, near_c = (np.asarray(c, np.float32) for c in _water_colours(scene))
    r0 = max(0, int(round(top - y0)))
    rows = np.arange(r0, y1 - y0, dtype=np.float32)
    u = np.clip((rows - r0) / (0.3 * scene.h), 0, 1)[:, None] ** 0.7
    img[r0:, :, :3] = (far_c + (near_c - far_c) * u[..., None]).astype(np.uint8)
    img[r0:, :, 3] = 255


def waves(scene: Scene) -> Layer | None:
    """Bands of waves on the sea or a lake, travelling slowly sideways: one periodic layer that drifts.

    The pattern repeats every `period` px, and the layer's drift wraps by that period, so the
    bands move at a constant speed forever without a jump; each crest is a smooth sinusoid,
    blurred a little, so optical flow follows it and nothing flickers. Rough water (a storm,
    wind) has higher, closer crests with whitecaps.
    """
    if scene.staging.ground != "water":
        return None
    rough = scene.weather in ("storm", "wind") or scene.staging.water == "rough"
    period = int(round(0.5 * scene.w))
    speed = scene.wind_side * (0.05 if rough else 0.025) * scene.h  # world px a second

    def drift(t: float) -> tuple[float, float]:
        return (speed * t) % period, 0.0

    x0, y0, x1, y1 = scene.extent(DEPTH["mid"], no_drift)
    x0 -= period
    top = _water_top(scene)
    y0 = int(top) - 4
    img = np.zeros((y1 - y0, x1 - x0, 4), np.uint8)
    far_c, near_c = _water_colours(scene)
    foam = mix(scene.col["light"], (240, 244, 250), 0.6)
    xs = np.arange(x0, x1 + 2, 2, dtype=np.float64)
    depth_span = y1 - top
    bands = 22 if rough else 16
    for k in range(1, bands + 1):
        u = k / bands
        y = top + depth_span * u**1.7
        amp = (0.002 + (0.016 if rough else 0.007) * u) * scene.h
        cycles = max(1, int(round((14 if rough else 10) * (1.15 - u))))  # far waves are finer
        phase = scene.rng.uniform(0, 2 * math.pi)
        crest = y - amp * np.sin(2 * math.pi * cycles * xs / period + phase)
        pts = np.round(np.column_stack([xs - x0, crest - y0]) * 16).astype(np.int32)
        thick = max(1, int(round((0.6 + 2.2 * u) * scene.h / 360)))
        trough = mix(mix(far_c, near_c, u), (0, 0, 0), 0.3)
        cv2.polylines(img, [pts + (0, int(thick * 16))], False, (*(int(c * 0.7) for c in trough), 180), thick,
                      cv2.LINE_AA, shift=4)
        alpha = int((110 + 100 * u) if rough else (80 + 90 * u))
        cv2.polylines(img, [pts], False, (*(int(c * alpha / 255) for c in foam), alpha), thick, cv2.LINE_AA, shift=4)
        if rough:  # whitecaps on the crests
            peaks = xs[np.isclose(np.sin(2 * math.pi * cycles * xs / period + phase), 1.0, atol=0.02)]
            for px in peaks:
                ellipse(img, (px - x0, y - amp - y0), (amp * 1.1 + 1, amp * 0.4 + 0.6),
                        *split_rgba(premultiplied(foam, 200)))
    img = cv2.GaussianBlur(img, (0, 0), 0.7 * max(1.0, scene.h / 360))
    if scene.weather == "fog":
        fade(img, scene.fog, 0.45)
    return Layer(img, (x0, y0), DEPTH["mid"], drift)


def _river(scene: Scene, img: np.ndarray, origin: tuple[int, int], top: float, bottom: float) -> None:
    """A river winding from the foreground to the horizon: a ribbon narrowing with distance, lit edges.

    Its path is a function of world y fixed by the shot's seed.
    """
    x0, y0 = origin
    rng = np.random.default_rng([int(abs(scene.subject_x) * 100), int(scene.wind_side > 0)])
    phase, centre = rng.uniform(0, 2 * math.pi), rng.uniform(-0.15, 0.15) * scene.w
    ys = np.linspace(top, bottom, 60)
    u = np.clip((ys - scene.horizon) / (0.32 * scene.h), 0, None)  # 0 at the horizon, 1 at the frame's foot
    xs = centre + 0.2 * scene.w * np.minimum(u, 1.2) * np.sin(5.0 * u + phase)
    half = (0.008 + 0.13 * np.minimum(u, 1.0) ** 1.4 + 0.04 * np.maximum(u - 1.0, 0)) * scene.w
    far_c, near_c = _water_colours(scene)
    left, right = np.column_stack([xs - half, ys]), np.column_stack([xs + half, ys])
    bank = mix(scene.col["near"], (0, 0, 0), 0.35)
    grow = np.column_stack([np.full_like(ys, 1.5 + 2 * u.mean()), np.zeros_like(ys)])
    poly(img, np.vstack([left - grow, (right + grow)[::-1]]) - (x0, y0), bank)
    stream = mix(far_c, near_c, 0.5)
    poly(img, np.vstack([left, right[::-1]]) - (x0, y0), stream)
    glint = mix(scene.col["light"], (255, 255, 255), 0.3)
    for k in range(4, 60, 3):  # glints on the stream, short and staggered
        w2, off = half[k] * 0.3, half[k] * 0.4 * math.sin(2.3 * k)
        poly(img, np.array([[xs[k] + off - w2, ys[k]], [xs[k] + off + w2, ys[k]], [xs[k] + off + w2, ys[k] + 1.2],
                            [xs[k] + off - w2, ys[k] + 1.2]]) - (x0, y0), mix(stream, glint, 0.4))


def _room_colours(scene: Scene) -> tuple[RGB, RGB]:
    """(back wall, floor) of a room: plaster and wood, lit warm and dimmer at night."""
    wall = mix((196, 176, 146), scene.col["light"], 0.15)
    floor = mix((120, 84, 56), scene.col["light"], 0.08)
    if scene.night:  # lamplight
        wall, floor = mix(wall, (70, 48, 32), 0.55), mix(floor, (30, 20, 14), 0.55)
    return wall, floor


def _room(scene: Scene, img: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """A room's back wall: plaster, a ceiling beam, skirting, a window onto the sky, a door."""
    x0, y0, x1, y1 = box
    h, w = scene.h, scene.w
    wall, _ = _room_colours(scene)
    trim = mix(wall, (60, 40, 28), 0.55)
    img[..., :3], img[..., 3] = wall, 255
    rect(img, 0, -0.5 * h - y0 - 0.2 * h, x1 - x0, -0.41 * h - y0, trim)  # ceiling beam
    floor_line = scene.horizon + 0.1 * h
    rect(img, 0, floor_line - 0.05 * h - y0, x1 - x0, y1 - y0, trim)  # skirting down to the floor
    side = -1.0 if scene.subject_x > 0 else 1.0  # window on the far side from the subject
    for cx, kind in ((side * 0.28 * w, "window"), (-side * 0.36 * w, "door")):
        if kind == "window":
            ww, top, bottom = 0.2 * w, -0.3 * h, -0.02 * h
            rect(img, cx - ww / 2 - 4 - x0, top - 4 - y0, cx + ww / 2 + 4 - x0, bottom + 6 - y0, trim)
            r0, r1 = int(top - y0), int(bottom - y0)
            c0, c1 = int(cx - ww / 2 - x0), int(cx + ww / 2 - x0)
            u = np.linspace(0, 1, max(1, r1 - r0))[:, None, None]
            sky_top, sky_low = (np.asarray(scene.col[c], np.float32) for c in ("top", "low"))
            img[r0:r1, c0:c1, :3] = (sky_top + (sky_low - sky_top) * u).astype(np.uint8)
            if scene.night:
                ellipse(img, (cx + 0.04 * w - x0, top + 0.07 * h - y0), (0.02 * h, 0.02 * h), scene.col["light"])
            for mx in (cx,):  # mullions
                rect(img, mx - 1.5 - x0, top - y0, mx + 1.5 - x0, bottom - y0, trim)
            rect(img, c0, (top + bottom) / 2 - 1.5 - y0, c1, (top + bottom) / 2 + 1.5 - y0, trim)
        else:
            dw, top = 0.12 * w, floor_line - 0.36 * h
            rect(img, cx - dw / 2 - 4 - x0, top - 4 - y0, cx + dw / 2 + 4 - x0, floor_line - y0, trim)
            rect(img, cx - dw / 2 - x0, top - y0, cx + dw / 2 - x0, floor_line - y0, mix(trim, (0, 0, 0), 0.3))
            ellipse(img, (cx + dw * 0.32 - x0, top + 0.2 * h - y0), (2, 2), (200, 170, 90))


def _cliff(scene: Scene, img: np.ndarray, origin: tuple[int, int], bottom: float) -> None:
    """A rock cliff rising at the subject's side of the frame, behind it (Andromeda's rock by the sea).

    A craggy face of leaning facets, lit on their upper edges, with boulders at its foot.
    """
    x0, y0 = origin
    h, w = scene.h, scene.w
    rng = scene.rng
    side = 1.0 if scene.subject_x >= 0 else -1.0
    inner = scene.subject_x - side * 0.1 * w  # its face a little past the subject
    outer = side * 1.5 * w
    top = scene.horizon - 0.34 * h
    rock = mix(mix(_lit(scene, (112, 102, 94)), scene.col["far"], 0.35), scene.col["light"], 0.08)
    dark, light = mix(rock, (0, 0, 0), 0.4), mix(rock, scene.col["light"], 0.3)
    n = 12
    ys = np.linspace(top, bottom, n)
    face = inner + side * (rng.uniform(0, 0.05, n) * w + np.linspace(0.1, 0, n) * w)
    crest_x = np.linspace(face[0], outer, 8)
    crest_y = top - rng.uniform(0, 0.07, 8) * h
    crest_y[0] = top + 0.02 * h
    outline = np.vstack([np.column_stack([face, ys])[::-1], np.column_stack([crest_x, crest_y]), [[outer, bottom]]])
    poly(img, outline - (x0, y0), rock)
    # Facets: darker wedges leaning into the rock, a lit edge along each.
    for k in range(1, n - 1, 2):
        fx, fy = face[k], ys[k]
        reach = rng.uniform(0.06, 0.16) * w
        tip = (fx + side * reach, fy + rng.uniform(-0.05, 0.01) * h)
        poly(img, np.array([[fx, fy], tip, [fx + side * reach * 0.5, fy + 0.05 * h]]) - (x0, y0), mix(rock, dark, 0.8))
        cv2.line(img, (int((fx - x0) * 16), int((fy - y0) * 16)), (int((tip[0] - x0) * 16), int((tip[1] - y0) * 16)),
                 (*light, 255), 1, cv2.LINE_AA, shift=4)
    for cx in crest_x[1:-1]:  # the lit brow
        cy = np.interp(cx * side, crest_x * side, crest_y)
        cv2.line(img, (int((cx - x0) * 16), int((cy - y0) * 16)),
                 (int((cx + side * 0.05 * w - x0) * 16), int((cy + 0.015 * h - y0) * 16)), (*light, 255), 1,
                 cv2.LINE_AA, shift=4)
    for _ in range(3):  # boulders at its foot
        bx = inner + side * rng.uniform(-0.06, 0.02) * w
        by = scene.subject_ground + rng.uniform(-0.01, 0.05) * h
        r = rng.uniform(0.025, 0.05) * h
        ellipse(img, (bx - x0, by - y0), (r * 1.5, r), rock)
        ellipse(img, (bx - x0 - side * r * 0.3, by - y0 - r * 0.35), (r * 0.8, r * 0.35), mix(rock, light, 0.6))


def near(scene: Scene) -> Layer:
    """The ground at the subject's feet: grass, sand, snow, a beach by the water, a floor; a river, a cliff."""
    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["near"])
    if _has(scene, "interior"):
        _floor(scene, img, (x0, y0, x1, y1))
        return Layer(img, (x0, y0), DEPTH["near"], no_drift)
    xs = np.arange(x0, x1 + 4, 4, dtype=np.float64)
    top = scene.horizon + 0.1 * scene.h
    ys = top + 0.03 * scene.h * np.sin(xs / scene.w * 2.5 + scene.rng.uniform(0, 6.3))
    water = scene.staging.ground == "water"
    # By the water the ground is a shore: a beach (rocks: a rock shelf) below the waterline.
    grounds = {"snow": mix(_lit(scene, (235, 238, 245)), scene.col["top"], 0.15),
               "sand": mix(_lit(scene, (222, 190, 134)), scene.col["near"], 0.15)}
    color = grounds.get(scene.staging.ground, scene.col["near"])
    if water:
        beach = (96, 90, 86) if _has(scene, "rocks") else (190, 168, 128)  # a rock shelf or sand
        color = mix(_lit(scene, beach), scene.col["near"], 0.45)
        top = scene.horizon + 0.13 * scene.h
        ys = top + 0.012 * scene.h * np.sin(xs / scene.w * 5 + scene.rng.uniform(0, 6.3))
    pts = np.column_stack([xs - x0, ys - y0])
    poly(img, np.vstack([pts, [[x1 - x0 + 4, y1 - y0], [0, y1 - y0]]]), color)
    if water:  # wet sand and a line of foam along the waterline
        cv2.polylines(img, [np.round(pts * 16).astype(np.int32)], False, (*mix(color, (250, 250, 250), 0.6), 255),
                      max(1, int(scene.h / 200)), cv2.LINE_AA, shift=4)
    # Texture (strokes, pebbles) gives the eye and optical flow something to follow.
    n = int((x1 - x0) * (y1 - top) / 260) if y1 > top + 6 else 0  # a low angle may show no ground
    light = mix(color, scene.col["light"], 0.35)
    dark = mix(color, (0, 0, 0), 0.3)
    lean = {"wind": 0.9, "storm": 0.6}.get(scene.weather, 0.0) * scene.wind_side  # grass bent by the wind
    tall = 1.6 if _has(scene, "plains") else 1.0
    for _ in range(max(0, n)):
        x = scene.rng.uniform(0, x1 - x0)
        y = scene.rng.uniform(top + 6, y1) - y0
        depth = (y + y0 - top) / max(1.0, y1 - top)
        c = light if scene.rng.random() < 0.5 else dark
        if water or scene.staging.ground == "sand":
            L = 2 + 5 * depth
            poly(img, np.array([[x - L, y], [x + L, y], [x + L, y + 1.2], [x - L, y + 1.2]]), mix(color, c, 0.6))
        else:
            L = (3 + 9 * depth) * tall
            poly(img, np.array([[x - 1, y], [x + scene.rng.uniform(-2, 2) + lean * L, y - L], [x + 1, y]]), c)
    if _has(scene, "river") and not water:
        # All of it on the ground layer, its far reach over the hills' foot: drawn in two
        # layers it would break where they meet as soon as the camera moves.
        _river(scene, img, (x0, y0), scene.horizon + 0.03 * scene.h, y1)
    if _has(scene, "rocks"):
        _cliff(scene, img, (x0, y0), y1)
    shade(img, top - y0, mix(color, (0, 0, 0), 0.5), 0.4)
    if scene.weather == "fog":
        fade(img, scene.fog, 0.2)
    return Layer(img, (x0, y0), DEPTH["near"], no_drift)


def _floor(scene: Scene, img: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """A room's floor: boards running toward the back wall, darker near the camera, and a rug."""
    x0, y0, x1, y1 = box
    h, w = scene.h, scene.w
    _, floor = _room_colours(scene)
    top = scene.horizon + 0.1 * h
    rect(img, 0, top - y0, x1 - x0, y1 - y0, floor)
    seam = mix(floor, (0, 0, 0), 0.35)
    vanish = (0.0, scene.horizon - 0.3 * h)  # the boards converge toward the back wall's middle
    for bx in np.arange(-3 * w, 3 * w, 0.05 * w):
        u = (top - vanish[1]) / (y1 - vanish[1])
        xt = vanish[0] + (bx - vanish[0]) * u
        cv2.line(img, (int((xt - x0) * 16), int((top - y0) * 16)), (int((bx - x0) * 16), int((y1 - y0) * 16)),
                 (*seam, 255), 1, cv2.LINE_AA, shift=4)
    rug = mix((150, 50, 40), scene.col["light"], 0.1)
    if scene.night:
        rug = mix(rug, (20, 10, 8), 0.5)
    cx, cy = scene.subject_x, scene.subject_ground + 0.02 * h
    poly(img, np.array([[cx - 0.2 * w, cy - 0.035 * h], [cx + 0.2 * w, cy - 0.035 * h],
                        [cx + 0.26 * w, cy + 0.05 * h], [cx - 0.26 * w, cy + 0.05 * h]]) - (x0, y0), rug)
    shade(img, top - y0, mix(floor, (0, 0, 0), 0.5), 0.35)
