"""Colour maths the grade and match steps share: 3D LUTs (.cube files), sRGB <-> CIELAB,
and the palette distance the bench prints.

A 3D LUT is kept as an array `table[r, g, b] -> (r', g', b')` of shape (n, n, n, 3), values
0..1. The .cube text format lists its rows with red changing fastest, then green, then
blue (Adobe's Cube LUT specification, which ffmpeg's lut3d reads).

User .cube files are read by `read_cube`, which checks every line and refuses a bad one by
its line number and what is wrong, never quoting the line: the path is a setting, and a
setting may point at a file that is not a LUT at all (a key, a password file), whose text
must not end up in a log or an attempt record. Size is checked before reading (the file's
byte count, then LUT_3D_SIZE) so a huge or hostile file costs nothing.

Lab conversions are scikit-image's (D65 white, sRGB primaries and transfer curve); the
palette distance is CIEDE2000 (`skimage.color.deltaE_ciede2000`).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelgate.errors import ConfigError

MAX_CUBE_SIZE = 65  # the largest common LUT size (Resolve exports 17, 33 and 65)
MAX_CUBE_BYTES = 20 * 1024 * 1024  # a 65^3 cube with 8 decimals is ~8 MB
_MAX_LINE = 1024
_KEYWORDS = "TITLE, LUT_3D_SIZE, DOMAIN_MIN, DOMAIN_MAX, comments (#) and rows of three numbers"


@dataclass(frozen=True)
class Lut:
    """A 3D LUT: `table[r, g, b]` (n, n, n, 3) float32 over the input cube [domain_min, domain_max]."""

    table: np.ndarray
    domain_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    domain_max: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def size(self) -> int:
        return int(self.table.shape[0])

    def digest(self) -> str:
        """A short hash of table and domain: names files composed from this LUT (same LUT, same name)."""
        h = hashlib.sha1(np.ascontiguousarray(self.table, dtype=np.float32).tobytes())
        h.update(repr((self.domain_min, self.domain_max)).encode())
        return h.hexdigest()[:12]


def identity(n: int, domain_min: tuple[float, float, float] = (0.0, 0.0, 0.0),
             domain_max: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """The table that maps every grid point of an n-point cube to itself."""
    axes = [np.linspace(lo, hi, n, dtype=np.float32) for lo, hi in zip(domain_min, domain_max)]
    r, g, b = np.meshgrid(*axes, indexing="ij")
    return np.stack([r, g, b], axis=-1)


def lut_from_function(n: int, fn: Callable[[np.ndarray], np.ndarray]) -> Lut:
    """An n-point LUT sampling `fn` (float RGB (..., 3) in 0..1 -> same) on the grid, clipped to 0..1."""
    return Lut(np.clip(fn(identity(n).astype(np.float64)), 0.0, 1.0).astype(np.float32))


def blend(lut: Lut, amount: float) -> Lut:
    """(1 - amount) * identity + amount * lut.

    Exact, not an approximation: lut3d's interpolation (trilinear or tetrahedral) is linear
    in the table's values, so blending the tables blends the graded and original pictures
    pixel for pixel. lut3d itself has no mix option, and this costs nothing per frame.
    """
    ident = identity(lut.size, lut.domain_min, lut.domain_max)
    return Lut((1.0 - amount) * ident + amount * lut.table, lut.domain_min, lut.domain_max)


def compose(first: Lut, then: Lut) -> Lut:
    """One LUT doing `first` then `then`, on `first`'s grid: one lut3d instead of two in a chain."""
    return Lut(np.clip(apply_lut(then, first.table), 0.0, 1.0).astype(np.float32), first.domain_min, first.domain_max)


