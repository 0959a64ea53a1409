"""The variants flow: every take of one swept shot, then the takes side by side.

Read it top to bottom. The takes are planned (editorial.variants.plan_takes: t01 the
original, then one knob changed, then two...), each is screened like a planned prompt, made
by the cached `make_take` task (generate, enhance, safety, quality, thumbnail) and recorded
in the sweep record after each take, so the review page shows progress. A crashed sweep
started again under the same id redoes only unfinished takes and keeps the marks made so far.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.context import get_run_context

from editorial.variants import SweepStatus, Take, open_sweep, save_progress, sweep_dir, take_screening_text
from generation.base import check_backend, uses_gpu
from postprocess.compare import write_thumbnail
from postprocess.enhance.chain import check_for_generation
from prompts.screen import lists_fingerprint
from reelgate.errors import InputError
from reelgate.records import Action, ShotPlan
from reelgate.settings import RunOptions, Settings, refuse_run_settings
from safety.gallery import check_gallery
from tasks.common import fresh
from tasks.generation import ensure_gpu_limit
from tasks.results import RESULTS, SERIALIZER
from tasks.screening import screen_prompt
from tasks.variants import THUMBNAIL, compare_takes, make_take


@flow(name="sweep-shot", persist_result=True, result_storage=RESULTS, result_serializer=SERIALIZER)
def sweep_shot(
    plan: ShotPlan,
    shot: int,
    knobs: dict[str, list[str]],
    seeds: int = 1,
    sweep_id: str | None = None,
    episode_id: str | None = None,
    episode_version: str | None = None,
    created_by: str = "owner",
    options: RunOptions | None = None,
    settings: dict | None = None,
) -> dict:
    """Make every take of shot `shot` (1-based) of `plan` over `knobs` x `seeds`, then the comparison.

    Args:
        plan: the plan the shot belongs to (a plan file's, or the episode's at its review version).
        knobs: knob -> values, e.g. {"camera": ["push", "track"], "strength:storm": ["0.5", "1.5"]}.
        seeds: seeds per combination (the plan's own, then derived ones).
        sweep_id: the sweep's folder name; the same id resumes the sweep.
        episode_id, episode_version: for an episode sweep, the episode and the version at the gate.
        options: what this run may choose (backend, size...); everything else is the worker's.
        settings: refused: configuration never travels as a run parameter.
    """
    if settings is not None:
        raise InputError(refuse_run_settings(settings))
    settings = (options or RunOptions()).settings()
    log = get_run_logger()
    sweep = open_sweep(settings, plan, shot, knobs, seeds, sweep_id=sweep_id, episode_id=episode_id,
                       episode_version=episode_version, created_by=created_by)
    sweep_id, folder = sweep.sweep_id, sweep_dir(settings.data_dir, sweep.sweep_id)
    sweep.flow_run_id, sweep.status = str(get_run_context().flow_run.id), SweepStatus.RUNNING
    save_progress(settings.data_dir, sweep)
    check_backend(settings.generation)  # a missing model fails here, before any take
    check_for_generation(settings.enhance, settings.generation, settings.planning.preset)
    check_gallery(settings.safety)  # a gallery asked for but unreadable: fail closed, now
    if uses_gpu(settings.generation):
        ensure_gpu_limit(settings.generation.gpu_slots)

    for number, take in enumerate(sweep.takes, start=1):
        log.info("take %s (%d/%d): %s", take.id, number, len(sweep.takes), take.knobs)
        _make(take, plan, settings, sweep_id, folder)
        save_progress(settings.data_dir, sweep)  # after each take: the page shows progress, marks made meanwhile kept

    sheet, video = compare_takes(sweep, folder, settings.variants.grid_columns, settings.variants.cell_width)
    sweep.contact_sheet, sweep.comparison = sheet, video
    if sweep.status != SweepStatus.CHOSEN:
        sweep.status = SweepStatus.READY
    save_progress(settings.data_dir, sweep)
    made = sum(1 for t in sweep.takes if not t.blocked)
    log.info("sweep %s: %d takes, %d shown, %d blocked or failed; grid %s", sweep_id, len(sweep.takes), made,
             len(sweep.takes) - made, folder / sheet)
    return {"sweep_id": sweep_id, "status": sweep.status.value, "folder": str(folder), "takes": len(sweep.takes),
            "blocked": len(sweep.takes) - made, "contact_sheet": str(folder / sheet), "comparison": str(folder / video)}


def _make(take: Take, plan: ShotPlan, settings: Settings, sweep_id: str, folder: Path) -> None:
    """Screen and make one take, recording everything in it; a take that cannot be made records why."""
    log = get_run_logger()
    take_dir = folder / "takes" / take.id
    take_dir.mkdir(parents=True, exist_ok=True)
    screening = screen_prompt(
        take_screening_text(plan, take.spec), f"{sweep_id}-{take.id}", settings.screening,
        lists_fingerprint(settings.screening), settings.data_dir / "cache",
    )
    notes = [f"prompt: {r}" for r in screening.verdict().reasons]
    if screening.action == Action.BLOCK:
        take.prompt_blocked, take.safety_action, take.safety_reasons = True, Action.BLOCK, notes
        take.thumbnail = str(write_thumbnail(None, take_dir / THUMBNAIL, blocked=True).relative_to(folder))
        log.warning("take %s blocked by the prompt screen: %s", take.id, "; ".join(notes))
        return
    try:
        outcome = fresh(
            make_take, take.spec, take.spec.seed, f"{sweep_id}-{take.id}", take_dir, settings.generation,
            settings.enhance, settings.safety, settings.quality, settings.planning.preset,
        )
    except Exception as exc:  # noqa: BLE001 - one take that cannot be made must not end the sweep
        take.error = f"{type(exc).__name__}: {exc}"[:500]
        take.thumbnail = str(write_thumbnail(None, take_dir / THUMBNAIL, blocked=True).relative_to(folder))
        log.warning("take %s could not be made: %s", take.id, take.error)
        return
    take.error = None
    take.video = str(outcome.video.relative_to(folder)) if outcome.video else None
    take.video_sha256 = outcome.video_sha256
    take.thumbnail = str(outcome.thumbnail.relative_to(folder))
    take.safety_action, take.safety_reasons = outcome.safety_action, [*notes, *outcome.safety_reasons]
    take.quality_score, take.quality_passed = outcome.quality_score, outcome.quality_passed
    take.quality_reasons, take.enhance_note = outcome.quality_reasons, outcome.enhance_note
    take.made_with = outcome.made_with
