"""Contact sheets: a grid of time-stamped thumbnails a reviewer reads at a glance.

Layout, in pixels: an optional title bar (TITLE_HEIGHT) on top, then rows of cells, each
a thumbnail `thumb_width` wide above a LABEL_HEIGHT band with its time stamp (mm:ss.s)
and mark text; PAD between cells and around the edge. Marked frames get a red border.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from reelgate.files import atomic_path
from reelgate.fonts import label_font

PAD = 8
LABEL_HEIGHT = 22
TITLE_HEIGHT = 34
BORDER = 4
MARK_RED = (220, 30, 30)
_BACKGROUND = (24, 24, 24)
_TEXT = (230, 230, 230)


def format_time(seconds: float) -> str:
    """mm:ss.s, rounded to the tenth (59.96 s is 01:00.0)."""
    tenths = round(max(seconds, 0.0) * 10)
    minutes, rest = divmod(tenths, 600)
    return f"{minutes:02d}:{rest / 10:04.1f}"



def make_contact_sheet(
    frames: list[tuple[float, np.ndarray]],
    out: Path,
    *,
    marks: dict[int, str] | None = None,
    columns: int = 6,
    thumb_width: int = 240,
    title: str | None = None,
) -> Path:
    """Write a PNG grid of `frames` to `out` (atomically) and return `out`.

    frames: (time in seconds, RGB uint8 image) pairs, in display order.
    marks: list index -> short text (e.g. "BLOCK nudity 0.83"); those cells get a red border.
    """
    if not frames:
        raise ValueError("a contact sheet needs at least one frame")
    if columns < 1 or thumb_width < 16:
        raise ValueError(f"columns must be >= 1 and thumb_width >= 16, got {columns} and {thumb_width}")
    marks = marks or {}
    thumbs = []
    for _, image in frames:
        h, w = image.shape[:2]
        size = (thumb_width, max(1, round(h * thumb_width / w)))
        thumbs.append(Image.fromarray(np.ascontiguousarray(image[..., :3])).resize(size, Image.Resampling.LANCZOS))
    thumb_height = max(t.height for t in thumbs)
    cols = min(columns, len(frames))
    rows = -(-len(frames) // cols)
    top = TITLE_HEIGHT if title else 0
    cell_w, cell_h = thumb_width + PAD, thumb_height + LABEL_HEIGHT + PAD
    sheet = Image.new("RGB", (PAD + cols * cell_w, top + PAD + rows * cell_h), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    small = label_font(LABEL_HEIGHT - 8)
    if title:
        draw.text((PAD, TITLE_HEIGHT // 2), title, fill=_TEXT, font=label_font(TITLE_HEIGHT - 12), anchor="lm")

    for i, ((time_s, _), thumb) in enumerate(zip(frames, thumbs)):
        x = PAD + (i % cols) * cell_w
        y = top + PAD + (i // cols) * cell_h
        sheet.paste(thumb, (x, y))
        label = format_time(time_s)
        if i in marks:
            draw.rectangle((x, y, x + thumb.width - 1, y + thumb.height - 1), outline=MARK_RED, width=BORDER)
            label = f"{label}  {marks[i]}"
        while len(label) > 1 and draw.textlength(label, font=small) > thumb_width:
            label = label[:-2] + "…"  # keep the text inside its own cell
        draw.text(
            (x, y + thumb_height + LABEL_HEIGHT // 2),
            label,
            fill=MARK_RED if i in marks else _TEXT,
            font=small,
            anchor="lm",
        )

    out = Path(out)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out
