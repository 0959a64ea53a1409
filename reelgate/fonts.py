"""Finding a font that has Chinese glyphs, so captions never render as tofu boxes."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageFont

from reelgate.errors import ConfigError

# Debian's fonts-wqy-microhei and fonts-noto-cjk (installed by `make setup`), then others.
CJK_FONT_CANDIDATES = [
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
    Path("/System/Library/Fonts/PingFang.ttc"),
    Path("C:/Windows/Fonts/msyh.ttc"),
]


def find_cjk_font(explicit: Path | None = None) -> Path:
    """The font to draw captions with: `explicit` if given, else the first CJK font found.

    Raises ConfigError naming the setting to change when none is usable.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"font {path} does not exist; set REELGATE_POST__FONT to a .ttf/.ttc/.otf file with CJK glyphs"
            )
        return path
    for candidate in CJK_FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "no CJK font found; install Debian's fonts-wqy-microhei (make setup does) "
        "or set REELGATE_POST__FONT to a font file with Chinese glyphs"
    )


def label_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """The font for labels drawn on report images (contact sheets, plots, comparisons): the CJK one,
    else Pillow's own, since labels are mostly ASCII and a missing CJK font must not stop a report
    (only Chinese text would then show boxes)."""
    try:
        return ImageFont.truetype(str(find_cjk_font()), size)
    except ConfigError:
        return ImageFont.load_default(size)
