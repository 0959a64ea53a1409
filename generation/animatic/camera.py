"""The camera: its move, the framing of the shot size and the angle, over time."""

from __future__ import annotations

import math

# shot size -> (zoom of the near layers, how far the view centres on the subject 0..1, subject scale)
FRAMING: dict[str, tuple[float, float, float]] = {
    "extreme_wide": (0.85, 0.0, 0.6), "wide": (1.0, 0.0, 1.0), "medium": (1.35, 0.5, 1.0),
    "close_up": (2.0, 1.0, 1.0), "extreme_close_up": (3.0, 1.0, 1.0),
}
# angle -> (screen shift in frame heights, + lowers the horizon; zoom factor). A change of angle
# is a rotation: it shifts every layer alike, no parallax.
ANGLES: dict[str, tuple[float, float]] = {
    "eye_level": (0.0, 1.0), "low": (0.2, 1.15), "high": (-0.16, 0.95), "birds_eye": (-0.4, 0.9),
}


class Camera:
    """Camera position (world px) and zoom over time, from the shot's move, size and angle.

    Every move of the plan's vocabulary (reelgate.records.CameraMove) moves: pans, tilts and
    cranes travel; push, pull and zooms scale; a track travels with a slight push; handheld
    drifts with a smooth, seeded-free wobble (sums of slow sines, the same every render);
    an orbit swings side to side while closing in. Only "static" stands still.

    A track follows the subject: given its speed (`follow`, world px/s at its own depth,
    signed), the camera travels with it so it holds its place on screen while the world
    streams past behind it; with nothing moving, a track travels sideways like a dolly.

    `speed` (the shot's speed/motion weight, 0..3) scales every move; 1 is the planned speed.

    The framing sits under the move: the shot size sets a base zoom centred on `focus` (the
    subject, world px at its own depth), the angle shifts the whole picture up or down
    (`screen_dy`, px) so the horizon sits low (low angle) or high (high, bird's-eye).
    """

    def __init__(self, kind: str, duration: float, width: int, height: int, shot_size: str = "wide",
                 angle: str = "eye_level", focus: tuple[float, float, float] = (0.0, 0.0, 1.0),
                 follow: float = 0.0, speed: float = 1.0) -> None:
        self.kind, self.duration = kind, duration
        self.width, self.height = width, height
        zoom, centring, _ = FRAMING.get(shot_size, FRAMING["wide"])
        shift, angle_zoom = ANGLES.get(angle, ANGLES["eye_level"])
        self.base_zoom = zoom * angle_zoom
        fx, fy, depth = focus
        # Centre on the subject: with parallax a layer of depth d sits at camera * d.
        self.base = (centring * fx / depth, centring * fy / depth)
        self.screen_dy = shift * height
        # Moves keep about the same speed on screen whatever the base zoom.
        travel = 1.0 / self.base_zoom * speed  # speed: the shot's motion weight, 1 as planned
        self.speed = speed
        pan_total = min(0.2 * height * duration, 1.2 * width) * travel
        tilt_total = min(0.1 * height * duration, 0.5 * height) * travel
        crane_total = min(0.14 * height * duration, 0.6 * height) * travel
        self.zoom_total = min(math.log(1.35) / 3.5 * duration, math.log(1.6)) * speed
        self.span = {"pan_left": (-pan_total, 0.0), "pan_right": (pan_total, 0.0),
                     "tilt_up": (0.0, -tilt_total), "tilt_down": (0.0, tilt_total),
                     "crane_up": (0.0, -crane_total), "crane_down": (0.0, crane_total),
                     "track": (0.8 * pan_total, 0.0)}.get(kind, (0.0, 0.0))
        if kind == "track" and follow:
            # With parallax a layer of depth d moves by camera * d: divide to match the subject's own speed.
            self.span = (follow * duration / depth, 0.0)

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
            amp = 0.012 * self.height / self.base_zoom * self.speed
            wobble_x = amp * (math.sin(2.1 * t) + 0.6 * math.sin(3.7 * t + 1.3) + 0.3 * math.sin(7.3 * t + 0.4))
            wobble_y = amp * (0.8 * math.sin(1.7 * t + 0.7) + 0.5 * math.sin(4.3 * t + 2.1))
            return 0.15 * self.width / self.base_zoom * self.speed * (u - 0.5) + wobble_x, wobble_y, 1.04
        if self.kind == "orbit":
            swing = 0.35 * self.width / self.base_zoom * self.speed * math.sin(math.pi * (u - 0.5))
            return swing, 0.0, math.exp(0.5 * self.zoom_total * u)
        return x, y, 1.0
