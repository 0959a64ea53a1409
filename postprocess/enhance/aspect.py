"""Delivery aspect: crop or pad a shot to 16:9, 9:16 or 1:1, with a safe-area check.

A vertical (9:16) or square edition of an episode is cut from the same 16:9 shots. Crop
fills the new frame and loses the sides (centred on AspectSettings.focus); pad keeps the
whole picture and adds black bars. The output size is exactly the ratio with even sides
(H.264 4:2:0 needs them), as large as the source allows: 832x480 crops to 270x480 (9:16),
480x480 (1:1) or 832x468 (16:9).

Safe areas (the record's "action_safe" and "title_safe", x, y, w, h in output pixels):
boxes centred on the output frame covering 90 % and 80 % of each side, the classic TV
margins, still the rule of thumb for phone apps whose buttons cover the edges. Burned
subtitles and the AI label belong inside title_safe, action inside action_safe; the
subtitle stage reads them from the record. A crop warns (record "warnings") when it cuts
into the source's title-safe box (a face or caption composed for the wide frame may be
lost) or its action-safe box (anything burned near the source's edges, such as a label,
is cut off), and reports how much of the source width and height it keeps.
"""

from __future__ import annotations

import math

from postprocess.enhance.base import StepContext, StepPlan, VideoShape
from reelgate.errors import ConfigError
from reelgate.settings import AspectSettings

STEP = "aspect"
RATIOS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
FITS = ("crop", "pad")
ACTION_SAFE = 0.90  # share of each side inside the action-safe box
TITLE_SAFE = 0.80  # share of each side inside the title-safe box
ASPECT_SETTING = "REELGATE_ENHANCE__ASPECT__ASPECT"
FIT_SETTING = "REELGATE_ENHANCE__ASPECT__FIT"
FOCUS_SETTING = "REELGATE_ENHANCE__ASPECT__FOCUS"

Box = tuple[int, int, int, int]  # x, y, w, h


def check(settings: AspectSettings) -> None:
    """Refuse an aspect, fit or focus reelgate cannot use (ConfigError naming the setting)."""
    if settings.aspect != "source" and settings.aspect not in RATIOS:
        raise ConfigError(f"unknown delivery aspect {settings.aspect!r}; use source, {', '.join(RATIOS)} "
                          f"({ASPECT_SETTING})")
    if settings.fit not in FITS:
        raise ConfigError(f"unknown aspect fit {settings.fit!r}; use crop or pad ({FIT_SETTING})")
    if not 0.0 <= settings.focus <= 1.0:
        raise ConfigError(f"crop focus {settings.focus} is outside 0..1 ({FOCUS_SETTING})")


def _unit(a: int, b: int) -> int:
    """The step of k for an a:b frame (a*k x b*k) whose sides are both even."""
    return 1 if a % 2 == 0 and b % 2 == 0 else 2


def crop_size(width: int, height: int, ratio: tuple[int, int]) -> tuple[int, int]:
    """The largest a:b frame with even sides inside width x height."""
    a, b = ratio
    u = _unit(a, b)
    k = min(width // a, height // b) // u * u
    if k == 0:
        raise ConfigError(f"a {width}x{height} video is too small to crop to {a}:{b} ({ASPECT_SETTING})")
    return a * k, b * k


def pad_size(width: int, height: int, ratio: tuple[int, int]) -> tuple[int, int]:
    """The smallest a:b frame with even sides holding width x height."""
    a, b = ratio
    u = _unit(a, b)
    k = math.ceil(max(width / a, height / b) / u) * u
    return a * k, b * k


def safe_box(width: int, height: int, share: float) -> Box:
    """The centred box (x, y, w, h) covering `share` of each side of a width x height frame."""
    w, h = round(width * share), round(height * share)
    return (width - w) // 2, (height - h) // 2, w, h


def _inside(inner: Box, outer: Box) -> bool:
    ix, iy, iw, ih = inner
    ox, oy, ow, oh = outer
    return ox <= ix and oy <= iy and ix + iw <= ox + ow and iy + ih <= oy + oh


def plan(settings: AspectSettings, shape: VideoShape, context: StepContext) -> StepPlan | None:
    """The aspect step for a shot of `shape`; None for 'source' or a shot already at the aspect.

    Raises ConfigError (naming the setting) for an aspect or fit it does not know.
    """
    check(settings)
    if settings.aspect == "source":
        return None
    ratio = RATIOS[settings.aspect]
    sw, sh = shape.width, shape.height
    record: dict[str, object] = {"aspect": settings.aspect, "fit": settings.fit, "source_size": [sw, sh]}
    warnings: list[str] = []
    if settings.fit == "crop":
        w, h = crop_size(sw, sh, ratio)
        if (w, h) == (sw, sh):
            return None
        # Centre on the focus, kept inside the frame; even offsets keep chroma aligned.
        x = min(max(0, round(settings.focus * sw - w / 2)), sw - w) // 2 * 2
        y = min(max(0, round(settings.focus * sh - h / 2)), sh - h) // 2 * 2
        box = (x, y, w, h)
        filters: tuple[str, ...] = (f"crop={w}:{h}:{x}:{y}",)
        record.update(crop_box=list(box), kept_width=round(w / sw, 4), kept_height=round(h / sh, 4))
        lost = f"keeps {w / sw:.0%} of the width and {h / sh:.0%} of the height"
        if not _inside(safe_box(sw, sh, TITLE_SAFE), box):
            warnings.append(f"the crop cuts into the source's title-safe area ({TITLE_SAFE:.0%} box): it {lost}, "
                            "so faces or captions composed for the wide frame may be lost; check the framing or use "
                            "fit pad")
        if not _inside(safe_box(sw, sh, ACTION_SAFE), box):
            warnings.append(f"the crop cuts into the source's action-safe area ({ACTION_SAFE:.0%} box): anything "
                            "burned near the source's edges (subtitles, a label) is cut off; burn them after the "
                            "aspect step, inside title_safe")
        picture: Box = (0, 0, w, h)
    else:
        w, h = pad_size(sw, sh, ratio)
        if (w, h) == (sw, sh):
            return None
        x, y = (w - sw) // 2 // 2 * 2, (h - sh) // 2 // 2 * 2
        filters = (f"pad={w}:{h}:{x}:{y}:color=black",)
        picture = (x, y, sw, sh)
        record.update(kept_width=1.0, kept_height=1.0)
    record.update(size=[w, h], picture_box=list(picture), action_safe=list(safe_box(w, h, ACTION_SAFE)),
                  title_safe=list(safe_box(w, h, TITLE_SAFE)), warnings=warnings)
    return StepPlan(STEP, filters, record, VideoShape(w, h, shape.fps, shape.duration_s))
