"""The subject: its silhouette by kind and pose, its colour, where it stands, and how it moves.

A silhouette is a list of Parts in units of the subject's size (x from its centre, facing
+x; y up from its feet, negative), drawn once into the subject layer: a light rim around
the whole outline, then the fills in paint order (props, body, cloth, limbs in front, chain
metal, light). Each kind has its own form (issue 17: a chained maiden and a sea monster
were the same small cat), and people take their pose from a skeleton, so a new pose is a
few joint positions. Per frame the layer only moves (Scene.render's warp): its drift is a
smooth function of time chosen by the form (a run is fast, a fall drops, a flight crosses
the sky, a chained figure strains in place).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from generation.animatic.camera import FRAMING
from generation.animatic.draw import DEPTH, RGB, Layer, fade, mix, over, poly
from generation.animatic.staging import Staging
from reelgate.records import ShotSpec

if TYPE_CHECKING:
    from generation.animatic.scene import Scene

Point = tuple[float, float]

# What a colour word paints (prompts.keywords.COLOURS).
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (200, 34, 30), "orange": (235, 125, 30), "yellow": (240, 210, 50), "gold": (225, 175, 45),
    "green": (50, 150, 60), "blue": (40, 80, 200), "purple": (120, 50, 160), "pink": (240, 130, 170),
    "white": (240, 240, 235), "black": (18, 18, 22), "grey": (128, 128, 132), "silver": (190, 195, 205),
    "brown": (120, 75, 40),
}
# Paint order: props behind the figure, a robe streaming behind it, its body, its garment, limbs in front, chain metal, light.
PAINTS = ("prop", "train", "body", "cloth", "limb", "window", "metal", "light")


@dataclass(frozen=True)
class Part:
    """One shape of a silhouette, in units of the subject's size."""

    shape: str  # "e" ellipse, "p" polygon, "l" stroke through points, "t" tube (a stroke per segment, `widths`), "o" ring
    points: tuple[Point, ...]  # e, o: the centre; otherwise the vertices
    axes: Point = (0.0, 0.0)  # e, o: half-axes
    width: float = 0.0  # l, o: stroke width
    widths: tuple[float, ...] = ()  # t: width of each segment
    angle: float = 0.0  # e, o: degrees
    paint: str = "body"  # one of PAINTS; "window" is any lit or pale detail (a window, a car's glass, the moon's seas)


def E(x: float, y: float, ax: float, ay: float, angle: float = 0.0, paint: str = "body") -> Part:
    return Part("e", ((x, y),), axes=(ax, ay), angle=angle, paint=paint)


def P(points: list[Point], paint: str = "body") -> Part:
    return Part("p", tuple(points), paint=paint)


def L(points: list[Point], width: float, paint: str = "body") -> Part:
    return Part("l", tuple(points), width=width, paint=paint)


def O(x: float, y: float, ax: float, ay: float, width: float, angle: float = 0.0, paint: str = "metal") -> Part:
    return Part("o", ((x, y),), axes=(ax, ay), width=width, angle=angle, paint=paint)


def tube(points: list[Point], start: float, end: float, paint: str = "body") -> Part:
    """A body tapering from width `start` to `end` along `points` (a serpent, a tentacle)."""
    n = max(1, len(points) - 1)
    return Part("t", tuple(points), widths=tuple(start + (end - start) * i / n for i in range(n)), paint=paint)


# ---- people: a skeleton per pose -------------------------------------------------------

@dataclass(frozen=True)
class Pose:
    """Joints of a figure one unit tall: arms and legs run shoulder/hip, elbow/knee, hand/foot."""

    head: Point
    neck: Point
    pelvis: Point
    arms: tuple[tuple[Point, Point, Point], ...]
    legs: tuple[tuple[Point, Point, Point], ...]


