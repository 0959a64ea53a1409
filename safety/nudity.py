"""Nudity check over sampled frames with NudeNet 3.x (its 320n.onnx ships inside the wheel).

NudeNet labels are grouped into the policy's categories by NUDITY_LABEL_CATEGORY
(safety/policy.py): exposed intimate parts are `nudity_exposed`, covered ones
`nudity_covered`; the policy file says what each does and at what score. Other labels are
ignored:
FACE_* (faces are the face check's business), feet, armpits, belly (exposed or covered:
ordinary clothing and swimwear), and MALE_BREAST_EXPOSED (a bare male chest is not
nudity under common platform rules; add it to NUDITY_LABEL_CATEGORY to act on it too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2

from reelgate.errors import ModelNotFoundError
from reelgate.records import Action
from reelgate.settings import SafetySettings
from safety.frames import SampledFrame
from safety.policy import NUDITY_LABEL_CATEGORY, Policy
from safety.report import Finding

def findings_from_detections(detections: list[dict[str, Any]], time_s: float, policy: Policy) -> list[Finding]:
    """Apply the policy to NudeNet's output for one frame.

    detections: NudeNet's list of {"class": label, "score": float, "box": [x, y, w, h]}.
    Labels outside NUDITY_LABEL_CATEGORY are ignored (see the module doc).
    """
    findings = []
    for det in detections:
        category = NUDITY_LABEL_CATEGORY.get(det["class"])
        if category is None:
            continue
        score = float(det["score"])
        action = policy.decide(category, score)
        if action == Action.ALLOW:
            continue
        x, y, w, h = (int(v) for v in det["box"])
        rule = policy.rules.get(category)
        findings.append(Finding(
            time_s=time_s, check="nudity", label=det["class"], score=score, action=action, box=(x, y, x + w, y + h),
            threshold=rule.threshold if rule is not None else None,
        ))
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

    def detect(self, frames: list[SampledFrame], policy: Policy) -> list[Finding]:
        """Findings that the policy acts on, over all frames, in frame order."""
        findings: list[Finding] = []
        for frame in frames:
            # NudeNet's own path input is cv2.imread's BGR; feed arrays the same way.
            bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
            findings += findings_from_detections(self._model.detect(bgr), frame.time_s, policy)
        return findings


def detector_from_settings(settings: SafetySettings) -> NudityDetector:
    """The nudity check's detector (reelgate.registry.FRAME_CLASSIFIERS["nudity"]): the model in the nudenet wheel."""
    return NudityDetector()
