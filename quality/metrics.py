"""Optical-flow measurements of one shot: plain functions over RGB frames.

Everything is computed on frames downscaled to at most 320 px on the long side (OpenCV DIS
flow on grey, ~2-4 ms a pair there; colour only for the colour-flicker signal), streaming
two frames at a time. Pixel
quantities are in pixels of that analysed resolution unless a name says otherwise;
`FlowSeries.scale` converts them back to source pixels.

References: VBench's dynamic degree (top-5% flow magnitude),
EvalCrafter's warping error, and the "Catch": stability rewards still clips, so a shot
that asked for motion is also checked with `is_frozen`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from reelgate.errors import MediaError

# Robust scale of a normal distribution from its median absolute deviation.
_MAD_TO_SIGMA = 1.4826

# Floors under the robust spread of each jump signal, so a perfectly steady shot (spread ~0)
# does not turn codec noise into "jumps". Each is absolute + relative to the shot's median.
_WARP_FLOOR = (0.006, 0.15)  # warp error, fraction of 255
_MOTION_FLOOR = (0.25, 0.15)  # mean flow magnitude, analysed px per frame
_BRIGHTNESS_FLOOR = (0.008, 0.0)  # mean brightness change, fraction of 255
# Unexplained colour shift (see FlowSeries.colour_shift): 1.5 grey levels. Smooth pans over
# the calibration photos stay under 0.3 levels (codec chroma noise), a white-balance step of
# +-15 levels in R and B at constant luminance reads ~21 levels.
_COLOUR_FLOOR = (0.006, 0.15)

# Longest run of outlier pairs that still counts as one discontinuity (a cut is 1 pair,
# a teleport there and back 2, a short flash of other frames 3).
_MAX_JUMP_PAIRS = 3
# A hold ("stutter") inside a moving shot: near-zero flow for at most this long.
_MAX_HOLD_S = 0.5
# Below this mean flow (analysed px per frame) a shot's median motion counts as "not moving"
# for the hold check.
_MOVING_PX = 0.3

# Frozen shot: the top-5% flow magnitude, in px per second on a 256-px short side (VBench's
# reference scale), has an upper quartile under this (~1% of the frame height per second),
# and frames barely differ (median mean absolute difference under ~1.5 grey levels).
FROZEN_TOP5_PX_PER_S = 3.0
FROZEN_FRAME_DIFF = 0.006

# Sobel |gx| + |gy| above this (about 5 grey levels per pixel) counts as texture.
_TEXTURE_GRADIENT = 40.0

# The texture layer a shot may ask for (rain, snow, fire...; see quality/request.py and
# texture_layer). When less than _MIN_SCENE_SHARE of the frame is left outside it, the mask
# is not trusted and the pair is judged whole: a picture that boils everywhere is a defect
# whatever was asked (a cut or a flash also lands here, and frame_jumps judges those anyway).
_INCOHERENT_PX = 0.6  # flow this far off its 15-px neighbourhood mean: a streak the flow cannot follow
_SPECK_GREY = 20.0  # white top-hat over a 5-px disc: streaks, flakes, sparks brighter than around them
_JOLT_PX = 1.0  # flow change since the last pair this far off the frame's median change (flames boiling)
_RESIDUAL_GREY = 25.0  # the flow leaves this much of the change unexplained (~10 % of full scale)
_MIN_SCENE_SHARE = 0.2
_DISC5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

_local = threading.local()


def _dis() -> cv2.DISOpticalFlow:
    # One DIS object per thread: creating it costs more than a small pair, and OpenCV
    # algorithm objects are not safe to share between threads (Prefect may run tasks in threads).
    dis = getattr(_local, "dis", None)
    if dis is None:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        _local.dis = dis
    return dis


def to_small(frame: np.ndarray, max_side: int = 320) -> np.ndarray:
    """Contiguous uint8 copy (or view) of a frame, downscaled so its long side is <= max_side."""
    h, w = frame.shape[:2]
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        frame = cv2.resize(frame, (max(2, round(w * s)), max(2, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame, dtype=np.uint8)


def to_gray_small(frame: np.ndarray, max_side: int = 320) -> np.ndarray:
    """Grey uint8 copy of an RGB (or grey) frame, downscaled so its long side is <= max_side."""
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        gray = cv2.resize(gray, (max(2, round(w * s)), max(2, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(gray, dtype=np.uint8)


def dense_flow(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Dense optical flow (H, W, 2) float32 from grey `prev` to grey `nxt` (DIS, fast preset).

    flow[y, x] is the displacement (dx, dy) in pixels that carries prev's pixel at (x, y) to nxt.
    """
    if prev.shape != nxt.shape or prev.ndim != 2:
        raise MediaError(f"dense_flow needs two grey frames of one size, got {prev.shape} and {nxt.shape}")
    return _dis().calc(prev, nxt, None)


