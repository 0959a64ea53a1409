"""The subject: its silhouette by kind, where it stands, and how it moves."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from generation.animatic.camera import FRAMING
from generation.animatic.draw import DEPTH, Layer, ellipse, fade, mix, no_drift, poly
from reelgate.records import ShotSpec

if TYPE_CHECKING:
    from generation.animatic.scene import Scene

# Subject silhouettes in units of the subject's size: x from its centre, y up from its feet
# (negative). ("e", x, y, half-width, half-height) is an ellipse, ("p", points) a polygon.
SHAPES: dict[str, list[tuple]] = {
    "person": [("e", 0, -0.88, 0.12, 0.12),
               ("p", [(-0.16, -0.35), (-0.08, -0.78), (0.08, -0.78), (0.16, -0.35)]),
               ("p", [(-0.1, 0), (-0.06, -0.4), (0.06, -0.4), (0.1, 0), (0.04, 0), (0, -0.25), (-0.04, 0)]),
               ("p", [(-0.09, -0.75), (-0.24, -0.45), (-0.2, -0.43), (-0.05, -0.68)])],
    "animal": [("e", 0, -0.55, 0.42, 0.2), ("e", 0.45, -0.77, 0.14, 0.12),
               ("p", [(0.38, -0.85), (0.42, -1.01), (0.48, -0.87)]),
               ("p", [(-0.38, -0.55), (-0.75, -0.9), (-0.7, -0.93), (-0.3, -0.63)])]
    + [("p", [(x - 0.035, -0.55), (x + 0.035, -0.55), (x + 0.035, 0), (x - 0.035, 0)]) for x in (-0.3, -0.15, 0.15, 0.3)],
    "bird": [("p", [(-0.7, -1.0), (0, -0.6), (0.7, -1.0), (0, -0.45)]), ("e", 0, -0.55, 0.12, 0.08)],
    "vehicle": [("p", [(-0.6, -0.2), (0.6, -0.2), (0.45, 0), (-0.45, 0)]),
             ("p", [(-0.015, -0.2), (-0.015, -1.1), (0.015, -1.1), (0.015, -0.2)]),
             ("p", [(0.03, -0.3), (0.03, -1.05), (0.5, -0.3)])],
    "building": [("p", [(-0.35, 0), (-0.35, -0.5), (0, -0.85), (0.35, -0.5), (0.35, 0)])],
    "tree": [("p", [(-0.05, 0), (-0.04, -0.5), (0.04, -0.5), (0.05, 0)]), ("e", 0, -0.68, 0.3, 0.3)],
}




# Kinds without a silhouette of their own yet, and the one they borrow.
_STAND_IN = {"serpent": "bird", "giant": "person", "celestial": "bird"}


def _drawn_kind(scene: Scene) -> str:
    return _STAND_IN.get(scene.staging.kind, scene.staging.kind)


def place_subject(scene: Scene, shot: ShotSpec, rng: np.random.Generator) -> None:
    """Where the subject stands and how big it is; the camera frames it from there."""
    kind = _drawn_kind(scene)
    zoom, _, scale = FRAMING.get(shot.shot_size, FRAMING["wide"])
    share = {"person": 0.3, "animal": 0.22, "bird": 0.14, "vehicle": 0.3, "building": 0.4, "tree": 0.45}[kind]
    scene.subject_size = share * scene.h * scale
    scene.subject_moves = kind in ("person", "animal", "bird", "vehicle")
    scene.subject_direction = float(rng.choice([-1, 1]))
    spread = 0.25 if scene.subject_moves else 0.3
    scene.subject_x = rng.uniform(-spread, spread) * scene.w
    scene.subject_ground = scene.horizon + 0.16 * scene.h if kind != "bird" else -0.25 * scene.h
    scene.subject_depth = DEPTH["near"] if kind != "bird" else 0.5
    # A close-up looks at the upper body (the head, extreme close-up), a wider shot at the middle.
    lift = {"close_up": 0.6, "extreme_close_up": 0.78}.get(shot.shot_size, 0.5)
    scene.focus = (scene.subject_x, scene.subject_ground - lift * scene.subject_size, scene.subject_depth)
    scene.subject_zoom = zoom


def subject_layer(scene: Scene) -> Layer:
    s = scene.h
    kind = _drawn_kind(scene)
    color = mix(scene.col["near"], (0, 0, 0), 0.7)
    rim = mix(scene.col["low"], (255, 255, 255), 0.2)
    # Drawn finer for a close-up (image px per world px), so the zoom does not blur it.
    res = min(3.0, max(1.0, scene.subject_zoom))
    size = scene.subject_size * res
    pad = 4
    img = np.zeros((int(size * 1.3) + 2 * pad, int(size * 1.6) + 2 * pad, 4), np.uint8)
    hh, ww = img.shape[:2]
    cx, foot = ww / 2, hh - pad - 1

    def place(points) -> np.ndarray:
        return np.array([(cx + x * size, foot + y * size) for x, y in points], np.float64)

    # A light rim first, the silhouette over it: readable on any background.
    for colour, grow in ((rim, 1.5), (color, 0.0)):
        for shape in SHAPES[kind]:
            if shape[0] == "e":
                _, x, y, ax, ay = shape
                ellipse(img, (cx + x * size, foot + y * size), (ax * size + grow, ay * size + grow), colour)
            else:
                pts = place(shape[1])
                centre = pts.mean(axis=0)
                d = pts - centre
                poly(img, centre + d * (1 + grow / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-6)), colour)
    if kind == "building":  # a window, lit at night
        lit = scene.night or scene.rng.random() < 0.5
        poly(img, place([(-0.08, -0.3), (0.08, -0.3), (0.08, -0.15), (-0.08, -0.15)]), (250, 214, 130) if lit else rim)

    moves, direction = scene.subject_moves, scene.subject_direction
    # A close-up keeps its subject in frame: it travels as far on screen as in a wide shot.
    speed = {"person": 0.16, "animal": 0.2, "bird": 0.3, "vehicle": 0.1}.get(kind, 0.0) * s * direction / scene.subject_zoom
    if direction < 0:
        img = img[:, ::-1].copy()
    bob_amp = {"person": 0.012, "animal": 0.01, "bird": 0.03, "vehicle": 0.008}.get(kind, 0.0) * scene.subject_size / 0.3
    bob_hz = {"person": 1.8, "animal": 2.4, "bird": 0.8, "vehicle": 0.5}.get(kind, 0.0)
    half = scene.duration / 2

    def drift(t: float) -> tuple[float, float]:
        # Walk through the middle of the frame at mid-shot; a smooth sinusoidal bob.
        return speed * (t - half), bob_amp * math.sin(2 * math.pi * bob_hz * t)

    if scene.weather == "fog":
        fade(img, scene.fog, 0.3)
    origin = (scene.subject_x - ww / 2 / res, scene.subject_ground - foot / res)
    return Layer(img, origin, scene.subject_depth, drift if moves else no_drift, scale=res, role="subject")
