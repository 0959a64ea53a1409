"""Frame-level safety check of one video: sample frames once, run every check on them.

The checks, all on the same sampled frames (safety/frames.py):
- nudity: NudeNet; its labels grouped into nudity_exposed / nudity_covered;
- concepts: a CLIP screen against concept texts (violence, gore, ...);
- faces: MTCNN, reported per frame (and the input of likeness);
- likeness: every detected face against the protected-people gallery.
What each finding does comes from the policy file (safety/policy.yaml).

Fails closed: a check that cannot load, raises, or runs past `check_timeout_s` is listed
in the report's `unavailable` and sends the video to the policy's `unavailable` action
(review at least); it is never silently passed. An unreadable video is bad input and
raises MediaError.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reelgate.contact_sheet import make_contact_sheet
from reelgate.records import Action
from reelgate.settings import SafetySettings
from safety.frames import SampledFrame, sample_frames
from safety.policy import Policy, load_policy
from safety.report import Finding, SafetyReport
from safety.thumbnails import blurred, must_blur, write_finding_thumbnails

# The detectors work at or below this size (NudeNet looks at 320x320, CLIP at 224, MTCNN
# shrinks to 640), so larger sampled frames would only cost memory.
SAMPLE_MAX_SIDE = 640
CHECKS = ("nudity", "concepts", "faces", "likeness")
# Checks in one lane run in order; lanes run at the same time (see check_video).
LANES = (("nudity", "concepts"), ("faces", "likeness"))


def _nudity(settings: SafetySettings) -> Any:
    from safety.nudity import NudityDetector

    return NudityDetector()


def _concepts(settings: SafetySettings) -> Any:
    from safety.concepts import concept_screen_from_settings

    return concept_screen_from_settings(settings)


def _faces(settings: SafetySettings) -> Any:
    from safety.faces import FaceDetector

    return FaceDetector(min_face_size=settings.face_min_size)


def _embedder(settings: SafetySettings) -> Any:
    from safety.likeness import make_embedder

    return make_embedder(settings)


# Check name -> how to build its default detector from the settings. Built once per
# process and per relevant settings (see _detector).
DETECTOR_BUILDERS: dict[str, Callable[[SafetySettings], Any]] = {
    "nudity": _nudity,
    "concepts": _concepts,
    "faces": _faces,
    "likeness": _embedder,
}
_BUILD_KEYS: dict[str, Callable[[SafetySettings], tuple]] = {
    "faces": lambda s: (s.face_min_size,),
    "concepts": lambda s: (s.clip_model, str(s.clip_weights), tuple(map(str, s.concept_files))),
    "likeness": lambda s: (s.face_embedder, str(s.facenet_weights)),
}
_loaded: dict[tuple, Any] = {}


def _detector(name: str, settings: SafetySettings) -> Any:
    # Cached so a worker loads each model once; failures are not cached so a fixed
    # install (or newly provided weights) is picked up by the next call.
    key = (name, *_BUILD_KEYS.get(name, lambda s: ())(settings))
    if key not in _loaded:
        _loaded[key] = DETECTOR_BUILDERS[name](settings)
    return _loaded[key]


def _with_timeout(fn: Callable[[], Any], timeout_s: float) -> Any:
    """Run `fn` in a worker thread; TimeoutError if it is not done in `timeout_s`.

    A timed-out check keeps running in its thread (Python cannot stop it) but its result
    is ignored, and the shot goes to review.
    """
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="safety-check")
    try:
        return pool.submit(fn).result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        raise TimeoutError(f"did not finish in {timeout_s:g} s (safety.check_timeout_s)") from None
    finally:
        pool.shutdown(wait=False)


def _likeness_findings(
    frames: list[SampledFrame], faces: list, settings: SafetySettings, policy: Policy, embedder: Callable[[], Any]
) -> tuple[list[Finding], str | None]:
    """Matches of the detected faces in the gallery, and a note when there is no gallery to match."""
    from safety.gallery import Gallery
    from safety.likeness import match_faces

    folder = settings.gallery_dir
    if folder is None or not Path(folder).is_dir():
        return [], "likeness: no protected-people gallery (reelgate gallery add NAME IMAGE)"
    gallery = Gallery(Path(folder))
    if not gallery.list():
        return [], f"likeness: the gallery {folder} is empty"
    rule = policy.rules.get("likeness")
    action = rule.action if rule is not None else Action.REVIEW
    return match_faces(frames, faces, gallery, embedder(), settings.likeness_threshold, action), None


def _run_check(
    name: str, frames: list[SampledFrame], settings: SafetySettings, policy: Policy,
    get: Callable[[str], Any], found_faces: list,
) -> tuple[list[Finding], list[str]]:
    """The findings and notes of one check; `found_faces` carries the faces check's boxes to likeness."""
    if name == "nudity":
        return get("nudity").detect(frames, policy), []
    if name == "concepts":
        return get("concepts").screen(frames, policy), []
    if name == "faces":
        found_faces[:] = get("faces").detect(frames, settings.face_min_confidence)
        if not settings.face_detection:
            return [], []
        return [Finding(time_s=f.time_s, check="face", label="face", score=f.confidence, action=Action.ALLOW,
                        box=f.box) for f in found_faces], []
    if name == "likeness":
        found, note = _likeness_findings(frames, list(found_faces), settings, policy, lambda: get("likeness"))
        return found, [note] if note else []
    raise ValueError(f"unknown check {name!r}; known: {', '.join(CHECKS)}")


