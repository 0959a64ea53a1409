"""The safety commands users run by hand, fail-closed timeouts, and what reviewers see."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from cli import main
from reelgate.records import Action
from reelgate.settings import SafetySettings
from safety.check import check_video
from safety.report import Finding
from tests.test_likeness import face_clip, write_png

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory) -> Path:
    from skimage.data import astronaut

    return write_png(tmp_path_factory.mktemp("photos") / "astronaut.png", np.ascontiguousarray(astronaut()[20:220, 140:310]))


@pytest.fixture(scope="module")
def her_clip(tmp_path_factory) -> Path:
    from skimage.data import astronaut

    return face_clip(tmp_path_factory.mktemp("clips") / "her.mp4", np.ascontiguousarray(astronaut()[20:220, 140:310]), 1.2)


@pytest.fixture(scope="module")
def empty_clip(tmp_path_factory) -> Path:
    return face_clip(tmp_path_factory.mktemp("clips") / "empty.mp4", None, 0.0)


def test_gallery_commands_enrol_list_refuse_and_remove(tmp_path, astronaut_png, capsys):
    gallery = tmp_path / "gallery"
    assert main(["gallery", "add", "Eileen Collins", str(astronaut_png), "--gallery", str(gallery)]) == 0
    assert "enrolled Eileen Collins: 1 photo" in capsys.readouterr().out
    assert main(["gallery", "list", "--gallery", str(gallery)]) == 0
    out = capsys.readouterr().out
    assert "Eileen Collins" in out and "1 protected person" in out

    from skimage.data import coffee

    cup = write_png(tmp_path / "coffee.png", coffee())
    assert main(["gallery", "add", "Nobody", str(cup), "--gallery", str(gallery)]) == 2
    assert "no face" in capsys.readouterr().err
    (tmp_path / "note.png").write_text("not an image")
    assert main(["gallery", "add", "Nobody", str(tmp_path / "note.png"), "--gallery", str(gallery)]) == 2
    assert "note.png" in capsys.readouterr().err

    assert main(["gallery", "remove", "Someone Else", "--gallery", str(gallery)]) == 2
    assert "Eileen Collins" in capsys.readouterr().err  # the known names are listed
    assert main(["gallery", "remove", "Eileen Collins", "--gallery", str(gallery)]) == 0
    assert main(["gallery", "list", "--gallery", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_likeness_command_names_the_person_and_the_frame_times(tmp_path, astronaut_png, her_clip, empty_clip, capsys):
    gallery = tmp_path / "gallery"
    assert main(["gallery", "add", "Eileen Collins", str(astronaut_png), "--gallery", str(gallery)]) == 0
    capsys.readouterr()
    assert main(["likeness", str(her_clip), "--gallery", str(gallery)]) == 1
    out = capsys.readouterr().out
    assert "BLOCK" in out and "likeness: Eileen Collins" in out and "0.50 s" in out

    assert main(["likeness", str(her_clip), "--gallery", str(gallery), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    times = sorted(f["time_s"] for f in report["findings"] if f["check"] == "likeness")
    assert times == pytest.approx([0.0, 0.5, 1.0]) and report["action"] == "block"

    assert main(["likeness", str(empty_clip), "--gallery", str(gallery)]) == 0
    assert main(["likeness", str(empty_clip), "--gallery", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_moderate_fails_closed_without_clip_weights_and_passes_a_harmless_clip(empty_clip, tmp_path, capsys, monkeypatch):
    assert main(["moderate", str(empty_clip)]) == 1
    out = capsys.readouterr().out
    assert "REVIEW" in out and "concepts" in out and "REELGATE_SAFETY__CLIP_WEIGHTS" in out

    monkeypatch.setenv("REELGATE_SAFETY__CONCEPTS", "false")  # the user's explicit choice, not a silent pass
    assert main(["moderate", str(empty_clip), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "allow"

    (tmp_path / "empty.mp4").write_bytes(b"")
    assert main(["moderate", str(tmp_path / "empty.mp4")]) == 2
    assert "empty file" in capsys.readouterr().err
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 20)
    assert main(["moderate", str(tmp_path / "text.mp4")]) == 2


class SlowNudity:
    def detect(self, frames, policy):
        time.sleep(5)
        return []


class BlockingNudity:
    def detect(self, frames, policy):
        return [Finding(time_s=frames[1].time_s, check="nudity", label="FEMALE_BREAST_EXPOSED", score=0.9,
                        action=Action.BLOCK, box=(0, 0, 200, 120), threshold=0.45)]


class NoFaces:
    def detect(self, frames, min_confidence):
        return []


def test_a_check_that_times_out_sends_the_shot_to_review(empty_clip):
    started = time.monotonic()
    settings = SafetySettings(concepts=False, likeness=False, check_timeout_s=0.5)
    report = check_video(empty_clip, settings, detectors={"nudity": SlowNudity(), "faces": NoFaces()})
    assert time.monotonic() - started < 4
    assert report.action == Action.REVIEW
    assert any("nudity unavailable" in r and "0.5 s" in r for r in report.reasons)


def test_reviewers_get_thumbnails_and_blocked_nudity_is_blurred(her_clip, tmp_path):
    settings = SafetySettings(concepts=False, likeness=False)
    report = check_video(her_clip, settings, contact_sheet=tmp_path / "sheet.png",
                         detectors={"nudity": BlockingNudity(), "faces": NoFaces()})
    assert report.action == Action.BLOCK and report.findings_sheet.is_file()
    [finding] = [f for f in report.findings if f.check == "nudity"]
    assert finding.thumbnail.is_file() and "threshold 0.45" in report.reasons[0]
    thumb = cv2.imread(str(finding.thumbnail), cv2.IMREAD_GRAYSCALE)
    frame = cv2.cvtColor(next(iter(_frames_at(her_clip, finding.time_s))), cv2.COLOR_RGB2GRAY)
    sharp = cv2.resize(frame, thumb.shape[::-1])
    # The picture itself is gone: almost no edges left against the frame it came from.
    assert cv2.Laplacian(thumb, cv2.CV_64F).var() < 0.2 * cv2.Laplacian(sharp, cv2.CV_64F).var()
    assert report.table_rows()[0]["thumbnail"] == finding.thumbnail.name


def _frames_at(video: Path, time_s: float):
    from safety.frames import sample_frames

    return [f.image for f in sample_frames(video, 2.0, max_side=640) if f.time_s == time_s]
