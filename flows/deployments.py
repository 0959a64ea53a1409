"""The deployments: the episode flow, the variants (sweep) flow and one per series, applied to the
server, served or sent to a pool.

The only module that imports flow functions (flows.episode, flows.series, flows.variants), so the flows
themselves can use flows.runs and flows.review without an import circle.
Import `flows.environment.configure_prefect` and call it before importing this module.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from flows.environment import HEARTBEAT_S
from flows.runs import create_episode_run, ensure_crash_recovery, wait_until_settled
from flows.workers import record_data_dir
from reelgate.errors import ConfigError
from reelgate.records import EpisodeRequest
from reelgate.settings import RunOptions, Settings

EPISODE_QUEUE = "normal"  # where a run of the episode deployment created without a priority waits
SERIES_QUEUE = "low"  # where a series deployment's scheduled fires wait
SWEEP_QUEUE = "high"  # where a variants sweep waits: someone is looking at the page for it


def episode_deployment():
    """The RunnerDeployment of the episode flow (entrypoint by module path)."""
    from prefect.deployments.runner import EntrypointType

    from flows.episode import produce_episode

    return produce_episode.to_deployment(
        name="episode",
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Produce one episode and wait at the review gate.",
        tags=["reelgate"],
    )


def ensure_deployment() -> uuid.UUID:
    """Apply the episode deployment. One already on a work pool stays on it, on its queue
    (Prefect keeps both when a deployment is applied again without a pool)."""
    return episode_deployment().apply()


def sweep_deployment():
    """The RunnerDeployment of the variants flow: the takes of one shot, started by
    `reelgate variants` or the review page (flows.runs.start_sweep)."""
    from prefect.deployments.runner import EntrypointType

    from flows.variants import sweep_shot

    return sweep_shot.to_deployment(
        name="variants",
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Make every take of one swept shot and the comparison of the takes.",
        tags=["reelgate", "variants"],
    )


def ensure_sweep_deployment() -> uuid.UUID:
    return sweep_deployment().apply()


def _on_queue(deployment, queue: str):
    deployment.work_queue_name = queue  # RunnerDeployment.apply takes the pool, the queue is an attribute
    return deployment


def series_deployment(series_file: Path, settings: Settings):
    """The RunnerDeployment of one series: its next episode on its cron, in its time zone.

    Named after the series id (`produce-next-episode/<id>`); the file is passed by absolute
    path, so whoever runs a fire (this machine, or a worker) must be able to read it there.
    """
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.deployments.runner import EntrypointType

    from editorial.series import load_series
    from flows.series import produce_next_episode

    series_file = Path(series_file).resolve()
    series = load_series(series_file, settings.planning)
    return produce_next_episode.to_deployment(
        name=series.id,
        entrypoint_type=EntrypointType.MODULE_PATH,
        schedules=[CronSchedule(cron=series.schedule, timezone=series.timezone)],
        parameters={"series_file": str(series_file)},
        description=f"{series.title_en or series.title}: the next unproduced episode, on '{series.schedule}' {series.timezone}.",
        tags=["reelgate", f"series:{series.id}"],
    )


def apply_to_pool(series_files: list[Path], settings: Settings, work_pool: str) -> "PoolSetup":
    """Set up the work pool and its priority queues, and apply the episode and series deployments to it.

    Workers (`prefect worker start --pool NAME`) started in a checkout of this repository
    then run them, on any machine that reaches the server; no runner is needed. The episode
    deployment's own queue is `normal` (a run created without a priority waits there); the
    series deployments' is `low` (a schedule's fire waits behind the episodes people asked for).
    """
    series = [series_deployment(Path(f), settings) for f in series_files]
    setup = setup_pool(work_pool, settings.priorities.table())
    # Workers can die: a run whose heartbeats stop is marked Crashed and scheduled again (flows.runs).
    ensure_crash_recovery(HEARTBEAT_S)
    # A sweep is asked for by someone looking at the page: it waits on the high queue.
    placed = [(episode_deployment(), EPISODE_QUEUE), (sweep_deployment(), SWEEP_QUEUE), *((d, SERIES_QUEUE) for d in series)]
    setup.deployments = {d.full_name: _on_queue(d, queue).apply(work_pool_name=work_pool) for d, queue in placed}
    # Which data folder the runs use: `reelgate worker` refuses to poll with another one (flows.workers).
    setup.data = record_data_dir(settings.data_dir, work_pool, settings.storage_url)
    return setup


@dataclass
class PoolSetup:
    """What `setup_pool` found and did: the pool, whether it was created, each queue's priority and change."""

    pool: str
    created: bool
    queues: dict[str, int]
    changes: dict[str, str]  # queue -> "created" | "priority a -> b" | "unchanged"
    deployments: dict[str, uuid.UUID] = field(default_factory=dict)  # "flow/name" -> id, once applied
    data: dict[str, str] = field(default_factory=dict)  # the recorded data folder: path and mark


