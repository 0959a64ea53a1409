"""Progress bars on the terminal, shown only where someone is watching one."""

from __future__ import annotations

import os
import sys
from typing import Any


def watching() -> bool:
    """Whether stderr is a terminal (REELGATE_PROGRESS=1 forces bars, 0 hides them)."""
    forced = os.environ.get("REELGATE_PROGRESS")
    if forced in ("0", "1"):
        return forced == "1"
    return sys.stderr.isatty()


def progress_bar(description: str, total: int, unit: str = "step") -> Any | None:
    """A tqdm bar on stderr, or None when no one watches a terminal (logs carry progress then)."""
    if not watching():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=unit, file=sys.stderr, leave=True, dynamic_ncols=True)
