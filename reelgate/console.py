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


class StepBar:
    """A progress(done, total) callback drawing a tqdm bar on stderr, only when someone watches.

    The bar is created at the first call, when the total is known.
    """

    def __init__(self, description: str, unit: str = "step") -> None:
        self.description = description
        self.unit = unit
        self._bar: Any | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if not watching():
                return
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.description, unit=self.unit, file=sys.stderr, dynamic_ncols=True)
        self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
