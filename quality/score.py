"""Automatic quality gate for one generated shot: optical-flow metrics -> pass/fail with reasons.

A shot passes when its composite score and flow stability reach the settings' minimums, it
has no frame discontinuities (cut, teleport jump, flicker, hold), and, when the shot asked
for motion, it is not frozen. The frozen gate matters: stability and consistency scores are
highest for still clips, so without it automatic regeneration drifts toward frozen shots.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from quality.metrics import (
    FROZEN_TOP5_PX_PER_S,
    Jump,
    dynamic_degree,
    flow_series,
    flow_stability,
    frame_jumps,
    is_frozen,
    motion_px_per_s,
)
from reelgate.errors import MediaError
from reelgate.media import read_frames, video_info
from reelgate.settings import QualitySettings

# Composite score = sum(weight * term), each term in [0, 1]:
#   stability:  flow_stability (steady, flow-explained motion)
#   continuity: 1 / (1 + number of discontinuities: cuts, jumps, flickers, holds)
#   motion:     min(1, top-5% motion / MOTION_FULL_PX_S); 1 when the shot need not move
WEIGHTS: dict[str, float] = {"stability": 0.5, "continuity": 0.3, "motion": 0.2}
# Top-5% flow at which the motion term is full: 24 px/s on a 256-px short side, i.e. about
# 1 px per frame at 24 fps (a slow pan).
MOTION_FULL_PX_S = 24.0
# Frames are analysed with their long side at most this many pixels (decode-time downscale).
ANALYSIS_MAX_SIDE = 320

_KIND_METRIC = {"cut": "jumps", "jump": "jumps", "flicker": "flicker", "hold": "holds"}


class QualityReport(BaseModel):
    """The quality verdict on one generated video, with the numbers behind it."""

    shot_index: int | None = None
    attempt: int = 0
    passed: bool
    score: float = Field(description="Composite score in [0, 1] (see quality.score.WEIGHTS).")
    metrics: dict[str, float] = Field(default_factory=dict)
    failing: list[str] = Field(default_factory=list, description="Names of the checks that failed.")
    reasons: list[str] = Field(default_factory=list, description="Human-readable reasons, with frame times.")
    flagged_times: list[float] = Field(default_factory=list, description="Seconds where a discontinuity was found.")
    series: dict[str, list[float]] = Field(default_factory=dict, description="Per-frame-pair values for plotting.")
    seconds_taken: float = 0.0

    def to_markdown(self) -> str:
        """A Markdown summary (verdict, metric table, reasons) for a Prefect artifact."""
        title = f"Shot {self.shot_index}" if self.shot_index is not None else "Video"
        verdict = "PASS" if self.passed else "FAIL"
        lines = [
            f"### {title}, attempt {self.attempt}: {verdict} (score {self.score:.2f})",
            "",
            "| metric | value |",
            "|---|---|",
        ]
        lines += [f"| {name} | {value:.4g} |" for name, value in self.metrics.items()]
        if self.reasons:
            lines += ["", "**Reasons**", ""] + [f"- {r}" for r in self.reasons]
        lines += ["", f"_scored in {self.seconds_taken:.2f} s_"]
        return "\n".join(lines)


def _analysis_size(width: int, height: int) -> tuple[int, int] | None:
    if max(width, height) <= ANALYSIS_MAX_SIDE:
        return None
    s = ANALYSIS_MAX_SIDE / max(width, height)
    return max(2, round(width * s / 2) * 2), max(2, round(height * s / 2) * 2)


def _jump_reason(j: Jump) -> str:
    if j.kind == "hold":
        return f"motion stops for {int(j.score)} frame(s) at {j.time_s:.2f} s inside a moving shot (stutter)"
    what = {"cut": "cut (change the flow cannot explain)", "jump": "frame jump", "flicker": "flicker"}[j.kind]
    return f"{what} at {j.time_s:.2f} s (score {j.score:.1f}, threshold {j.threshold:.1f})"


def score_video(
    video: Path,
    settings: QualitySettings,
    *,
    wants_motion: bool = True,
    shot_index: int | None = None,
    attempt: int = 0,
) -> QualityReport:
    """Score one video file against the quality settings.

    wants_motion: the shot is meant to move (ShotSpec.wants_motion); with
    settings.require_motion a nearly still shot then fails as frozen.
    Raises MediaError for an unreadable video or one with fewer than 2 frames.
    """
    started = time.perf_counter()
    video = Path(video)
    width, height, fps, duration = video_info(video)
    try:
        series = flow_series(
            read_frames(video, size=_analysis_size(width, height)),
            max_side=ANALYSIS_MAX_SIDE,
            source_width=width,
        )
    except MediaError as exc:
        raise MediaError(f"cannot score {video}: {exc}; regenerate the shot with at least 2 frames") from exc
    if not fps or fps <= 0:
        if duration <= 0:
            raise MediaError(f"cannot score {video}: it reports neither a frame rate nor a duration")
        fps = (series.pairs + 1) / duration

    stability = flow_stability(series)
    jumps = frame_jumps(series, fps, settings.jump_z)
    frozen = is_frozen(series, fps)
    motion = motion_px_per_s(series, fps)
    needs_motion = settings.require_motion and wants_motion
    terms = {
        "stability": stability,
        "continuity": 1.0 / (1.0 + len(jumps)),
        "motion": min(1.0, motion / MOTION_FULL_PX_S) if needs_motion else 1.0,
    }
    score = float(sum(WEIGHTS[k] * terms[k] for k in WEIGHTS))

    failing: list[str] = []
    reasons: list[str] = []
    if score < settings.min_score:
        failing.append("score")
        reasons.append(f"composite score {score:.2f} is below {settings.min_score:.2f}")
    if stability < settings.min_stability:
        failing.append("stability")
        reasons.append(
            f"flow stability {stability:.2f} is below {settings.min_stability:.2f} (shaky or boiling motion)"
        )
    for j in jumps:
        if _KIND_METRIC[j.kind] not in failing:
            failing.append(_KIND_METRIC[j.kind])
        reasons.append(_jump_reason(j))
    if needs_motion and frozen:
        failing.append("frozen")
        reasons.append(
            f"shot is nearly still (top-5% motion {motion:.1f} px/s on a 256-px short side, "
            f"needs >= {FROZEN_TOP5_PX_PER_S:.1f}) but it should move"
        )

    to_src = 1.0 / series.scale
    counts = {kind: sum(j.kind == kind for j in jumps) for kind in ("cut", "jump", "flicker", "hold")}
    metrics = {
        "stability": stability,
        "jump_count": float(counts["cut"] + counts["jump"]),
        "flicker_count": float(counts["flicker"]),
        "hold_count": float(counts["hold"]),
        "dynamic_degree": dynamic_degree(series, width, height, fps),
        "warp_error": float(np.median(series.warp_error)),
        "frame_diff": float(np.median(series.frame_diff)),
        "motion_px": float(np.median(series.mean_mag)) * to_src,
        "motion_px_per_s": motion,
        "frozen": float(frozen),
        **{f"term_{k}": v for k, v in terms.items()},
        "fps": float(fps),
        "frames": float(series.pairs + 1),
    }
    return QualityReport(
        shot_index=shot_index,
        attempt=attempt,
        passed=not failing,
        score=score,
        metrics=metrics,
        failing=failing,
        reasons=reasons,
        flagged_times=[round(j.time_s, 4) for j in jumps],
        series={k: [round(x, 5) for x in v] for k, v in series.as_dict().items()},
        seconds_taken=time.perf_counter() - started,
    )


def pick_best(reports: list[QualityReport]) -> QualityReport:
    """The passing report with the highest score; if none passed, the highest score overall."""
    if not reports:
        raise ValueError("pick_best needs at least one report")
    passing = [r for r in reports if r.passed]
    return max(passing or reports, key=lambda r: r.score)