POSE_JOINTS: dict[str, Pose] = {
    "standing": Pose((0.02, -0.9), (0, -0.79), (0, -0.48),
                     (((-0.11, -0.77), (-0.15, -0.6), (-0.14, -0.43)), ((0.11, -0.77), (0.15, -0.6), (0.15, -0.43))),
                     (((-0.05, -0.48), (-0.06, -0.25), (-0.08, 0)), ((0.05, -0.48), (0.06, -0.25), (0.08, 0)))),
    # Leaning into a long stride, arms pumping.
    "running": Pose((0.17, -0.87), (0.11, -0.77), (0, -0.47),
                    (((0.07, -0.75), (-0.06, -0.6), (-0.18, -0.58)), ((0.13, -0.75), (0.24, -0.62), (0.34, -0.7))),
                    (((-0.02, -0.47), (-0.14, -0.27), (-0.34, -0.16)), ((0.03, -0.47), (0.2, -0.32), (0.22, -0.03)))),
    # Limbs thrown out; the whole figure is tilted by FALL_TILT.
    "falling": Pose((0.02, -0.9), (0, -0.79), (0, -0.48),
                    (((-0.11, -0.77), (-0.3, -0.86), (-0.42, -1.0)), ((0.11, -0.77), (0.28, -0.9), (0.34, -1.06))),
                    (((-0.05, -0.48), (-0.2, -0.3), (-0.26, -0.06)), ((0.05, -0.48), (0.22, -0.33), (0.36, -0.2)))),
    # One arm raised forward and up.
    "reaching": Pose((0.04, -0.9), (0.02, -0.79), (0, -0.48),
                     (((-0.09, -0.77), (-0.14, -0.6), (-0.13, -0.43)), ((0.12, -0.78), (0.24, -0.92), (0.33, -1.08))),
                     (((-0.05, -0.48), (-0.07, -0.25), (-0.1, 0)), ((0.05, -0.48), (0.08, -0.25), (0.11, 0)))),
    # On a rock (drawn with the pose), knees forward, hands on the knees.
    "seated": Pose((0.0, -0.78), (-0.02, -0.67), (-0.04, -0.36),
                   (((-0.12, -0.65), (-0.06, -0.46), (0.12, -0.4)), ((0.08, -0.65), (0.12, -0.48), (0.2, -0.4))),
                   (((-0.06, -0.36), (0.18, -0.38), (0.2, 0)), ((0.0, -0.36), (0.24, -0.36), (0.27, 0)))),
    # Arms spread to the sides, wrists chained to the rock behind.
    "chained": Pose((0.0, -0.9), (0, -0.79), (0, -0.48),
                    (((-0.11, -0.77), (-0.25, -0.82), (-0.36, -0.9)), ((0.11, -0.77), (0.25, -0.82), (0.36, -0.9))),
                    (((-0.04, -0.48), (-0.05, -0.25), (-0.06, 0)), ((0.04, -0.48), (0.05, -0.25), (0.06, 0)))),
    # Horizontal, arms forward, legs trailing; the robe streams behind (added with the pose).
    "flying": Pose((0.47, -0.55), (0.37, -0.52), (0.05, -0.46),
                   (((0.36, -0.54), (0.52, -0.6), (0.68, -0.64)), ((0.34, -0.5), (0.48, -0.52), (0.62, -0.56))),
                   (((0.05, -0.47), (-0.2, -0.46), (-0.44, -0.44)), ((0.04, -0.45), (-0.2, -0.4), (-0.42, -0.36)))),
}
FALL_TILT = 40.0  # degrees a falling figure is tipped back


def _rotate(p: Point, about: Point, degrees: float) -> Point:
    a = math.radians(degrees)
    dx, dy = p[0] - about[0], p[1] - about[1]
    return (about[0] + dx * math.cos(a) - dy * math.sin(a), about[1] + dx * math.sin(a) + dy * math.cos(a))


def _unit(a: Point, b: Point) -> Point:
    dx, dy = b[0] - a[0], b[1] - a[1]
    n = math.hypot(dx, dy) or 1.0
    return dx / n, dy / n


def figure(pose: Pose, garment: bool, shoulders: float = 0.11, limb: float = 0.065,
           head: Point = (0.085, 0.1), trailing: bool = False, billow: float = 0.04) -> list[Part]:
    """A person's (or a giant's) parts from its joints: legs, torso, head, garment, arms in front.

    trailing: a robe streaming back from the shoulders past the feet, as a flying figure wears it.
    billow: how far back (units) a garment's hem blows, further as the figure runs.
    """
    (nx, ny), (px, py) = pose.neck, pose.pelvis
    sx, sy = _unit(pose.neck, pose.pelvis)  # down the spine
    rx, ry = sy, -sx  # across it, toward the front (+x) when upright
    hips = 0.65 * shoulders
    parts = [L(list(leg), limb * 1.15) for leg in pose.legs]
    parts.append(P([(nx + rx * shoulders, ny + ry * shoulders), (px + rx * hips, py + ry * hips),
                    (px - rx * hips, py - ry * hips), (nx - rx * shoulders, ny - ry * shoulders)]))
    parts.append(E(*pose.head, *head, angle=math.degrees(math.atan2(sy, sx)) - 90))
    def at(along: float, across: float, back: float = 0.0) -> Point:
        return nx + sx * along + rx * across - back, ny + sy * along + ry * across

    if trailing:  # a robe and a sash streaming back past the feet, behind the body
        sh = shoulders
        parts.insert(0, P([at(0, sh), at(0.35, sh * 1.5), at(0.75, sh * 1.1), at(1.15, sh * 1.9), at(1.55, sh * 1.2),
                           at(1.3, sh * 0.2), at(1.0, -sh * 0.3), at(0.5, -sh * 1.1), at(0.05, -sh)], paint="train"))
        parts.insert(0, L([at(0.1, -sh * 0.8), at(0.5, -sh * 2.2), at(0.9, -sh * 1.4), at(1.3, -sh * 2.6), at(1.7, -sh * 1.8)],
                          0.035, paint="train"))
    elif garment:
        # Flared behind (-x side, away from where the figure faces) and hemmed in a wave.
        sh = shoulders
        parts.append(P([at(0, sh * 1.05), at(0.56, sh * 1.1, billow * 0.4), at(0.6, -sh * 0.2, billow * 0.9),
                        at(0.57, -sh * 1.6, billow * 1.3), at(0.3, -sh * (1.3 + 3 * billow), billow * 1.5),
                        at(0.04, -sh * 1.15)], paint="cloth"))
    parts += [L(list(arm), limb, paint="limb") for arm in pose.arms]
    return parts


