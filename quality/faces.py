"""Face integrity within one shot: plain functions over faces found in sampled frames.

Frames are sampled at a modest rate (quality.face_sample_fps, 4 by default) at <= 640 px,
MTCNN finds faces (safety.faces.FaceDetector, five landmarks each), faces are tracked from
sample to sample by box overlap, and each track is checked for:

- count stability: a face that appears or vanishes mid-shot away from the frame's edges
  (a face leaving through an edge, or present from the first sample, is normal);
- confidence collapse: the detector's confidence on a tracked face falls far below its own
  level (a face that melts stops looking like a face before it is lost);
- landmark plausibility: eyes, nose and mouth in an impossible arrangement inside the box,
  or moving much more than the box that carries them (features sliding over the face);
- identity consistency: the cosine between each embedding of the track (dlib, through
  safety.likeness.make_embedder) and its first one; below IDENTITY_MIN the person changed.
Only frames with faces are embedded, so shots without people cost one detector pass per sample.

Thresholds (measured on tests/quality_clips.py: the astronaut's face filmed by smooth pans
and zooms at 320x180, the same with her face swapped for an LFW face or painted out;
numbers from `python -m pytest tests/test_quality_faces.py -q`, which prints them):
- IDENTITY_MIN = 0.90. Same face through smooth camera moves: cosine to the first sample
  >= 0.97 (dlib re-finds the same photo; safety/likeness.py measured >= 0.92 for the same
  face under heavy degradation). The astronaut against 10 LFW faces pasted onto her (tone
  matched): 0.82-0.89, median 0.86 (safety/likeness.py: different people median 0.84,
  p99 0.906). 0.90 sits 0.07 below every same-face value and above every swap measured
  (<= 0.89), and matches the likeness check's scale; a lookalike swap scoring 0.90 or more
  passes: identity changes between similar faces need a stronger embedder than dlib on
  blurry 25-px faces.
- CONFIDENCE_DROP = 0.25: a face seen at its track's median confidence c_med (MTCNN gives
  0.99+ on clear faces) fails when it is detected below c_med - 0.25. Smooth clips stay
  within 0.01 of their median; detections of a melting face sink toward the detection floor.
- LANDMARK_SHIFT_MAX = 0.12: mean landmark displacement between consecutive samples,
  in box widths, after removing the box's own motion. Smooth pans and zooms: <= 0.02 per
  sample; a head turn of 45 degrees in 0.25 s moves the eyes ~0.15 of the box, so real
  motion that fast also fails: generated faces rarely turn that fast.
- Geometry (boxes away from the frame's edges only: a box cut by the edge no longer holds
  its landmarks): eyes above the nose above the mouth corners (image y), left features left of
  right ones, eye distance 0.2-0.8 of the box width, every landmark inside the box grown by
  15 % of its size. MTCNN's landmarks on real faces meet these with a wide margin.
- Count: a track is a face once it has >= 2 detections (one lone detection at 4 fps is too
  little evidence) with a median confidence >= 0.9 (a 0.78 false face was seen in a suit); it appears/vanishes "mid-shot" when it starts after the first sample /
  ends before the last two samples, with its box more than 3 % of the frame from every edge.
  One missed detection inside a track is bridged (MTCNN misses happen on blurred frames).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from safety.faces import FaceBox
from safety.frames import SampledFrame

if TYPE_CHECKING:
    from safety.faces import FaceDetector
    from safety.likeness import FaceEmbedder

IDENTITY_MIN = 0.90
CONFIDENCE_DROP = 0.25
LANDMARK_SHIFT_MAX = 0.12
EYE_DISTANCE = (0.2, 0.8)  # fraction of the box width
LANDMARK_MARGIN = 0.15  # landmarks may lie this far (fraction of box size) outside the box
EDGE_MARGIN = 0.03  # fraction of the frame size: a box this close to an edge is "at the edge"
MIN_TRACK = 2  # detections before a track counts as a face
MAX_GAP = 1  # missed samples bridged inside a track
MIN_IOU = 0.3  # box overlap linking a face to a track (else centre within half a box)
DETECT_MIN_CONFIDENCE = 0.6  # detected down to here, so a collapsing face stays tracked
# Only tracks this confident (median) count as faces for appear/vanish: MTCNN finds the odd
# 0.7-0.8 "face" in a textured costume for a sample or two (seen in bench/quality.py's clip).
COUNT_MIN_CONFIDENCE = 0.9


@dataclass
class FaceTrack:
    """One face followed across samples: its boxes (with time_s), sample indices, embeddings."""

    faces: list[FaceBox] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)

    def identity(self) -> list[float]:
        """Cosine of each embedding with the track's first one (1.0 for the first)."""
        if not self.embeddings:
            return []
        ref = self.embeddings[0]
        return [float(np.dot(ref, e)) for e in self.embeddings]


