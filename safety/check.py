"""Frame-level safety check of one video: sample frames once, streaming, run every check on them.

The checks, all on the same sampled frames (safety/frames.py):
- nudity: NudeNet; its labels grouped into nudity_exposed / nudity_covered;
- concepts: a CLIP screen against concept texts (violence, gore, ...);
- faces: MTCNN, reported per frame (and the input of likeness);
- likeness: every detected face against the protected-people gallery.
What each finding does comes from the policy file (safety/policy.yaml).

Fails closed: a check that cannot load, raises, or runs past `check_timeout_s` is listed
in the report's `unavailable` and sends the video to the policy's `unavailable` action
(review at least); it is never silently passed; so does decoding that runs past it. An
unreadable video, or one over `max_video_s` or `max_image_pixels`, is bad input and raises
MediaError; a gallery that was set but cannot be read raises ConfigError.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from reelgate.contact_sheet import make_contact_sheet
from reelgate.records import Action
from reelgate.registry import FRAME_CLASSIFIERS
from reelgate.settings import SafetySettings
from safety.frames import SampledFrame, SamplingTimeout, iter_sampled_frames
from safety.policy import Policy, load_policy
from safety.report import Finding, SafetyReport
from safety.thumbnails import blurred, must_blur, write_finding_thumbnails

# The detectors work at or below this size (NudeNet looks at 320x320, CLIP at 224, MTCNN
# shrinks to 640), so larger sampled frames would only cost memory.
SAMPLE_MAX_SIDE = 640
CHECKS = ("nudity", "concepts", "faces", "likeness")
# Checks in one lane run in order; lanes run at the same time (see check_video).
LANES = (("nudity", "concepts"), ("faces", "likeness"))
# Sampled frames checked together. Two windows are in memory at most (one checked, the next
# decoding): ~45 MB of 640x360 frames whatever the video's length.
WINDOW_FRAMES = 32
# The contact sheet shows at most this many frames spread over the video (every one of a
# short shot), plus up to FLAGGED_FRAMES frames that findings acted on, kept whole for the
# findings thumbnails.
SHEET_FRAMES = 96
FLAGGED_FRAMES = 64
SHEET_THUMB_WIDTH = 240  # make_contact_sheet's cell width: sheet frames are kept at this size


# Each check's detector is built by its builder in reelgate.registry.FRAME_CLASSIFIERS, once per
# process and per the settings it depends on (see _detector).
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
        _loaded[key] = FRAME_CLASSIFIERS.get(name)(settings)
    return _loaded[key]


def forget_detectors() -> None:
    """Drop the detectors this process has loaded: the next check builds them again (e.g. after a
    model file was replaced under the same settings)."""
    _loaded.clear()


def _with_timeout(fn: Callable[[], Any], timeout_s: float, budget_s: float) -> Any:
    """Run `fn` in a worker thread; TimeoutError if it is not done in `timeout_s`.

    budget_s: the check's whole budget (safety.check_timeout_s), named in the error.
    A timed-out check keeps running in its thread (Python cannot stop it) but its result
    is ignored, it gets no more frames, and the shot goes to review.
    """
    timeout = f"did not finish in {budget_s:g} s (safety.check_timeout_s)"
    if timeout_s <= 0:
        raise TimeoutError(timeout)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="safety-check")
    try:
        return pool.submit(fn).result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        raise TimeoutError(timeout) from None
    finally:
        pool.shutdown(wait=False)


class _GallerySnapshot:
    """The gallery read once per video (match_faces reads `people` and `folder`), not once per window."""

    def __init__(self, gallery: Any) -> None:
        self.folder = gallery.folder
        self.people = gallery.people


def _open_gallery(settings: SafetySettings) -> tuple[_GallerySnapshot | None, str | None]:
    """(the gallery to match, or None; the note when there is none). Raises ConfigError when a
    gallery that was asked for cannot be read (safety.gallery.check_gallery)."""
    from safety.gallery import Gallery, check_gallery

    note = check_gallery(settings)
    if note is not None:
        return None, note
    gallery = _GallerySnapshot(Gallery(Path(settings.gallery_dir)))
    if not gallery.people:
        return None, f"likeness: the gallery {settings.gallery_dir} is empty"
    return gallery, None


def _run_check(
    name: str, frames: list[SampledFrame], settings: SafetySettings, policy: Policy,
    get: Callable[[str], Any], found_faces: list, gallery: _GallerySnapshot | None,
) -> list[Finding]:
    """The findings of one check on one window of frames; `found_faces` carries the faces check's boxes to likeness."""
    if name == "nudity":
        return get("nudity").detect(frames, policy)
    if name == "concepts":
        return get("concepts").screen(frames, policy)
    if name == "faces":
        found_faces[:] = get("faces").detect(frames, settings.face_min_confidence)
        if not settings.face_detection:
            return []
        return [Finding(time_s=f.time_s, check="face", label="face", score=f.confidence, action=Action.ALLOW,
                        box=f.box) for f in found_faces]
    if name == "likeness":
        if gallery is None:
            return []
        from safety.likeness import match_faces

        rule = policy.rules.get("likeness")
        action = rule.action if rule is not None else Action.REVIEW
        return match_faces(frames, list(found_faces), gallery, get("likeness"), settings.likeness_threshold, action)
    raise ValueError(f"unknown check {name!r}; known: {', '.join(CHECKS)}")