def person(pose: str, garment: bool) -> list[Part]:
    joints = POSE_JOINTS.get(pose, POSE_JOINTS["standing"])
    if pose == "falling":
        turn = lambda p: _rotate(p, joints.pelvis, -FALL_TILT)  # noqa: E731
        joints = Pose(turn(joints.head), turn(joints.neck), joints.pelvis,
                      tuple(tuple(turn(p) for p in arm) for arm in joints.arms),  # type: ignore[misc]
                      tuple(tuple(turn(p) for p in leg) for leg in joints.legs))  # type: ignore[misc]
    parts = figure(joints, garment, trailing=pose == "flying", billow={"running": 0.24, "falling": 0.12}.get(pose, 0.04))
    if pose == "seated":  # the rock sat on
        parts.insert(0, P([(-0.22, 0), (-0.2, -0.26), (-0.05, -0.33), (0.1, -0.3), (0.14, 0)], paint="prop"))
    if pose == "chained":  # a rock behind, chains from each wrist to its edges, a chain at the ankles
        parts.insert(0, P([(-0.52, 0), (-0.5, -0.8), (-0.4, -1.04), (-0.1, -1.12), (0.25, -1.08), (0.48, -0.96),
                           (0.54, 0)], paint="prop"))
        for side in (-1, 1):
            parts += [O(side * (0.37 + 0.045 * k), -0.9 - 0.012 * k, 0.028, 0.017, 0.014, angle=side * 12 * k)
                      for k in range(4)]
        parts += [O(0.06 * k - 0.09, -0.05, 0.026, 0.016, 0.012) for k in range(4)]
    return parts


# ---- the other kinds ---------------------------------------------------------------------

def giant(horned: bool) -> list[Part]:
    """A person's build made heavy: broad hunched shoulders, thick limbs, a small head; horns for a monster."""
    pose = Pose((0.09, -0.86), (0.03, -0.77), (0, -0.46),
                (((-0.2, -0.76), (-0.3, -0.55), (-0.27, -0.33)), ((0.22, -0.75), (0.32, -0.55), (0.3, -0.34))),
                (((-0.08, -0.46), (-0.11, -0.24), (-0.13, 0)), ((0.08, -0.46), (0.11, -0.24), (0.14, 0))))
    parts = figure(pose, False, shoulders=0.21, limb=0.1, head=(0.075, 0.085))
    parts.insert(0, E(0.02, -0.74, 0.24, 0.1))  # the hunch over the shoulders
    if horned:
        parts += [L([(0.04, -0.92), (0.0, -1.0), (-0.06, -1.04)], 0.03), L([(0.13, -0.91), (0.17, -0.99), (0.24, -1.03)], 0.03)]
    return parts


def animal(horned: bool) -> list[Part]:
    """Side view, facing +x: body, chest, neck, head, ears, four legs, tail."""
    parts = [E(0, -0.55, 0.38, 0.16), E(0.27, -0.58, 0.15, 0.15),
             P([(0.26, -0.66), (0.4, -0.9), (0.52, -0.86), (0.4, -0.53)]),
             E(0.52, -0.86, 0.13, 0.075, angle=25), P([(0.43, -0.91), (0.45, -1.02), (0.5, -0.93)]),
             L([(-0.36, -0.62), (-0.5, -0.57), (-0.58, -0.42)], 0.05)]
    legs = ((0.3, 0.03), (0.18, -0.03), (-0.28, -0.05), (-0.17, 0.02))  # hip x, knee offset
    parts += [L([(x, -0.5), (x + dx, -0.25), (x, 0)], 0.07) for x, dx in legs]
    if horned:  # a bull's or a ram's horns
        parts += [L([(0.47, -0.93), (0.44, -1.03), (0.5, -1.1)], 0.035), L([(0.53, -0.93), (0.58, -1.02), (0.66, -1.05)], 0.035)]
    return parts


def bird() -> list[Part]:
    """Wings raised in a wide V, seen from the side as it flies toward +x."""
    return [E(0, -0.55, 0.2, 0.07, angle=-8), E(0.22, -0.59, 0.07, 0.06),
            P([(0.28, -0.61), (0.37, -0.58), (0.28, -0.56)]), P([(-0.18, -0.55), (-0.36, -0.62), (-0.34, -0.48)]),
            P([(0.06, -0.58), (-0.18, -0.86), (-0.62, -1.02), (-0.36, -0.8), (-0.12, -0.56)]),
            P([(0.1, -0.58), (0.22, -0.84), (0.56, -1.0), (0.36, -0.78), (0.14, -0.55)])]


