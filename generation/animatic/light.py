"""The light of a shot: palettes by time of day, tints by mood, greying by weather."""

from __future__ import annotations

import numpy as np

from generation.animatic.draw import RGB, mix

# sky top, sky at the horizon, far terrain, hills, ground, sun or moon, clouds
PALETTES: dict[str, dict[str, RGB]] = {
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
MOODS: dict[str, tuple[RGB, float, float]] = {
    "calm": ((120, 170, 200), 0.08, 0.95),
    "joyful": ((255, 220, 120), 0.14, 1.2),
    "mysterious": ((110, 70, 170), 0.28, 0.9),
    "tense": ((170, 40, 40), 0.2, 0.8),
    "sad": ((100, 115, 140), 0.3, 0.55),
    "epic": ((255, 150, 60), 0.18, 1.15),
}
# weather -> (how far the palette greys toward an overcast sky 0..1, how dark that grey is)
OVERCAST: dict[str, tuple[float, float]] = {
    "clear": (0.0, 1.0), "wind": (0.1, 1.0), "rain": (0.45, 0.8), "snow": (0.6, 1.05), "fog": (0.6, 1.0),
    "storm": (0.65, 0.55),
}


def graded(color: RGB, mood: str) -> tuple[int, int, int]:
    """Apply the mood's tint and saturation to a palette colour."""
    tint, strength, saturation = MOODS.get(mood, MOODS["calm"])
    r, g, b = mix(color, tint, strength)
    grey = 0.3 * r + 0.59 * g + 0.11 * b
    return tuple(int(np.clip(grey + (c - grey) * saturation, 0, 255)) for c in (r, g, b))  # type: ignore[return-value]


def overcast(color: RGB, amount: float, dark: float) -> RGB:
    """Grey a palette colour toward a cloudy sky's: `amount` of the way to its own grey times `dark`."""
    grey = (0.3 * color[0] + 0.59 * color[1] + 0.11 * color[2]) * dark
    return mix(color, (grey, grey, min(255.0, grey * 1.06)), amount)


def sky_time(time_of_day: str, settings: tuple[str, ...]) -> str:
    """The time of day the shot is lit at: a constellation is not seen by day.

    A planner often leaves "day" on a shot that shows the stars of a myth; its sky must match.
    Dawn and dusk are a choice (a plan edit, a variants sweep of the time of day) and are kept:
    the first stars of the evening are drawn in a dusk sky.
    """
    starry = "constellation" in settings and "interior" not in settings
    return "night" if starry and time_of_day == "day" else time_of_day
