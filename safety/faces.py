"""Face detection over sampled frames with facenet-pytorch's MTCNN (weights ship in the wheel).

Faces are reported, not judged, at this stage: whose face it is (likeness against a
gallery of protected people) is a later check built on these boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2

from safety.frames import SampledFrame


@dataclass(frozen=True)
class FaceBox:
    time_s: float
    box: tuple[int, int, int, int]  # (x1, y1, x2, y2) in the sampled frame's pixels
    confidence: float


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
        """Faces at or above `min_confidence` in every frame, boxes in the frame's own pixels."""
        faces: list[FaceBox] = []
        for frame in frames:
            image = frame.image
            h, w = image.shape[:2]
            scale = min(1.0, self.max_side / max(h, w))
            if scale < 1.0:
                image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            boxes, probs = self._mtcnn.detect(image)
            if boxes is None:
                continue
            for box, prob in zip(boxes, probs):
                if prob is None or prob < min_confidence:
                    continue
                x1, y1, x2, y2 = (float(v) / scale for v in box)
                clipped = (max(0, round(x1)), max(0, round(y1)), min(w, round(x2)), min(h, round(y2)))
                faces.append(FaceBox(time_s=frame.time_s, box=clipped, confidence=float(prob)))
        return faces
