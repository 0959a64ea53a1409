"""The shipped looks: colour transforms written as code, baked into the .cube files beside
this module, which ffmpeg's lut3d reads and any grading tool can open.

Each look is a plain function on display sRGB (float, 0..1) built from four moves a
colourist makes: white balance (channel gains), a gentle S-curve, saturation about the
pixel's luma, and split toning (one tint in the shadows, another in the highlights).
`python -m postprocess.enhance.looks` writes the files again; tests/test_enhance_colour.py
checks the shipped files equal what this code makes, and that each look moves colour the
way its name says.

17 points per side: every look here is smooth, and a 17-point table read back through
trilinear interpolation stays within a mean CIEDE2000 of 0.07 of the function itself (99th
percentile under 1, i.e. below what an eye sees; at most 1.5, in the gamut corners where
the function clips), in ~100 KB a file instead of ~800 KB at 33 points (measured on 20,000
random colours: 33 points only brings the mean to 0.02).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from postprocess.enhance.colour import Lut, lut_from_function, write_cube

LOOKS_DIR = Path(__file__).parent
SIZE = 17

_LUMA = np.array([0.2126, 0.7152, 0.0722])


def _luma(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ _LUMA)[..., None]


def _saturate(rgb: np.ndarray, amount: float) -> np.ndarray:
    """Scale colourfulness about the pixel's own luma (1 keeps, 0 grey)."""
    y = _luma(rgb)
    return y + amount * (rgb - y)


def _curve(rgb: np.ndarray, amount: float) -> np.ndarray:
    """An S-curve through mid grey: positive adds contrast, negative softens; black and white stay."""
    x = np.clip(rgb, 0.0, 1.0)
    return x + amount * (x * x * (3.0 - 2.0 * x) - x)


def _split_tone(rgb: np.ndarray, shadows: tuple[float, float, float], highlights: tuple[float, float, float]) -> np.ndarray:
    """Add `shadows` where the picture is dark and `highlights` where it is bright (smooth in luma)."""
    y = np.clip(_luma(rgb), 0.0, 1.0)
    w = y * y * (3.0 - 2.0 * y)
    return rgb + (1.0 - w) * np.array(shadows) + w * np.array(highlights)


def cold_cinematic(rgb: np.ndarray) -> np.ndarray:
    """Cool white balance, firmer contrast, slightly muted colour, blue-cyan shadows."""
    x = rgb * np.array([0.93, 0.99, 1.08])
    x = _split_tone(x, (-0.02, 0.0, 0.03), (0.0, 0.0, 0.0))
    return _saturate(_curve(x, 0.3), 0.9)


def warm_storybook(rgb: np.ndarray) -> np.ndarray:
    """Warm white balance, lifted blacks and soft contrast (paper, not ink), a touch more colour."""
    x = rgb * np.array([1.06, 1.01, 0.88])
    x = 0.035 + 0.965 * _curve(x, -0.15)
    x = _split_tone(x, (0.01, 0.0, -0.01), (0.02, 0.01, -0.02))
    return _saturate(x, 1.1)


def teal_orange(rgb: np.ndarray) -> np.ndarray:
    """Blockbuster split: teal shadows, orange highlights and skin, firmer contrast."""
    x = _split_tone(rgb, (-0.06, 0.01, 0.05), (0.06, 0.01, -0.06))
    return _saturate(_curve(x, 0.25), 1.05)


def ink_wash(rgb: np.ndarray) -> np.ndarray:
    """Nearly monochrome ink on warm rice paper: colour down to a fifth, a paper tint in the lights."""
    x = _saturate(rgb, 0.2)
    x = _curve(x, 0.2)
    return _split_tone(x, (0.0, 0.0, 0.0), (0.02, 0.01, -0.02))


def night_blue(rgb: np.ndarray) -> np.ndarray:
    """Day for night: about a stop and a half darker in linear light, muted, moonlit blue."""
    linear = np.clip(rgb, 0.0, 1.0) ** 2.2 * 0.35
    x = linear ** (1 / 2.2)
    x = _saturate(x, 0.5) * np.array([0.78, 0.92, 1.18])
    return _split_tone(x, (-0.01, 0.0, 0.03), (0.0, 0.0, 0.0))


LOOKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "cold-cinematic": cold_cinematic,
    "warm-storybook": warm_storybook,
    "teal-orange": teal_orange,
    "ink-wash": ink_wash,
    "night-blue": night_blue,
}


def look_lut(name: str, size: int = SIZE) -> Lut:
    """The look `name` baked into a size-point LUT (KeyError for an unknown name)."""
    return lut_from_function(size, LOOKS[name])


def cube_path(name: str) -> Path:
    """Where the shipped .cube file of look `name` lives."""
    return LOOKS_DIR / f"{name}.cube"


def write_all(folder: Path = LOOKS_DIR) -> list[Path]:
    """Write every look's .cube file into `folder` (the shipped ones by default)."""
    return [write_cube(Path(folder) / f"{name}.cube", look_lut(name), title=f"reelgate {name}") for name in LOOKS]
