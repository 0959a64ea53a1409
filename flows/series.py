"""The series flow: each time a series' schedule fires, queue its next unproduced episode.

A series is served as its own deployment (`flows.deployments.series_deployment`) with a cron
schedule in the series' time zone. A fire only *creates* a run of the episode deployment
and returns; the episode run suspends at its review gate on its own.

Producing is idempotent. The episode run is created with an idempotency key made from the
episode id, so a schedule that fires twice, a fire triggered by hand while the last one is
still queueing, or a retried fire gets the same episode run back instead of a second one.
The key also counts the episode's failed runs, so an episode whose run failed before it
reached a manifest is produced again by the next fire.

On a work pool the episode run waits in the `low` queue (SERIES_PRIORITY): episodes started
by hand or from a batch are taken first (README, Priorities).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.context import get_run_context

from editorial.manifest import MANIFEST_NAME, manifest_path
from editorial.series import Series, load_series, next_unproduced
from flows import runs, server
from reelgate.errors import InputError
from reelgate.settings import RunOptions, Settings, refuse_run_settings
from reelgate.storage import pull_all
from tasks.results import RESULTS, SERIALIZER

# A schedule's episode waits behind the episodes people asked for (by hand: high; batches: normal).
SERIES_PRIORITY = "low"


@flow(name="produce-next-episode", retries=2, retry_delay_seconds=10, result_storage=RESULTS,
      result_serializer=SERIALIZER)
def produce_next_episode(series_file: str, settings: dict | None = None) -> dict:
    """Queue the series' next unproduced episode as a run of the episode deployment.

    series_file: the series YAML file, as a path the serving machine can read.
    settings: refused (configuration comes from the worker's own environment, never a parameter).
    Returns what happened: {"status": "queued" | "done" | "skipped", "episode_id", "flow_run_id"}.
    """
    if settings is not None:
        raise InputError(refuse_run_settings(settings))
    settings = Settings()
    log = get_run_logger()
    series = load_series(Path(series_file), settings.planning)
    this_run = get_run_context().flow_run
    if this_run.auto_scheduled and _missed(series, this_run.expected_start_time):
        # A runner that was down or busy finds several late fires; only the newest produces.
        log.info("fire of %s was missed (a later one is due); skipping it", this_run.expected_start_time)
        return {"status": "skipped", "episode_id": None, "flow_run_id": None}

    # With a shared store, episodes other workers made are there: their manifests say what is produced.
    pull_all(settings.storage_url, settings.data_dir, settings.episodes_dir, frozenset({MANIFEST_NAME}),
             keep_local_changes=True)
    produced = produced_episode_ids(series, settings.episodes_dir)
    episode = next_unproduced(series, produced)
    if episode is None:
        log.info("all %d episodes of %s are produced; nothing to do", len(series.episodes), series.id)
        return {"status": "done", "episode_id": None, "flow_run_id": None}

    request = series.episode_request(episode, settings.planning)
    options = RunOptions(preset=series.style_preset, review_timeout_hours=series.review.timeout_hours)
    failures = runs.failed_run_count(request.episode_id)
    key = episode_idempotency_key(request.episode_id, failures)
    # One live run per episode: a fire while the episode's run waits at the gate attaches to it.
    run, attached = runs.start_episode(runs.episode_deployment_id(), request, options.settings(),
                                          idempotency_key=key, options=options, priority=SERIES_PRIORITY)
    log.info("episode %s %s: flow run %s (%s)", request.episode_id, "already running" if attached else "queued",
             run.id, server.ui_url(run.id))
    return {"status": "queued", "episode_id": request.episode_id, "flow_run_id": str(run.id)}


def episode_idempotency_key(episode_id: str, failed_runs: int = 0) -> str:
    """The key under which an episode's run is created: one run per episode per failure count."""
    return f"reelgate-episode:{episode_id}:{failed_runs}"


def produced_episode_ids(series: Series, episodes_dir: Path) -> set[str]:
    """Pipeline ids of the series' episodes that have a manifest, whatever it says (an unreadable
    one is still an episode someone made: never produce it twice)."""
    ids = (series.episode_id(episode) for episode in series.episodes)
    return {episode_id for episode_id in ids if manifest_path(episodes_dir / episode_id).is_file()}


def _missed(series: Series, expected_start: datetime | None) -> bool:
    """Whether a later fire of the schedule is already due (this one is stale)."""
    if expected_start is None:
        return False
    return series.next_fire(expected_start) <= datetime.now(timezone.utc)