def _curve(f: Callable[[float], Point], a: float, b: float, n: int) -> list[Point]:
    return [f(a + (b - a) * i / n) for i in range(n + 1)]


def tentacle(base: float, height: float, lean: int) -> Part:
    """An arm rising from the water at x=`base`, swaying, its tip coiled over toward `lean` (+1 or -1)."""
    rise = [(base + lean * 0.07 * math.sin(math.pi * u), -height * u) for u in np.linspace(0, 1, 10)]
    r0 = 0.2 * height
    cx, cy = base + lean * r0, -height
    curl = [(cx + lean * r * math.cos(a), cy + r * math.sin(a))
            for a, r in ((math.pi + k * 1.6 * math.pi / 10, r0 * (1 - 0.06 * k)) for k in range(1, 11))]
    return tube(rise + curl, 0.13, 0.025)


def serpent(horned: bool, tentacles: bool) -> list[Part]:
    """A long body rising from the ground or the water in two humps, then a neck up to the head."""
    parts = [tube(_curve(lambda x: (x, -0.26 * math.sin(math.pi * (x + 0.95) / 0.5)), -0.95, -0.45, 16), 0.07, 0.13),
             tube(_curve(lambda x: (x, -0.34 * math.sin(math.pi * (x + 0.32) / 0.5)), -0.32, 0.18, 16), 0.14, 0.16)]
    # The neck: from the water at x=0.32 up in an S to the head at (0.62, -0.9).
    neck = _curve(lambda u: (0.32 + 0.3 * u - 0.12 * math.sin(math.pi * u), -0.88 * math.sin(math.pi / 2 * u)), 0, 1, 16)
    parts.append(tube(neck, 0.17, 0.1))
    parts += [E(0.68, -0.92, 0.15, 0.08, angle=12), P([(0.6, -0.9), (0.84, -0.82), (0.62, -0.83)]),
              E(0.72, -0.95, 0.022, 0.018, paint="window")]  # an eye: a creature, not a pipe
    if horned:  # a dragon's horns and whiskers
        parts += [L([(0.62, -0.98), (0.54, -1.09), (0.48, -1.13)], 0.03), L([(0.67, -0.99), (0.62, -1.11), (0.58, -1.17)], 0.03),
                  L([(0.81, -0.88), (0.92, -0.82), (0.98, -0.7)], 0.014), L([(0.8, -0.86), (0.88, -0.74), (0.88, -0.62)], 0.014)]
    if tentacles:  # a sea monster's arms reaching out of the water around it, tips coiled
        parts += [tentacle(-1.25, 0.62, -1), tentacle(-0.385, 0.5, 1), tentacle(1.06, 0.58, 1)]
    return parts


def ship() -> list[Part]:
    return [P([(-0.62, -0.24), (0.62, -0.24), (0.46, 0), (-0.44, 0)]), P([(0.58, -0.24), (0.74, -0.38), (0.68, -0.22)]),
            L([(0, -0.24), (0, -1.1)], 0.03), L([(0, -1.1), (0.1, -1.06)], 0.02),
            P([(0.04, -1.02), (0.04, -0.32), (0.46, -0.33)], paint="cloth"),
            P([(-0.04, -0.95), (-0.04, -0.33), (-0.42, -0.35)], paint="cloth")]


def cart(car: bool) -> list[Part]:
    """A wheeled body on land: a cart or chariot (box, spoked wheels, shaft) or a car (cabin, windows)."""
    if car:
        return [P([(-0.58, -0.14), (-0.58, -0.38), (-0.32, -0.42), (-0.16, -0.66), (0.26, -0.66), (0.42, -0.42),
                   (0.62, -0.37), (0.62, -0.14)]),
                P([(-0.12, -0.6), (0.04, -0.6), (0.04, -0.44), (-0.24, -0.44)], paint="window"),
                P([(0.1, -0.6), (0.23, -0.6), (0.34, -0.44), (0.1, -0.44)], paint="window"),
                E(-0.34, -0.13, 0.13, 0.13), E(0.38, -0.13, 0.13, 0.13)]
    parts = [P([(-0.48, -0.62), (-0.42, -0.62), (-0.4, -0.3), (0.38, -0.3), (0.5, -0.58), (0.55, -0.56), (0.46, -0.24),
                (-0.48, -0.24)]), L([(0.44, -0.32), (0.95, -0.42)], 0.03)]
    for cx in (-0.22, 0.22):
        parts += [O(cx, -0.2, 0.19, 0.19, 0.045, paint="body"), E(cx, -0.2, 0.04, 0.04)]
        for a in (0.3, 1.35, 2.4):  # spokes
            dx, dy = 0.18 * math.cos(a), 0.18 * math.sin(a)
            parts.append(L([(cx + dx, -0.2 + dy), (cx - dx, -0.2 - dy)], 0.02))
    return parts


