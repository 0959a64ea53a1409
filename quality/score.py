"""Automatic quality gate for one generated shot: flow and face metrics -> pass/fail with reasons.

A shot passes when its composite score and flow stability reach the settings' minimums, it
has no frame discontinuities (cut, teleport jump, flicker, colour flicker, hold), no face
issue (a face appearing/vanishing mid-shot, collapsing detection confidence, implausible
landmarks, an identity change), and, when the shot asked for motion, it is not frozen.

What the shot asked for is not a defect (quality/request.py): with rain, snow, fire, surf,
smoke, crowds or stars asked for, stability is judged on the scene without that texture
layer (quality.metrics.texture_layer); in a storm, a lightning flash is not a flicker
(quality.metrics.flash_pairs). The report's `relaxed` lines say so. The same texture or
flash in a shot that did not ask for it is judged as before. The
frozen gate matters: stability and consistency scores are highest for still clips, so
without it automatic regeneration drifts toward frozen shots.

The video is decoded once: at <= settings.face_max_side (640) px when faces are checked
(frames sampled at face_sample_fps go to the face checks, every frame is shrunk to 320 px
for the flow), else straight at 320 px.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from quality.faces import FaceAnalysis, FaceSampler, default_models
from quality.metrics import (
    FROZEN_TOP5_PX_PER_S,
    FlowSeries,
    Jump,
    dynamic_degree,
    flow_series,
    flash_pairs,
    flow_stability,
    frame_jumps,
    STABILITY_TRIM,
    is_frozen,
    jump_signals,
    motion_px_per_s,
    shakiest_pair,
    trimmed_mean,
)
from quality.request import ShotRequest
from reelgate.errors import MediaError
from reelgate.media import read_frames, video_info
from reelgate.settings import QualitySettings

if TYPE_CHECKING:
    from safety.faces import FaceDetector
    from safety.likeness import FaceEmbedder

# Composite score = sum(weight * term), each term in [0, 1]:
#   stability:  flow_stability (steady, flow-explained motion)
#   continuity: 1 / (1 + number of discontinuities: cuts, jumps, flickers, holds)
#   motion:     min(1, top-5% motion / MOTION_FULL_PX_S); 1 when the shot need not move
#   faces:      1 / (1 + number of face issues); 1 with no faces or face checks off
# Stability carries most weight (it is the only graded term); every discontinuity, face
# issue or frozen shot also fails the shot on its own, so the composite ranks attempts
# (pick_best) more than it gates. Calibration: smooth clips 0.87-0.99, min_score 0.6.
WEIGHTS: dict[str, float] = {"stability": 0.45, "continuity": 0.25, "motion": 0.15, "faces": 0.15}
# Top-5% flow at which the motion term is full: 24 px/s on a 256-px short side, i.e. about
# 1 px per frame at 24 fps (a slow pan).
MOTION_FULL_PX_S = 24.0
# Frames are analysed with their long side at most this many pixels (decode-time downscale).
ANALYSIS_MAX_SIDE = 320

_KIND_METRIC = {"cut": "jumps", "jump": "jumps", "flicker": "flicker", "colour_flicker": "flicker", "hold": "holds"}
_FACE_METRIC = {"appear": "face_count", "vanish": "face_count", "confidence": "face_confidence",
                "landmarks": "face_landmarks", "identity": "face_identity"}


class Curve(BaseModel):
    """One per-frame score for plotting, with its threshold line."""

    times: list[float] = Field(default_factory=list, description="Seconds (a frame pair's time is its second frame's).")
    values: list[float] = Field(default_factory=list)
    limit: float | None = Field(None, description="The threshold line; None when the curve has none.")
    unit: str = ""
    description: str = ""


class QualityReport(BaseModel):
    """The quality verdict on one generated video, with the numbers behind it."""

    shot_index: int | None = None
    attempt: int = 0
    passed: bool
    score: float = Field(description="Composite score in [0, 1] (see quality.score.WEIGHTS).")
    metrics: dict[str, float] = Field(default_factory=dict)
    failing: list[str] = Field(default_factory=list, description="Names of the checks that failed.")
    reasons: list[str] = Field(default_factory=list, description="Human-readable reasons, with frame times.")
    relaxed: list[str] = Field(
        default_factory=list,
        description="Checks judged differently because the shot asked for it (weather, fire, lightning), and how.",
    )
    flagged_times: list[float] = Field(default_factory=list, description="Seconds where a discontinuity was found.")
    series: dict[str, list[float]] = Field(default_factory=dict, description="Per-frame-pair values for plotting.")
    curves: dict[str, Curve] = Field(
        default_factory=dict, description="Per-frame scores with their threshold lines, for the plot."
    )
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
        if self.relaxed:
            lines += ["", "**Asked for by the shot**", ""] + [f"- {r}" for r in self.relaxed]
        lines += ["", f"_scored in {self.seconds_taken:.2f} s_"]
        return "\n".join(lines)


def _jump_reason(j: Jump) -> str:
    if j.kind == "hold":
        return f"motion stops for {int(j.score)} frame(s) at {j.time_s:.2f} s inside a moving shot (stutter)"
    what = {"cut": "cut (change the flow cannot explain)", "jump": "frame jump", "flicker": "flicker",
            "colour_flicker": "colour flicker (colour cast changes at the same brightness)"}[j.kind]
    return f"{what} at {j.time_s:.2f} s (score {j.score:.1f}, threshold {j.threshold:.1f})"


def _decode_size(width: int, height: int, max_side: int) -> tuple[int, int] | None:
    if max(width, height) <= max_side:
        return None
    s = max_side / max(width, height)
    return max(2, round(width * s / 2) * 2), max(2, round(height * s / 2) * 2)


def score_video(
    video: Path,
    settings: QualitySettings,
    *,
    wants_motion: bool = True,
    shot_index: int | None = None,
    attempt: int = 0,
    face_models: tuple[FaceDetector, FaceEmbedder] | None = None,
    request: ShotRequest | None = None,
) -> QualityReport:
    """Score one video file against the quality settings.

    wants_motion: the shot is meant to move (ShotSpec.wants_motion); with
    settings.require_motion a nearly still shot then fails as frozen.
    request: what the shot asked for (quality.request.shot_request(spec)): texture judged
    without its layer, lightning flashes not counted as flicker. None: nothing asked.
    face_models: (detector, embedder) to reuse; default: MTCNN and dlib, loaded once per process.
    Raises MediaError for an unreadable video or one with fewer than 2 frames.
    """
    started = time.perf_counter()
    video = Path(video)
    width, height, fps, duration = video_info(video)
    sampler: FaceSampler | None = None
    frames = read_frames(video, size=_decode_size(width, height, settings.face_max_side if settings.faces else ANALYSIS_MAX_SIDE))
    if settings.faces:
        detector, embedder = face_models or default_models(settings.face_max_side, settings.face_min_size)
        # ffmpeg lists no rate only for odd streams; face times are then approximate.
        sampler = FaceSampler(fps if fps > 0 else 25.0, settings.face_sample_fps, detector, embedder)
        frames = sampler.watch(frames)
    try:
        series = flow_series(frames, max_side=ANALYSIS_MAX_SIDE, source_width=width,
                             mask_layer=bool(request and request.textures))
    except MediaError as exc:
        raise MediaError(f"cannot score {video}: {exc}; regenerate the shot with at least 2 frames") from exc
    if not fps or fps <= 0:
        if duration <= 0:
            raise MediaError(f"cannot score {video}: it reports neither a frame rate nor a duration")
        fps = (series.pairs + 1) / duration
    faces = sampler.analysis(settings.face_identity_min) if sampler else None

    relaxed: list[str] = []
    stability = whole_stability = flow_stability(series)
    layer = ""
    if request and request.textures:
        layer = " and ".join(request.textures)
        stability = flow_stability(series.scene())
        why = "; ".join(dict.fromkeys(request.asks[k] for k in request.textures))
        relaxed.append(
            f"{layer} asked for ({why}): stability judged without the {layer} layer "
            f"({float(np.median(series.layer_share)):.0%} of the frame; {stability:.2f}, whole frame {whole_stability:.2f})"
        )
    jumps = frame_jumps(series, fps, settings.jump_z)
    if request and request.flashes:
        flashes = flash_pairs(series, fps, settings.jump_z)
        excused = [j for j in jumps if j.kind in ("flicker", "colour_flicker") and round(j.time_s * fps) - 1 in flashes]
        if excused:
            jumps = [j for j in jumps if j not in excused]
            relaxed.append(
                f"lightning asked for ({request.asks['lightning']}): flash at "
                + ", ".join(f"{j.time_s:.2f} s" for j in excused) + " not counted as flicker"
            )
    frozen = is_frozen(series, fps)
    motion = motion_px_per_s(series, fps)
    needs_motion = settings.require_motion and wants_motion
    face_issues = faces.issues if faces else []
    terms = {
        "stability": stability,
        "continuity": 1.0 / (1.0 + len(jumps)),
        "motion": min(1.0, motion / MOTION_FULL_PX_S) if needs_motion else 1.0,
        "faces": 1.0 / (1.0 + len(face_issues)),
    }
    score = float(sum(WEIGHTS[k] * terms[k] for k in WEIGHTS))

    failing: list[str] = []
    reasons: list[str] = []
    if score < settings.min_score:
        failing.append("score")
        reasons.append(f"composite score {score:.2f} is below {settings.min_score:.2f}")
    if stability < settings.min_stability:
        failing.append("stability")
        worst = (shakiest_pair(series.scene() if layer else series) + 1) / fps
        without = f", judged without the {layer} layer" if layer else ""
        reasons.append(
            f"flow stability {stability:.2f} is below {settings.min_stability:.2f} (shaky or boiling motion, "
            f"worst at {worst:.2f} s{without})"
        )
    for j in jumps:
        if _KIND_METRIC[j.kind] not in failing:
            failing.append(_KIND_METRIC[j.kind])
        reasons.append(_jump_reason(j))
    for issue in face_issues:
        if _FACE_METRIC[issue.kind] not in failing:
            failing.append(_FACE_METRIC[issue.kind])
        reasons.append(issue.message)
    if needs_motion and frozen:
        failing.append("frozen")
        reasons.append(
            f"shot is nearly still (top-5% motion {motion:.1f} px/s on a 256-px short side, "
            f"needs >= {FROZEN_TOP5_PX_PER_S:.1f}) but it should move"
        )

    to_src = 1.0 / series.scale
    counts = {kind: sum(j.kind == kind for j in jumps) for kind in ("cut", "jump", "flicker", "colour_flicker", "hold")}
    field_sd = np.sqrt(series.flow_field_var[1:] or [0.0])
    metrics = {
        "stability": stability,
        **({"stability_whole_frame": whole_stability, "layer_share": float(np.median(series.layer_share))}
           if layer else {}),
        "jump_count": float(counts["cut"] + counts["jump"]),
        "flicker_count": float(counts["flicker"] + counts["colour_flicker"]),
        "colour_flicker_count": float(counts["colour_flicker"]),
        "hold_count": float(counts["hold"]),
        "dynamic_degree": dynamic_degree(series, width, height, fps),
        "warp_error": float(np.median(series.warp_error)),
        "frame_diff": float(np.median(series.frame_diff)),
        # As in flow_stability: the mean over pairs without the 10 % largest (a cut's spike).
        "flow_field_var": trimmed_mean(np.asarray(series.flow_field_var[1:]), STABILITY_TRIM) * to_src**2,
        "flow_mag_var": trimmed_mean(np.asarray(series.flow_mag_var[1:]), STABILITY_TRIM) * to_src**2,
        "flow_field_sd_max": float(field_sd.max()) * to_src,
        "colour_shift_max": float(max(series.colour_shift)),
        "motion_px": float(np.median(series.mean_mag)) * to_src,
        "motion_px_per_s": motion,
        "frozen": float(frozen),
        **_face_metrics(faces),
        **{f"term_{k}": v for k, v in terms.items()},
        "fps": float(fps),
        "frames": float(series.pairs + 1),
    }
    flagged = sorted({round(j.time_s, 4) for j in jumps} | {round(i.time_s, 4) for i in face_issues})
    return QualityReport(
        shot_index=shot_index,
        attempt=attempt,
        passed=not failing,
        score=score,
        metrics=metrics,
        failing=failing,
        reasons=reasons,
        relaxed=relaxed,
        flagged_times=flagged,
        series={k: [round(x, 5) for x in v] for k, v in series.as_dict().items()},
        curves=quality_curves(series, fps, settings, faces),
        seconds_taken=time.perf_counter() - started,
    )


def _face_metrics(faces: FaceAnalysis | None) -> dict[str, float]:
    if faces is None:
        return {}
    identity = [c for t in faces.tracks for c in t.identity()]
    conf = [f.confidence for t in faces.tracks for f in t.faces]
    return {
        "face_samples": float(len(faces.sample_times)),
        "faces": float(faces.faces),
        "face_tracks": float(len(faces.tracks)),
        "face_issue_count": float(len(faces.issues)),
        "face_identity_min": min(identity) if identity else 1.0,
        "face_confidence_min": min(conf) if conf else 1.0,
    }


def quality_curves(
    series: FlowSeries, fps: float, settings: QualitySettings, faces: FaceAnalysis | None = None
) -> dict[str, Curve]:
    """The per-frame scores behind the verdict, each with the threshold it is judged against."""
    times = [round((i + 1) / fps, 4) for i in range(series.pairs)]
    z = jump_signals(series)
    short = min(series.width, series.height)

    def rounded(values: np.ndarray | list[float]) -> list[float]:
        return [round(float(v), 4) for v in values]

    curves = {
        "warp_z": Curve(times=times, values=rounded(z["warp"]), limit=settings.jump_z, unit="robust z",
                        description="Warp error (frame t warped by the flow vs t+1) against the shot's median: "
                                    "above the line is a cut"),
        "motion_z": Curve(times=times, values=rounded(z["motion"]), limit=settings.jump_z, unit="robust z",
                          description="Mean flow magnitude against the shot's median: above the line is a jump"),
        "brightness_z": Curve(times=times, values=rounded(z["brightness"]), limit=settings.jump_z, unit="robust z",
                              description="Brightness change between frames: above the line is a flicker"),
        "colour_z": Curve(times=times, values=rounded(z["colour"]), limit=settings.jump_z, unit="robust z",
                          description="Colour-cast change the flow does not explain: above the line is a colour flicker"),
        "top5_flow": Curve(times=times, values=rounded(np.asarray(series.top5_mag) * fps * 256.0 / short),
                           limit=FROZEN_TOP5_PX_PER_S, unit="px/s at 256-px short side",
                           description="Top-5% flow per frame pair (VBench's dynamic-degree statistic; VBench "
                                       "counts a pair as moving above 48): a shot whose upper quartile stays "
                                       "under the line is frozen"),
    }
    if faces and faces.tracks:
        by_time: dict[float, float] = {}
        for track in faces.tracks:
            for face, cos in zip(track.faces, track.identity()):
                by_time[face.time_s] = min(cos, by_time.get(face.time_s, 1.0))
        face_times = sorted(by_time)
        curves["face_identity"] = Curve(
            times=[round(t, 4) for t in face_times], values=rounded([by_time[t] for t in face_times]),
            limit=settings.face_identity_min, unit="cosine",
            description="Lowest cosine of a tracked face to its first appearance (dlib): under the line "
                        "the person changed")
        counts = [sum(1 for t in faces.tracks for f in t.faces if f.time_s == s) for s in faces.sample_times]
        curves["face_count"] = Curve(times=[round(t, 4) for t in faces.sample_times], values=[float(c) for c in counts],
                                     limit=None, unit="faces", description="Faces found per sampled frame")
    return curves


def pick_best(reports: list[QualityReport]) -> QualityReport:
    """The passing report with the highest score; if none passed, the highest score overall."""
    if not reports:
        raise ValueError("pick_best needs at least one report")
    passing = [r for r in reports if r.passed]
    return max(passing or reports, key=lambda r: r.score)
