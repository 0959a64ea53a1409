"""What the terminal shows: progress bars (only where someone is watching one) and tables of
fixed-width columns (CJK characters take two)."""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Iterable, Sequence
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


def text_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def cell(text: str, width: int) -> str:
    """`text` on one line, cut to `width` columns (with …) and padded to exactly `width`."""
    text = " ".join(text.split())
    if text_width(text) > width:
        out = ""
        for ch in text:
            if text_width(out + ch) > width - 1:
                break
            out += ch
        text = out + "…"
    return text + " " * (width - text_width(text))


def table_lines(columns: Sequence[tuple[str, int]], rows: Iterable[Sequence[str]]) -> list[str]:
    """A header of the column names, a rule, then one line per row; columns: (name, width)."""
    lines = ["  ".join(cell(name, width) for name, width in columns).rstrip()]
    lines.append("  ".join("-" * width for _, width in columns))
    lines += ["  ".join(cell(c, w) for c, (_, w) in zip(row, columns)).rstrip() for row in rows]
    return lines