def setup_pool(work_pool: str, table: dict[str, int]) -> PoolSetup:
    """Create the process work pool if missing, and its queues with these priorities (idempotent).

    table: queue name -> priority (1 is taken first), e.g. PrioritySettings.table().
    Prefect keeps priorities unique in a pool by moving other queues down (its own
    `default` queue ends up after ours).
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    created = False
    changes: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(work_pool)
        except ObjectNotFound:
            pool = client.create_work_pool(WorkPoolCreate(
                name=work_pool, type=ProcessWorker.type,
                base_job_template=ProcessWorker.get_default_base_job_template(),
                description="reelgate: episodes and series; queues high, normal, low (see README, Priorities)",
            ))
            created = True
        if pool.type != ProcessWorker.type:
            raise ConfigError(f"the work pool {work_pool!r} is of type {pool.type!r}; reelgate's workers are "
                              f"'{ProcessWorker.type}': set REELGATE_PRIORITIES__POOL to another name, or delete it")
        existing = {q.name: q for q in client.read_work_queues(work_pool_name=work_pool)}
        # Most urgent first: each set moves only the queues at or below it.
        for name, priority in sorted(table.items(), key=lambda item: item[1]):
            queue = existing.get(name)
            if queue is None:
                client.create_work_queue(name=name, work_pool_name=work_pool, priority=priority,
                                         description=f"reelgate priority {name}")
                changes[name] = "created"
            elif queue.priority != priority:
                client.update_work_queue(queue.id, priority=priority)
                changes[name] = f"priority {queue.priority} -> {priority}"
            else:
                changes[name] = "unchanged"
        final = {q.name: q.priority for q in client.read_work_queues(work_pool_name=work_pool)}
    wrong = {n: final.get(n) for n, p in table.items() if final.get(n) != p}
    if wrong:
        raise ConfigError(f"the work pool {work_pool!r} kept other priorities than asked: {wrong} "
                          f"(asked {table}); set the queues by hand with `prefect work-queue set-priority`")
    return PoolSetup(pool=work_pool, created=created, queues={n: final[n] for n in table}, changes=changes)


def pool_queues(work_pool: str) -> dict[str, int]:
    """Every queue of the pool and its priority, most urgent first."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        queues = client.read_work_queues(work_pool_name=work_pool)
    return {q.name: q.priority for q in sorted(queues, key=lambda q: q.priority)}


def serve(
    settings: Settings,
    first: EpisodeRequest | None,
    on_settled,
    until_settled: bool = False,
    series_files: list[Path] | tuple[Path, ...] = (),
    on_ready=None,
    every_minute=None,
    limit: int | None = 1,
    first_options: RunOptions | None = None,
) -> None:
    """Serve the episode deployment, the variants deployment and the series deployments in this process (Ctrl-C stops).

    first: an episode to queue once serving (with first_options); on_settled(None, run) is called when it is
        queued and on_settled(settled, run) once it waits for review or ends; with
        until_settled the runner then stops.
    on_ready(): called once every deployment is applied and the runner polls.
    every_minute(): called once a minute while serving (e.g. expiring overdue reviews);
        its errors are printed, never fatal.
    limit: most flow runs executed at once (None: no limit); a series fire takes a slot
        for a few seconds.
    """
    import anyio
    from prefect.runner import Runner

    # Built outside the loop: to_deployment is sync-or-async. The episode deployment stays first.
    deployments = [episode_deployment(), sweep_deployment(),
                   *(series_deployment(Path(f), settings) for f in series_files)]

    async def tick() -> None:
        while True:
            await anyio.sleep(60)
            try:
                await anyio.to_thread.run_sync(every_minute)
            except Exception as exc:  # a periodic chore must not stop the runner
                print(f"reelgate: periodic check failed: {exc!r}", file=sys.stderr, flush=True)

    async def main() -> None:
        runner = Runner(name="reelgate", query_seconds=2, pause_on_shutdown=False, limit=limit)
        deployment_ids = [await runner.aadd_deployment(d) for d in deployments]
        deployment_id = deployment_ids[0]
        async with anyio.create_task_group() as group:
            group.start_soon(runner.start)
            if every_minute is not None:
                group.start_soon(tick)
            if on_ready is not None:
                await anyio.to_thread.run_sync(on_ready)
            if first is not None:
                run = await anyio.to_thread.run_sync(
                    lambda: create_episode_run(deployment_id, first, first_options, priority="high"))
                on_settled(None, run)
                settled = await anyio.to_thread.run_sync(wait_until_settled, run.id, 24 * 3600.0, 2.0)
                on_settled(settled, run)
                if until_settled:
                    await runner.astop()
                    group.cancel_scope.cancel()

    anyio.run(main)