@dataclass
class FlowSeries:
    """Per consecutive-frame-pair measurements of one shot (index i = frames i -> i+1).

    mean_mag: mean flow magnitude over textured pixels (where flow is measurable; all pixels
        if under 5% are textured), analysed px per frame (>= 0).
    mean_dx, mean_dy: mean flow vector over the same pixels (global camera motion), px per frame.
    top5_mag: mean of the top 5% flow magnitudes over all pixels (VBench's dynamic-degree
        statistic), px per frame.
    frame_diff: mean absolute grey difference, fraction of 255 in [0, 1].
    warp_error: frame i warped onto i+1 by the flow, mean absolute error against i+1 after
        removing the global brightness change, fraction of 255 in [0, 1]. Pixels the flow
        carries from outside the frame are left out. Low when the flow explains the change.
    brightness_change: mean grey of i+1 minus mean grey of i, fraction of 255 in [-1, 1].
    colour_shift: the colour cast the flow does not explain: frame i (RGB) warped onto i+1,
        per-channel mean residual against i+1 with the common (grey) part removed, Euclidean
        norm over R, G, B, fraction of 255 in [0, ~0.8]. A white-balance pump or colour
        flicker at constant luminance moves it; a pan or a brightness flash does not.
    flow_field_var: temporal variance of the dense flow field between pairs i-1 and i: half
        the mean squared per-pixel difference of the two flow fields over textured pixels
        (the successive-difference estimate of variance, which ignores slow, steady change),
        analysed px^2 per frame^2. Steady pans, zooms and objects moving at constant speed
        keep it near 0; shake and boiling textures raise it. 0 for the first pair.
    flow_mag_var: the same for the flow magnitude alone (speed changes, not direction), px^2.
    width, height: the analysed frame size; scale: analysed px per source px.

    Measured only when flow_series is asked to mask the texture layer (empty otherwise):
    layer_share: share of the frame in the texture layer (see texture_layer), [0, 1];
    scene_field_var, scene_mag_var, scene_warp_error, scene_frame_diff, scene_mean_mag: the
        same measurements over the rest of the frame (the scene without the layer, its and the
        previous pair's), as medians over pixels rather than means, so the layer's fringe
        (DIS spreads a streak's error over its 8-px patches) cannot carry them. A camera
        shake moves every pixel alike and keeps them high. A pair whose layer leaves under
        20 % of the frame keeps its whole-frame values.
    """

    mean_mag: list[float] = field(default_factory=list)
    mean_dx: list[float] = field(default_factory=list)
    mean_dy: list[float] = field(default_factory=list)
    top5_mag: list[float] = field(default_factory=list)
    frame_diff: list[float] = field(default_factory=list)
    warp_error: list[float] = field(default_factory=list)
    brightness_change: list[float] = field(default_factory=list)
    colour_shift: list[float] = field(default_factory=list)
    flow_field_var: list[float] = field(default_factory=list)
    flow_mag_var: list[float] = field(default_factory=list)
    layer_share: list[float] = field(default_factory=list)
    scene_field_var: list[float] = field(default_factory=list)
    scene_mag_var: list[float] = field(default_factory=list)
    scene_warp_error: list[float] = field(default_factory=list)
    scene_frame_diff: list[float] = field(default_factory=list)
    scene_mean_mag: list[float] = field(default_factory=list)
    width: int = 0
    height: int = 0
    scale: float = 1.0

    @property
    def pairs(self) -> int:
        return len(self.mean_mag)

    def as_dict(self) -> dict[str, list[float]]:
        """The per-pair lists by name (for plotting or JSON)."""
        return {
            "mean_mag": self.mean_mag,
            "mean_dx": self.mean_dx,
            "mean_dy": self.mean_dy,
            "top5_mag": self.top5_mag,
            "frame_diff": self.frame_diff,
            "warp_error": self.warp_error,
            "brightness_change": self.brightness_change,
            "colour_shift": self.colour_shift,
            "flow_field_var": self.flow_field_var,
            "flow_mag_var": self.flow_mag_var,
            **({"layer_share": self.layer_share} if self.layer_share else {}),
        }

    def scene(self) -> FlowSeries:
        """The measurements without the texture layer (this series when none was masked)."""
        if not self.layer_share:
            return self
        return FlowSeries(
            mean_mag=self.scene_mean_mag, mean_dx=self.mean_dx, mean_dy=self.mean_dy, top5_mag=self.top5_mag,
            frame_diff=self.scene_frame_diff, warp_error=self.scene_warp_error,
            brightness_change=self.brightness_change, colour_shift=self.colour_shift,
            flow_field_var=self.scene_field_var, flow_mag_var=self.scene_mag_var,
            width=self.width, height=self.height, scale=self.scale,
        )


