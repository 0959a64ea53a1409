"""Stage 3b task: enhance one generated shot (grade, match, clean, upscale, interpolate, aspect).

Thin: the chain is postprocess/enhance/chain.py. A failed pass is retried once; the flow
then keeps the shot unenhanced and shows the reviewer why (an enhancement never blocks an
episode and never skips a safety check, which runs on whatever frames go on).
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger

from postprocess.enhance.base import StepContext
from postprocess.enhance.chain import enhance_video
from reelgate.console import StepBar
from reelgate.errors import EnhanceFailed, MediaError
from reelgate.records import GeneratedShot
from reelgate.settings import EnhanceSettings
from tasks.common import stage_task


@stage_task(("postprocess",), retries=1, file_inputs=("shot", "reference"))
def enhance_shot(
    shot: GeneratedShot, settings: EnhanceSettings, reference: Path | None = None, preset: str | None = None
) -> tuple[GeneratedShot, dict]:
    """(the enhanced shot, what was done) for one generated shot; EnhanceFailed when a pass fails.

    reference: the episode's colour reference as generated (before its own grade).
    preset: the series' style preset, whose look grades the shot unless a look is set."""
    out = shot.path.with_name(f"{shot.path.stem}_enhanced.mp4")
    work = shot.path.with_name(f"{shot.path.stem}_enhance")
    bar = StepBar(f"enhance shot {shot.index + 1}")
    try:
        result = enhance_video(shot.path, out, settings, StepContext(work_dir=work, reference=reference),
                               progress=bar, preset=preset)
    except MediaError as exc:
        raise EnhanceFailed(str(exc)) from exc
    finally:
        bar.close()
    get_run_logger().info("shot %d enhanced: %s", shot.index + 1,
                          ", ".join(s["step"] for s in result.record()["steps"]) or "nothing to do")
    shape = result.shape_out
    enhanced = shot.model_copy(update={"path": out, "width": shape.width, "height": shape.height,
                                       "fps": shape.fps, "frames": shape.frames})
    return enhanced, result.record()
