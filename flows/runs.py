"""Episode runs on Prefect: creating them (one live run per episode), executing, waiting, finding them.

Import `flows.environment.configure_prefect` and call it before importing this module.

An episode is always a run of the `produce-episode/episode` deployment, because the review
gate *suspends* the run: the process exits while a human decides (holding no GPU and no
worker), and on resume the run starts again from the top with every finished task cached.
Whoever resumes a run also gets it executed: by a runner serving the deployment
(`reelgate up`) when one is polling, otherwise in a child process of the caller.
Nothing here imports a flow function (flows.deployments does), so flows may import this.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import DeploymentStatus, FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort

from reelgate.errors import BackendUnavailable, ConfigError, InputError
from reelgate.records import EpisodeRequest, ShotPlan
from reelgate.storage import pull, push
from reelgate.settings import PRIORITY_NAMES, RunOptions, Settings


FLOW_ENTRYPOINT = "flows.episode.produce_episode"

DEPLOYMENT = "produce-episode/episode"

SERIES_FLOW = "produce-next-episode"

SETTLED = {StateType.PAUSED, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}

# How far back a high-priority run is scheduled. A runner (`reelgate up`, no work pool) takes
# runs earliest scheduled first, so it goes before any run queued in the last RUNNER_HEAD_START.
RUNNER_HEAD_START = timedelta(days=1)

LIVE = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED, StateType.CANCELLING]


def create_episode_run(
    deployment_id: uuid.UUID, request: EpisodeRequest, options: RunOptions | None = None,
    idempotency_key: str | None = None, priority: str | None = None,
) -> FlowRun:
    """A scheduled run of the episode deployment, named after the episode.

    Its parameters are the request and the run's options, never settings: the worker that
    runs it uses its own (see RunOptions).
    idempotency_key: with a key, the server creates at most one run per key (of this
        flow) and returns that run to every later call with the same key (on the queue
        the first call chose: the priority is no part of the key).
    priority: high, normal or low (PRIORITY_NAMES): the work-pool queue the run waits in,
        when the deployment is on a work pool. None: the deployment's own queue (normal, as
        `reelgate pool` applies it). A high run is also scheduled RUNNER_HEAD_START back: a
        runner (`reelgate up`, no pool) takes the earliest scheduled run first, so it goes
        before everything queued since; there normal and low keep their order of arrival.
    """
    parameters = {"request": request.model_dump(mode="json")}
    if options is not None:
        parameters["options"] = options.model_dump(mode="json", exclude_none=True)
    queue, state = None, None
    if priority is not None:
        check_priority(priority)
        queue = priority_queue(deployment_id, priority)
        if priority == "high":
            from prefect.states import Scheduled

            # On a pool too (the queue's priority decides there; within the queue the order of
            # arrival stays): a runner serving the deployment by id, even one applied to a
            # pool, then takes it first. The Prefect UI shows such a run as Late.
            state = Scheduled(scheduled_time=datetime.now(timezone.utc) - RUNNER_HEAD_START,
                              message="high priority: scheduled back so that it is taken first")
    with get_client(sync_client=True) as client:
        return client.create_flow_run_from_deployment(
            deployment_id,
            parameters=parameters,
            name=request.episode_id,
            tags=["reelgate", *( [f"series:{request.series}"] if request.series else []),
                  *([f"priority:{priority}"] if priority else [])],
            idempotency_key=idempotency_key,
            work_queue_name=queue,
            state=state,
        )


def check_priority(priority: str) -> str:
    """The priority's queue name, or an InputError that lists the known ones."""
    if priority not in PRIORITY_NAMES:
        raise InputError(f"unknown priority {priority!r}; the priorities are {', '.join(PRIORITY_NAMES)} "
                         "(high is taken first; see README, Priorities)")
    return priority


def priority_queue(deployment_id: uuid.UUID, priority: str) -> str | None:
    """The work queue a run of this priority waits in; None when the deployment is on no pool (a runner serves it).

    A queue missing from the pool is refused: Prefect would create it with whatever priority
    is free, behind the others, and the run would silently lose its place.
    """
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        pool = client.read_deployment(deployment_id).work_pool_name
        if pool is None:
            return None
        try:
            client.read_work_queue_by_name(name=priority, work_pool_name=pool)
        except ObjectNotFound:
            raise ConfigError(f"the work pool {pool!r} has no queue {priority!r}; set its priority queues up with "
                              f"`reelgate pool {pool}`") from None
    return priority


