"""Shot-to-shot colour matching: pull each shot's colours toward the episode's reference shot,
so a deep blue sky does not turn purple at the next cut.

Reinhard et al.'s colour transfer (2001) in CIELAB: each channel of the shot is shifted to
the reference's mean and scaled toward its spread,
    out = mean_ref + ratio * (x - mean_shot),   ratio = std_ref / std_shot (capped),
measured on frames sampled across both videos, then blended by `strength`. It is one
per-pixel colour map, so it is baked into a 33-point 3D LUT in the shot's work folder and
runs as one lut3d filter inside the chain's single pass.

The mean moves at most MAX_SHIFT (a cast, not a repaint), and the caps keep a shot's own contrast: the lightness ratio stays within 0.9..1.1 (a flat,
misty reference must not flatten a crisp shot), the chroma ratios within 0.5..2 (a grey
shot must not be blown into noise). Matching fixes drift in colour cast and exposure, not
a shot's tonal design.

Order: match runs before grade, on the ungraded shot and against the ungraded reference
(context.reference must be the reference shot as generated), so the look is applied once,
on top of matched colours. `grade.fuse` bakes the two into one LUT (one lut3d pass).

Measured (tests/test_enhance_colour.py, rocket photo under a deep blue sky, 3 shots: as
generated, drifted purple, drifted warm-green; strength 0.8): adjacent palette CIEDE2000
7.3 and 18.9 before, 2.3 and 4.1 after (the same scene framed differently, no drift,
scores 2.2); std of L* inside each shot kept within 5 % (7.40 -> 7.08, 9.88 -> 9.50).
Cost: planning decodes both videos at 160 px wide (~0.13-0.26 s per video second at
832x480@16 and 1280x720@24, the reference measured once per process), then one lut3d
(see grade.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from postprocess.enhance.base import StepContext, StepPlan, VideoShape
from postprocess.enhance.colour import Lut, identity, lab_to_rgb, rgb_to_lab, sample_frames
from postprocess.enhance.grade import lut_step
from reelgate.settings import MatchSettings

LIGHTNESS_RATIO = (0.95, 1.15)
CHROMA_RATIO = (0.5, 2.0)
# The largest move of the mean colour (CIELAB units): a generator's drift between cuts (a blue
# sky turning purple) is well inside it; a shot whose content differs (a red cloak close-up
# after a wide blue sky) is moved no further than a cast, never repainted toward the reference.
MAX_SHIFT = 16.0
# Farther apart than this (CIEDE2000 of the mean colours) two shots differ by design, not by
# drift (dusk and night, a sunny meadow and a cave): they are not matched at all.
MAX_DRIFT = 25.0
LUT_SIZE = 33  # per-shot and temporary: size costs nothing per pixel, and 33 follows the Lab map closely
SAMPLE_FRAMES = 8


@dataclass(frozen=True)
class LabStats:
    """Mean and standard deviation of L*, a*, b* over a video's sampled frames."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def measure(path: Path) -> LabStats:
    """Lab statistics of a video (sampled frames at 160 px wide; cached per file version)."""
    path = Path(path)
    st = path.stat()
    return _measure(str(path.resolve()), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=64)
def _measure(path: str, mtime_ns: int, size: int) -> LabStats:
    # mtime and size are in the key so a rewritten shot is measured again
    lab = rgb_to_lab(sample_frames(Path(path), SAMPLE_FRAMES)).reshape(-1, 3)
    return LabStats(tuple(lab.mean(axis=0).tolist()), tuple(lab.std(axis=0).tolist()))  # type: ignore[arg-type]


def transfer_ratios(shot: LabStats, reference: LabStats) -> tuple[float, float, float]:
    """Per-channel std ratios reference / shot, capped (lightness 0.9..1.1, chroma 0.5..2)."""
    caps = (LIGHTNESS_RATIO, CHROMA_RATIO, CHROMA_RATIO)
    return tuple(float(np.clip(r / max(s, 1e-6), lo, hi))  # type: ignore[return-value]
                 for r, s, (lo, hi) in zip(reference.std, shot.std, caps))


def transfer_lut(shot: LabStats, reference: LabStats, strength: float, size: int = LUT_SIZE) -> Lut:
    """The colour map moving `shot`'s Lab statistics `strength` of the way to `reference`'s, as a LUT."""
    grid = identity(size).astype(np.float64)
    lab = rgb_to_lab(grid)
    ratio = np.array(transfer_ratios(shot, reference))
    shift = np.array(reference.mean) - np.array(shot.mean)
    shift *= min(1.0, MAX_SHIFT / max(float(np.linalg.norm(shift)), 1e-6))
    moved = np.array(shot.mean) + shift + ratio * (lab - np.array(shot.mean))
    out = lab_to_rgb(lab + strength * (moved - lab))
    return Lut(out.astype(np.float32))


def plan(settings: MatchSettings, shape: VideoShape, context: StepContext) -> StepPlan | None:
    """The lut3d filter matching the shot (context.source) to context.reference.

    None when switched off, at strength 0, with no reference or no source, when the shot
    is the reference itself, or when the two differ by more than MAX_DRIFT (by design).
    """
    if not settings.enabled or settings.strength <= 0.0 or context.reference is None or context.source is None:
        return None
    reference, source = Path(context.reference), Path(context.source)
    if _same_file(reference, source):
        return None
    ref_stats, shot_stats = measure(reference), measure(source)
    from skimage.color import deltaE_ciede2000

    drift = float(deltaE_ciede2000(np.array(shot_stats.mean), np.array(ref_stats.mean)))
    if drift > MAX_DRIFT:
        return None
    lut = transfer_lut(shot_stats, ref_stats, settings.strength)
    record = {"reference": reference.name, "strength": settings.strength, "mean_delta_e_before": round(drift, 2),
              "std_ratios": [round(r, 3) for r in transfer_ratios(shot_stats, ref_stats)]}
    return lut_step("match", lut, context, record, shape)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()
