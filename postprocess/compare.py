"""The takes of a sweep side by side: one contact-sheet image and one grid video (ffmpeg xstack).

Plain Python. Each take is a cell: its picture (the middle frame in the image, the whole take
in the video) above a label band with its id, its knob values, its quality and safety. A
blocked take (blocked, never checked, or failed: `Take.blocked`) is never shown: its cell is
blurred beyond recognition in the image and blank in the video, labelled "blocked".
Labels are drawn with Pillow and a CJK-capable font (reelgate.fonts), so a swept subject in
Chinese reads as written; the video burns the same label images under each cell.

Layout, in pixels: TITLE_HEIGHT on top of the image (none in the video); cells of
`cell_width` x (cell_width * h / w) above LABEL_HEIGHT, PAD between cells and around them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from reelgate.errors import MediaError
from reelgate.files import atomic_path
from reelgate.fonts import label_font
from reelgate.media import run_ffmpeg, video_info

PAD = 8
LABEL_HEIGHT = 40
TITLE_HEIGHT = 34
BORDER = 4
BACKGROUND = (24, 24, 24)
BLANK = (48, 48, 48)
TEXT = (235, 235, 235)
DIM = (170, 170, 170)
RED = (220, 40, 40)
GREEN = (90, 200, 110)


@dataclass(frozen=True)
class Cell:
    """One take as the comparison shows it."""

    take_id: str
    knobs: str  # "camera push · dusk · seed 2"
    verdict: str  # "q 0.82 pass · allow", or the reason it is blocked
    blocked: bool
    video: Path | None = None  # the take's video (None: not made)
    thumbnail: Path | None = None  # its middle frame (already blurred when blocked)
    selected: bool = False



def blurred(image: np.ndarray) -> np.ndarray:
    """A picture reduced to colour blobs (as safety.thumbnails does): nothing in it can be recognised."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (16, max(1, round(16 * h / w))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), max(w, h) / 40)


def middle_frame(video: Path) -> np.ndarray:
    """The frame at the middle of a video, RGB uint8."""
    _, _, _, duration = video_info(video)
    with tempfile.TemporaryDirectory(prefix="reelgate-frame-") as tmp:
        out = Path(tmp) / "middle.png"
        run_ffmpeg(["-ss", f"{max(duration / 2, 0.0):.3f}", "-i", str(video), "-frames:v", "1", str(out)],
                   f"taking the middle frame of {video.name}")
        image = cv2.imread(str(out), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{video} has no frame at its middle")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_thumbnail(video: Path | None, out: Path, blocked: bool, size: tuple[int, int] = (320, 180)) -> Path:
    """The take's middle frame as a JPEG (blurred when blocked; a blank card when there is no video)."""
    if video is not None and Path(video).is_file():
        image = middle_frame(Path(video))
    else:
        image = np.full((size[1], size[0], 3), BLANK, np.uint8)
    if blocked:
        image = blurred(image)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:  # the temporary name keeps the suffix: cv2 picks the format by it
        if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88]):
            raise MediaError(f"could not write {out}")
    return out