def building(form: str) -> list[Part]:
    if form == "tower":
        return [P([(-0.14, 0), (-0.1, -0.86), (0.1, -0.86), (0.14, 0)]),
                P([(-0.15, -0.85), (0.15, -0.85), (0.15, -0.92), (-0.15, -0.92)]), P([(-0.12, -0.92), (0, -1.12), (0.12, -0.92)]),
                P([(-0.04, -0.8), (0.04, -0.8), (0.04, -0.7), (-0.04, -0.7)], paint="window")]
    if form == "castle":
        merlons = [P([(x, -0.5), (x + 0.07, -0.5), (x + 0.07, -0.44), (x, -0.44)]) for x in (-0.3, -0.14, 0.02, 0.18)]
        return [P([(-0.42, 0), (-0.42, -0.45), (0.42, -0.45), (0.42, 0)]), *merlons,
                P([(-0.55, 0), (-0.55, -0.72), (-0.36, -0.72), (-0.36, 0)]), P([(-0.58, -0.72), (-0.455, -0.92), (-0.33, -0.72)]),
                P([(0.36, 0), (0.36, -0.8), (0.55, -0.8), (0.55, 0)]), P([(0.33, -0.8), (0.455, -1.02), (0.58, -0.8)]),
                P([(-0.08, 0), (-0.08, -0.2), (0, -0.27), (0.08, -0.2), (0.08, 0)], paint="window")]
    return [P([(-0.35, 0), (-0.35, -0.5), (0, -0.85), (0.35, -0.5), (0.35, 0)]),
            P([(-0.08, -0.3), (0.08, -0.3), (0.08, -0.15), (-0.08, -0.15)], paint="window")]


def tree() -> list[Part]:
    return [P([(-0.06, 0), (-0.04, -0.5), (0.04, -0.5), (0.06, 0)]), L([(0, -0.45), (0.15, -0.6)], 0.035),
            E(0, -0.66, 0.3, 0.24), E(-0.14, -0.8, 0.18, 0.16), E(0.13, -0.84, 0.19, 0.17), E(0, -0.97, 0.15, 0.12)]


def celestial(form: str) -> list[Part]:
    """A glowing body centred half a unit up: it hangs in the sky, it never stands."""
    if form == "star":
        pts = [(0.5 * math.sin(a) * (1 if i % 2 == 0 else 0.3), -0.5 - 0.5 * math.cos(a) * (1 if i % 2 == 0 else 0.3))
               for i, a in enumerate(np.linspace(0, 2 * math.pi, 8, endpoint=False))]
        return [P(pts, paint="light"), E(0, -0.5, 0.13, 0.13, paint="light")]
    if form == "comet":
        return [P([(0.18, -0.6), (-1.1, -0.5), (0.18, -0.4)], paint="light"), E(0.18, -0.5, 0.14, 0.14, paint="light")]
    disc = [E(0, -0.5, 0.34, 0.34, paint="light")]
    if form == "moon":  # the seas of a full moon
        disc += [E(-0.1, -0.6, 0.09, 0.07, paint="window"), E(0.1, -0.42, 0.07, 0.06, paint="window"),
                 E(0.05, -0.64, 0.04, 0.035, paint="window")]
    if form == "planet":
        disc.append(O(0, -0.5, 0.62, 0.12, 0.035, angle=-15, paint="light"))
    return disc


# ---- a staging's form ------------------------------------------------------------------

_SEA = {"sea monster", "sea-monster", "sea serpent", "kraken", "cetus", "leviathan", "octopus", "海怪", "海兽", "海妖", "章鱼"}
_DRAGON = {"dragon", "draco", "wyrm", "hydra", "ladon", "龙", "蛟", "九头蛇", "相柳"}
_HORNED = {"monster", "ogre", "demon", "troll", "minotaur", "typhon", "怪兽", "妖怪", "妖魔", "魔王", "牛魔王", "恶魔", "魔鬼",
           "bull", "ox", "cow", "cattle", "ram", "goat", "牛", "羊", "金羊", "golden fleece"}
_CARS = {"car", "truck", "bus", "taxi", "汽车", "车"}
_CARTS = {"cart", "chariot", "wagon", "carriage", "sled", "sleigh", "train", "马车", "战车"}
_TOWERS = {"tower", "lighthouse", "pagoda", "skyscraper", "塔", "灯塔", "楼", "阁"}
_CASTLES = {"castle", "palace", "fortress", "城堡", "宫殿", "宫", "殿"}
_CELESTIAL = {"sun": "sun", "太阳": "sun", "comet": "comet", "meteor": "comet", "shooting star": "comet", "流星": "comet",
              "彗星": "comet", "planet": "planet", "行星": "planet", "火星": "planet", "金星": "star",
              "moon": "moon", "full moon": "moon", "crescent moon": "moon", "月亮": "moon", "明月": "moon", "满月": "moon",
              "月球": "moon", "圆月": "moon", "新月": "moon", "弯月": "moon"}
