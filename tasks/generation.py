"""Stage 3 task: generate one shot with the configured backend."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger

from generation.base import get_generator
from reelgate.records import GeneratedShot, ShotSpec
from reelgate.settings import GenerationSettings
from tasks.common import stage_task


@stage_task("generate_shot", ("generation",))
def generate_shot(
    spec: ShotSpec, seed: int, attempt: int, settings: GenerationSettings, out_dir: Path
) -> GeneratedShot:
    log = get_run_logger()
    reported = [-1]

    def progress(done: int, total: int) -> None:
        quarter = int(4 * done / max(total, 1))
        if quarter > reported[0]:
            reported[0] = quarter
            log.info("shot %d attempt %d: %d/%d", spec.index + 1, attempt + 1, done, total)

    out = Path(out_dir) / f"shot{spec.index + 1:02d}_try{attempt + 1}.mp4"
    generator = get_generator(settings)  # loaded once per worker process, reused across shots
    return generator.generate(spec, seed=seed, attempt=attempt, out_path=out, progress=progress)