@dataclass
class FaceIssue:
    """A face-integrity failure. kind: appear, vanish, confidence, landmarks or identity."""

    time_s: float
    kind: str
    value: float
    threshold: float
    message: str


@dataclass
class FaceAnalysis:
    """Faces of one shot: sampled times, tracks, issues and the frame size they were found at."""

    sample_times: list[float]
    tracks: list[FaceTrack]
    issues: list[FaceIssue]
    width: int
    height: int

    @property
    def faces(self) -> int:
        return sum(len(t.faces) for t in self.tracks)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _near(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ca = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2)
    cb = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    return math.dist(ca, cb) < 0.5 * max(a[2] - a[0], a[3] - a[1], 1)


def track_faces(
    faces: list[FaceBox], sample_times: list[float], embeddings: list[np.ndarray] | None = None
) -> list[FaceTrack]:
    """Link faces of consecutive samples into tracks (greedy, best box overlap first).

    faces: detections in sample order; sample_times: every sampled time, with or without
    faces; embeddings: one per face (same order), or None.
    """
    index = {round(t, 6): i for i, t in enumerate(sample_times)}
    by_sample: dict[int, list[int]] = {}
    for k, f in enumerate(faces):
        by_sample.setdefault(index[round(f.time_s, 6)], []).append(k)
    tracks: list[FaceTrack] = []
    for s in range(len(sample_times)):
        open_tracks = [t for t in tracks if s - t.samples[-1] <= MAX_GAP + 1]
        pairs = sorted(
            ((_iou(t.faces[-1].box, faces[k].box), ti, k) for ti, t in enumerate(open_tracks) for k in by_sample.get(s, [])),
            reverse=True,
        )
        used_t: set[int] = set()
        used_f: set[int] = set()
        for iou, ti, k in pairs:
            if ti in used_t or k in used_f:
                continue
            if iou >= MIN_IOU or _near(open_tracks[ti].faces[-1].box, faces[k].box):
                used_t.add(ti)
                used_f.add(k)
                _extend(open_tracks[ti], faces[k], s, embeddings, k)
        for k in by_sample.get(s, []):
            if k not in used_f:
                track = FaceTrack()
                _extend(track, faces[k], s, embeddings, k)
                tracks.append(track)
    return tracks


def _extend(track: FaceTrack, face: FaceBox, sample: int, embeddings: list[np.ndarray] | None, k: int) -> None:
    track.faces.append(face)
    track.samples.append(sample)
    if embeddings is not None:
        track.embeddings.append(embeddings[k])


