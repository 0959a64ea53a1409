"""Motion-compensated in-between frames from OpenCV's DIS optical flow (interpolation backend "flow").

For two neighbouring frames A (time 0) and B (time 1) and a new frame at time t:
1. DIS flow both ways, A -> B and B -> A, on small grey copies (flow is smooth, so a
   half-size field scaled up loses little and costs a quarter);
2. the motion at x is the mean of F_AB(x) and -F_BA(x), and each new pixel x takes A's
   colour at x - t m(x) and B's at x + (1 - t) m(x) (cv2.remap; the motion found at x
   stands for the motion of the pixel that lands on x);
3. the two are blended by time, (1 - t, t).

An occlusion check (`occlusion=True`: where the forward and backward flows disagree at
the spot one side samples, that side is trusted less) is there but off: on the measured
clips (interpolate.measure_pan's pan and objects scenes, at 16 and at 8 fps input) it
changed PSNR by -0.4 to +0.4 dB and the share of badly wrong pixels (off by more than 32
levels) by under 0.07 points, for four more remaps a frame. The flow's own accuracy, not
occlusion, limits the result there.

A pair that motion cannot explain gets no in-betweens: `is_cut` compares A with B warped
back onto it, and the caller repeats the nearer frame.
"""

from __future__ import annotations

import cv2
import numpy as np

# DIS presets by name (interpolate.FLOW_PRESET picks one).
PRESETS = ("ultrafast", "fast", "medium")
# Mean absolute grey difference (0-255) of a pair left after motion compensation above
# which the pair is taken for a cut. Measured: a scene's own pairs keep under 5 (pan,
# objects scene at 8 fps, a 36 px a frame pan) and 8 for a 9 px pan over grass, which
# plain differencing calls a cut (45); two different photographs keep 46-87.
CUT_RESIDUAL = 20.0
# Smallest side (px) of a grid DIS takes: it refuses images under 12 px.
MIN_GRID = 12
# Forward-backward disagreement (pixels of the flow grid) at which a side's weight halves
# (occlusion check only).
TRUST_PX = 1.0


def _length(flow: np.ndarray) -> np.ndarray:
    """Per-pixel length of a 2-channel flow field."""
    return cv2.magnitude(*cv2.split(flow))


class FlowPair:
    """A PairFn (frame a, frame b, t) -> frame by bidirectional DIS flow, with a cut guard.

    preset: DIS preset (ultrafast, fast, medium): finer search costs more, see interpolate.py.
    scale: size of the grid flow is computed on, relative to the frame (0.5: half each way).
    finest_scale: the finest pyramid level DIS searches (0: the grid itself); None: the
        preset's (2 for ultrafast and fast, 1 for medium).
    The flows of the last pair are kept, so the several new frames of one pair (16 -> 32 or
    48) and the cut check share them; a and b are compared by identity.
    """

    def __init__(self, preset: str = "ultrafast", scale: float = 0.5, finest_scale: int | None = 1,
                 occlusion: bool = False) -> None:
        if preset not in PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; known: {', '.join(PRESETS)}")
        code = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
        self.dis = cv2.DISOpticalFlow_create(code)
        if finest_scale is not None:
            self.dis.setFinestScale(finest_scale)
        self.scale = scale
        self.occlusion = occlusion
        self._pair: tuple[np.ndarray, np.ndarray] | None = None
        self._flows: tuple[np.ndarray, np.ndarray, float] | None = None
        self._grids: dict[tuple[int, int], np.ndarray] = {}

    def _grid(self, h: int, w: int) -> np.ndarray:
        """Pixel coordinates (x, y) of an h x w image, (h, w, 2) float32, made once per size."""
        if (h, w) not in self._grids:
            ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
            self._grids[(h, w)] = np.dstack([xs, ys])
        return self._grids[(h, w)]

    def _small_grey(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        # Never below 32 px a side (DIS needs 12, and finds little under 32) unless the frame is.
        size = (max(min(w, 32), round(w * self.scale)), max(min(h, 32), round(h * self.scale)))
        small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if size != (w, h) else frame
        return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)

    def _warp(self, image: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """`image` sampled at x + flow(x) (flow on image's own grid)."""
        return cv2.remap(image, self._grid(*flow.shape[:2]) + flow, None, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)

    def flows(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(F_AB, F_BA, motion-compensated residual) on the small grid, kept for the next call.

        The residual is the mean absolute grey difference of A and of B warped onto it by F_AB.
        """
        if self._pair is not None and self._pair[0] is a and self._pair[1] is b and self._flows is not None:
            return self._flows
        ga, gb = self._small_grey(a), self._small_grey(b)
        if min(ga.shape) < MIN_GRID:  # too small for DIS: no motion, a plain cross-fade
            fab = fba = np.zeros((*ga.shape, 2), np.float32)
        else:
            fab = self.dis.calc(ga, gb, None)
            fba = self.dis.calc(gb, ga, None)
        residual = float(cv2.absdiff(ga, self._warp(gb, fab)).mean())
        self._pair, self._flows = (a, b), (fab, fba, residual)
        return self._flows

    def is_cut(self, a: np.ndarray, b: np.ndarray) -> bool:
        """True when motion does not explain b from a (a hard cut): no frame should mix them."""
        return self.flows(a, b)[2] > CUT_RESIDUAL

    def __call__(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        fab, fba, _ = self.flows(a, b)
        # Where each new pixel comes from in A and in B: the motion found at the same place,
        # forward and backward flow averaged. Both sides then move by one vector, so they
        # line up with each other wherever the two flows' errors differ (+4.5 dB on the pan
        # against each side following its own flow; +0.2 on the objects scene).
        motion = (fab - fba) * 0.5
        f_ta = (-t) * motion
        f_tb = (1.0 - t) * motion
        if self.occlusion:
            # Forward-backward disagreement where each side samples: a pixel of B's not seen in A
            # means A's sample there is something else (and the other way round).
            occ_a = _length(fab + self._warp(fba, fab))
            occ_b = _length(fba + self._warp(fab, fba))
            w_a = (1.0 - t) / (1.0 + (self._warp(occ_b, f_tb) * (1.0 / TRUST_PX)) ** 2) + 1e-4
            w_b = t / (1.0 + (self._warp(occ_a, f_ta) * (1.0 / TRUST_PX)) ** 2) + 1e-4
            share_a = w_a / (w_a + w_b)
        else:
            share_a = None
        h, w = a.shape[:2]
        sh, sw = fab.shape[:2]
        if (sh, sw) != (h, w):
            up = np.array([w / sw, h / sh], np.float32)
            f_ta = cv2.resize(f_ta * up, (w, h), interpolation=cv2.INTER_LINEAR)
            f_tb = cv2.resize(f_tb * up, (w, h), interpolation=cv2.INTER_LINEAR)
            if share_a is not None:
                share_a = cv2.resize(share_a, (w, h), interpolation=cv2.INTER_LINEAR)
        warped_a, warped_b = self._warp(a, f_ta), self._warp(b, f_tb)
        if share_a is None:
            return cv2.addWeighted(warped_a, 1.0 - t, warped_b, t, 0.0)
        return cv2.blendLinear(warped_a, warped_b, share_a, 1.0 - share_a)
