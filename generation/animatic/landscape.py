"""The setting, far to near: sky, clouds, far terrain, mist, hills, and the ground."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

from generation.animatic.draw import DEPTH, Layer, blended, ellipse, fade, mix, no_drift, poly, rect, shade

if TYPE_CHECKING:
    from generation.animatic.scene import Scene


def sky(scene: Scene) -> Layer:
    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["sky"])
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
    if scene.night:
        n = int((x1 - x0) * (y1 - y0) / 900)
        sx, sy = scene.rng.uniform(0, x1 - x0, n), scene.rng.uniform(0, (y1 - y0) * 0.7, n)
        for x, y, r in zip(sx, sy, scene.rng.uniform(0.6, 1.6, n)):
            ellipse(img, (x, y), (r, r), (230, 230, 255))
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


def clouds(scene: Scene) -> Layer:
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


def far(scene: Scene) -> Layer:
    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["far"])
    xs = np.arange(x0, x1 + 4, 4, dtype=np.float64)
    color = scene.col["far"]
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
        ys = scene.ridge(xs, scene.horizon - 0.04 * scene.h, 0.2 * scene.h, 0.9)
        pts = np.column_stack([xs - x0, ys - y0])
        poly(img, np.vstack([pts, [[x1 - x0 + 4, y1 - y0], [0, y1 - y0]]]), color)
        if scene.staging.ground == "snow" or scene.rng.random() < 0.3:  # snow caps
            snowline = ys.min() + 0.08 * scene.h
            caps = np.column_stack([xs - x0, np.maximum(ys, np.minimum(ys + 0.05 * scene.h, snowline)) - y0])
            poly(img, np.vstack([pts, caps[::-1]]), mix(color, (245, 245, 250), 0.7))
    shade(img, scene.horizon - 0.35 * scene.h - y0, scene.col["low"], 0.45)
    if scene.weather == "fog":
        fade(img, scene.fog, 0.75)
    return Layer(img, (x0, y0), DEPTH["far"], no_drift)


def mist(scene: Scene) -> Layer:
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
    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["mid"])
    xs = np.arange(x0, x1 + 4, 4, dtype=np.float64)
    ys = scene.ridge(xs, scene.horizon + 0.04 * scene.h, 0.1 * scene.h, 1.4)
    pts = np.column_stack([xs - x0, ys - y0])
    color = scene.col["mid"]
    poly(img, np.vstack([pts, [[x1 - x0 + 4, y1 - y0], [0, y1 - y0]]]), color)
    if scene.staging.forest or scene.rng.random() < 0.5:  # a row of trees along the hills
        dark = mix(color, (0, 0, 0), 0.25)
        for x in np.arange(x0, x1, scene.rng.uniform(0.025, 0.05) * scene.w):
            gx = x + scene.rng.uniform(-6, 6)
            base = np.interp(gx, xs, ys) + 4
            th = scene.rng.uniform(0.06, 0.12) * scene.h
            tree = [[gx - th * 0.25, base], [gx, base - th], [gx + th * 0.25, base]]
            poly(img, np.array(tree) - (x0, y0), dark)
    shade(img, scene.horizon - 0.1 * scene.h - y0, scene.col["low"], 0.25)
    if scene.weather == "fog":
        fade(img, scene.fog, 0.45)
    return Layer(img, (x0, y0), DEPTH["mid"], no_drift)


def near(scene: Scene) -> Layer:
    img, (x0, y0, x1, y1) = scene.canvas(DEPTH["near"])
    xs = np.arange(x0, x1 + 4, 4, dtype=np.float64)
    top = scene.horizon + 0.1 * scene.h
    ys = top + 0.03 * scene.h * np.sin(xs / scene.w * 2.5 + scene.rng.uniform(0, 6.3))
    color = {"water": mix(scene.col["top"], scene.col["low"], 0.45), "snow": mix((235, 238, 245), scene.col["top"], 0.15),
             "sand": mix((214, 184, 128), scene.col["near"], 0.3)}.get(scene.staging.ground, scene.col["near"])
    if scene.staging.ground == "water":
        ys = np.full_like(xs, top)
    pts = np.column_stack([xs - x0, ys - y0])
    poly(img, np.vstack([pts, [[x1 - x0 + 4, y1 - y0], [0, y1 - y0]]]), color)
    # Texture (strokes, ripples) gives the eye and optical flow something to follow.
    n = int((x1 - x0) * (y1 - top) / 260) if y1 > top + 6 else 0  # a low angle may show no ground
    light = mix(color, scene.col["light"], 0.35)
    dark = mix(color, (0, 0, 0), 0.3)
    lean = {"wind": 0.9, "storm": 0.6}.get(scene.weather, 0.0) * scene.wind_side  # grass bent by the wind
    for _ in range(max(0, n)):
        x = scene.rng.uniform(0, x1 - x0)
        y = scene.rng.uniform(top + 6, y1) - y0
        depth = (y + y0 - top) / max(1.0, y1 - top)
        if scene.staging.ground == "water":
            L = 6 + 18 * depth
            poly(img, np.array([[x - L, y], [x + L, y], [x + L, y + 1.2], [x - L, y + 1.2]]), light, 200)
        else:
            L = 3 + 9 * depth
            c = light if scene.rng.random() < 0.5 else dark
            poly(img, np.array([[x - 1, y], [x + scene.rng.uniform(-2, 2) + lean * L, y - L], [x + 1, y]]), c)
    shade(img, top - y0, mix(color, (0, 0, 0), 0.5), 0.4)
    if scene.weather == "fog":
        fade(img, scene.fog, 0.2)
    return Layer(img, (x0, y0), DEPTH["near"], no_drift)