def _at_edge(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    mx, my = EDGE_MARGIN * width, EDGE_MARGIN * height
    return box[0] <= mx or box[1] <= my or box[2] >= width - mx or box[3] >= height - my


def count_issues(tracks: list[FaceTrack], sample_times: list[float], width: int, height: int) -> list[FaceIssue]:
    """Faces that appear or vanish mid-shot, away from the frame's edges (see module doc)."""
    issues: list[FaceIssue] = []
    last = len(sample_times) - 1
    for t in tracks:
        if len(t.faces) < MIN_TRACK or np.median([f.confidence for f in t.faces]) < COUNT_MIN_CONFIDENCE:
            continue
        first, end = t.samples[0], t.samples[-1]
        if first > 0 and not _at_edge(t.faces[0].box, width, height):
            issues.append(FaceIssue(sample_times[first], "appear", float(len(t.faces)), 0.0,
                                    f"a face appears at {sample_times[first]:.2f} s inside the frame"))
        if end < last - 1 and not _at_edge(t.faces[-1].box, width, height):
            gone = sample_times[end + 1]
            issues.append(FaceIssue(gone, "vanish", float(len(t.faces)), 0.0,
                                    f"a face vanishes at {gone:.2f} s inside the frame"))
    return issues


def confidence_issues(track: FaceTrack) -> list[FaceIssue]:
    """The first detection of a track far below the track's median confidence."""
    if len(track.faces) < MIN_TRACK:
        return []
    conf = np.array([f.confidence for f in track.faces])
    floor = float(np.median(conf)) - CONFIDENCE_DROP
    for f in track.faces:
        if f.confidence < floor:
            return [FaceIssue(f.time_s, "confidence", f.confidence, floor,
                              f"face detection confidence collapses to {f.confidence:.2f} at {f.time_s:.2f} s "
                              f"(the face's median is {np.median(conf):.2f}): the face is breaking up")]
    return []


def _normalised(face: FaceBox) -> np.ndarray | None:
    if len(face.landmarks) != 5:
        return None
    x1, y1, x2, y2 = face.box
    w, h = max(1, x2 - x1), max(1, y2 - y1)
    return np.array([((x - x1) / w, (y - y1) / h) for x, y in face.landmarks])


def implausible_geometry(face: FaceBox) -> str | None:
    """Why the five landmarks cannot belong to a face in this box, or None when they can."""
    p = _normalised(face)
    if p is None:
        return None
    eye_l, eye_r, nose, mouth_l, mouth_r = p
    if not np.all((p > -LANDMARK_MARGIN) & (p < 1 + LANDMARK_MARGIN)):
        return "landmarks outside the face box"
    if not (max(eye_l[1], eye_r[1]) < nose[1] < min(mouth_l[1], mouth_r[1])):
        return "eyes, nose and mouth out of order"
    if not (eye_l[0] < eye_r[0] and mouth_l[0] < mouth_r[0]):
        return "left and right features swapped"
    eye_distance = float(np.linalg.norm(eye_r - eye_l))
    if not EYE_DISTANCE[0] <= eye_distance <= EYE_DISTANCE[1]:
        return f"eye distance {eye_distance:.2f} of the box width"
    return None


def landmark_shifts(track: FaceTrack) -> list[float]:
    """Per consecutive detections: mean landmark displacement relative to the box, in box sizes."""
    shifts = []
    for a, b in zip(track.faces, track.faces[1:]):
        pa, pb = _normalised(a), _normalised(b)
        shifts.append(float(np.linalg.norm(pb - pa, axis=1).mean()) if pa is not None and pb is not None else 0.0)
    return shifts


def landmark_issues(track: FaceTrack, width: int = 0, height: int = 0) -> list[FaceIssue]:
    """The first implausible landmark arrangement or landmark jump of a track.

    width, height: the frame size; faces whose box touches an edge are skipped (0: check all).
    """
    inside = [not width or not _at_edge(f.box, width, height) for f in track.faces]
    for f, ok in zip(track.faces, inside):
        why = implausible_geometry(f) if ok else None
        if why:
            return [FaceIssue(f.time_s, "landmarks", 1.0, 0.0, f"implausible face at {f.time_s:.2f} s: {why}")]
    for f, shift, ok, ok_before in zip(track.faces[1:], landmark_shifts(track), inside[1:], inside):
        if ok and ok_before and shift > LANDMARK_SHIFT_MAX:
            return [FaceIssue(f.time_s, "landmarks", shift, LANDMARK_SHIFT_MAX,
                              f"facial features slide across the face at {f.time_s:.2f} s "
                              f"({shift:.2f} of the face box, limit {LANDMARK_SHIFT_MAX:.2f})")]
    return []


def identity_issues(track: FaceTrack, threshold: float = IDENTITY_MIN) -> list[FaceIssue]:
    """The first sample where the tracked face stops being the person it started as."""
    for f, cos in zip(track.faces, track.identity()):
        if cos < threshold:
            return [FaceIssue(f.time_s, "identity", cos, threshold,
                              f"the face changes identity at {f.time_s:.2f} s (cosine {cos:.2f} to its first "
                              f"appearance, needs >= {threshold:.2f})")]
    return []


def face_issues(tracks: list[FaceTrack], sample_times: list[float], width: int, height: int,
                identity_min: float = IDENTITY_MIN) -> list[FaceIssue]:
    """Every face-integrity issue of a shot, in time order."""
    issues = count_issues(tracks, sample_times, width, height)
    for t in tracks:
        if len(t.faces) < MIN_TRACK:
            continue
        issues += confidence_issues(t) + landmark_issues(t, width, height) + identity_issues(t, identity_min)
    return sorted(issues, key=lambda i: i.time_s)


def sample_ticks(index: int, fps: float, sample_fps: float) -> bool:
    """True when frame `index` is the first at or past a tick of sample_fps (0, 1/rate, ...)."""
    return index == 0 or math.floor(index * sample_fps / fps + 1e-9) != math.floor((index - 1) * sample_fps / fps + 1e-9)


@cache
def default_models(max_side: int = 640, min_face_size: int = 40) -> tuple[FaceDetector, FaceEmbedder]:
    """MTCNN and the default (dlib) embedder, loaded once per process and size."""
    from reelgate.settings import SafetySettings
    from safety.faces import FaceDetector
    from safety.likeness import make_embedder

    return FaceDetector(max_side=max_side, min_face_size=min_face_size), make_embedder(SafetySettings())


class FaceSampler:
    """Takes every frame of a decode stream, keeps ~sample_fps of them, finds and embeds faces.

    Detection runs in batches while the stream goes on (only a batch of frames is held), so
    the same decode feeds the optical-flow metrics: `flow_series(sampler.watch(frames))`.
    """

    def __init__(self, fps: float, sample_fps: float, detector: FaceDetector, embedder: FaceEmbedder,
                 batch: int = 8) -> None:
        self.fps, self.sample_fps, self.batch = fps, sample_fps, batch
        self.detector, self.embedder = detector, embedder
        self.sample_times: list[float] = []
        self.faces: list[FaceBox] = []
        self.embeddings: list[np.ndarray] = []
        self._pending: list[SampledFrame] = []
        self.width = self.height = 0

    def watch(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Yield `frames` unchanged, sampling faces from them on the way."""
        for i, frame in enumerate(frames):
            if sample_ticks(i, self.fps, self.sample_fps):
                self.height, self.width = frame.shape[:2]
                self.sample_times.append(i / self.fps)
                self._pending.append(SampledFrame(time_s=i / self.fps, index=i, image=frame))
                if len(self._pending) >= self.batch:
                    self._flush()
            yield frame
        self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        found = self.detector.detect(self._pending, DETECT_MIN_CONFIDENCE)
        images = {f.time_s: f.image for f in self._pending}
        for face in found:
            self.faces.append(face)
            self.embeddings.append(self.embedder.embed(images[face.time_s], face.box))
        self._pending = []

    def analysis(self, identity_min: float = IDENTITY_MIN) -> FaceAnalysis:
        """Tracks and issues of everything watched so far."""
        self._flush()
        tracks = track_faces(self.faces, self.sample_times, self.embeddings)
        issues = face_issues(tracks, self.sample_times, self.width, self.height, identity_min)
        return FaceAnalysis(self.sample_times, tracks, issues, self.width, self.height)
