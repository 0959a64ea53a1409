"""Thumbnails of what the safety checks acted on, for reviewers; blocked nudity is blurred.

Each finding that blocks or sends to review gets a JPEG of its frame with the detection
box outlined, and all of them go on one findings sheet (time, check, label, score and
threshold under each). Pictures the policy blocked for nudity are blurred beyond
recognition before they are written anywhere: a reviewer needs to see where and what, not
the content itself.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reelgate.contact_sheet import make_contact_sheet
from reelgate.files import atomic_path
from reelgate.records import Action
from safety.frames import SampledFrame
from safety.report import Finding

THUMB_MAX_SIDE = 320
_OUTLINE = {Action.BLOCK: (220, 30, 30), Action.REVIEW: (240, 170, 20)}


def must_blur(finding: Finding) -> bool:
    """Blocked nudity is never shown sharp."""
    return finding.check == "nudity" and finding.action == Action.BLOCK


def blurred(image: np.ndarray) -> np.ndarray:
    """A picture reduced to colour blobs: shrink to 16 px across and blow it back up."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (16, max(1, round(16 * h / w))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), max(w, h) / 40)


def thumbnail(frame: SampledFrame, finding: Finding) -> np.ndarray:
    """The frame, shrunk to THUMB_MAX_SIDE, the finding's box outlined, blurred where it must be."""
    image = frame.image.copy()
    if must_blur(finding):
        image = blurred(image)
    if finding.box is not None:
        x1, y1, x2, y2 = finding.box
        thickness = max(2, round(max(image.shape[:2]) / 200))
        cv2.rectangle(image, (x1, y1), (x2, y2), _OUTLINE.get(finding.action, (255, 255, 255)), thickness)
    h, w = image.shape[:2]
    scale = min(1.0, THUMB_MAX_SIDE / max(h, w))
    if scale < 1.0:
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return image


def write_finding_thumbnails(
    frames: list[SampledFrame], findings: list[Finding], folder: Path, title: str
) -> Path | None:
    """Write a JPEG per acting finding (setting `finding.thumbnail`) and a findings sheet; return the sheet.

    None when nothing acted (no sheet to look at).
    """
    by_time = {frame.time_s: frame for frame in frames}
    acting = [f for f in findings if f.action != Action.ALLOW and f.time_s in by_time]
    if not acting:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    cells: list[tuple[float, np.ndarray]] = []
    marks: dict[int, str] = {}
    for i, finding in enumerate(acting):
        image = thumbnail(by_time[finding.time_s], finding)
        path = folder / f"finding{i + 1:02d}_{finding.check}.jpg"
        with atomic_path(path) as tmp:
            ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
            if not ok:
                raise OSError(f"could not encode {path.name}")
            tmp.write_bytes(data.tobytes())
        finding.thumbnail = path
        threshold = f"≥{finding.threshold:.2f}" if finding.threshold is not None else ""
        marks[i] = f"{finding.action.value.upper()} {finding.label[:28]} {finding.score:.2f}{threshold}"
        cells.append((finding.time_s, image))
    return make_contact_sheet(cells, folder / "findings.png", marks=marks, columns=4, thumb_width=240, title=title)