def check_video(
    video: Path,
    settings: SafetySettings,
    *,
    shot_index: int | None = None,
    contact_sheet: Path | None = None,
    detectors: dict | None = None,
    checks: tuple[str, ...] | None = None,
) -> SafetyReport:
    """Sample `video` once and run the enabled checks on the same frames.

    contact_sheet: where to write a PNG of the sampled frames, flagged ones outlined red;
      thumbnails of the acting findings go into a folder beside it.
    detectors: check name ("nudity", "concepts", "faces", "likeness") -> detector object,
      replacing the default for that check (tests inject fakes; "likeness" is the embedder).
    checks: run only these (the `moderate` and `likeness` commands); default: every check
      the settings enable.
    """
    start = time.perf_counter()
    frames = sample_frames(video, settings.sample_fps, max_side=SAMPLE_MAX_SIDE)
    policy = load_policy(settings.policy_file, extra_categories=_user_categories(settings))
    enabled = {
        "nudity": True,
        "concepts": settings.concepts,
        "faces": settings.face_detection or settings.likeness,
        "likeness": settings.likeness,
    }
    wanted = [c for c in CHECKS if enabled[c] and (checks is None or c in checks or (c == "faces" and "likeness" in checks))]
    detectors = detectors or {}

    def get(name: str) -> Any:
        return detectors[name] if name in detectors else _detector(name, settings)

    # Two lanes run side by side: NudeNet (and CLIP) in one, faces then likeness in the
    # other (likeness needs the faces). dlib's embedder runs on one core, so the nudity lane
    # uses the other; each check keeps its own timeout inside its lane.
    results: dict[str, tuple[list[Finding], list[str]]] = {}
    failed: dict[str, str] = {}
    found_faces: list = []

    def run_lane(lane: tuple[str, ...]) -> None:
        for name in lane:
            if name == "likeness" and ("faces" in failed or "faces" not in results):
                failed[name] = "RuntimeError: face detection did not run, so no face could be compared"
                continue
            try:
                results[name] = _with_timeout(
                    lambda: _run_check(name, frames, settings, policy, get, found_faces), settings.check_timeout_s
                )
            except Exception as exc:  # noqa: BLE001 - any failure of a check must fail closed
                failed[name] = f"{type(exc).__name__}: {exc}"

    lanes = [lane for lane in (tuple(c for c in lane if c in wanted) for lane in LANES) if lane]
    with concurrent.futures.ThreadPoolExecutor(max(1, len(lanes)), thread_name_prefix="safety-lane") as pool:
        list(pool.map(run_lane, lanes))
    findings = [f for name in CHECKS for f in results.get(name, ([], []))[0]]
    notes = [n for name in CHECKS for n in results.get(name, ([], []))[1]]
    failed_list = [(name, failed[name]) for name in CHECKS if name in failed]
    findings.sort(key=lambda f: (f.time_s, f.check))

    unavailable = [f"{name}: {error}" for name, error in failed_list]
    reasons = _reasons(findings) + [f"check {name} unavailable: {error}" for name, error in failed_list]
    unavailable_action = Action.strictest([policy.decide("unavailable", 1.0), Action.REVIEW])
    actions = [f.action for f in findings] + [unavailable_action] * bool(failed_list)
    report = SafetyReport(
        shot_index=shot_index,
        action=Action.strictest(actions),
        reasons=reasons,
        findings=findings,
        unavailable=unavailable,
        notes=notes,
        frames_checked=len(frames),
        faces=sum(f.check == "face" for f in findings),
    )

    if contact_sheet is not None:
        title = f"{'video' if shot_index is None else f'shot {shot_index + 1}'}: {report.action.value.upper()}"
        report.contact_sheet = _contact_sheet(frames, findings, contact_sheet, title)
        report.findings_sheet = write_finding_thumbnails(
            frames, findings, contact_sheet.with_name(contact_sheet.stem + "_findings"), title
        )
    report.seconds_taken = time.perf_counter() - start
    return report


def _user_categories(settings: SafetySettings) -> list[str]:
    """Concept categories named in the user's concept files (the policy must rule on them)."""
    if not settings.concept_files:
        return []
    from safety.concepts import parse_concept_file

    return sorted({c.category for path in settings.concept_files for c in parse_concept_file(Path(path))})


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


def _contact_sheet(frames: list[SampledFrame], findings: list[Finding], out: Path, title: str) -> Path:
    position = {fr.time_s: i for i, fr in enumerate(frames)}
    marks: dict[int, str] = {}
    blur: set[int] = set()
    # Sorted so that the strictest, then strongest, finding of a frame is the one shown.
    for f in sorted(findings, key=lambda f: (f.action.rank, f.score)):
        if f.action != Action.ALLOW and f.time_s in position:
            marks[position[f.time_s]] = f"{f.action.value.upper()} {f.label[:24]} {f.score:.2f}"
            if must_blur(f):
                blur.add(position[f.time_s])
    cells = [(fr.time_s, blurred(fr.image) if i in blur else fr.image) for i, fr in enumerate(frames)]
    return make_contact_sheet(cells, out, marks=marks, title=title)
