"""Stage 3 task: generate one shot with the configured backend, one GPU shot at a time."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency

from generation.base import get_generator, uses_gpu
from reelgate.console import StepBar
from reelgate.files import file_sha256
from reelgate.records import GeneratedShot, Refusal, ShotSpec
from reelgate.settings import GenerationSettings
from tasks.artifacts import artifact_key
from tasks.common import stage_task

GPU_LIMIT = "reelgate-gpu"
"""The Prefect global concurrency limit every GPU shot holds a slot of, across all runs and workers."""
SHOT_TIMING = re.compile(r"waited (?P<wait>\d+\.\d+) s for a GPU slot, then (?P<held>\d+\.\d+) s generating")
"""The line each shot logs (generate_shot): where its time went when GPU slots are scarce (bench/scale_out.py)."""


def ensure_gpu_limit(slots: int) -> None:
    """Create the GPU concurrency limit, or set its slots to `slots` (generation.gpu_slots)."""
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(GPU_LIMIT, slots)


@dataclass
class SlotWait:
    """How long a shot queued for its GPU slot (0 for a backend that needs none)."""

    waited_s: float = 0.0


@contextmanager
def gpu_slot(settings: GenerationSettings) -> Iterator[SlotWait]:
    """Hold one slot of the GPU limit while a GPU backend loads and renders; other backends pass."""
    wait = SlotWait()
    if not uses_gpu(settings):
        yield wait
        return
    asked = time.monotonic()
    # strict: a missing limit is an error, never an unlimited GPU. The lease is renewed while the shot
    # renders; a dead worker's slot comes back when it runs out (settings.gpu_lease_s).
    with concurrency(GPU_LIMIT, occupy=1, strict=True, lease_duration=settings.gpu_lease_s):
        wait.waited_s = time.monotonic() - asked
        yield wait


class ShotProgress:
    """Denoising progress of one shot: a Prefect progress artifact, log lines, a terminal bar."""

    def __init__(self, spec: ShotSpec, attempt: int, episode_id: str) -> None:
        self.label = f"shot {spec.index + 1} attempt {attempt + 1}"
        self.log = get_run_logger()
        self.artifact_id = create_progress_artifact(
            0.0, key=artifact_key(episode_id, f"shot{spec.index + 1}", "progress"), description=f"{episode_id}: {self.label}"
        )
        self.bar = StepBar(self.label)
        self.last_update = 0.0
        self.quarter = -1

    def __call__(self, done: int, total: int) -> None:
        self.bar(done, total)
        quarter = int(4 * done / max(total, 1))
        if quarter > self.quarter:
            self.quarter = quarter
            self.log.info("%s: %d/%d", self.label, done, total)
        # The API is asked at most every 2 s, and always at the end.
        now = time.monotonic()
        if done >= total or now - self.last_update >= 2.0:
            self.last_update = now
            update_progress_artifact(self.artifact_id, 100.0 * done / max(total, 1))

    def close(self) -> None:
        self.bar.close()


@stage_task(("generation",))
def generate_shot(
    spec: ShotSpec, seed: int, attempt: int, settings: GenerationSettings, out_dir: Path
) -> GeneratedShot | Refusal:
    out = Path(out_dir) / f"shot{spec.index + 1:02d}_try{attempt + 1}.mp4"
    progress = ShotProgress(spec, attempt, Path(out_dir).name)
    try:
        with gpu_slot(settings) as slot:
            held = time.monotonic()
            generator = get_generator(settings)  # loaded once per worker process, reused across shots
            made = generator.generate(spec, seed=seed, attempt=attempt, out_path=out, progress=progress)
            held = time.monotonic() - held
        progress.log.info("%s: waited %.3f s for a GPU slot, then %.3f s generating",
                          progress.label, slot.waited_s, held)
    finally:
        progress.close()
    if isinstance(made, GeneratedShot):
        made = made.model_copy(update={"sha256": file_sha256(made.path)})  # `fresh` remakes it if these bytes go
    return made