@dataclass
class _Pair:
    mean_mag: float
    dx: float
    dy: float
    top5: float
    diff: float
    warp: float
    brightness: float
    colour: float
    field_var: float
    mag_var: float


def texture_layer(
    prev: np.ndarray, nxt: np.ndarray, back: np.ndarray, last_flow: np.ndarray | None = None,
    residual: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean mask of the texture layer between grey frames `prev` and `nxt` with flow `back`.

    The layer, grown by 2 px: flow incoherent with its 15-px neighbourhood (more than 0.6 px
    off its local mean: rain streaks); small bright structures in either frame (white top-hat
    over a 5-px disc above 20 grey levels: streaks, flakes, sparks); with `last_flow`, flow
    that changed since the last pair by more than 1 px beyond the frame's median change
    (boiling flames, surf); with `residual` (|frame t warped by the flow - frame t+1|, grey
    levels), what the flow leaves more than 25 levels unexplained. A steady pan or zoom and a
    shaking camera move the picture coherently and leave it small (2-24 % on the calibration
    pans, mostly fine bright detail).
    Calibration (tests/quality_clips.py): asked-for rain, snow and fire cover 40-65 % of the
    frame; stability on the rest reads 0.56-0.92 where the whole frame reads 0.13-0.43, and a
    shaking camera under rain or fire still reads 0.22-0.33 (min_stability 0.5).
    """
    local = cv2.blur(back, (15, 15))
    off = np.abs(back - local).max(axis=2) > _INCOHERENT_PX
    specks = (cv2.morphologyEx(nxt, cv2.MORPH_TOPHAT, _DISC5) > _SPECK_GREY) | (
        cv2.morphologyEx(prev, cv2.MORPH_TOPHAT, _DISC5) > _SPECK_GREY
    )
    layer = off | specks
    if last_flow is not None:
        step = back - last_flow
        jolt = step - np.median(step.reshape(-1, 2), axis=0)
        layer |= np.abs(jolt).max(axis=2) > _JOLT_PX
    if residual is not None:
        layer |= residual > _RESIDUAL_GREY
    return cv2.dilate(layer.astype(np.uint8), _DISC5) > 0


@dataclass
class _Scene:
    share: float
    field_var: float
    mag_var: float
    warp: float
    diff: float
    mean_mag: float


def _pair_stats(
    prev: np.ndarray, nxt: np.ndarray, prev_rgb: np.ndarray, nxt_rgb: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray], last_flow: np.ndarray | None,
    last_layer: np.ndarray | None = None, mask_layer: bool = False,
) -> tuple[_Pair, np.ndarray, _Scene | None, np.ndarray | None]:
    # Backward flow (t+1 -> t) lets one remap pull frame t onto frame t+1's pixel grid;
    # its sign is flipped for the reported forward motion.
    back = dense_flow(nxt, prev)
    gx, gy = grid
    map_x = gx + back[..., 0]
    map_y = gy + back[..., 1]
    h, w = prev.shape
    valid = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    warped = cv2.remap(prev, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    p = prev.astype(np.float32)
    n = nxt.astype(np.float32)
    brightness = float(n.mean() - p.mean()) / 255.0
    if valid.mean() > 0.05:
        residual = warped.astype(np.float32)[valid] - n[valid]
        warp = float(np.abs(residual - residual.mean()).mean()) / 255.0
        warped_rgb = cv2.remap(prev_rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        channel_res = warped_rgb[valid].mean(axis=0) - nxt_rgb[valid].mean(axis=0)
    else:  # the flow pushes everything out of frame: nothing explained
        warp = float(np.abs(p - n).mean()) / 255.0
        channel_res = prev_rgb.reshape(-1, 3).mean(axis=0) - nxt_rgb.reshape(-1, 3).mean(axis=0)
    # The common part of the three channel shifts is a brightness change (judged by
    # brightness_change); what is left is a change of colour cast.
    chroma = channel_res - channel_res.mean()
    colour = float(np.linalg.norm(chroma)) / 255.0
    mag = np.sqrt(back[..., 0] ** 2 + back[..., 1] ** 2)
    flat_mag = mag.ravel()
    k = max(1, int(flat_mag.size * 0.05))
    top5 = float(np.partition(flat_mag, flat_mag.size - k)[-k:].mean())
    # Flow is only measurable where there is texture: on flat sky DIS returns noise that
    # would read as camera shake. Mean motion is taken over textured pixels when there are enough.
    grad = np.abs(cv2.Sobel(nxt, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(nxt, cv2.CV_32F, 0, 1, ksize=3))
    textured = grad > _TEXTURE_GRADIENT
    sel = textured if textured.mean() >= 0.05 else np.ones_like(textured)
    dx, dy = -float(back[..., 0][sel].mean()), -float(back[..., 1][sel].mean())
    field_var = mag_var = 0.0
    if last_flow is not None:
        step = back - last_flow
        field_var = 0.5 * float((step[..., 0][sel] ** 2 + step[..., 1][sel] ** 2).mean())
        last_mag = np.sqrt(last_flow[..., 0] ** 2 + last_flow[..., 1] ** 2)
        mag_var = 0.5 * float(((mag - last_mag)[sel] ** 2).mean())
    stats = _Pair(
        float(mag[sel].mean()), dx, dy, top5, float(np.abs(p - n).mean()) / 255.0, warp, brightness,
        colour, field_var, mag_var,
    )
    if not mask_layer:
        return stats, back, None, None
    layer = texture_layer(prev, nxt, back, last_flow, np.abs(warped.astype(np.float32) - n))
    # The flow-field change compares this pair with the last: leave out both pairs' layers.
    both = layer | last_layer if last_layer is not None else layer
    scene = ~both
    if scene.mean() < _MIN_SCENE_SHARE:
        return stats, back, _Scene(float(layer.mean()), field_var, mag_var, warp, stats.diff, stats.mean_mag), layer
    ssel = scene & textured if (scene & textured).mean() >= 0.05 else scene
    s_field = s_mag = 0.0
    if last_flow is not None:
        s_field = 0.5 * float(np.median(step[..., 0][ssel] ** 2 + step[..., 1][ssel] ** 2))
        s_mag = 0.5 * float(np.median((mag - last_mag)[ssel] ** 2))
    s_valid = valid & scene
    if s_valid.mean() > 0.05:
        res = warped.astype(np.float32)[s_valid] - n[s_valid]
        s_warp = float(np.median(np.abs(res - np.median(res)))) / 255.0
    else:
        s_warp = warp
    s_diff = float(np.median(np.abs(p - n)[scene])) / 255.0
    return stats, back, _Scene(float(layer.mean()), s_field, s_mag, s_warp, s_diff, float(mag[ssel].mean())), layer


def flow_series(
    frames: Iterable[np.ndarray], max_side: int = 320, source_width: int | None = None, mask_layer: bool = False
) -> FlowSeries:
    """Measure every consecutive pair of `frames` (RGB uint8), holding two frames at a time.

    source_width: width of the original video when the frames were already downscaled at
    decode (sets `scale`); default: the frames' own width.
    mask_layer: also measure the scene without its texture layer (the scene_* fields; for a
    shot that asked for rain, snow, fire...).
    Raises MediaError if there are fewer than two frames.
    """
    series = FlowSeries()
    prev: np.ndarray | None = None
    prev_rgb: np.ndarray | None = None
    last_flow: np.ndarray | None = None
    last_layer: np.ndarray | None = None
    grid: tuple[np.ndarray, np.ndarray] | None = None
    for frame in frames:
        small = to_small(frame, max_side)
        gray = to_gray_small(small, max_side)
        rgb = small if small.ndim == 3 else cv2.cvtColor(small, cv2.COLOR_GRAY2RGB)
        if prev is None:
            h, w = gray.shape
            series.width, series.height = w, h
            series.scale = w / (source_width or frame.shape[1])
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            grid = (gx, gy)
        else:
            assert grid is not None and prev_rgb is not None
            if gray.shape != prev.shape:
                raise MediaError(f"frame size changed mid-video: {prev.shape} -> {gray.shape}")
            pair, last_flow, scene, last_layer = _pair_stats(
                prev, gray, prev_rgb, rgb, grid, last_flow, last_layer, mask_layer
            )
            if scene is not None:
                series.layer_share.append(scene.share)
                series.scene_field_var.append(scene.field_var)
                series.scene_mag_var.append(scene.mag_var)
                series.scene_warp_error.append(scene.warp)
                series.scene_frame_diff.append(scene.diff)
                series.scene_mean_mag.append(scene.mean_mag)
            series.mean_mag.append(pair.mean_mag)
            series.mean_dx.append(pair.dx)
            series.mean_dy.append(pair.dy)
            series.top5_mag.append(pair.top5)
            series.frame_diff.append(pair.diff)
            series.warp_error.append(pair.warp)
            series.brightness_change.append(pair.brightness)
            series.colour_shift.append(pair.colour)
            series.flow_field_var.append(pair.field_var)
            series.flow_mag_var.append(pair.mag_var)
        prev, prev_rgb = gray, rgb
    if series.pairs == 0:
        raise MediaError(f"motion scoring needs at least 2 frames, got {0 if prev is None else 1}")
    return series


# Share of pairs with the largest flow-field change left out of the stability average: a
# cut or teleport spikes one or two pairs (frame_jumps judges those); shake lasts.
STABILITY_TRIM = 0.1


def trimmed_mean(values: np.ndarray, drop: float) -> float:
    """Mean of `values` leaving out the largest `drop` share (0 for no values)."""
    if values.size == 0:
        return 0.0
    kept = np.sort(values)[: values.size - int(values.size * drop)]
    return float(kept.mean())


def flow_stability(series: FlowSeries) -> float:
    """How smoothly the motion evolves, in [0, 1] (1 = steady motion the flow fully explains).

    stability = exp(-(jitter + unexplained)), where
      jitter = (T(sqrt(flow_field_var)) + T(sqrt(flow_mag_var))) / (median(m) + 0.5 px): the
               temporal standard deviation of the dense flow field and of its magnitude
               (see FlowSeries), relative to the shot's own motion m (per-pair mean flow
               magnitude); T is the mean over pairs leaving out the 10 % largest (a cut's
               single spike is frame_jumps' business, shake lasts);
      unexplained = median(warp_error) / (median(frame_diff) + 0.02): the share of the frame
               change the flow cannot explain (0.02, ~5 grey levels, keeps near-still shots
               from being judged on codec noise).
    Calibration (tests/quality_clips.py, 320x180): smooth pans and zooms 0.73-0.97, a pan
    with hand shake (sigma 1.5 px) 0.29, shake over the second half only 0.47.
    Still shots score high here by construction; gate them with `is_frozen`.
    """
    m = np.asarray(series.mean_mag, dtype=np.float64)
    field_sd = np.sqrt(np.asarray(series.flow_field_var[1:], dtype=np.float64))
    mag_sd = np.sqrt(np.asarray(series.flow_mag_var[1:], dtype=np.float64))
    jitter = (trimmed_mean(field_sd, STABILITY_TRIM) + trimmed_mean(mag_sd, STABILITY_TRIM)) / (
        float(np.median(m)) + 0.5
    )
    unexplained = float(np.median(series.warp_error)) / (float(np.median(series.frame_diff)) + 0.02)
    return float(np.exp(-(jitter + unexplained)))


def shakiest_pair(series: FlowSeries) -> int:
    """Index of the pair whose flow field changed most from the previous pair (for a reason's time)."""
    return int(np.argmax(series.flow_field_var)) if series.pairs else 0


@dataclass
class Jump:
    """A discontinuity between frames. time_s: time of the frame after the break.

    kind: cut (the flow cannot explain the change), jump (the content moves far more than
    the shot's own motion: a teleport), flicker (global brightness step), colour_flicker
    (a colour-cast step at about the same brightness: white balance pumping), hold (motion stops
    for a moment inside a moving shot: a stutter). score: robust z-score of the signal (for
    a hold: its length in frames).
    """

    time_s: float
    score: float
    kind: str
    threshold: float = 0.0


def _robust_z(values: list[float], floor: tuple[float, float], two_sided: bool = False) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    med = float(np.median(x))
    spread = _MAD_TO_SIGMA * float(np.median(np.abs(x - med)))
    scale = max(spread, floor[0] + floor[1] * abs(med))
    dev = np.abs(x - med) if two_sided else x - med
    return dev / scale


def jump_signals(series: FlowSeries) -> dict[str, np.ndarray]:
    """Per-pair robust z-scores that frame_jumps compares with its `z` (also for plots).

    warp: warp error; motion: mean flow magnitude; brightness: |brightness change|;
    colour: colour shift. Each is (value - shot median) / max(1.4826 * MAD, floor).
    """
    return {
        "warp": _robust_z(series.warp_error, _WARP_FLOOR),
        "motion": _robust_z(series.mean_mag, _MOTION_FLOOR),
        "brightness": _robust_z(series.brightness_change, _BRIGHTNESS_FLOOR, two_sided=True),
        "colour": _robust_z(series.colour_shift, _COLOUR_FLOOR),
    }


def frame_jumps(series: FlowSeries, fps: float, z: float) -> list[Jump]:
    """Frame changes that are outliers against the shot's own motion, in time order.

    A pair is a cut/jump/flicker/colour_flicker when its warp error, mean flow magnitude,
    brightness change or colour shift lies more than `z` robust deviations (1.4826 * MAD,
    floored) above the shot's median; a steady fast pan has a high median and a small
    spread, so it is not a jump. Cuts and jumps must be short (at most 3 outlier pairs in a
    row): motion that starts and keeps going is the shot's own.
    Also reports holds: a run of near-zero-flow pairs shorter than 0.5 s between moving
    pairs in a shot that otherwise moves.
    """
    if series.pairs == 0:
        return []
    sig = jump_signals(series)
    wz, mz, bz, cz = sig["warp"], sig["motion"], sig["brightness"], sig["colour"]
    # A cut or teleport breaks one pair (two when the picture jumps back); an outlier lasting
    # longer is the shot's own motion starting (a subject that begins to run), not a jump.
    w_out = _short_runs(wz > z, _MAX_JUMP_PAIRS)
    m_out = _short_runs(mz > z, _MAX_JUMP_PAIRS)
    jumps: list[Jump] = []
    for i in range(series.pairs):
        t = (i + 1) / fps
        # A brightness or colour step is a flicker when it explains the change at least as
        # well as a content break does (saturated pixels leave some warp residual after a
        # flash; a cut to another picture changes the colours too, but its warp error more).
        if bz[i] > z and bz[i] >= wz[i]:
            jumps.append(Jump(t, float(bz[i]), "flicker", z))
        elif cz[i] > z and cz[i] >= wz[i]:
            jumps.append(Jump(t, float(cz[i]), "colour_flicker", z))
        elif w_out[i]:
            jumps.append(Jump(t, float(wz[i]), "cut", z))
        elif m_out[i]:
            jumps.append(Jump(t, float(mz[i]), "jump", z))
    jumps += _holds(series, fps)
    return sorted(jumps, key=lambda j: j.time_s)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True values, end exclusive."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(flags):
        if flags[i]:
            j = i
            while j < len(flags) and flags[j]:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def _short_runs(flags: np.ndarray, max_len: int) -> np.ndarray:
    out = np.zeros(len(flags), dtype=bool)
    for i, j in _runs(flags):
        out[i:j] = j - i <= max_len
    return out


def _holds(series: FlowSeries, fps: float) -> list[Jump]:
    m = np.asarray(series.mean_mag)
    d = np.asarray(series.frame_diff)
    med_m, med_d = float(np.median(m)), float(np.median(d))
    if med_m < _MOVING_PX:
        return []
    still = (m < max(0.05, 0.1 * med_m)) & (d < 0.25 * med_d)
    # Only bracketed, short runs: a shot may legitimately start or end at rest.
    return [
        Jump((i + 1) / fps, float(j - i), "hold", 0.0)
        for i, j in _runs(still)
        if i > 0 and j < len(still) and j - i <= _MAX_HOLD_S * fps
    ]


def _vbench_interval(fps: float | None) -> int:
    # VBench samples frames every round(fps / 8) frames, so each flow pair spans ~1/8 s.
    return max(1, round(fps / 8)) if fps else 1


def dynamic_degree(series: FlowSeries, width: int, height: int, fps: float | None = None) -> float:
    """Fraction of pairs that "move" as VBench judges it, in [0, 1].

    A pair moves when its top-5% flow magnitude exceeds 6 * min(width, height) / 256 source
    pixels (converted to the analysed resolution). VBench measures pairs ~1/8 s apart; given
    `fps`, per-frame magnitudes are multiplied by VBench's sampling interval round(fps / 8),
    assuming motion is locally steady. (VBench reports a yes/no per video: >= 4 of 16 pairs.)
    """
    if series.pairs == 0:
        return 0.0
    threshold = 6.0 * min(width, height) / 256.0 * series.scale
    top5 = np.asarray(series.top5_mag) * _vbench_interval(fps)
    return float((top5 > threshold).mean())


def motion_px_per_s(series: FlowSeries, fps: float) -> float:
    """How much the shot moves: upper-quartile top-5% flow magnitude, px per second on a
    256-px short side (VBench's scale). The upper quartile counts a shot that moves for at
    least a quarter of its length as moving."""
    if series.pairs == 0:
        return 0.0
    short = min(series.width, series.height)
    return float(np.percentile(series.top5_mag, 75)) * fps * 256.0 / short


def is_frozen(series: FlowSeries, fps: float) -> bool:
    """True when the shot barely moves: little flow and frames nearly identical."""
    return (
        motion_px_per_s(series, fps) < FROZEN_TOP5_PX_PER_S
        and float(np.median(series.frame_diff)) < FROZEN_FRAME_DIFF
    )


# A lightning flash fades at once: the pair after the brightening must darken by at least this
# share of the rise (a defect flicker holds its level for frames), and the picture must be back
# within this share of the rise inside _FLASH_S.
_FLASH_FADE = 0.25
_FLASH_S = 0.5


def flash_pairs(series: FlowSeries, fps: float, z: float) -> set[int]:
    """Indices of the pairs that belong to a lightning-like flash: a brightening past `z`
    (as frame_jumps judges a flicker) whose very next pair darkens again by at least a
    quarter of the rise, and that is back to within a quarter of the rise inside 0.5 s (the
    darkening pairs right after, the afterglow fading, belong to it).

    A flicker that holds its level (an exposure or brightness step over several frames)
    is not a flash and stays a flicker.
    """
    b = np.asarray(series.brightness_change, dtype=np.float64)
    bz = jump_signals(series)["brightness"]
    window = max(2, round(_FLASH_S * fps))
    flash: set[int] = set()
    for i in range(series.pairs - 1):
        rise = b[i]
        if bz[i] <= z or rise <= 0 or b[i + 1] > -_FLASH_FADE * rise:
            continue
        level, end = rise, min(series.pairs, i + 1 + window)
        for k in range(i + 1, end):
            level += b[k]
            if level < _FLASH_FADE * rise:
                # The afterglow's last darkening steps belong to the flash too.
                while k + 1 < end and b[k + 1] < 0:
                    k += 1
                flash.update(range(i, k + 1))
                break
    return flash
