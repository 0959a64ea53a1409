"""The deployments: the episode flow, the variants (sweep) flow and one per series, applied to the
server, served or sent to a pool.

The only module that imports flow functions (flows.episode, flows.series, flows.variants), so the flows
themselves can use flows.runs and flows.review without an import circle.
Import `flows.environment.configure_prefect` and call it before importing this module.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from flows.runs import create_episode_run, wait_until_settled
from reelgate.records import EpisodeRequest
from reelgate.settings import RunOptions, Settings


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


def apply_to_pool(series_files: list[Path], settings: Settings, work_pool: str) -> list[uuid.UUID]:
    """Apply the episode deployment and the series deployments to a work pool.

    Workers (`prefect worker start --pool NAME`) started in a checkout of this repository
    then run them, on any machine that reaches the server; no runner is needed.
    """
    deployments = [episode_deployment(), sweep_deployment(),
                   *(series_deployment(Path(f), settings) for f in series_files)]
    return [d.apply(work_pool_name=work_pool) for d in deployments]


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
                run = await anyio.to_thread.run_sync(create_episode_run, deployment_id, first, first_options)
                on_settled(None, run)
                settled = await anyio.to_thread.run_sync(wait_until_settled, run.id, 24 * 3600.0, 2.0)
                on_settled(settled, run)
                if until_settled:
                    await runner.astop()
                    group.cancel_scope.cancel()

    anyio.run(main)
