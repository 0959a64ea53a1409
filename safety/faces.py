"""Face detection over sampled frames with facenet-pytorch's MTCNN (weights ship in the wheel).

Faces are reported, not judged, at this stage: whose face it is (likeness against a
gallery of protected people) and whether it stays the same face through a shot (quality)
are later checks built on these boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from reelgate.settings import SafetySettings
from safety.frames import SampledFrame

# Frames of one size go through MTCNN together: each of its three networks then runs once
# per batch instead of once per frame (about 20 % less CPU on 21 frames of 640x360).
BATCH_FRAMES = 8


@dataclass(frozen=True)
class FaceBox:
    time_s: float
    box: tuple[int, int, int, int]  # (x1, y1, x2, y2) in the sampled frame's pixels
    confidence: float
    # MTCNN's five landmarks (left eye, right eye, nose, left and right mouth corner) as
    # (x, y) in the frame's pixels; empty when the detector gives none.
    landmarks: tuple[tuple[float, float], ...] = ()


class FaceDetector:
    """MTCNN on CPU, loaded once per instance.

    max_side: frames with a longer side are shrunk to it before detection (MTCNN's cost
    grows with the pixel count).
    min_face_size: faces smaller than this (pixels, at max_side) are not looked for.
    """

    def __init__(self, max_side: int = 640, min_face_size: int = 20) -> None:
        from facenet_pytorch import MTCNN

        self.max_side = max_side
        # The image pyramid starts at min_face_size: a larger floor means fewer, cheaper scales.
        self._mtcnn: Any = MTCNN(keep_all=True, device="cpu", min_face_size=min_face_size)

    def detect(self, frames: list[SampledFrame], min_confidence: float) -> list[FaceBox]:
        """Faces at or above `min_confidence` in every frame, in frame order, boxes in the frame's own pixels."""
        faces: list[FaceBox] = []
        for batch in _batches(frames):
            images, scales = [], []
            for frame in batch:
                image = frame.image
                h, w = image.shape[:2]
                scale = min(1.0, self.max_side / max(h, w))
                if scale < 1.0:
                    image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
                images.append(image)
                scales.append(scale)
            boxes, probs, points = self._mtcnn.detect(np.stack(images), landmarks=True)
            for frame, scale, f_boxes, f_probs, f_points in zip(batch, scales, boxes, probs, points, strict=True):
                faces += _faces_of(frame, scale, f_boxes, f_probs, f_points, min_confidence)
        return faces


def detector_from_settings(settings: SafetySettings) -> FaceDetector:
    """The faces check's detector (reelgate.registry.FRAME_CLASSIFIERS["faces"])."""
    return FaceDetector(min_face_size=settings.face_min_size)


def _batches(frames: list[SampledFrame]) -> list[list[SampledFrame]]:
    """Runs of consecutive frames of one size, at most BATCH_FRAMES long (MTCNN stacks a batch)."""
    batches: list[list[SampledFrame]] = []
    for frame in frames:
        last = batches[-1] if batches else None
        if last and len(last) < BATCH_FRAMES and last[0].image.shape == frame.image.shape:
            last.append(frame)
        else:
            batches.append([frame])
    return batches


def _faces_of(
    frame: SampledFrame, scale: float, boxes: Any, probs: Any, points: Any, min_confidence: float
) -> list[FaceBox]:
    if boxes is None:
        return []
    h, w = frame.image.shape[:2]
    faces = []
    for box, prob, marks in zip(boxes, probs, points if points is not None else [None] * len(boxes), strict=True):
        if prob is None or prob < min_confidence:
            continue
        x1, y1, x2, y2 = (float(v) / scale for v in box)
        clipped = (max(0, round(x1)), max(0, round(y1)), min(w, round(x2)), min(h, round(y2)))
        landmarks = () if marks is None else tuple((float(x) / scale, float(y) / scale) for x, y in marks)
        faces.append(FaceBox(time_s=frame.time_s, box=clipped, confidence=float(prob), landmarks=landmarks))
    return faces
