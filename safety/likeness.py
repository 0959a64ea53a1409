"""Face likeness: does a face in a generated shot look like a protected person?

Every face MTCNN finds (safety.faces) is embedded and compared, by cosine similarity, with
every enrolled embedding of every person in the gallery (safety.gallery); the best match
at or above the threshold is a finding naming that person.

Embedders (one small interface, `FaceEmbedder`, named in reelgate.registry.FACE_EMBEDDERS):
- dlib (default, ships offline): dlib's 5-point shape predictor aligns the face, its
  ResNet gives a 128-d descriptor, L2-normalised here so cosine works. dlib is built
  against OpenBLAS (pyproject.toml): ~11 ms a face on this machine's 2 cores, where the
  prebuilt dlib-bin wheel (no BLAS) takes ~73 ms; the descriptors agree to 1e-6.
- facenet: facenet-pytorch's InceptionResnetV1 from a local state dict
  (`safety.facenet_weights`); the pretrained weights are a download, so none ship here.

The dlib threshold (DLIB_THRESHOLD = 0.91) was measured, not guessed
(bench/likeness_calibration.py, seed 0; numbers below from that run):
- Positives: skimage's astronaut enrolled from the original photo, then re-found by MTCNN
  (confidence 0.9) in 160 random variants of what a generated clip does to a face (scale
  0.5-1.5, shift +-15 %, brightness +-30 %, JPEG quality 30-90, blur sigma 0-1.5, rotation
  +-10 deg). 148 were detected (the misses are MTCNN's, mostly the smallest scales);
  cosine to the enrolment: min 0.920, 1st percentile 0.926, median 0.984.
- Negatives: the only other real human faces installed here are skimage's cameraman and
  the 100 LFW faces of `skimage.data.lfw_subset()` (25x25 grey crops, upscaled to 150 px:
  blurry, so they look more alike to dlib than sharp photos would). Against the astronaut:
  median 0.837, 99th percentile 0.906, max 0.915 (1 of 101 at or above 0.91). LFW against
  LFW (4950 unlabelled pairs, a few may be the same person): median 0.864, p99 0.928, max
  0.964; 6.0 % of pairs reach 0.91. MTCNN found no non-face "faces" at confidence >= 0.5
  in the 16 other shipped pictures (coffee, cat, rocket, china, ...), so there are none.
- dlib's own rule is Euclidean distance 0.6 on the raw descriptors. For unit vectors
  cos = 1 - d^2/2, so d = 0.6 would be cos 0.82; but dlib's raw descriptors are not unit
  length (norms 1.25-1.54 here, median 1.36), and for two vectors of norm r,
  cos = 1 - d^2/(2 r^2): d = 0.6 is cos ~0.90 at r = 1.36 and ~0.92 at r = 1.46.
  So 0.91 on normalised vectors is dlib's 0.6 rule; 0.82 would match 76 % of negatives.
- Chosen: 0.91, between the negatives' 99th percentile (0.906) and the positives' minimum
  (0.920). The margins are thin (0.005-0.01) and both sets are biased: the positives are
  the same photo degraded (a generated likeness differs in pose and expression, so it
  scores lower: a real lookalike may pass under 0.91), and the negatives are one enrolled
  identity against ~100 low-resolution faces. False matches grow with the gallery size
  (each face is compared with every person). Re-run the bench on a real gallery and a real
  impostor set before trusting these rates; a review band below the threshold (e.g. 0.85)
  is a cheap way to catch lookalikes without blocking.

The facenet threshold (FACENET_THRESHOLD) is NOT calibrated here (no weights): it is
facenet-pytorch's commonly used vggface2 distance ~1.0 on unit vectors, cos = 0.5.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

from reelgate.errors import InputError, ModelNotFoundError
from reelgate.records import Action
from reelgate.registry import FACE_EMBEDDERS
from reelgate.settings import SafetySettings
from safety.faces import FaceBox
from safety.frames import SampledFrame
from safety.report import Finding

if TYPE_CHECKING:
    from safety.gallery import Gallery

log = logging.getLogger(__name__)

# Measured (see the module docstring and bench/likeness_calibration.py).
DLIB_THRESHOLD = 0.91
# Not measured here (no facenet weights ship): facenet-pytorch's usual distance 1.0 -> cos 0.5.
FACENET_THRESHOLD = 0.5


class FaceEmbedder(Protocol):
    name: str
    dim: int
    threshold: float  # calibrated cosine similarity at which a face matches

    def embed(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """A unit-norm float32 vector for the face in `box` (x1, y1, x2, y2) of `image_rgb`."""
        ...


def _unit(vector: Any) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


class DlibEmbedder:
    """dlib's ResNet face descriptor (128-d), aligned by its 5-point shape predictor."""

    name = "dlib"
    dim = 128
    threshold = DLIB_THRESHOLD

    @classmethod
    def from_settings(cls, settings: SafetySettings) -> DlibEmbedder:
        return cls()

    def __init__(self) -> None:
        import dlib

        with warnings.catch_warnings():
            # face_recognition_models imports pkg_resources, which warns on import.
            warnings.simplefilter("ignore")
            import face_recognition_models as models

        if not dlib.DLIB_USE_BLAS:
            log.warning(
                "dlib was built without BLAS: each face takes ~73 ms instead of ~11 ms; "
                "pip uninstall dlib-bin && apt-get install libopenblas-dev cmake g++ && pip install dlib==20.0.1"
            )
        self._dlib = dlib
        self._shape = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self._net = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def embed(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
        x1, y1, x2, y2 = (int(v) for v in box)
        shape = self._shape(image, self._dlib.rectangle(x1, y1, x2, y2))
        return _unit(self._net.compute_face_descriptor(image, shape, num_jitters=0))


class FacenetEmbedder:
    """facenet-pytorch's InceptionResnetV1 (512-d) from a local state dict; the box is cropped to 160x160."""

    name = "facenet"
    dim = 512
    threshold = FACENET_THRESHOLD

    @classmethod
    def from_settings(cls, settings: SafetySettings) -> FacenetEmbedder:
        return cls(settings.facenet_weights)

    def __init__(self, weights: Path | None) -> None:
        if weights is None or not Path(weights).is_file():
            raise ModelNotFoundError(
                f"facenet weights not found at {weights}; set safety.facenet_weights "
                "(REELGATE_SAFETY__FACENET_WEIGHTS) to a local InceptionResnetV1 vggface2 state dict, "
                "or use safety.face_embedder=dlib"
            )
        import torch
        from facenet_pytorch import InceptionResnetV1

        self._torch = torch
        self._net = InceptionResnetV1(pretrained=None, classify=False).eval()
        state = torch.load(Path(weights), map_location="cpu", weights_only=True)
        try:
            # vggface2 checkpoints carry the classifier head; it is not used for embeddings.
            self._net.load_state_dict({k: v for k, v in state.items() if not k.startswith("logits.")}, strict=True)
        except RuntimeError as exc:
            raise ModelNotFoundError(f"{weights} is not an InceptionResnetV1 state dict: {exc}"[:500]) from exc

    def embed(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        h, w = image_rgb.shape[:2]
        x1, y1, x2, y2 = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
        crop = cv2.resize(image_rgb[y1:y2, x1:x2], (160, 160), interpolation=cv2.INTER_AREA)
        # facenet-pytorch's fixed_image_standardization
        x = (self._torch.from_numpy(crop).permute(2, 0, 1).float() - 127.5) / 128.0
        with self._torch.no_grad():
            return _unit(self._net(x.unsqueeze(0))[0].numpy())


def make_embedder(settings: SafetySettings) -> FaceEmbedder:
    """The face embedder the settings name (safety.face_embedder; the names are reelgate.registry.FACE_EMBEDDERS)."""
    return FACE_EMBEDDERS.get(settings.face_embedder).from_settings(settings)


def match_faces(
    frames: list[SampledFrame],
    faces: list[FaceBox],
    gallery: Gallery,
    embedder: FaceEmbedder,
    threshold: float | None = None,
    action: Action = Action.BLOCK,
) -> list[Finding]:
    """One finding per detected face whose best gallery match is at or above the threshold.

    frames: the sampled frames the faces were detected in (matched by time_s).
    threshold: cosine similarity; None uses the embedder's calibrated default.
    Raises InputError when the gallery folder is missing or was made with another embedder.
    """
    people = gallery.people  # raises when the folder does not exist
    others = sorted({p.embedder for p in people if p.embedder != embedder.name})
    if others:
        raise InputError(
            f"gallery {gallery.folder} made with {', '.join(others)}, embedder is {embedder.name}: "
            f"re-enrol its people with {embedder.name} or set safety.face_embedder={others[0]}"
        )
    if not faces or not people:
        return []
    limit = embedder.threshold if threshold is None else threshold
    names = [p.name for p in people for _ in p.embeddings]
    matrix = np.asarray([e for p in people for e in p.embeddings], dtype=np.float32)
    by_time = {f.time_s: f.image for f in frames}

    findings: list[Finding] = []
    for face in faces:
        image = by_time.get(face.time_s)
        if image is None:
            raise InputError(f"face at {face.time_s:.3f} s has no sampled frame; pass the frames it was detected in")
        scores = matrix @ embedder.embed(image, face.box)
        best = int(np.argmax(scores))
        if scores[best] >= limit:
            findings.append(
                Finding(
                    time_s=face.time_s, check="likeness", label=names[best],
                    score=float(scores[best]), action=action, box=face.box, threshold=limit,
                )
            )
    return findings