def _small(image: np.ndarray, width: int = SHEET_THUMB_WIDTH) -> np.ndarray:
    h, w = image.shape[:2]
    if w <= width:
        return image
    return cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


class _Keeper:
    """What the report needs of the frames once they are checked, in bounded memory.

    The contact sheet gets at most SHEET_FRAMES frames spread evenly over the video (every
    frame while there are few; every 2nd, 4th, ... as they come), shrunk to the sheet's
    cell width, plus the last one; flagged frames (a finding acted on them) are kept whole,
    at most FLAGGED_FRAMES of them, for the sheet and the findings thumbnails.
    """

    def __init__(self) -> None:
        self.count = 0
        self.stride = 1
        self.sheet: dict[int, tuple[float, np.ndarray]] = {}
        self.last: SampledFrame | None = None
        self.flagged: dict[float, SampledFrame] = {}

    def add(self, frames: list[SampledFrame], findings: list[Finding]) -> None:
        acting = {f.time_s for f in findings if f.action != Action.ALLOW}
        for frame in frames:
            n, self.count = self.count, self.count + 1
            if frame.time_s in acting and len(self.flagged) < FLAGGED_FRAMES:
                self.flagged[frame.time_s] = frame
            self.last = frame
            if n % self.stride == 0:
                self.sheet[n] = (frame.time_s, _small(frame.image))
                if len(self.sheet) > SHEET_FRAMES:
                    self.stride *= 2
                    self.sheet = {k: v for k, v in self.sheet.items() if k % self.stride == 0}

    def sheet_cells(self) -> list[tuple[float, np.ndarray]]:
        cells = dict(self.sheet.values())
        for frame in ([self.last] if self.last is not None else []) + list(self.flagged.values()):
            cells[frame.time_s] = _small(frame.image)
        return sorted(cells.items(), key=lambda cell: cell[0])


def _windows(frames: Iterator[SampledFrame], size: int) -> Iterator[list[SampledFrame]]:
    window: list[SampledFrame] = []
    for frame in frames:
        window.append(frame)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


