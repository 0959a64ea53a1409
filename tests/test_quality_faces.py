"""Face integrity in the quality gate: the astronaut filmed by smooth moves passes; her face
swapped for another person's, or painted out, mid-shot fails at the right time.

The swapped face is an LFW face (skimage.data.lfw_subset, 25x25 grey, upscaled and toned to
her skin) blended over hers; dlib's cosine to her own face is printed in the calibration
table at the end of the run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quality.faces import (
    IDENTITY_MIN,
    FaceTrack,
    count_issues,
    face_issues,
    implausible_geometry,
    landmark_issues,
    track_faces,
)
from quality.score import QualityReport, score_video
from reelgate.settings import QualitySettings
from safety.faces import FaceBox
from tests.quality_clips import (
    DEFECT_FRAME,
    FACE_CENTRE,
    FACE_PHOTO_SIDE,
    FPS,
    cut,
    faceless_astronaut,
    pan,
    photo,
    record,
    swapped_astronaut,
    write,
)

SMOOTH_FACES = ["face_pan", "face_zoom", "face_diagonal"]


# Real encodes scored with the real MTCNN and dlib models: the tests that read them are integration.
@pytest.fixture(scope="module")
def face_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, QualityReport]:
    d = tmp_path_factory.mktemp("faces")
    astronaut = photo("astronaut", FACE_PHOTO_SIDE)
    move = pan(1.0, centre=FACE_CENTRE)
    clips = {
        "face_pan": write(d / "pan.mp4", astronaut, move),
        "face_zoom": write(d / "zoom.mp4", astronaut, pan(0.3, zoom_rate=0.004, centre=FACE_CENTRE)),
        "face_diagonal": write(d / "diag.mp4", astronaut, pan(1.5, 0.8, centre=FACE_CENTRE)),
        "face_swap": write(d / "swap.mp4", astronaut, move, cut(swapped_astronaut())),
        "face_vanish": write(d / "vanish.mp4", astronaut, move, cut(faceless_astronaut())),
    }
    settings = QualitySettings()
    return {name: score_video(path, settings) for name, path in clips.items()}


def _box(t: float, x: int, y: int = 60, size: int = 80, conf: float = 0.999) -> FaceBox:
    # Landmarks of a frontal face at typical MTCNN positions inside the box.
    marks = ((0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8))
    return FaceBox(t, (x, y, x + size, y + size), conf, tuple((x + u * size, y + v * size) for u, v in marks))


@pytest.mark.integration
def test_smooth_shots_with_a_face_pass(face_reports: dict[str, QualityReport]) -> None:
    for name in SMOOTH_FACES:
        r = face_reports[name]
        assert r.passed, (name, r.reasons)
        assert r.metrics["face_tracks"] == 1 and r.metrics["faces"] == r.metrics["face_samples"] == 10
        assert r.metrics["face_identity_min"] > IDENTITY_MIN + 0.05, r.metrics["face_identity_min"]
        curve = r.curves["face_identity"]
        assert curve.limit == QualitySettings().face_identity_min and min(curve.values) > curve.limit


@pytest.mark.integration
def test_swapped_face_fails_identity_at_the_swap(face_reports: dict[str, QualityReport]) -> None:
    r = face_reports["face_swap"]
    assert not r.passed and "face_identity" in r.failing, r.reasons
    assert DEFECT_FRAME / FPS in r.flagged_times
    assert any("changes identity at 1.25 s" in reason for reason in r.reasons), r.reasons
    curve = r.curves["face_identity"]
    below = [t for t, v in zip(curve.times, curve.values) if v < curve.limit]
    assert below and below[0] == pytest.approx(DEFECT_FRAME / FPS)


@pytest.mark.integration
def test_vanishing_face_fails_count_at_its_time(face_reports: dict[str, QualityReport]) -> None:
    r = face_reports["face_vanish"]
    assert not r.passed and "face_count" in r.failing, r.reasons
    assert any("vanishes at 1.25 s" in reason for reason in r.reasons), r.reasons
    assert r.curves["face_count"].values[:5] == [1.0] * 5 and r.curves["face_count"].values[5:] == [0.0] * 5


def test_identity_threshold_matches_settings() -> None:
    assert QualitySettings().face_identity_min == IDENTITY_MIN


def test_tracks_bridge_one_missed_detection_and_split_far_faces() -> None:
    times = [i * 0.25 for i in range(6)]
    faces = [_box(t, 100 + 4 * i) for i, t in enumerate(times) if i != 2]  # missed at sample 2
    faces.append(_box(0.5, 220))  # another face far away
    tracks = track_faces(sorted(faces, key=lambda f: f.time_s), times)
    assert sorted(len(t.faces) for t in tracks) == [1, 5]


def test_face_leaving_through_the_edge_is_not_a_vanish() -> None:
    times = [i * 0.25 for i in range(8)]
    inside = track_faces([_box(t, 100) for t in times[:4]], times)
    assert [i.kind for i in count_issues(inside, times, 320, 180)] == ["vanish"]
    leaving = track_faces([_box(t, 100 + 50 * i) for i, t in enumerate(times[:4])], times)  # last box reaches x=330
    assert count_issues(leaving, times, 320, 180) == []
    appearing = track_faces([_box(t, 100) for t in times[3:]], times)
    assert [(i.kind, i.time_s) for i in count_issues(appearing, times, 320, 180)] == [("appear", 0.75)]


def test_confidence_collapse_and_sliding_landmarks_are_issues() -> None:
    times = [i * 0.25 for i in range(5)]
    melting = [_box(t, 100, conf=c) for t, c in zip(times, [0.999, 0.998, 0.999, 0.70, 0.999])]
    issues = face_issues(track_faces(melting, times), times, 320, 180)
    assert [(i.kind, i.time_s) for i in issues] == [("confidence", 0.75)]
    sliding = [_box(t, 100) for t in times]
    f = sliding[3]
    sliding[3] = FaceBox(f.time_s, f.box, f.confidence, tuple((x + 20, y) for x, y in f.landmarks))
    track = FaceTrack(faces=sliding, samples=list(range(5)))
    assert [(i.kind, i.time_s) for i in landmark_issues(track)] == [("landmarks", 0.75)]


def test_implausible_landmark_geometry() -> None:
    good = _box(0, 100)
    assert implausible_geometry(good) is None
    upside_down = FaceBox(0, good.box, 0.99, tuple((x, 2 * 100 - y) for x, y in good.landmarks))
    assert "out of order" in (implausible_geometry(upside_down) or "")
    eyes_together = FaceBox(0, good.box, 0.99, ((135, 92), (140, 92)) + good.landmarks[2:])
    assert "eye distance" in (implausible_geometry(eyes_together) or "")


@pytest.mark.integration
def test_face_calibration_table(face_reports: dict[str, QualityReport]) -> None:
    """Face defects caught at their time, smooth face shots clean; printed after the run."""
    for name in SMOOTH_FACES:
        r = face_reports[name]
        record(name, "", r.passed, r.failing, r.score, r.flagged_times)
    for name, defect, failing in (("face_swap", "face swapped mid-shot", "face_identity"),
                                  ("face_vanish", "face vanishing mid-shot", "face_count")):
        r = face_reports[name]
        record(name + f" (id cos {r.metrics['face_identity_min']:.2f})", defect,
               failing in r.failing and DEFECT_FRAME / FPS in r.flagged_times, r.failing, r.score, r.flagged_times)
    assert all(face_reports[n].passed for n in SMOOTH_FACES)


def test_no_face_checks_when_turned_off(tmp_path: Path) -> None:
    path = write(tmp_path / "swap.mp4", photo("astronaut", FACE_PHOTO_SIDE), pan(1.0, centre=FACE_CENTRE),
                 cut(swapped_astronaut()), n=36)
    r = score_video(path, QualitySettings(faces=False))
    assert "faces" not in r.metrics and "face_identity" not in r.curves
    assert not any(name.startswith("face_") for name in r.failing)
    assert np.isfinite(r.score)