def deployment_pool(deployment_id: uuid.UUID) -> str | None:
    """The work pool the deployment is applied to; None when a runner serves it (`reelgate up`)."""
    with get_client(sync_client=True) as client:
        return client.read_deployment(deployment_id).work_pool_name


def live_runs(episode_id: str) -> list[FlowRun]:
    """Runs of the episode that have not ended (queued, running, or waiting at the review gate), newest first."""
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(any_=[episode_id]), state=FlowRunFilterState(type=FlowRunFilterStateType(any_=LIVE))
            ),
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[episode_deployment_id()])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
        )


def start_episode(
    deployment_id: uuid.UUID, request: EpisodeRequest, settings: Settings, replace: bool = False,
    idempotency_key: str | None = None, who: str = "owner", options: RunOptions | None = None,
    priority: str | None = None,
) -> tuple[FlowRun, bool]:
    """The one line of work of an episode id: attach to its live run, or start one; (run, attached).

    The same request resumes (attaches to the live run, or starts a run that redoes only
    unfinished work). Another request is refused (EpisodeConflict) unless `replace`: the live
    run is ended, the old line's files move to versions/<n>/ and it is marked superseded in
    its manifest and the audit log; then a clean run starts.
    priority: high, normal or low, the work-pool queue a new run waits in (see
        create_episode_run); an attached run keeps its queue. Checked before anything else.
    """
    if priority is not None:
        check_priority(priority)
    from editorial.manifest import MANIFEST_NAME, load_manifest, manifest_path
    from editorial.review import check_same_request, request_fingerprint, superseded_lines

    folder = settings.episodes_dir / request.episode_id
    # With a shared store, an episode made on another worker is there: compare with it, not with nothing.
    pull(settings.storage_url, settings.data_dir, folder, frozenset({MANIFEST_NAME}), keep_local_changes=True)
    existing = load_manifest(folder) if manifest_path(folder).is_file() else None
    live = live_runs(request.episode_id)
    if replace and (existing is not None or live or folder.exists()):
        replace_episode(settings, request.episode_id, live, who)
        live = []
    else:
        if existing is not None:
            check_same_request(existing, request)
        for run in live:
            check_same_request(_request_manifest(run, settings), request)
        if live:
            return live[0], True
    line = len(superseded_lines(folder)) + 1
    key = idempotency_key or (f"reelgate-episode:{request.episode_id}:{request_fingerprint(request)[:16]}:"
                              f"line{line}:{failed_run_count(request.episode_id)}")
    return create_episode_run(deployment_id, request, options, idempotency_key=key, priority=priority), False


def _request_manifest(run: FlowRun, settings: Settings):
    """A stand-in manifest for a live run's request (it may not have written one yet)."""
    from editorial.manifest import Manifest

    return Manifest(episode_id=run.name, request=EpisodeRequest.model_validate(run.parameters["request"]))


def replace_episode(settings: Settings, episode_id: str, live: list[FlowRun], who: str) -> None:
    """End the episode's live runs and move its files to versions/<n>/, marked superseded, with an audit line."""
    from prefect.states import Cancelled

    from editorial.audit import append_audit, decision_event, locked
    from editorial.manifest import now_utc
    from editorial.review import supersede

    with get_client(sync_client=True) as client:
        for run in live:
            client.set_flow_run_state(run.id, Cancelled(
                name="Superseded", message="Replaced by another request under the same episode id (--replace)."
            ), force=True)
    folder = settings.episodes_dir / episode_id
    pull(settings.storage_url, settings.data_dir, folder, keep_local_changes=True)  # all of it moves to versions/
    if not folder.exists():
        return
    with locked(settings.data_dir / ".review.lock"):
        line, old = supersede(folder)
        push(settings.storage_url, settings.data_dir, folder, prune=True)  # the store's top level moves too
        append_audit(settings.data_dir / "audit.jsonl", decision_event(
            when=now_utc(), who=who, what="supersede", episode_id=episode_id,
            flow_run_id=old.flow_run_id if old else None, round=max(old.review_round, 1) if old else 1,
            version=old.version.id if old and old.version else None, moved_to=f"versions/{line}",
        ))