def grid_shape(count: int, columns: int) -> tuple[int, int]:
    """(columns, rows) of a grid of `count` cells at most `columns` wide, rows as full as they can be
    (5 takes in at most 4 columns: 3 + 2, not 4 + 1)."""
    cols = max(1, min(columns, count))
    rows = -(-count // cols)
    cols = -(-count // rows)
    return cols, rows


def _cell_size(cells: Sequence[Cell], cell_width: int) -> tuple[int, int]:
    """(width, height) of a cell's picture: the aspect of the first made take, even numbers."""
    aspect = 9 / 16
    for cell in cells:
        if cell.video is not None and Path(cell.video).is_file() and not cell.blocked:
            w, h, _, _ = video_info(Path(cell.video))
            aspect = h / w
            break
    width = cell_width - cell_width % 2
    return width, max(2, round(width * aspect / 2) * 2)


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    while len(text) > 1 and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…"
    return text


def label_image(cell: Cell, width: int) -> Image.Image:
    """The band under a cell: "t03  camera push · dusk · seed 2" over "q 0.71 pass · allow" (or "blocked")."""
    band = Image.new("RGB", (width, LABEL_HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(band)
    big, small = label_font(15), label_font(12)
    head = f"{cell.take_id}  {cell.knobs}"
    draw.text((4, 11), _fit(draw, head, big, width - 8), fill=TEXT, font=big, anchor="lm")
    colour = RED if cell.blocked else GREEN if cell.selected else DIM
    verdict = ("BLOCKED  " + cell.verdict) if cell.blocked else (("SELECTED  " if cell.selected else "") + cell.verdict)
    draw.text((4, 30), _fit(draw, verdict, small, width - 8), fill=colour, font=small, anchor="lm")
    return band


def _stamp_blocked(image: np.ndarray) -> np.ndarray:
    """"blocked" written across the middle of a (blurred or blank) picture, so nobody takes it for a take."""
    picture = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(picture)
    font = label_font(max(12, picture.height // 7))
    draw.text((picture.width // 2, picture.height // 2), "blocked", fill=RED, font=font, anchor="mm",
              stroke_width=max(1, picture.height // 90), stroke_fill=(0, 0, 0))
    return np.asarray(picture)


def blocked_card(size: tuple[int, int]) -> np.ndarray:
    """The picture of a blocked take in the video: blank, labelled "blocked"."""
    w, h = size
    return _stamp_blocked(np.full((h, w, 3), BLANK, np.uint8))


def _picture(cell: Cell, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    if cell.blocked:
        return _stamp_blocked(_shown(cell, size))
    return _shown(cell, size)


def _shown(cell: Cell, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    image = None
    if cell.thumbnail is not None and Path(cell.thumbnail).is_file():
        image = cv2.imread(str(cell.thumbnail), cv2.IMREAD_COLOR)
    if image is None and cell.video is not None and Path(cell.video).is_file() and not cell.blocked:
        image = cv2.cvtColor(middle_frame(Path(cell.video)), cv2.COLOR_RGB2BGR)
    if image is None:
        return np.full((h, w, 3), BLANK, np.uint8)
    image = cv2.cvtColor(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return blurred(image) if cell.blocked else image  # fail closed even if the thumbnail was sharp


def contact_sheet(cells: Sequence[Cell], out: Path, *, columns: int = 4, cell_width: int = 320,
                  title: str | None = None) -> Path:
    """Write the grid of takes as one PNG (atomically) and return `out`."""
    if not cells:
        raise MediaError("a comparison needs at least one take")
    w, h = _cell_size(cells, cell_width)
    cols, rows = grid_shape(len(cells), columns)
    top = TITLE_HEIGHT if title else 0
    sheet = Image.new("RGB", (PAD + cols * (w + PAD), top + PAD + rows * (h + LABEL_HEIGHT + PAD)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        font = label_font(TITLE_HEIGHT - 14)
        draw.text((PAD, TITLE_HEIGHT // 2 + 2), _fit(draw, title, font, sheet.width - 2 * PAD), fill=TEXT, font=font,
                  anchor="lm")
    for i, cell in enumerate(cells):
        x, y = cell_origin(i, cols, (w, h), top)
        sheet.paste(Image.fromarray(_picture(cell, (w, h))), (x, y))
        sheet.paste(label_image(cell, w), (x, y + h))
        if cell.blocked or cell.selected:
            draw.rectangle((x, y, x + w - 1, y + h - 1), outline=RED if cell.blocked else GREEN, width=BORDER)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out


def cell_origin(i: int, cols: int, size: tuple[int, int], top: int = 0) -> tuple[int, int]:
    """Top-left pixel of cell i's picture in the contact sheet."""
    w, h = size
    return PAD + (i % cols) * (w + PAD), top + PAD + (i // cols) * (h + LABEL_HEIGHT + PAD)


def video_size(count: int, columns: int, size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of the side-by-side video of `count` cells of picture `size`."""
    cols, rows = grid_shape(count, columns)
    w, h = size
    return cols * (w + PAD) + PAD, rows * (h + LABEL_HEIGHT + PAD) + PAD


def side_by_side(cells: Sequence[Cell], out: Path, *, columns: int = 4, cell_width: int = 320,
                 crf: int = 23) -> Path:
    """Write every take playing at once in a grid (ffmpeg xstack) as one MP4, labelled; return `out`.

    Each cell is scaled to the same size; shorter takes hold their last frame to the longest
    one's end; a blocked take, or one not made, is a blank cell labelled "blocked". The frame is
    video_size(...) pixels: the image's grid without its title.
    """
    if not cells:
        raise MediaError("a comparison needs at least one take")
    w, h = _cell_size(cells, cell_width)
    cols, rows = grid_shape(len(cells), columns)
    made = {i for i, c in enumerate(cells) if not c.blocked and c.video is not None and Path(c.video).is_file()}
    infos = {i: video_info(Path(cells[i].video)) for i in made}
    duration = max((info[3] for info in infos.values()), default=2.0)
    fps = max((info[2] for info in infos.values()), default=12.0) or 12.0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reelgate-compare-") as tmp:
        args: list[str] = []
        chains: list[str] = []
        n = 0
        for i, cell in enumerate(cells):
            label = Path(tmp) / f"label{i}.png"
            label_image(cell, w).save(label)
            if i in made:
                args += ["-i", str(cell.video)]
                picture = (f"[{n}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
                           f"setsar=1,fps={fps:g},tpad=stop_mode=clone:stop=-1,trim=duration={duration:.3f}")
            else:
                card = Path(tmp) / f"blocked{i}.png"
                Image.fromarray(blocked_card((w, h))).save(card)
                args += ["-loop", "1", "-framerate", f"{fps:g}", "-t", f"{duration:.3f}", "-i", str(card)]
                picture = f"[{n}:v]setsar=1,format=yuv420p"
            args += ["-i", str(label)]
            # Each cell: the picture, its label band under it, and a PAD gap right and below.
            chains.append(f"{picture},pad={w + PAD}:{h + LABEL_HEIGHT + PAD}:0:0:color=0x181818[p{i}];"
                          f"[p{i}][{n + 1}:v]overlay=0:{h}:eof_action=repeat[c{i}]")
            n += 2
        if len(cells) == 1:
            graph = chains[0].replace("[c0]", "[grid]")
        else:
            layout = "|".join(f"{(i % cols) * (w + PAD)}_{(i // cols) * (h + LABEL_HEIGHT + PAD)}"
                              for i in range(len(cells)))
            inputs = "".join(f"[c{i}]" for i in range(len(cells)))
            graph = ";".join(chains) + f";{inputs}xstack=inputs={len(cells)}:layout={layout}:fill=0x181818[grid]"
        # The grid is padded to full rows and columns, with a PAD margin all round.
        graph += (f";[grid]pad={cols * (w + PAD) + PAD}:{rows * (h + LABEL_HEIGHT + PAD) + PAD}:{PAD}:{PAD}"
                  f":color=0x181818[out]")
        with atomic_path(out) as partial:
            run_ffmpeg([*args, "-filter_complex", graph, "-map", "[out]", "-t", f"{duration:.3f}", "-r", f"{fps:g}",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", str(crf), "-preset", "veryfast",
                        "-movflags", "+faststart", "-f", "mp4", str(partial)],
                       f"building the side-by-side comparison {out.name}")
    return out
