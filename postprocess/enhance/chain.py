"""The enhancement chain: every step's plan joined into as few passes as possible.

Order, and why:
  1. clean: denoise and deband the generator's own pixels, before anything amplifies them;
  2. match: colour statistics toward the episode's reference shot (before the look, so
     every shot receives the same grade from the same starting point);
  3. grade: the look (a 3D LUT);
  4. interpolate: raise the frame rate while the frames are still small (motion search
     costs by the pixel);
  5. upscale: to the delivery size, sharpening after the resize;
  6. aspect: crop or pad to the delivery aspect last, so the safe area is the final frame's.

Filter steps share one ffmpeg pass (one decode, one encode). A step with a runner (optical
flow, a learned model) decodes and encodes itself, and takes the filter steps before it
(run while it decodes) and after it (run while it encodes) into its pass: the default
delivery chain, clean + colour, flow interpolation, upscale, is one decode and one encode.

Plain Python: tasks/enhance.py runs this as a retryable Prefect task, and
`reelgate enhance` runs it on any video.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from postprocess.enhance.base import ProgressFn, StepContext, StepPlan, VideoShape
from reelgate.errors import ConfigError, MediaError
from reelgate.media import run_ffmpeg, video_info
from reelgate.registry import ENHANCERS
from reelgate.settings import EnhanceSettings, GenerationSettings

STEPS = ENHANCERS.names()  # in chain order: clean, match, grade, interpolate, upscale, aspect


@dataclass(frozen=True)
class ChainResult:
    """What enhancing one video did."""

    steps: tuple[StepPlan, ...]
    shape_in: VideoShape
    shape_out: VideoShape
    seconds: float
    passes: int

    def record(self) -> dict[str, object]:
        """Plain values for the attempt record and the reviewer."""
        return {
            "steps": [{"step": p.step, **p.record} for p in self.steps],
            "size_in": f"{self.shape_in.width}x{self.shape_in.height}@{self.shape_in.fps:g}",
            "size_out": f"{self.shape_out.width}x{self.shape_out.height}@{self.shape_out.fps:g}",
            "seconds": round(self.seconds, 2),
            "passes": self.passes,
        }


def plan_chain(settings: EnhanceSettings, shape: VideoShape, context: StepContext,
               only: tuple[str, ...] = STEPS, preset: str | None = None) -> list[StepPlan]:
    """The plans of the enabled steps in chain order, each receiving the shape the last one gave.

    preset: the series' style preset, whose look grades the shot when no look or LUT is set.
    Match and grade, both colour tables, are fused into one (one lut3d costs about as much
    as a decode and encode at 720p; see grade.COST).
    Raises ConfigError (naming the setting) for a missing LUT, an unknown look or backend,
    a size or rate it cannot make: before any video is touched.
    """
    from postprocess.enhance.grade import for_preset, fuse

    if not settings.enabled:
        return []
    chosen = {step: getattr(settings, step) for step in STEPS}
    chosen["grade"] = for_preset(settings.grade, preset)
    plans: list[StepPlan] = []
    for step in STEPS:
        if step not in only:
            continue
        plan = ENHANCERS.get(step)(chosen[step], shape, context)
        if plan is None:
            continue
        missing = [p for p in plan.files if not Path(p).is_file()]
        if missing:
            raise ConfigError(f"enhance step {step}: {missing[0]} is missing")
        if step == "grade" and plans and plans[-1].step == "match":
            plan = fuse(plans.pop(), plan, context)
        plans.append(plan)
        shape = plan.shape
    return plans


# Backends that draw rather than generate: their frames are clean and sharp already, so a
# denoise only softens them and a sharpen rings their edges (measured: halo 0.05 -> 0.50).
DRAWN_BACKENDS = ("animatic",)


def for_backend(settings: EnhanceSettings, backend: str) -> EnhanceSettings:
    """`settings` as they apply to shots of `backend`: clean-up is off for a drawn backend unless
    it was switched on explicitly (REELGATE_ENHANCE__CLEAN__ENABLED=true)."""
    if backend in DRAWN_BACKENDS and "enabled" not in settings.clean.model_fields_set:
        return settings.model_copy(update={"clean": settings.clean.model_copy(update={"enabled": False})})
    return settings


def check_settings(settings: EnhanceSettings, shape: VideoShape, work_dir: Path, preset: str | None = None) -> None:
    """Plan the chain once for a video of `shape`, so bad settings stop an episode before generation."""
    plan_chain(settings, shape, StepContext(work_dir=work_dir), preset=preset)


def check_for_generation(settings: EnhanceSettings, generation: GenerationSettings, preset: str | None) -> None:
    """Plan the chain for a shot of the generator's size (or Wan's 832x480@16 when it follows the
    model): a missing LUT, an unknown look, a size or rate it cannot make is a ConfigError now,
    before anything is generated."""
    import tempfile

    shape = VideoShape(generation.width or 832, generation.height or 480, float(generation.fps or 16), 4.0)
    with tempfile.TemporaryDirectory(prefix="reelgate-enhance-check-") as work:
        check_settings(for_backend(settings, generation.backend), shape, Path(work), preset)


def shape_of(path: Path) -> VideoShape:
    """The VideoShape of a video file; MediaError when it is unreadable or has no video."""
    width, height, fps, duration = video_info(Path(path))
    if not (width and height and fps):
        raise MediaError(f"{path}: cannot read its size and frame rate; is it a video?")
    return VideoShape(width, height, fps, duration)


@dataclass
class _Pass:
    """One decode and one encode: filter steps alone, or a runner with the filters around it."""

    runner: StepPlan | None = None
    before: list[StepPlan] = field(default_factory=list)  # filters while decoding (keep the size)
    after: list[StepPlan] = field(default_factory=list)  # filters while encoding (may resize)

    @property
    def steps(self) -> list[StepPlan]:
        return [*self.before, *([self.runner] if self.runner else []), *self.after]


def _passes(plans: list[StepPlan], shape: VideoShape) -> list[_Pass]:
    """The fewest passes: filter steps share one; a runner takes the filter steps before it
    (when they keep the size and rate it reads) and after it into its own pass."""
    passes: list[_Pass] = []
    group: list[StepPlan] = []
    group_in = shape
    for plan in plans:
        if plan.runner is None:
            if passes and passes[-1].runner is not None and not group:
                passes[-1].after.append(plan)  # encoded by the runner's writer
            else:
                group.append(plan)
            continue
        out = group[-1].shape if group else group_in
        keeps = (out.width, out.height, out.fps) == (group_in.width, group_in.height, group_in.fps)
        if group and not keeps:
            passes.append(_Pass(after=group))
            group = []
        passes.append(_Pass(runner=plan, before=group))
        group, group_in = [], plan.shape
    if group:
        passes.append(_Pass(after=group))
    return passes


def _filter_pass(src: Path, dst: Path, plans: list[StepPlan], frames: int, crf: int,
                 progress: ProgressFn | None) -> None:
    """One ffmpeg pass of the joined filters, reporting frames done as ffmpeg writes them."""
    graph = ",".join(f for p in plans for f in p.filters) or "null"
    run_ffmpeg(["-i", str(src), "-an", "-vf", graph,
                "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
                "-movflags", "+faststart", str(dst)],
               f"enhancing {Path(src).name} ({', '.join(p.step for p in plans)})",
               None if progress is None else lambda done: progress(min(done, frames), frames))


def enhance_video(src: Path, dst: Path, settings: EnhanceSettings, context: StepContext,
                  progress: ProgressFn | None = None, crf: int = 18,
                  only: tuple[str, ...] = STEPS, preset: str | None = None) -> ChainResult:
    """Enhance the video at `src` into `dst` (H.264 MP4, no audio); returns what was done.

    With nothing to do, `dst` is a copy of `src`. `dst` appears only when every pass
    succeeded. Raises ConfigError for bad settings (before any pass) and MediaError when a
    pass fails.
    """
    started = time.perf_counter()
    src, dst = Path(src), Path(dst)
    shape = shape_of(src)
    context = dataclasses.replace(context, source=src)
    context.work_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_chain(settings, shape, context, only, preset)
    out_shape = plans[-1].shape if plans else shape
    groups = _passes(plans, shape)
    partial = dst.with_name(f".{dst.stem}.partial{dst.suffix}")
    current = src
    try:
        for k, group in enumerate(groups):
            target = partial if k == len(groups) - 1 else context.work_dir / f"pass{k + 1}{dst.suffix}"
            if group.runner is not None:
                group.runner.runner(current, target, progress,  # type: ignore[misc]
                                    tuple(f for p in group.before for f in p.filters),
                                    tuple(f for p in group.after for f in p.filters))
            else:
                _filter_pass(current, target, group.after, group.after[-1].shape.frames, crf, progress)
            current = target
        if not groups:
            shutil.copyfile(src, partial)
        partial.replace(dst)
    finally:
        partial.unlink(missing_ok=True)
        for k in range(len(groups) - 1):
            (context.work_dir / f"pass{k + 1}{dst.suffix}").unlink(missing_ok=True)
    return ChainResult(tuple(plans), shape, out_shape, time.perf_counter() - started, len(groups))