def episode_deployment_id() -> uuid.UUID:
    """The id of the episode deployment on the server (`reelgate up` or a worker applied it)."""
    return deployment_id_by_name(DEPLOYMENT)


def deployment_id_by_name(name: str) -> uuid.UUID:
    """The id of a deployment ("flow/name") on the server; ConfigError saying how to apply it when missing."""
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(name).id
        except ObjectNotFound:
            raise ConfigError(f"the deployment {name} is not on the server; start `reelgate up`") from None


def episode_runs(episode_id: str) -> list[FlowRun]:
    """Every run of the episode flow named after `episode_id`, newest first."""
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[episode_id])),
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[episode_deployment_id()])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
        )


def failed_run_count(episode_id: str) -> int:
    """How many runs of an episode ended failed, crashed or cancelled."""
    failed = {StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
    return sum(1 for run in episode_runs(episode_id) if run.state and run.state.type in failed)


def deployment_served(deployment_id: uuid.UUID) -> bool:
    """Whether a runner (`reelgate up` or a worker) is polling the deployment right now."""
    with get_client(sync_client=True) as client:
        return client.read_deployment(deployment_id).status == DeploymentStatus.READY


def execute_run(flow_run_id: uuid.UUID) -> int:
    """Execute a flow run in a child process (its logs go to this terminal); return its exit code."""
    env = {**os.environ, "PREFECT__FLOW_ENTRYPOINT": FLOW_ENTRYPOINT, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "prefect.engine", str(flow_run_id)], env=env).returncode


def read_run(flow_run_id: uuid.UUID) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def wait_until_settled(flow_run_id: uuid.UUID, timeout_s: float = 3600.0, poll_s: float = 1.0) -> FlowRun:
    """Poll until the run waits for review, finishes, or fails."""
    deadline = time.monotonic() + timeout_s
    while True:
        run = read_run(flow_run_id)
        if run.state and run.state.type in SETTLED:
            return run
        if time.monotonic() > deadline:
            raise BackendUnavailable(f"flow run {flow_run_id} did not settle in {timeout_s:.0f} s (state {run.state_name})")
        time.sleep(poll_s)


def drive_run(flow_run_id: uuid.UUID, deployment_id: uuid.UUID, timeout_s: float = 3600.0) -> FlowRun:
    """Get a scheduled run executed (by a serving runner if any, else here) and wait for it to settle."""
    if not deployment_served(deployment_id):
        execute_run(flow_run_id)
    return wait_until_settled(flow_run_id, timeout_s)


@dataclass
class WaitingRun:
    flow_run_id: uuid.UUID
    episode_id: str
    waiting_since: str
    timeout_at: str | None


def waiting_runs(deployment_id: uuid.UUID | None = None) -> list[WaitingRun]:
    """Runs suspended at the review gate, newest first."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))),
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])) if deployment_id else None,
            sort=FlowRunSort.START_TIME_DESC,
        )
    result = []
    for run in runs:
        details = run.state.state_details if run.state else None
        result.append(WaitingRun(
            flow_run_id=run.id,
            episode_id=run.name,
            waiting_since=run.state.timestamp.isoformat(timespec="seconds") if run.state else "",
            timeout_at=details.pause_timeout.isoformat(timespec="seconds") if details and details.pause_timeout else None,
        ))
    return result


def find_run(run_or_episode: str) -> FlowRun:
    """A flow run by its id, or the newest run named after an episode id."""
    try:
        return read_run(uuid.UUID(run_or_episode))
    except ValueError:
        pass
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run_or_episode])),
            sort=FlowRunSort.START_TIME_DESC, limit=1,
        )
    if not runs:
        raise InputError(f"no flow run or episode named {run_or_episode!r}; `reelgate review list` shows the waiting ones")
    return runs[0]


def episode_dir_of(run: FlowRun) -> Path:
    """Where a run's episode lives on this machine (this machine's data folder, not the run's word)."""
    return Settings().episodes_dir / run.parameters["request"]["episode_id"]


def series_deployment_id(series_id: str) -> uuid.UUID:
    with get_client(sync_client=True) as client:
        return client.read_deployment_by_name(f"{SERIES_FLOW}/{series_id}").id