_LIGHT: dict[str, tuple[int, int, int]] = {"sun": (255, 214, 120), "moon": (238, 236, 214), "star": (255, 246, 205),
                                          "comet": (225, 240, 255), "planet": (236, 200, 150)}


def form_of(staging: Staging) -> str:
    """What to draw: person:<pose>, giant, animal, bird, serpent, sea_monster, dragon, ship, cart, car,
    house, tower, castle, tree, or a celestial form (sun, moon, star, comet, planet)."""
    kind, word = staging.kind, staging.kind_word
    if kind == "person":
        return f"person:{staging.pose}"
    if kind == "serpent":
        return "sea_monster" if word in _SEA else "dragon" if word in _DRAGON else "serpent"
    if kind == "vehicle":
        return "car" if word in _CARS else "cart" if word in _CARTS else "ship"
    if kind == "building":
        return "tower" if word in _TOWERS else "castle" if word in _CASTLES else "house"
    if kind == "celestial":
        return _CELESTIAL.get(word, "star")
    return kind  # giant, animal, bird, tree


def parts_of(form: str, staging: Staging) -> list[Part]:
    """The silhouette of `form`."""
    horned = staging.kind_word in _HORNED
    if form.startswith("person:"):
        return person(form.split(":", 1)[1], staging.garment)
    drawn: dict[str, Callable[[], list[Part]]] = {
        "giant": lambda: giant(horned), "animal": lambda: animal(horned), "bird": bird,
        "serpent": lambda: serpent(False, False), "dragon": lambda: serpent(True, False),
        "sea_monster": lambda: serpent(False, True), "ship": ship, "cart": lambda: cart(False), "car": lambda: cart(True),
        "tree": tree,
    }
    if form in drawn:
        return drawn[form]()
    if form in ("house", "tower", "castle"):
        return building(form)
    return celestial(form)


@dataclass(frozen=True)
class Placement:
    """How big a form is, where it is, and how it moves."""

    share: float  # size as a share of the frame height (wide shot)
    place: str  # ground, sky (a bird, a flyer), heaven (a celestial body), fall (starts high, drops)
    speed: float  # travel, frame heights per second
    bob: float  # vertical bob amplitude, units of its size
    bob_hz: float
    sway: float = 0.0  # side-to-side strain in place, units of its size (a chained figure)


PLACEMENTS: dict[str, Placement] = {
    "person:standing": Placement(0.3, "ground", 0.16, 0.012, 1.8),
    "person:running": Placement(0.3, "ground", 0.34, 0.02, 2.6),
    "person:falling": Placement(0.3, "fall", 0.05, 0.0, 0.0),
    "person:reaching": Placement(0.3, "ground", 0.03, 0.006, 0.7),
    "person:seated": Placement(0.3, "ground", 0.0, 0.004, 0.4),
    "person:chained": Placement(0.3, "ground", 0.0, 0.003, 0.9, sway=0.012),
    "person:flying": Placement(0.3, "sky", 0.42, 0.03, 0.5),
    "giant": Placement(0.72, "ground", 0.05, 0.008, 0.8),
    "animal": Placement(0.22, "ground", 0.2, 0.01, 2.4),
    "bird": Placement(0.14, "sky", 0.3, 0.03, 0.8),
    "serpent": Placement(0.32, "ground", 0.03, 0.03, 0.4),
    "dragon": Placement(0.34, "ground", 0.03, 0.03, 0.4),
    "sea_monster": Placement(0.42, "ground", 0.02, 0.025, 0.35),
    "ship": Placement(0.3, "ground", 0.08, 0.012, 0.5),
    "cart": Placement(0.26, "ground", 0.24, 0.006, 3.0),
    "car": Placement(0.24, "ground", 0.3, 0.004, 4.0),
    "house": Placement(0.4, "ground", 0.0, 0.0, 0.0),
    "tower": Placement(0.5, "ground", 0.0, 0.0, 0.0),
    "castle": Placement(0.42, "ground", 0.0, 0.0, 0.0),
    "tree": Placement(0.45, "ground", 0.0, 0.0, 0.0),
}
CELESTIAL_PLACEMENT = Placement(0.2, "heaven", 0.02, 0.0, 0.0)


def placement(form: str) -> Placement:
    return PLACEMENTS.get(form, CELESTIAL_PLACEMENT)