def apply_lut(lut: Lut, rgb: np.ndarray) -> np.ndarray:
    """Look up float RGB (..., 3) through `lut` by trilinear interpolation (for analysis and tests)."""
    n = lut.size
    lo, hi = np.array(lut.domain_min), np.array(lut.domain_max)
    x = np.clip((np.asarray(rgb, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0) * (n - 1)
    i0 = np.minimum(np.floor(x).astype(np.int64), n - 2)
    f = x - i0
    out = np.zeros(x.shape, dtype=np.float64)
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                w = ((f[..., 0] if dr else 1 - f[..., 0]) * (f[..., 1] if dg else 1 - f[..., 1])
                     * (f[..., 2] if db else 1 - f[..., 2]))
                out += w[..., None] * lut.table[i0[..., 0] + dr, i0[..., 1] + dg, i0[..., 2] + db]
    return out


def write_cube(path: Path, lut: Lut, title: str | None = None) -> Path:
    """Write `lut` as a .cube file ffmpeg's lut3d reads (4 decimals: 1/80 of an 8-bit level)."""
    path = Path(path)
    rows = lut.table.transpose(2, 1, 0, 3).reshape(-1, 3)  # red fastest, then green, then blue
    head = [f'TITLE "{title}"'] if title else []
    head.append(f"LUT_3D_SIZE {lut.size}")
    if lut.domain_min != (0.0, 0.0, 0.0) or lut.domain_max != (1.0, 1.0, 1.0):
        head.append("DOMAIN_MIN " + " ".join(f"{v:.6g}" for v in lut.domain_min))
        head.append("DOMAIN_MAX " + " ".join(f"{v:.6g}" for v in lut.domain_max))
    body = "\n".join(f"{r:.4f} {g:.4f} {b:.4f}" for r, g, b in rows.tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text("\n".join(head) + "\n" + body + "\n", encoding="ascii")
    tmp.replace(path)
    return path


def read_cube(path: Path, setting: str = "the LUT file") -> Lut:
    """Read and check a 3D .cube file; raise ConfigError naming `setting`, the file and the bad line.

    Accepted: TITLE, LUT_3D_SIZE (2..65), DOMAIN_MIN / DOMAIN_MAX (three numbers each, min
    below max), Resolve's LUT_3D_INPUT_RANGE (two numbers), blank lines, # comments, then
    exactly size^3 rows of three finite numbers. Errors say the line number and the fault,
    never the line's text.
    """
    path = Path(path)

    def refuse(what: str, fix: str) -> ConfigError:
        return ConfigError(f"{setting}: {path} {what}; {fix}")

    try:
        stat = path.stat()
    except OSError:
        raise refuse("does not exist or cannot be read", "give the path of a 3D LUT .cube file") from None
    if not path.is_file():
        raise refuse("is not a file", "give the path of a 3D LUT .cube file")
    if stat.st_size > MAX_CUBE_BYTES:
        raise refuse(f"is {stat.st_size:,} bytes, more than any 3D LUT reelgate reads ({MAX_CUBE_BYTES:,})",
                     f"export the LUT at {MAX_CUBE_SIZE} points or fewer (33 is plenty for a grade)")
    size: int | None = None
    lo, hi = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    rows: np.ndarray | None = None
    count = 0
    last = 0
    fix_row = "each row of the table is three numbers (red green blue) separated by spaces"
    try:
        handle = path.open("rb")
    except OSError:
        raise refuse("cannot be opened", "check the file's permissions") from None
    with handle:
        for number, raw in enumerate(handle, 1):
            last = number
            at = f"line {number}:"
            if len(raw) > _MAX_LINE:
                raise refuse(f"{at} longer than {_MAX_LINE} characters, which no .cube line is",
                             "check that this is a 3D LUT .cube file")
            try:
                line = raw.decode("utf-8").strip().lstrip("\ufeff")
            except UnicodeDecodeError:
                raise refuse(f"{at} not text", "check that this is a 3D LUT .cube file (plain text)") from None
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            head = fields[0]
            if head[0].isalpha() or head[0] == "_":
                if rows is not None and count:
                    raise refuse(f"{at} a keyword after the table of numbers began",
                                 "put TITLE, LUT_3D_SIZE and DOMAIN_ lines before the first row")
                key = head.upper()
                if key == "TITLE":
                    continue
                if key == "LUT_1D_SIZE":
                    raise refuse(f"{at} this is a 1D LUT (LUT_1D_SIZE)",
                                 "grading needs a 3D LUT (LUT_3D_SIZE); export one as a 3D .cube")
                if key == "LUT_3D_SIZE":
                    if size is not None:
                        raise refuse(f"{at} a second LUT_3D_SIZE", "keep one LUT_3D_SIZE line")
                    if len(fields) != 2 or not fields[1].isdigit():
                        raise refuse(f"{at} LUT_3D_SIZE needs one whole number",
                                     f"write e.g. LUT_3D_SIZE 33 (2 to {MAX_CUBE_SIZE})")
                    size = int(fields[1])
                    if not 2 <= size <= MAX_CUBE_SIZE:
                        raise refuse(f"{at} LUT_3D_SIZE is {size}, outside 2 to {MAX_CUBE_SIZE}",
                                     f"export the LUT at 2 to {MAX_CUBE_SIZE} points per side (33 is usual)")
                    rows = np.empty((size**3, 3), dtype=np.float32)
                    continue
                if key in ("DOMAIN_MIN", "DOMAIN_MAX", "LUT_3D_INPUT_RANGE"):
                    want = 2 if key == "LUT_3D_INPUT_RANGE" else 3
                    values = _numbers(fields[1:], want)
                    if values is None:
                        raise refuse(f"{at} {key} needs {want} numbers", f"write e.g. {key} " + " ".join(
                            ["0.0", "1.0"] if want == 2 else (["0.0"] * 3 if key == "DOMAIN_MIN" else ["1.0"] * 3)))
                    if key == "DOMAIN_MIN":
                        lo = values
                    elif key == "DOMAIN_MAX":
                        hi = values
                    else:
                        lo, hi = [values[0]] * 3, [values[1]] * 3
                    continue
                raise refuse(f"{at} not a keyword a 3D .cube holds", f"a .cube file holds {_KEYWORDS}")
            if rows is None or size is None:
                raise refuse(f"{at} a row of numbers before LUT_3D_SIZE", "put LUT_3D_SIZE N before the table")
            values = _numbers(fields, 3)
            if values is None:
                raise refuse(f"{at} expected three numbers", fix_row)
            if count >= size**3:
                raise refuse(f"{at} more rows than LUT_3D_SIZE {size} holds ({size**3})",
                             "remove the extra rows or correct LUT_3D_SIZE")
            rows[count] = values
            count += 1
    if size is None or rows is None:
        raise refuse("has no LUT_3D_SIZE line", "a 3D .cube file starts with LUT_3D_SIZE N (e.g. 33) before its rows")
    if count < size**3:
        raise refuse(f"has {count} rows but LUT_3D_SIZE {size} needs {size**3} (the file ends at line {last})",
                     "the file looks cut short: export it again")
    if not all(a < b for a, b in zip(lo, hi)):
        raise refuse("has a DOMAIN_MIN that is not below its DOMAIN_MAX", "each minimum must be below its maximum")
    table = rows.reshape(size, size, size, 3).transpose(2, 1, 0, 3)  # file order is blue-major
    return Lut(np.ascontiguousarray(table), tuple(lo), tuple(hi))  # type: ignore[arg-type]


def _numbers(fields: list[str], want: int) -> list[float] | None:
    """`want` finite floats from `fields`, or None."""
    if len(fields) != want:
        return None
    try:
        values = [float(v) for v in fields]
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


# --- Lab -----------------------------------------------------------------------------------


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB: uint8 (0..255) or float (0..1), shape (..., 3)."""
    from skimage.color import rgb2lab

    rgb = np.asarray(rgb)
    x = rgb.astype(np.float64) / 255.0 if rgb.dtype == np.uint8 else np.asarray(rgb, dtype=np.float64)
    return rgb2lab(np.clip(x, 0.0, 1.0))


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """sRGB float (0..1, clipped: out-of-gamut colours go to the nearest the screen shows) of CIELAB."""
    from skimage.color import lab2rgb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "negative Z values": out of gamut, clipped below
        return np.clip(lab2rgb(np.asarray(lab, dtype=np.float64)), 0.0, 1.0)


# --- palette measures (bench and tests) -----------------------------------------------------


def sample_frames(path: Path, count: int = 8, width: int = 160) -> np.ndarray:
    """About `count` frames spread evenly over the video, shrunk to `width` px wide: (k, h, w, 3) uint8.

    Decodes the whole video once at the small size (ffmpeg shrinks while decoding), which is
    cheap next to the full-size pass that follows.
    """
    from reelgate.media import read_frames, video_info

    w, h, fps, duration = video_info(path)
    height = max(2, round(width * h / max(w, 1) / 2) * 2)
    frames = list(read_frames(path, size=(width, height)))
    if not frames:
        from reelgate.errors import MediaError

        raise MediaError(f"{path} has no frames")
    picks = np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))
    return np.stack([frames[i] for i in picks])


@dataclass(frozen=True)
class Palette:
    """A shot's dominant colours: Lab centres (k, 3) and the share of pixels each holds (k,)."""

    colours: np.ndarray
    weights: np.ndarray


def palette(frames: np.ndarray, k: int = 6, pixels: int = 20000) -> Palette:
    """The k dominant colours of `frames` (uint8 RGB): k-means in Lab on a fixed sample of pixels.

    Seeded, so the same frames give the same palette.
    """
    from scipy.cluster.vq import kmeans2

    lab = rgb_to_lab(frames).reshape(-1, 3)
    rng = np.random.default_rng(0)
    if len(lab) > pixels:
        lab = lab[rng.choice(len(lab), pixels, replace=False)]
    centres, labels = kmeans2(lab, k, seed=0, minit="++", iter=20)
    weights = np.bincount(labels, minlength=k).astype(np.float64)
    keep = weights > 0
    return Palette(centres[keep], weights[keep] / weights.sum())


def palette_delta_e(a: Palette, b: Palette) -> float:
    """Mean CIEDE2000 between two palettes: each colour to its nearest in the other, weighted by its share.

    Symmetric (the mean of a->b and b->a). A palette, not one mean colour, so a shot whose
    sky drifted while its ground did not still shows it. Two framings of one scene with no
    drift score ~2 on the test clips; the sky gone purple scores ~7, a warm-green cast ~19.
    """
    from skimage.color import deltaE_ciede2000

    d = deltaE_ciede2000(a.colours[:, None, :], b.colours[None, :, :])  # (ka, kb)
    return float(0.5 * ((d.min(axis=1) * a.weights).sum() + (d.min(axis=0) * b.weights).sum()))


def mean_lab_delta_e(frames_a: np.ndarray, frames_b: np.ndarray) -> float:
    """CIEDE2000 between the mean Lab colours of two sets of frames (the cruder, palette-free measure)."""
    from skimage.color import deltaE_ciede2000

    la = rgb_to_lab(frames_a).reshape(-1, 3).mean(axis=0)
    lb = rgb_to_lab(frames_b).reshape(-1, 3).mean(axis=0)
    return float(deltaE_ciede2000(la, lb))


def lightness_spread(frames: np.ndarray) -> float:
    """Mean over frames of the std of L* within a frame: a shot's contrast, which matching must keep."""
    lab = rgb_to_lab(frames)
    return float(lab[..., 0].reshape(len(frames), -1).std(axis=1).mean())


def adjacent_delta_e(videos: Sequence[Path]) -> list[float]:
    """Palette CIEDE2000 between each shot and the next (shots in episode order): the drift a viewer sees at each cut."""
    palettes = [palette(sample_frames(Path(v))) for v in videos]
    return [palette_delta_e(a, b) for a, b in zip(palettes, palettes[1:])]