def next_scheduled_run(deployment_id: uuid.UUID) -> FlowRun | None:
    """The deployment's earliest run still waiting to start (the schedule's next fire), if any."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1,
        )
    return runs[0] if runs else None


# ------------------------------------------------------------------ variants (sweeps of one shot)

SWEEP_DEPLOYMENT = "sweep-shot/variants"

SWEEP_ENTRYPOINT = "flows.variants.sweep_shot"


def start_sweep(
    plan: ShotPlan, shot: int, knobs: dict[str, list[str]], seeds: int = 1, *, sweep_id: str | None = None,
    plan_file: str | Path | None = None, episode_id: str | None = None, episode_version: str | None = None,
    created_by: str = "owner", options: RunOptions | None = None, settings: Settings | None = None,
    idempotency_key: str | None = None,
) -> tuple[FlowRun, str]:
    """A scheduled run of the variants deployment for one shot; (run, sweep id).

    The sweep is checked here first (knobs, the take limit, the plan limits) and refused with
    an InputError before any run is created; then its record is saved as `queued` (with its
    planned takes), so it lists at once. The run's parameters are the plan, the shot, the
    knobs, the seeds, the ids and the run options, never settings. A runner serving the
    deployment (`reelgate up`) picks it up; otherwise see `execute_sweep`.
    plan: the whole plan (a plan file's, or an episode's at the version under review).
    shot: 1-based. knobs: knob -> values ("camera": ["push", "track"], "strength:storm": ["0.5", "1.5"]).
    plan_file: for a plan-file sweep, where a selected take is written back (absolute path); it is kept
        in the sweep's record only, never in the run's parameters.
    episode_id, episode_version: for an episode sweep (the review page).
    settings: this side's settings, for the up-front checks and the record (default: Settings()).
    idempotency_key: with a key, at most one run is created per key (a double click).
    """

    from editorial.variants import SWEEP_FILE, open_sweep, save_sweep, sweep_dir

    settings = settings or Settings()
    plan_file = str(Path(plan_file).resolve()) if plan_file else None
    sweep = open_sweep(settings, plan, shot, knobs, seeds, sweep_id=sweep_id, plan_file=plan_file,
                       episode_id=episode_id, episode_version=episode_version, created_by=created_by)
    sweep_id = sweep.sweep_id
    parameters = {
        "plan": plan.model_dump(mode="json"), "shot": shot, "knobs": sweep.knobs,
        "seeds": seeds, "sweep_id": sweep_id, "episode_id": episode_id, "episode_version": episode_version,
        "created_by": created_by,
    }
    if options is not None:
        parameters["options"] = options.model_dump(mode="json", exclude_none=True)
    # The record is saved before the run exists: the plan file a selected take is written into is
    # read by the run from this record only (a run parameter could name any file on the page's host).
    record = sweep_dir(settings.data_dir, sweep_id) / SWEEP_FILE
    made_record = not record.is_file()  # a rerun keeps its record and marks
    if made_record:
        save_sweep(settings.data_dir, sweep)
    try:
        run = _create_sweep_run(sweep_id, episode_id, parameters, idempotency_key)
    except BaseException:
        if made_record:  # no run: no queued sweep waiting for one on the page
            record.unlink(missing_ok=True)
        raise
    return run, sweep_id


def _create_sweep_run(sweep_id: str, episode_id: str | None, parameters: dict, idempotency_key: str | None) -> FlowRun:
    with get_client(sync_client=True) as client:
        deployment_id = sweep_deployment_id()
        from prefect.states import Scheduled

        # Someone waits at the page for it: high priority, on a pool (the deployment's queue is
        # high) and under a runner (scheduled back, as a high episode is; see create_episode_run).
        run = client.create_flow_run_from_deployment(
            deployment_id, parameters=parameters, name=sweep_id,
            tags=["reelgate", "variants", "priority:high", *([f"episode:{episode_id}"] if episode_id else [])],
            idempotency_key=idempotency_key,
            state=Scheduled(scheduled_time=datetime.now(timezone.utc) - RUNNER_HEAD_START,
                            message="high priority: scheduled back so that it is taken first"),
        )
    return run


def sweep_deployment_id() -> uuid.UUID:
    """The id of the variants deployment on the server (`reelgate up`, `reelgate page` or `reelgate variants` applied it)."""
    return deployment_id_by_name(SWEEP_DEPLOYMENT)


def execute_sweep(flow_run_id: uuid.UUID, log_file: Path | None = None) -> subprocess.Popen:
    """Start executing a sweep run in a child process (its logs to `log_file`, else this terminal)."""
    env = {**os.environ, "PREFECT__FLOW_ENTRYPOINT": SWEEP_ENTRYPOINT, "PYTHONUNBUFFERED": "1"}
    out = open(log_file, "ab") if log_file is not None else None  # noqa: SIM115 - the child holds it
    try:
        return subprocess.Popen([sys.executable, "-m", "prefect.engine", str(flow_run_id)], env=env,
                                stdout=out, stderr=subprocess.STDOUT if out else None)
    finally:
        if out is not None:
            out.close()


ZOMBIE_AUTOMATION = "reelgate: mark silent runs crashed"
RERUN_AUTOMATION = "reelgate: re-run crashed runs"
HEARTBEAT_MISSES = 2  # heartbeats a run may miss before it is taken for dead
SILENT_MESSAGE = "reelgate: no heartbeat"  # how the first automation's Crashed state begins: the second matches it
CRASH_RERUNS = 2  # a run that went silent this many times stays Crashed (a machine that dies on it every time)


def ensure_crash_recovery(heartbeat_s: int = 30) -> dict[str, uuid.UUID]:
    """Two automations on the server, so a run whose worker died is run again (idempotent).

    A worker killed with its flow run leaves the run Running for ever: Prefect's server has no
    built-in zombie detection (Prefect Cloud's is a managed automation). The first automation
    marks a reelgate run Crashed when its heartbeats (PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    `heartbeat_s`, 30 at least) stop for HEARTBEAT_MISSES intervals; a run that suspends at
    the review gate or ends says so first. The second puts a run the first marked (and only
    such a run: one whose worker reported it Crashed, e.g. a flow that cannot import, would
    crash again) back to Scheduled on its queue, at most CRASH_RERUNS times: any worker of the
    pool takes it, and it replays from the top with every finished task cached, so only the
    interrupted task is made again.
    Returns the automations' ids by name.
    """
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    runs = ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]})
    silent = ResourceSpecification({
        "prefect.resource.id": ["prefect.flow-run.*"], "prefect.state-message": f"{SILENT_MESSAGE}*",
        # The run count when it went silent: 1 on its first attempt.
        "prefect.run-count": [str(n) for n in range(1, CRASH_RERUNS + 1)],
    })
    ours = ResourceSpecification({"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.reelgate"})
    ended = {f"prefect.flow-run.{name}" for name in (
        "Completed", "Failed", "Cancelled", "Cancelling", "Crashed", "Paused", "Suspended", "AwaitingRetry")}
    wanted = {
        ZOMBIE_AUTOMATION: AutomationCore(
            name=ZOMBIE_AUTOMATION,
            description="A reelgate run whose heartbeats stopped (its worker died) is marked Crashed.",
            trigger=EventTrigger(
                after={"prefect.flow-run.heartbeat"}, expect={"prefect.flow-run.heartbeat", *ended},
                match=runs, match_related=ours, for_each={"prefect.resource.id"},
                posture=Posture.Proactive, threshold=1, within=timedelta(seconds=HEARTBEAT_MISSES * max(heartbeat_s, 30)),
            ),
            actions=[ChangeFlowRunState(state=StateType.CRASHED, force=True,
                                        message=f"{SILENT_MESSAGE} for {HEARTBEAT_MISSES} intervals: its worker or machine died")],
        ),
        RERUN_AUTOMATION: AutomationCore(
            name=RERUN_AUTOMATION,
            description="A reelgate run marked Crashed for its silence is scheduled again; its finished tasks are cached.",
            trigger=EventTrigger(
                expect={"prefect.flow-run.Crashed"}, match=silent, match_related=ours, for_each={"prefect.resource.id"},
                posture=Posture.Reactive, threshold=1, within=timedelta(0),
            ),
            actions=[ChangeFlowRunState(state=StateType.SCHEDULED, force=True,
                                        message="crashed: scheduled again (finished tasks are cached)")],
        ),
    }
    ids: dict[str, uuid.UUID] = {}
    with get_client(sync_client=True) as client:
        for name, automation in wanted.items():
            for old in client.read_automations_by_name(name):
                client.delete_automation(old.id)  # replaced: its heartbeat window may have changed
            ids[name] = client.create_automation(automation)
    return ids