def place_subject(scene: Scene, shot: ShotSpec, rng: np.random.Generator) -> None:
    """Where the subject stands and how big it is; the camera frames it from there."""
    scene.subject_form = form_of(scene.staging)
    spot = placement(scene.subject_form)
    zoom, _, scale = FRAMING.get(shot.shot_size, FRAMING["wide"])
    scene.subject_size = spot.share * scene.h * scale
    scene.subject_moves = spot.speed > 0 or spot.bob > 0 or spot.sway > 0 or spot.place == "fall"
    scene.subject_direction = float(rng.choice([-1, 1]))
    spread = {"ground": 0.25 if spot.speed else 0.3, "heaven": 0.3}.get(spot.place, 0.2)
    size, h = scene.subject_size, scene.h
    # Wholly in frame at mid-shot: a giant or a sea monster stands near the middle.
    x0, _, x1, _ = _bounds(parts_of(scene.subject_form, scene.staging))
    spread = max(0.0, min(spread, 0.48 - max(-x0, x1) * size * zoom / scene.w))
    scene.subject_x = rng.uniform(-spread, spread) * scene.w
    # The feet line (y=0 of the parts): on the ground; a flyer's body (half a unit up) high in the sky.
    scene.subject_ground = {"ground": scene.horizon + 0.16 * h, "fall": scene.horizon - 0.02 * h,
                            "sky": -0.2 * h + 0.5 * size, "heaven": -0.3 * h + 0.5 * size}[spot.place]
    if scene.subject_form == "bird":
        scene.subject_ground = -0.25 * h  # as before: the bird's wings, above its feet line
    scene.subject_depth = {"sky": 0.5, "heaven": 0.15}.get(spot.place, DEPTH["near"])
    # A close-up looks at the upper body (the head, extreme close-up), a wider shot at the middle.
    lift = {"close_up": 0.6, "extreme_close_up": 0.78}.get(shot.shot_size, 0.5)
    scene.focus = (scene.subject_x, scene.subject_ground - lift * scene.subject_size, scene.subject_depth)
    scene.subject_zoom = zoom
    # Its travel (world px/s, signed). A close-up keeps its subject in frame: it travels as far
    # on screen as in a wide shot, and never farther in the whole shot than most of the frame.
    duration = max(scene.duration, 1e-6)
    scene.subject_speed = min(spot.speed * h, 0.8 * scene.w / duration) * scene.subject_direction / zoom
    scene.subject_speed *= getattr(scene, "speed", 1.0)  # the shot's speed/motion weight; 1 as planned


def _paints(scene: Scene, form: str) -> dict[str, RGB]:
    """The colour of each paint: a dark silhouette, coloured whole by a colour word, or its garment only."""
    staging = scene.staging
    dark = mix(scene.col["near"], (0, 0, 0), 0.7)
    tint: RGB | None = None
    if staging.colour is not None:
        tint = COLOUR_RGB[staging.colour]
        if scene.night:  # colour fades in the dark, but stays readable
            tint = mix(tint, dark, 0.3)
    body = tint if tint is not None and not staging.garment else dark
    cloth = tint if tint is not None else mix(dark, scene.col["low"], 0.3)
    if form == "ship" and tint is None:
        cloth = mix((236, 230, 214), scene.col["low"], 0.3)  # sails read pale against a dark hull
    light = tint if tint is not None else _LIGHT.get(form, (255, 240, 200))
    lit = (250, 214, 130) if scene.night or form == "car" else mix(scene.col["low"], (255, 255, 255), 0.2)
    if form == "moon":
        lit = mix(light, (120, 120, 130), 0.25)
    if form in ("house", "tower", "castle") and not scene.night and scene.rng.random() < 0.5:
        lit = (250, 214, 130)  # a lit window by day, now and then
    return {"prop": mix(dark, scene.col["low"], 0.3) if tint is None or staging.garment else mix(tint, dark, 0.6),
            "body": body, "limb": body, "cloth": cloth, "window": lit, "metal": (200, 202, 210), "light": light,
            "train": tint if tint is not None else mix((240, 236, 228), scene.col["low"], 0.25)}  # pale silk


def _bounds(parts: list[Part]) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []
    for part in parts:
        grow = max(part.axes) + part.width / 2 if part.shape in ("e", "o") else max((part.width, *part.widths)) / 2
        for x, y in part.points:
            xs += [x - grow, x + grow]
            ys += [y - grow, y + grow]
    return min(xs), min(ys), max(xs), max(ys)


def _draw(img: np.ndarray, part: Part, to_px: Callable[[Point], Point], size: float, mirror: float,
          colour: tuple[int, ...], grow: float) -> None:
    """One part, `grow` px wider all round (the rim pass)."""
    if part.shape in ("e", "o"):
        (x, y), (ax, ay) = to_px(part.points[0]), part.axes
        c = (int(round(x * 16)), int(round(y * 16)))
        thick = -1 if part.shape == "e" else max(1, int(round(part.width * size + 2 * grow)))
        outer = grow if part.shape == "e" else 0.0
        a = (max(1, int(round((ax * size + outer) * 16))), max(1, int(round((ay * size + outer) * 16))))
        cv2.ellipse(img, c, a, mirror * part.angle, 0, 360, (*colour, 255), thick, cv2.LINE_AA, shift=4)
        return
    pts = np.array([to_px(p) for p in part.points], np.float64)
    if part.shape == "p":
        centre = pts.mean(axis=0)
        d = pts - centre
        poly(img, centre + d * (1 + grow / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-6)), colour)
        return
    fixed = np.round(pts * 16).astype(np.int32)
    widths = part.widths if part.shape == "t" else (part.width,) * (len(pts) - 1)
    if part.shape == "l" and len(set(widths)) == 1:
        cv2.polylines(img, [fixed], False, (*colour, 255), max(1, int(round(widths[0] * size + 2 * grow))), cv2.LINE_AA, shift=4)
        return
    for k, w in enumerate(widths):
        cv2.line(img, tuple(fixed[k]), tuple(fixed[k + 1]), (*colour, 255), max(1, int(round(w * size + 2 * grow))),
                 cv2.LINE_AA, shift=4)


