"""Nudity check over sampled frames with NudeNet 3.x (its 320n.onnx ships inside the wheel).

The policy is the table below: NudeNet label -> (action, the SafetySettings field holding
the score at or above which the action applies). Labels not in the table are ignored:
FACE_* (faces are the face check's business), feet, armpits, belly (exposed or covered:
ordinary clothing and swimwear), and MALE_BREAST_EXPOSED (a bare male chest is not
nudity under common platform rules; add it here to block it too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2

from reelgate.errors import ModelNotFoundError
from reelgate.records import Action
from reelgate.settings import SafetySettings
from safety.frames import SampledFrame
from safety.report import Finding

NUDITY_POLICY: dict[str, tuple[Action, str]] = {
    # Exposed intimate parts: block.
    "FEMALE_GENITALIA_EXPOSED": (Action.BLOCK, "nudity_block_score"),
    "MALE_GENITALIA_EXPOSED": (Action.BLOCK, "nudity_block_score"),
    "FEMALE_BREAST_EXPOSED": (Action.BLOCK, "nudity_block_score"),
    "BUTTOCKS_EXPOSED": (Action.BLOCK, "nudity_block_score"),
    "ANUS_EXPOSED": (Action.BLOCK, "nudity_block_score"),
    # Covered intimate parts (underwear, tight or sheer clothing): a person decides.
    "FEMALE_GENITALIA_COVERED": (Action.REVIEW, "nudity_review_score"),
    "FEMALE_BREAST_COVERED": (Action.REVIEW, "nudity_review_score"),
    "BUTTOCKS_COVERED": (Action.REVIEW, "nudity_review_score"),
    "ANUS_COVERED": (Action.REVIEW, "nudity_review_score"),
}


def findings_from_detections(
    detections: list[dict[str, Any]], time_s: float, settings: SafetySettings
) -> list[Finding]:
    """Apply NUDITY_POLICY to NudeNet's output for one frame.

    detections: NudeNet's list of {"class": label, "score": float, "box": [x, y, w, h]}.
    """
    findings = []
    for det in detections:
        rule = NUDITY_POLICY.get(det["class"])
        if rule is None:
            continue
        action, threshold_field = rule
        score = float(det["score"])
        if score < getattr(settings, threshold_field):
            continue
        x, y, w, h = (int(v) for v in det["box"])
        findings.append(
            Finding(time_s=time_s, check="nudity", label=det["class"], score=score, action=action, box=(x, y, x + w, y + h))
        )
    return findings


class NudityDetector:
    """NudeNet's detector, loaded once per instance.

    model_path: another NudeNet-format ONNX file; default: the one inside the wheel.
    model: an object with NudeNet's `detect(bgr_image) -> list[dict]` (tests inject fakes).
    """

    def __init__(self, model_path: Path | None = None, *, model: Any = None) -> None:
        if model is not None:
            self._model = model
            return
        if model_path is not None and not Path(model_path).is_file():
            raise ModelNotFoundError(
                f"NudeNet model {model_path} does not exist; leave the path unset to use the one in the nudenet wheel"
            )
        try:
            from nudenet import NudeDetector
        except ImportError as exc:
            raise ModelNotFoundError(f"nudenet is not installed ({exc}); pip install nudenet==3.4.2") from exc
        self._model = NudeDetector(model_path=str(model_path) if model_path else None)

    def detect(self, frames: list[SampledFrame], settings: SafetySettings) -> list[Finding]:
        """Findings that the policy acts on, over all frames, in frame order."""
        findings: list[Finding] = []
        for frame in frames:
            # NudeNet's own path input is cv2.imread's BGR; feed arrays the same way.
            bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
            findings += findings_from_detections(self._model.detect(bgr), frame.time_s, settings)
        return findings
