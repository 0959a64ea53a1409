"""Face likeness against a gallery of protected people, with the real shipped models (MTCNN, dlib)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from reelgate.errors import InputError, MediaError, ModelNotFoundError
from reelgate.media import VideoWriter
from reelgate.records import Action
from reelgate.settings import SafetySettings
from safety.faces import FaceDetector
from safety.frames import sample_frames
from safety.gallery import Gallery
from safety.likeness import DLIB_THRESHOLD, DlibEmbedder, FacenetEmbedder, make_embedder, match_faces

W, H, FPS = 640, 360, 12


@pytest.fixture(scope="module")
def models() -> tuple[FaceDetector, DlibEmbedder]:
    return FaceDetector(), DlibEmbedder()


@pytest.fixture(scope="module")
def astronaut_face() -> np.ndarray:
    from skimage.data import astronaut

    return np.ascontiguousarray(astronaut()[20:220, 140:310])  # her head with some margin, 170x200


@pytest.fixture(scope="module")
def other_face() -> np.ndarray:
    from skimage.data import lfw_subset

    grey = cv2.resize((lfw_subset()[0] * 255).astype(np.uint8), (150, 150), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


def write_png(path: Path, image: np.ndarray) -> Path:
    cv2.imwrite(str(path), image[:, :, ::-1])
    return path


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, models, astronaut_face) -> Gallery:
    folder = tmp_path_factory.mktemp("gallery")
    photo = write_png(folder.parent / "astronaut.png", astronaut_face)
    g = Gallery(folder)
    g.add("Eileen Collins", [photo], *models)
    return g


def _background(rng: np.random.Generator) -> np.ndarray:
    noise = rng.integers(0, 255, (H // 8, W // 8, 3), dtype=np.uint8)
    return cv2.resize(noise, (W, H), interpolation=cv2.INTER_CUBIC)


def face_clip(path: Path, face: np.ndarray | None, seconds_with_face: float) -> Path:
    """2 s at 12 fps; `face` composited scaled (0.8 -> 1.2), moving, brightened 25 % and JPEG q40."""
    rng = np.random.default_rng(1)
    background = _background(rng)
    with VideoWriter(path, W, H, FPS) as writer:
        for i in range(2 * FPS):
            frame = background.copy()
            t = i / FPS
            if face is not None and t < seconds_with_face:
                scale = 0.8 + 0.4 * i / (2 * FPS)
                f = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                f = np.clip(f.astype(np.float32) * 1.25, 0, 255).astype(np.uint8)
                x, y = 100 + 10 * i, 60 + 2 * i
                frame[y : y + f.shape[0], x : x + f.shape[1]] = f
            ok, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 40])
            writer.write(cv2.imdecode(jpg, cv2.IMREAD_UNCHANGED))
    return path


def _check(video: Path, models, gallery: Gallery):
    detector, embedder = models
    frames = sample_frames(video, 2.0)
    faces = detector.detect(frames, 0.9)
    return faces, match_faces(frames, faces, gallery, embedder, None)


@pytest.mark.integration
def test_protected_face_in_a_clip_is_found_at_the_frames_where_it_is(tmp_path, models, gallery, astronaut_face):
    video = face_clip(tmp_path / "her.mp4", astronaut_face, seconds_with_face=1.2)
    faces, findings = _check(video, models, gallery)
    assert findings, f"no likeness finding; faces: {faces}"
    assert {f.label for f in findings} == {"Eileen Collins"}
    assert all(f.check == "likeness" and f.action == Action.BLOCK and f.score >= DLIB_THRESHOLD for f in findings)
    # Sampled at 0, 0.5, 1.0 s (face shown), 1.5 s and the last frame (gone).
    assert sorted(f.time_s for f in findings) == pytest.approx([0.0, 0.5, 1.0])
    assert all(f.box is not None and 90 <= f.box[0] <= 260 for f in findings)


@pytest.mark.integration
def test_other_person_and_empty_clip_give_no_likeness_finding(tmp_path, models, gallery, other_face):
    faces, findings = _check(face_clip(tmp_path / "other.mp4", other_face, seconds_with_face=2.0), models, gallery)
    assert faces, "the other face must be detected for this test to mean anything"
    assert findings == []
    faces, findings = _check(face_clip(tmp_path / "empty.mp4", None, 0.0), models, gallery)
    assert faces == [] and findings == []


@pytest.mark.integration  # loads the real MTCNN and dlib models
def test_same_photo_matches_itself_and_threshold_and_action_are_honoured(models, gallery, astronaut_face):
    from safety.frames import SampledFrame

    detector, embedder = models
    frames = [SampledFrame(time_s=3.0, index=36, image=astronaut_face)]
    faces = detector.detect(frames, 0.9)
    [found] = match_faces(frames, faces, gallery, embedder, None, action=Action.REVIEW)
    assert found.label == "Eileen Collins" and found.score > 0.99 and found.action == Action.REVIEW
    assert found.time_s == 3.0 and found.box == faces[0].box
    assert match_faces(frames, faces, gallery, embedder, threshold=found.score + 1e-3) == []


@pytest.mark.integration  # loads the real MTCNN and dlib models
def test_gallery_round_trip_on_disk(tmp_path, models, astronaut_face):
    photo = write_png(tmp_path / "a.png", astronaut_face)
    flipped = write_png(tmp_path / "b.png", astronaut_face[:, ::-1])
    folder = tmp_path / "new" / "gallery"  # add creates it
    person = Gallery(folder).add("宇航员", [photo, flipped], *models)
    assert person.embedder == "dlib" and person.dim == 128 and len(person.embeddings) == 2
    reopened = Gallery(folder).list()
    assert [p.name for p in reopened] == ["宇航员"]
    p = reopened[0]
    assert np.linalg.norm(p.embeddings[0]) == pytest.approx(1.0, abs=1e-4)
    assert [s.path for s in p.sources] == [str(photo.resolve()), str(flipped.resolve())]
    assert len({s.sha256 for s in p.sources}) == 2
    Gallery(folder).add("宇航员", [photo], *models)  # the same photo again adds nothing
    assert len(Gallery(folder).people[0].embeddings) == 2

    with pytest.raises(InputError, match="known names: 宇航员"):
        Gallery(folder).remove("nobody")
    Gallery(folder).remove("宇航员")
    assert Gallery(folder).list() == []


@pytest.mark.integration  # loads the real MTCNN and dlib models
def test_gallery_refuses_bad_photos_with_what_to_do(tmp_path, models, astronaut_face):
    from skimage.data import coffee

    g = Gallery(tmp_path / "g")
    with pytest.raises(InputError, match=r"no face found in .*coffee.png; use a photo"):
        g.add("x", [write_png(tmp_path / "coffee.png", coffee())], *models)
    pair = np.concatenate([astronaut_face, astronaut_face], axis=1)
    with pytest.raises(InputError, match=r"2 faces in .*pair.png; crop it to the person"):
        g.add("x", [write_png(tmp_path / "pair.png", pair)], *models)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(MediaError, match="not an image"):
        g.add("x", [text], *models)
    with pytest.raises(InputError, match="does not exist"):
        g.add("x", [tmp_path / "missing.png"], *models)
    with pytest.raises(InputError, match="non-empty name"):
        g.add("  ", [text], *models)
    assert not (tmp_path / "g").exists()  # nothing was written


@pytest.mark.integration  # loads the real MTCNN and dlib models
def test_missing_gallery_folder_and_foreign_embedder_are_refused(tmp_path, models, gallery):
    missing = Gallery(tmp_path / "nope")
    for call in (missing.list, lambda: missing.remove("x"), lambda: match_faces([], [], missing, models[1], None)):
        with pytest.raises(InputError, match="does not exist"):
            call()

    class Other:
        name, dim, threshold = "facenet", 512, 0.5

    with pytest.raises(InputError, match="made with dlib, embedder is facenet: re-enrol"):
        match_faces([], [], gallery, Other(), None)


def test_facenet_without_weights_names_the_setting(tmp_path):
    with pytest.raises(ModelNotFoundError, match="safety.facenet_weights"):
        FacenetEmbedder(tmp_path / "missing.pt")
    with pytest.raises(ModelNotFoundError, match="safety.facenet_weights"):
        make_embedder(SafetySettings(face_embedder="facenet"))


@pytest.mark.integration  # builds the default (dlib) embedder
def test_the_default_embedder_is_dlib_at_its_threshold():
    assert make_embedder(SafetySettings()).threshold == DLIB_THRESHOLD


@pytest.mark.integration  # loads the real MTCNN and dlib models
def test_facenet_loads_a_local_state_dict(tmp_path):
    import torch
    from facenet_pytorch import InceptionResnetV1

    weights = tmp_path / "vggface2.pt"
    torch.save(InceptionResnetV1(pretrained=None).state_dict(), weights)
    embedder = FacenetEmbedder(weights)
    image = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    v = embedder.embed(image, (20, 30, 150, 180))
    assert v.shape == (512,) and v.dtype == np.float32 and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)
