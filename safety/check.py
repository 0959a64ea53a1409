"""Frame-level safety check of one video: sample frames once, run every check on them.

Fails closed: a check that cannot load or that raises is listed in the report's
`unavailable` and sends the video to REVIEW at least; it is never silently passed.
An unreadable video is bad input and raises MediaError.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reelgate.contact_sheet import make_contact_sheet
from reelgate.records import Action
from reelgate.settings import SafetySettings
from safety.faces import FaceDetector
from safety.frames import SampledFrame, sample_frames
from safety.nudity import NudityDetector
from safety.report import Finding, SafetyReport

# Both detectors work at or below this size (NudeNet looks at 320x320, MTCNN shrinks to
# 640), so larger sampled frames would only cost memory.
SAMPLE_MAX_SIDE = 640

# Check name -> how to build its default detector. Built once per process (see _detector).
DETECTOR_BUILDERS: dict[str, Callable[[], Any]] = {
    "nudity": NudityDetector,
    "faces": FaceDetector,
}
_loaded: dict[str, Any] = {}


def _detector(name: str) -> Any:
    # Cached so a worker loads each model once; failures are not cached so a fixed
    # install is picked up by the next call.
    if name not in _loaded:
        _loaded[name] = DETECTOR_BUILDERS[name]()
    return _loaded[name]


def _run_check(name: str, frames: list[SampledFrame], settings: SafetySettings, detectors: dict) -> list[Finding]:
    detector = detectors[name] if name in detectors else _detector(name)
    if name == "nudity":
        return detector.detect(frames, settings)
    if name == "faces":
        return [
            Finding(time_s=f.time_s, check="face", label="face", score=f.confidence, action=Action.ALLOW, box=f.box)
            for f in detector.detect(frames, settings.face_min_confidence)
        ]
    raise KeyError(f"unknown safety check {name!r}; known: {', '.join(DETECTOR_BUILDERS)}")


def _reasons(findings: list[Finding]) -> list[str]:
    """One reason per (check, label) that acted: its strongest frame, and how many more."""
    acted: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.action != Action.ALLOW:
            acted.setdefault((f.check, f.label), []).append(f)
    reasons = []
    for group in acted.values():
        top = max(group, key=lambda f: f.score)
        more = len({f.time_s for f in group}) - 1
        reasons.append(top.reason() + (f" (+{more} more frame{'s' * (more > 1)})" if more else ""))
    return reasons


def check_video(
    video: Path,
    settings: SafetySettings,
    *,
    shot_index: int | None = None,
    contact_sheet: Path | None = None,
    detectors: dict | None = None,
) -> SafetyReport:
    """Sample `video` once and run the nudity check (and face detection if enabled) on it.

    contact_sheet: where to write a PNG of the sampled frames, flagged ones outlined red.
    detectors: check name ("nudity", "faces") -> detector object, replacing the default
    for that check (tests inject fakes); other checks use the per-process defaults.
    """
    start = time.perf_counter()
    frames = sample_frames(video, settings.sample_fps, max_side=SAMPLE_MAX_SIDE)
    checks = ["nudity"] + (["faces"] if settings.face_detection else [])

    findings: list[Finding] = []
    failed: list[tuple[str, str]] = []
    for name in checks:
        try:
            findings += _run_check(name, frames, settings, detectors or {})
        except Exception as exc:  # noqa: BLE001 - any failure of a check must fail closed
            failed.append((name, f"{type(exc).__name__}: {exc}"))
    findings.sort(key=lambda f: (f.time_s, f.check))

    unavailable = [f"{name}: {error}" for name, error in failed]
    reasons = _reasons(findings) + [f"check {name} unavailable: {error}" for name, error in failed]
    actions = [f.action for f in findings] + [Action.REVIEW] * bool(failed)
    report = SafetyReport(
        shot_index=shot_index,
        action=Action.strictest(actions),
        reasons=reasons,
        findings=findings,
        unavailable=unavailable,
        frames_checked=len(frames),
        faces=sum(f.check == "face" for f in findings),
    )

    if contact_sheet is not None:
        position = {fr.time_s: i for i, fr in enumerate(frames)}
        marks: dict[int, str] = {}
        # Sorted so that the strictest, then strongest, finding of a frame is the one shown.
        for f in sorted(findings, key=lambda f: (f.action.rank, f.score)):
            if f.action != Action.ALLOW and f.time_s in position:
                marks[position[f.time_s]] = f"{f.action.value.upper()} {f.label} {f.score:.2f}"
        title = f"{'video' if shot_index is None else f'shot {shot_index}'}: {report.action.value.upper()}"
        report.contact_sheet = make_contact_sheet([(fr.time_s, fr.image) for fr in frames], contact_sheet, marks=marks, title=title)

    report.seconds_taken = time.perf_counter() - start
    return report
