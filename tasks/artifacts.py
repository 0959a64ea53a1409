"""What tasks show in the Prefect UI: artifact keys, images inline, and artifacts that never fail a stage."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable
from pathlib import Path

import cv2
from prefect import get_run_logger


def artifact_key(*parts: object) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    raw = "-".join(str(p) for p in parts).lower()
    return re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")[:120]


def image_data_url(image: Path, max_width: int = 960) -> str:
    """The image as a small inline JPEG: the Prefect UI shows it with no file server."""
    picture = cv2.imread(str(image))
    h, w = picture.shape[:2]
    if w > max_width:
        picture = cv2.resize(picture, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def quietly(what: str, make: Callable[[], object]) -> None:
    """Make one artifact; a failure is logged, never raised: a picture for editors must never fail the stage."""
    try:
        make()
    except Exception as exc:  # noqa: BLE001
        try:
            log = get_run_logger()
        except Exception:  # outside a Prefect run (a plain call)
            log = logging.getLogger(__name__)
        log.warning("could not make the %s artifact: %s: %s", what, type(exc).__name__, exc)
