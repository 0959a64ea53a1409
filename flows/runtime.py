"""Running episodes on Prefect: the local server, the deployment, executing and resuming runs.

Import `flows.environment.configure_prefect` and call it before importing this module.

An episode is always a run of the `produce-episode/episode` deployment, because the review
gate *suspends* the run: the process exits while a human decides (holding no GPU and no
worker), and on resume the run starts again from the top with every finished task cached.
Whoever resumes a run also gets it executed: by a runner serving the deployment
(`reelgate up`) when one is polling, otherwise in a child process of the caller.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
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
from prefect.flow_runs import resume_flow_run

from editorial.manifest import ReviewDecision
from reelgate.errors import BackendUnavailable, ConfigError, InputError
from reelgate.records import EpisodeRequest
from reelgate.settings import Settings

FLOW_ENTRYPOINT = "flows.episode.produce_episode"
DEPLOYMENT = "produce-episode/episode"
SETTLED = {StateType.PAUSED, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


# --- the server -------------------------------------------------------------------------

def server_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(api_url.rstrip("/") + "/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_server(settings: Settings, wait_s: float = 120.0) -> str:
    """Return the API URL of a healthy Prefect server, starting a local one if needed.

    The local server runs detached (it outlives this command, like a database would),
    with its SQLite database and log under `settings.prefect_home`.
    """
    api_url = os.environ["PREFECT_API_URL"]
    if server_healthy(api_url):
        return api_url
    if api_url.rstrip("/") != settings.local_api_url:
        raise BackendUnavailable(f"the Prefect server at {api_url} does not answer; start it or unset PREFECT_API_URL")
    log_path = settings.prefect_home / "server.log"
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start",
             "--host", settings.server_host, "--port", str(settings.server_port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    (settings.prefect_home / "server.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if server_healthy(api_url):
            return api_url
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise ConfigError(
                f"the local Prefect server exited at start (is port {settings.server_port} taken? "
                f"set REELGATE_SERVER_PORT); log {log_path}:\n" + "\n".join(tail)
            )
        time.sleep(0.5)
    raise BackendUnavailable(f"the local Prefect server did not become healthy in {wait_s:.0f} s; see {log_path}")


def stop_server(settings: Settings) -> bool:
    """Stop the local server started by `ensure_server`; False if none was running."""
    pid_file = settings.prefect_home / "server.pid"
    if not pid_file.is_file():
        return False
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)
    return True


def ui_url(flow_run_id: uuid.UUID | str | None = None) -> str:
    base = os.environ["PREFECT_API_URL"].rstrip("/").removesuffix("/api")
    return f"{base}/runs/flow-run/{flow_run_id}" if flow_run_id else base


# --- the deployment and its runs ---------------------------------------------------------

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


def create_episode_run(deployment_id: uuid.UUID, request: EpisodeRequest, settings: Settings) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.create_flow_run_from_deployment(
            deployment_id,
            parameters={"request": request.model_dump(mode="json"), "settings": settings.model_dump(mode="json")},
            name=request.episode_id,
            tags=["reelgate", *( [f"series:{request.series}"] if request.series else [])],
        )


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


# --- the review queue --------------------------------------------------------------------

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


def resume_with_decision(run: FlowRun, decision: ReviewDecision) -> None:
    if not run.state or run.state.type != StateType.PAUSED:
        raise InputError(
            f"episode {run.name} is not waiting for review (state {run.state_name}); "
            "`reelgate review list` shows the waiting ones"
        )
    resume_flow_run(run.id, run_input=decision.model_dump(mode="json"))


def episode_dir_of(run: FlowRun) -> Path:
    params = run.parameters or {}
    settings = Settings.model_validate(params["settings"]) if "settings" in params else Settings()
    return settings.episodes_dir / params["request"]["episode_id"]


# --- serving (the main job) --------------------------------------------------------------

def serve(
    settings: Settings,
    first: EpisodeRequest | None,
    on_settled,
    until_settled: bool = False,
) -> None:
    """Serve the episode deployment in this process (Ctrl-C stops), optionally queueing `first`.

    on_settled(run) is called once `first` waits for review or ends; with until_settled the
    runner then stops (used by tests and by `reelgate up --until-review`).
    """
    import anyio
    from prefect.runner import Runner

    deployment = episode_deployment()  # built outside the loop: to_deployment is sync-or-async

    async def main() -> None:
        runner = Runner(name="reelgate", query_seconds=2, pause_on_shutdown=False, limit=1)
        deployment_id = await runner.aadd_deployment(deployment)
        async with anyio.create_task_group() as group:
            group.start_soon(runner.start)
            if first is not None:
                run = await anyio.to_thread.run_sync(create_episode_run, deployment_id, first, settings)
                on_settled(None, run)
                settled = await anyio.to_thread.run_sync(wait_until_settled, run.id, 24 * 3600.0, 2.0)
                on_settled(settled, run)
                if until_settled:
                    await runner.astop()
                    group.cancel_scope.cancel()

    anyio.run(main)
