"""Colour grading: a 3D LUT (ffmpeg lut3d) that gives every shot of a series one look.

The look is a shipped one (postprocess/enhance/looks/: made by code, tested for the
direction each moves colour) or the user's own .cube file (`lut`, which wins). Unset, the
series' style preset picks one (`PRESET_LOOKS`, applied by `for_preset`).

`intensity` blends graded and original by composing a new LUT, (1 - a) * identity +
a * LUT, written to the shot's work folder: exact (lut3d's interpolation is linear in the
table) and free per frame, where a split-and-blend graph would double the filter work.
The LUT ffmpeg reads is always one this module wrote, so ffmpeg never parses a user's file
(read_cube has checked every line first).

Cost, in seconds per video second (2-core shared machine, busy and noisy: ranges over
runs; a 3 s pan, decode + lut3d tetrahedral + x264 veryfast crf 18):
    832x480@16:  floor (decode + encode) 0.09-0.15; one lut3d 0.21-0.48; two 0.35-0.55
    1280x720@24: floor 0.26-0.53;                  one lut3d 0.60-1.3;  two 1.3-1.8
lut3d is not free: the yuv420p -> RGB -> yuv420p conversion it needs is ~0.06 s and the
table lookup ~0.25-0.5 s per 720p24 second. So the chain should (1) run match and grade as
one lut3d (`fuse`: measured 0.89-1.19 against 1.27-1.71 for the two at 720p24) and
(2) place it before upscaling, on 832x480's 0.4 Mpx instead of 720p's 0.9 Mpx.
Planning costs ~0.02-0.09 s (reading and blending a 17^3 table, writing it).
"""

from __future__ import annotations

from pathlib import Path

from postprocess.enhance.base import StepContext, StepPlan, VideoShape
from postprocess.enhance.colour import Lut, blend, compose, read_cube, write_cube
from postprocess.enhance.looks import LOOKS, cube_path, look_lut
from reelgate.errors import ConfigError
from reelgate.settings import GradeSettings

LOOK_SETTING = "REELGATE_ENHANCE__GRADE__LOOK"
LUT_SETTING = "REELGATE_ENHANCE__GRADE__LUT"

# The look each shipped style preset (prompts/presets/*.yaml) grades with.
PRESET_LOOKS: dict[str, str] = {
    "storybook": "warm-storybook",
    "cinematic": "teal-orange",
    "anime-cel": "cold-cinematic",
    "ink-wash": "ink-wash",
    "constellation-myth": "night-blue",
}


def shipped_looks() -> list[str]:
    """Names of the looks reelgate ships."""
    return list(LOOKS)


def for_preset(settings: GradeSettings, preset: str | None) -> GradeSettings:
    """`settings` with the preset's look filled in when the user chose neither a look nor a LUT."""
    if settings.look or settings.lut or preset not in PRESET_LOOKS:
        return settings
    return settings.model_copy(update={"look": PRESET_LOOKS[preset]})


def load_look(name: str) -> Lut:
    """The shipped look `name`; ConfigError naming the setting and the shipped looks if there is none."""
    if name not in LOOKS:
        raise ConfigError(f"{LOOK_SETTING}: no look named {name!r}; shipped looks: {', '.join(LOOKS)} "
                          f"(or give your own .cube file with {LUT_SETTING})")
    path = cube_path(name)
    if not path.is_file():  # an install without the package data: the code makes the same table
        return look_lut(name)
    return read_cube(path, setting=f"{LOOK_SETTING} (shipped look {name})")


def plan(settings: GradeSettings, shape: VideoShape, context: StepContext) -> StepPlan | None:
    """The lut3d filter for the chosen look at its intensity; None when off, no look, or intensity 0.

    Raises ConfigError (before any video work) for a missing or malformed LUT or an unknown look.
    """
    if not settings.enabled:
        return None
    if settings.lut is not None:
        lut, what = read_cube(Path(settings.lut), setting=LUT_SETTING), {"lut": str(settings.lut)}
    elif settings.look:
        lut, what = load_look(settings.look), {"look": settings.look}
    else:
        return None
    if settings.intensity <= 0.0:
        return None
    graded = blend(lut, settings.intensity) if settings.intensity < 1.0 else lut
    return lut_step("grade", graded, context, {**what, "intensity": settings.intensity, "lut_size": lut.size}, shape)


def lut_step(step: str, lut: Lut, context: StepContext, record: dict[str, object], shape: VideoShape) -> StepPlan:
    """A step that is one colour table: written once per content into the shot's work folder
    (named by its digest, so a rerun reuses it), run by lut3d."""
    path = Path(context.work_dir) / f"{step}-{lut.digest()}.cube"
    if not path.is_file():
        write_cube(path, lut)
    return StepPlan(step=step, filters=(lut3d_filter(path),), record=record, shape=shape, files=(path,))


def lut3d_filter(path: Path) -> str:
    """The lut3d fragment reading `path` (quoted for the filter graph), tetrahedral interpolation.

    Tetrahedral: smoother than trilinear along the grey axis, at the same speed.
    """
    from postprocess.assemble import escape_filter_value

    return f"lut3d=file={escape_filter_value(str(path))}:interp=tetrahedral"


def fuse(first: StepPlan, then: StepPlan, context: StepContext) -> StepPlan:
    """Two lut3d steps (match, then grade) as one step with one baked LUT.

    For the chain: each lut3d pass costs about as much as the RGB conversion it needs, so
    two in a row cost twice (see COST); composed into one table the pair costs one. The
    record keeps both steps' records under their names. Both plans must be single lut3d
    filters this package wrote (match and grade plans are).
    """
    if len(first.files) != 1 or len(then.files) != 1 or len(first.filters) != 1 or len(then.filters) != 1:
        raise ValueError("fuse takes two single-LUT plans (match and grade)")
    lut = compose(read_cube(first.files[0]), read_cube(then.files[0]))
    path = Path(context.work_dir) / f"{first.step}-{then.step}-{lut.digest()}.cube"
    if not path.is_file():
        write_cube(path, lut)
    return StepPlan(step=f"{first.step}+{then.step}", filters=(lut3d_filter(path),),
                    record={first.step: first.record, then.step: then.record}, shape=then.shape, files=(path,))