def check_video(
    video: Path,
    settings: SafetySettings,
    *,
    shot_index: int | None = None,
    contact_sheet: Path | None = None,
    detectors: dict | None = None,
    checks: tuple[str, ...] | None = None,
) -> SafetyReport:
    """Sample `video` once, streaming, and run the enabled checks on the same frames.

    The frames go through the checks a window (WINDOW_FRAMES) at a time while the next
    window is decoded, so memory does not grow with the video's length. A video longer than
    safety.max_video_s (or with frames larger than safety.max_image_pixels) is refused at
    once with MediaError. Decoding and each check have safety.check_timeout_s each; one that
    runs out gets no more frames and sends the video to review (fail closed).
    A gallery that was asked for (safety.gallery_dir set) but is missing or unreadable
    raises ConfigError before anything is decoded.

    contact_sheet: where to write a PNG of the sampled frames, flagged ones outlined red;
      thumbnails of the acting findings go into a folder beside it.
    detectors: check name ("nudity", "concepts", "faces", "likeness") -> detector object,
      replacing the default for that check (tests inject fakes; "likeness" is the embedder).
    checks: run only these (the `moderate` and `likeness` commands); default: every check
      the settings enable.
    """
    start = time.perf_counter()
    policy = load_policy(settings.policy_file, extra_categories=_user_categories(settings))
    enabled = {
        "nudity": True,
        "concepts": settings.concepts,
        "faces": settings.face_detection or settings.likeness,
        "likeness": settings.likeness,
    }
    wanted = [c for c in CHECKS if enabled[c] and (checks is None or c in checks or (c == "faces" and "likeness" in checks))]
    gallery, gallery_note = _open_gallery(settings) if "likeness" in wanted else (None, None)
    detectors = detectors or {}
    frames = iter_sampled_frames(
        video, settings.sample_fps, SAMPLE_MAX_SIDE, max_video_s=settings.max_video_s,
        max_pixels=settings.max_image_pixels, budget_s=settings.check_timeout_s,
    )

    def get(name: str) -> Any:
        return detectors[name] if name in detectors else _detector(name, settings)

    budget = settings.check_timeout_s
    spent: dict[str, float] = {}
    failed: dict[str, str] = {}

    def run_lane(lane: tuple[str, ...], window: list[SampledFrame]) -> list[Finding]:
        # Checks in a lane run in order on this window; each spends from its own budget.
        found: list[Finding] = []
        found_faces: list = []
        for name in lane:
            if name in failed:
                continue
            if name == "likeness" and "faces" in failed:
                failed[name] = "RuntimeError: face detection did not run, so no face could be compared"
                continue
            began = time.perf_counter()
            try:
                found += _with_timeout(
                    lambda name=name: _run_check(name, window, settings, policy, get, found_faces, gallery),
                    budget - spent.get(name, 0.0), budget,
                )
            except Exception as exc:  # noqa: BLE001 - any failure of a check must fail closed
                failed[name] = f"{type(exc).__name__}: {exc}"
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - began
        return found

    # Two lanes run side by side: NudeNet (and CLIP) in one, faces then likeness in the
    # other (likeness needs the faces). dlib's embedder runs on one core, so the nudity lane
    # uses the other; meanwhile this thread decodes the next window.
    lanes = [lane for lane in (tuple(c for c in lane if c in wanted) for lane in LANES) if lane]
    keeper = _Keeper()
    findings: list[Finding] = []

    def collect(window: list[SampledFrame], futures: list) -> None:
        found = [f for future in futures for f in future.result()]
        findings.extend(found)
        keeper.add(window, found)

    with concurrent.futures.ThreadPoolExecutor(max(1, len(lanes)), thread_name_prefix="safety-lane") as pool:
        in_flight: tuple[list[SampledFrame], list] | None = None
        try:
            for window in _windows(frames, WINDOW_FRAMES):
                if in_flight is not None:
                    collect(*in_flight)
                in_flight = (window, [pool.submit(run_lane, lane, window) for lane in lanes])
        except SamplingTimeout as exc:
            failed["sampling"] = f"{type(exc).__name__}: {exc}"
        finally:
            frames.close()
        if in_flight is not None:
            collect(*in_flight)
    notes = [gallery_note] if gallery_note else []
    failed_list = [(name, failed[name]) for name in ("sampling", *CHECKS) if name in failed]
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
        frames_checked=keeper.count,
        faces=sum(f.check == "face" for f in findings),
    )

    if contact_sheet is not None and keeper.count:
        title = f"{'video' if shot_index is None else f'shot {shot_index + 1}'}: {report.action.value.upper()}"
        report.contact_sheet = _contact_sheet(keeper.sheet_cells(), findings, contact_sheet, title)
        report.findings_sheet = write_finding_thumbnails(
            list(keeper.flagged.values()), findings, contact_sheet.with_name(contact_sheet.stem + "_findings"), title
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


def _contact_sheet(cells: list[tuple[float, np.ndarray]], findings: list[Finding], out: Path, title: str) -> Path:
    position = {time_s: i for i, (time_s, _) in enumerate(cells)}
    marks: dict[int, str] = {}
    blur: set[int] = set()
    # Sorted so that the strictest, then strongest, finding of a frame is the one shown.
    for f in sorted(findings, key=lambda f: (f.action.rank, f.score)):
        if f.action != Action.ALLOW and f.time_s in position:
            marks[position[f.time_s]] = f"{f.action.value.upper()} {f.label[:24]} {f.score:.2f}"
            if must_blur(f):
                blur.add(position[f.time_s])
    shown = [(time_s, blurred(image) if i in blur else image) for i, (time_s, image) in enumerate(cells)]
    return make_contact_sheet(shown, out, marks=marks, title=title)
