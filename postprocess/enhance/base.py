"""What every enhancement step has in common: the shape of the video it receives and
gives, and what it adds to the one ffmpeg pass that enhances a shot.

A step is a plain function `plan(settings, shape, context) -> StepPlan | None` in its own
module (grade, match, clean, upscale, interpolate, aspect). None means the step has
nothing to do (switched off, or the video already is what it asks for). Steps that are
ffmpeg filters (nearly all) return filter fragments; the chain (postprocess/enhance/chain.py)
joins every step's fragments into one filtergraph and decodes and encodes the shot once.
A step that cannot be a filter (a learned upscaler or interpolator) gives a `runner`
instead: the chain runs it as a pass of its own between the filter passes.

Plain and typed: no Prefect here (tasks/enhance.py wraps the chain).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reelgate.media import run_ffmpeg

ProgressFn = Callable[[int, int], None]  # (frames done, frames in all)
# runner(src, dst, progress, before, after): a step that is no filter (see StepPlan.runner).
Runner = Callable[[Path, Path, "ProgressFn | None", tuple[str, ...], tuple[str, ...]], None]


@dataclass(frozen=True)
class VideoShape:
    """Size, rate and length of a video as a step receives or gives it."""

    width: int
    height: int
    fps: float
    duration_s: float

    @property
    def frames(self) -> int:
        return max(1, round(self.fps * self.duration_s))


@dataclass(frozen=True)
class StepContext:
    """What a step may need beyond its settings.

    work_dir: a folder of the shot's for files a step writes (a LUT it composes).
    reference: the episode's reference shot (colour matching), None for the first shot or
        a video enhanced alone.
    cuts: times (s) of scene cuts inside the video, never interpolated across.
    source: the shot's video as the chain receives it, for a step whose filter depends on
        what the shot looks like (colour matching measures its colours); None where unknown.
    """

    work_dir: Path
    reference: Path | None = None
    cuts: tuple[float, ...] = ()
    source: Path | None = None


@dataclass(frozen=True)
class StepPlan:
    """One step's share of the enhancement.

    step: its name (grade, match, clean, upscale, interpolate, aspect).
    filters: ffmpeg filter fragments, applied in this order inside the one pass
        ("lut3d=file=...:interp=tetrahedral", "scale=1280:720:flags=lanczos").
    record: what it does, in plain values, for the shot's attempt record and the reviewer
        ({"look": "night-blue", "intensity": 0.6}).
    shape: the video after this step.
    files: files its filters read (checked to exist before any work).
    runner: for a step that is no filter: runner(src, dst, progress, before, after) writes
        dst itself, applying the filter fragments `before` while it decodes (they keep the
        size) and `after` while it encodes, so the filter steps around it share its pass.
    """

    step: str
    filters: tuple[str, ...]
    record: dict[str, object]
    shape: VideoShape
    files: tuple[Path, ...] = ()
    runner: Runner | None = field(default=None, compare=False)


def apply_filters(src: Path, dst: Path, filters: list[str] | tuple[str, ...], crf: int = 18) -> None:
    """Run `filters` (joined with commas) over the video of `src` into an H.264 MP4 at `dst`.

    Audio is dropped (shots have none); yuv420p out. For tests and the chain's filter pass.
    Raises MediaError naming ffmpeg's complaint.
    """
    graph = ",".join(filters) if filters else "null"
    run_ffmpeg(["-i", str(src), "-an", "-vf", graph, "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
                "-pix_fmt", "yuv420p", str(dst)], f"enhancing {Path(src).name}")
