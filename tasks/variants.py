"""Variants tasks: make one take of a swept shot; build and publish the comparison of the takes.

`make_take` is cached and persisted on the take's spec and seed and on the generation,
enhance, safety and quality settings, so a sweep that crashed and is started again redoes
only the takes it had not finished. Inside, a take goes through the episode's own tasks:
`generate_shot` (and so its GPU concurrency slot), `enhance_shot`, `check_shot_safety` and
`score_shot_quality`. Its thumbnail is written last, blurred unless safety allowed it.
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_image_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from editorial.variants import Sweep, TakeState, knob_label, take_verdict
from postprocess.compare import Cell, contact_sheet, side_by_side, write_thumbnail
from postprocess.enhance.chain import for_backend
from quality.request import shot_request
from reelgate.errors import ReelgateError
from reelgate.files import file_sha256
from reelgate.records import Action, GeneratedShot, Refusal, ShotSpec
from reelgate.settings import EnhanceSettings, GenerationSettings, QualitySettings, SafetySettings
from tasks.artifacts import artifact_key, image_data_url, quietly
from tasks.checks import check_shot_safety, score_shot_quality
from tasks.common import fresh, stage_task
from tasks.enhance import enhance_shot
from tasks.generation import generate_shot

THUMBNAIL = "thumbnail.jpg"  # in the take's folder


class TakeOutcome(BaseModel):
    """What making one take gave: its files (absolute) and what the checks said."""

    generated: Path | None = Field(None, description="The generator's own file.")
    video: Path | None = Field(None, description="The video that goes on (enhanced when enhancement worked).")
    video_sha256: str = ""
    thumbnail: Path
    safety_action: Action | None = None
    safety_reasons: list[str] = Field(default_factory=list)
    quality_score: float | None = None
    quality_passed: bool | None = None
    quality_reasons: list[str] = Field(default_factory=list)
    enhance_note: str | None = None
    made_with: GeneratedShot | None = Field(None, description="How it was made: backend, model, seed, steps, size, rate.")


@stage_task(("generation", "postprocess", "safety", "quality"), retries=0)
def make_take(
    spec: ShotSpec, seed: int, label: str, take_dir: Path, generation: GenerationSettings, enhance: EnhanceSettings,
    safety: SafetySettings, quality: QualitySettings, preset: str | None = None,
) -> TakeOutcome:
    """Generate, enhance, check and score one take; write its middle-frame thumbnail (blurred when blocked).

    label: "<sweep>-<take>": names its artifacts. The inner tasks retry their own transient faults.
    """
    take_dir = Path(take_dir)
    thumb = take_dir / THUMBNAIL
    shot = fresh(generate_shot, spec, seed, 0, generation, take_dir)
    if isinstance(shot, Refusal):  # the provider's moderation: a content decision, recorded as a block
        return TakeOutcome(thumbnail=write_thumbnail(None, thumb, blocked=True),
                           safety_action=Action.BLOCK, safety_reasons=[shot.reason()])
    generated = shot.path
    shot, note = _enhanced(shot, enhance, preset)
    report = check_shot_safety(shot, safety, label)
    scored = score_shot_quality(shot, spec.wants_motion, quality, label, asks=shot_request(spec).asks)
    blocked = report.action == Action.BLOCK
    return TakeOutcome(
        generated=generated, video=shot.path, video_sha256=file_sha256(shot.path), made_with=shot,
        thumbnail=write_thumbnail(shot.path, thumb, blocked=blocked),
        safety_action=report.action, safety_reasons=report.verdict().reasons,
        quality_score=round(scored.score, 4), quality_passed=scored.passed, quality_reasons=list(scored.reasons),
        enhance_note=note,
    )


def _enhanced(shot: GeneratedShot, settings: EnhanceSettings, preset: str | None) -> tuple[GeneratedShot, str | None]:
    """The shot enhanced as the episode's are (no colour reference: a take stands alone); a failed pass
    leaves it unenhanced with the reason, never blocks it (the checks see whatever goes on)."""
    if not settings.enabled:
        return shot, None
    try:
        enhanced, _ = fresh(enhance_shot, shot, for_backend(settings, shot.backend), None, preset)
        return enhanced, None
    except ReelgateError as exc:
        reason = f"enhancement failed ({exc}); the take is shown unenhanced"
        get_run_logger().warning(reason)
        return shot, reason


def _cells(sweep: Sweep, folder: Path) -> list[Cell]:
    return [
        Cell(take_id=t.id, knobs=("original · " if t.original else "") + knob_label(t, sweep),
             verdict=take_verdict(t), blocked=t.blocked,
             video=folder / t.video if t.video else None, thumbnail=folder / t.thumbnail if t.thumbnail else None,
             selected=t.state == TakeState.SELECTED)
        for t in sweep.takes
    ]


@task(cache_policy=NO_CACHE, persist_result=False, retries=0)
def compare_takes(sweep: Sweep, folder: Path, columns: int = 4, cell_width: int = 320) -> tuple[str, str]:
    """Write the comparison (grid image and side-by-side video) into `folder`/compare and publish it
    as an artifact; return their paths relative to the sweep folder."""
    folder = Path(folder)
    cells = _cells(sweep, folder)
    title = (f"sweep {sweep.sweep_id}: shot {sweep.shot}, "
             + " x ".join([*sweep.knobs, *(["seed"] if sweep.seeds > 1 else [])]))
    sheet = contact_sheet(cells, folder / "compare" / "grid.png", columns=columns, cell_width=cell_width, title=title)
    video = side_by_side(cells, folder / "compare" / "grid.mp4", columns=columns, cell_width=cell_width)
    quietly("sweep table", lambda: create_markdown_artifact(
        comparison_markdown(sweep, sheet, video), key=artifact_key("sweep", sweep.sweep_id),
        description=f"Variants of shot {sweep.shot}: every take, its knobs, quality and safety",
    ))
    quietly("sweep grid", lambda: create_image_artifact(
        image_data_url(sheet, max_width=1280), key=artifact_key("sweep-grid", sweep.sweep_id),
        description=f"Variants of shot {sweep.shot} side by side (blocked takes blurred)",
    ))
    return str(sheet.relative_to(folder)), str(video.relative_to(folder))


def comparison_markdown(sweep: Sweep, sheet: Path, video: Path) -> str:
    """The artifact: a table of the takes (knobs, quality, safety, mark) and where the grid is."""
    rows = ["| take | knobs | quality | safety | mark |", "|---|---|---|---|---|"]
    for t in sweep.takes:
        knobs = ", ".join(f"{k}={v}" for k, v in t.knobs.items()) + (" (original)" if t.original else "")
        quality = "-" if t.quality_score is None else f"{t.quality_score:.2f} {'pass' if t.quality_passed else 'fail'}"
        safety = "blocked: " + take_verdict(t) if t.blocked else (t.safety_action.value if t.safety_action else "-")
        rows.append(f"| {t.id} | {knobs} | {quality} | {safety.replace('|', '/')} | {t.state.value} |")
    return (f"### Variants of shot {sweep.shot} (sweep `{sweep.sweep_id}`)\n\n" + "\n".join(rows)
            + f"\n\nGrid image: [{sheet.name}]({sheet.resolve().as_uri()}) (`{sheet}`)  \n"
            f"Side by side: [{video.name}]({video.resolve().as_uri()}) (`{video}`)  \n"
            f"Choose: `reelgate variants mark {sweep.sweep_id} TAKE selected`")