def _fill(img: np.ndarray, parts: list[Part], paints: dict[str, RGB], to_px: Callable[[Point], Point], size: float,
          mirror: float, res: float) -> None:
    """Fill `parts` in paint order."""
    for paint in PAINTS:
        for part in parts:
            if part.paint == paint:
                if paint == "metal":  # chain links: dark edges so the bright steel reads on the rock
                    _draw(img, part, to_px, size, mirror, (30, 30, 34), 0.8 * res)
                _draw(img, part, to_px, size, mirror, tuple(int(c) for c in paints[paint]), 0.0)


def is_the_constellation(staging: Staging) -> bool:
    """"The stars of Andromeda shine", 天琴座的星星: the stars are the constellation the sky draws,
    not one more big star in front of it."""
    return staging.kind == "celestial" and "constellation" in staging.settings and _CELESTIAL.get(
        staging.kind_word, "star") == "star"


def subject_layer(scene: Scene) -> Layer | None:
    """The subject drawn once: rim, fills in paint order; a celestial body glows. None when the
    subject is the constellation the sky already draws."""
    if is_the_constellation(scene.staging):
        return None
    form = scene.subject_form
    parts = parts_of(form, scene.staging)
    paints = _paints(scene, form)
    rim = mix(scene.col["low"], (255, 255, 255), 0.2)
    # Drawn finer for a close-up (image px per world px), so the zoom does not blur it.
    res = min(3.0, max(1.0, scene.subject_zoom))
    size = scene.subject_size * res
    glowing = form in _LIGHT
    x0, y0, x1, y1 = _bounds(parts)
    pad = 4 + (int(0.5 * size) if glowing else 0)
    mirror = scene.subject_direction  # faces the way it travels
    if mirror < 0:
        x0, x1 = -x1, -x0
    ww, hh = int((x1 - x0) * size) + 2 * pad, int((y1 - y0) * size) + 2 * pad
    img = np.zeros((hh, ww, 4), np.uint8)
    cx, foot = pad - x0 * size, pad - y0 * size  # the pixel of the unit origin (centre, feet)

    def to_px(p: Point) -> Point:
        return cx + mirror * p[0] * size, foot + p[1] * size

    # A light rim first, the silhouette over it: readable on any background. A prop (the rock
    # a figure sits on or is chained to) is drawn whole first, so the figure's rim shows on it.
    for group in (("prop",), tuple(p for p in PAINTS if p != "prop")):
        if not glowing:
            for part in parts:
                if part.paint in group and part.paint not in ("window", "metal"):
                    _draw(img, part, to_px, size, mirror, rim, 1.5 * res)
        _fill(img, [p for p in parts if p.paint in group], paints, to_px, size, mirror, res)
    if glowing:  # a soft halo around the body, drawn once
        halo = (cv2.GaussianBlur(img, (0, 0), max(1.0, 0.14 * size)).astype(np.float32) * 0.85).astype(np.uint8)
        img = over(halo, img)
    if scene.weather == "fog":
        fade(img, scene.fog, 0.3)
    origin = (scene.subject_x - cx / res, scene.subject_ground - foot / res)
    return Layer(img, origin, scene.subject_depth, _drift(scene, placement(form)) if scene.subject_moves else _still,
                 scale=res, role="subject")


def _still(t: float) -> tuple[float, float]:
    return 0.0, 0.0


def _drift(scene: Scene, spot: Placement) -> Callable[[float], tuple[float, float]]:
    """The subject's own motion: travel through the middle of the frame at mid-shot, a smooth bob,
    a chained figure's strain, a fall that gathers speed."""
    h, size, half, duration = scene.h, scene.subject_size, scene.duration / 2, max(scene.duration, 1e-6)
    speed = scene.subject_speed
    drop = min(0.25 * duration, 0.45) * h / scene.subject_zoom if spot.place == "fall" else 0.0

    def fall(u: float) -> float:  # eased: the speed grows through the shot
        return u * (0.4 + 0.6 * u)

    def drift(t: float) -> tuple[float, float]:
        u = t / duration
        dx = speed * (t - half) + spot.sway * size * math.sin(2 * math.pi * 1.3 * t)
        dy = spot.bob * size * math.sin(2 * math.pi * spot.bob_hz * t) + drop * (fall(u) - fall(0.5))
        return dx, dy

    return drift
