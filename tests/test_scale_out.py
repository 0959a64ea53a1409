"""Scale-out on Prefect's own parts (issue 20): a Prefect server on PostgreSQL, a process work pool
with reelgate's priority queues, two `prefect worker start` workers, and one of them killed
with SIGKILL in the middle of a shot.

Integration tier, and slow (several minutes, most of it the GPU slot's lease running out):
tests/scaleout.py makes the cluster, the server and the workers and tears them down. What a
user relies on: every episode reaches review exactly once; the dead worker's run is marked
Crashed (flows.runs.ensure_crash_recovery: no heartbeat) and scheduled again, and the other
worker replays it with its finished tasks cached (the generator's call count: one extra
call, for the shot that was cut); the GPU slot the dead run held comes back when its lease
runs out, and none is held at the end.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.scaleout import ScaleOut, why_no_postgres

pytestmark = pytest.mark.integration

POOL = "scale-out"
EPISODES = 12
HEARTBEAT_S = 30  # Prefect's minimum (PREFECT_FLOWS_HEARTBEAT_FREQUENCY)
LEASE_S = 60  # REELGATE_GENERATION__GPU_LEASE_S (the server's minimum): how long a dead worker may keep the GPU slot (tasks/generation.gpu_slot)
REPOSSESS_S = 5  # PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS: how often expired leases are freed
SHOT_SLEEP_S = 3
KILL_AFTER = EPISODES - 4  # shots done before the kill: the rest wait out the lease together
SENTENCES = [
    "A red fox runs across the snowy hill.", "An owl watches the moon over the pines.",
    "A white hare jumps over the frozen stream.", "A small boat drifts on the calm lake.",
    "A lantern glows in the quiet village street.", "A kite rises above the green field.",
]


def _calls(path) -> list[tuple[str, str, str, int]]:
    """(start|done, episode, shot, pid) per line the generator wrote."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            what, episode, shot, _attempt, pid = line.split()
            rows.append((what, episode, shot, int(pid.removeprefix("pid"))))
    return rows


@pytest.fixture
def cluster(tmp_path):
    reason = why_no_postgres()
    if reason:
        pytest.skip(reason)
    calls = tmp_path / "calls.txt"
    scale = ScaleOut(
        env={
            "REELGATE_GENERATION__BACKEND": "tests.fakes:SlowGpuCountingAnimatic",
            "REELGATE_GENERATION__GPU_SLOTS": "1", "REELGATE_GENERATION__GPU_LEASE_S": str(LEASE_S),
            "REELGATE_GENERATION__WIDTH": "192", "REELGATE_GENERATION__HEIGHT": "108",
            "REELGATE_GENERATION__FPS": "8",
            "REELGATE_PLANNING__SHOT_SECONDS": "1", "REELGATE_PLANNING__MAX_SHOTS": "1",
            "REELGATE_REVIEW_PORT": "0", "REELGATE_PRIORITIES__POOL": POOL,
            "REELGATE_TEST_CALLS": str(calls), "REELGATE_TEST_SHOT_SLEEP": str(SHOT_SLEEP_S),
        },
        prefect={
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S),
            "PREFECT_RUNNER_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S),  # flows.environment sets the legacy name
            "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": str(REPOSSESS_S),
        },
    )
    scale.calls = calls
    try:
        scale.start_server()
        yield scale
    finally:
        scale.close()


@pytest.mark.timeout(1200)
def test_two_workers_on_postgres_survive_a_worker_killed_mid_shot(cluster):
    from prefect.client.orchestration import get_client

    from editorial.manifest import load_manifest
    from flows import deployments, runs
    from reelgate.records import EpisodeRequest
    from tasks.generation import GPU_LIMIT, ensure_gpu_limit

    t0 = time.monotonic()
    settings = cluster.settings()
    with cluster.client_settings():
        deployment_id = deployments.apply_to_pool([], settings, POOL).deployments[runs.DEPLOYMENT]
        runs.ensure_crash_recovery(HEARTBEAT_S)
        ensure_gpu_limit(1)
        queued = {}
        for i in range(EPISODES):
            request = EpisodeRequest(episode_id=f"scale-{i + 1:02d}", prompt=SENTENCES[i % len(SENTENCES)],
                                     language="en")
            run, attached = runs.start_episode(deployment_id, request, settings,
                                               priority=("high", "normal", "low")[i % 3])
            assert not attached
            queued[request.episode_id] = run.id
    for name in ("worker-a", "worker-b"):
        cluster.start_worker(name, POOL, limit=1)

    # Kill a worker while it makes a shot, late in the queue: the dead run's GPU slot is held
    # until its lease runs out (LEASE_S), and meanwhile no shot anywhere can start.
    victim, killed_episode, killed_at = None, None, None
    deadline = time.monotonic() + 600
    while victim is None:
        rows = _calls(cluster.calls)
        done = {(e, s) for what, e, s, _ in rows if what == "done"}
        if len(done) >= KILL_AFTER:
            for what, episode, shot, pid in rows:
                if what == "start" and (episode, shot) not in done and (name := cluster.group_of(pid)):
                    cluster.kill(name)
                    victim, killed_episode, killed_at, killed_wall = name, episode, time.monotonic(), time.time()
                    break
        assert time.monotonic() < deadline, f"fewer than {KILL_AFTER + 1} shots started in 600 s:\n" + cluster.tail("worker-a")
        time.sleep(0.2)
    starts_at_kill = sum(r[0] == "start" for r in _calls(cluster.calls))
    survivor = "worker-b" if victim == "worker-a" else "worker-a"
    print(f"\nkilled {victim} while it made {killed_episode}'s shot, {killed_at - t0:.0f} s in")

    # Wait for all twelve at the review gate (their runs suspended), watching the GPU slot come back.
    slot_back_at, states = None, {}
    deadline = time.monotonic() + LEASE_S + 300
    with cluster.client_settings(), get_client(sync_client=True) as client:
        while True:
            states = {e: client.read_flow_run(i) for e, i in queued.items()}
            # One slot: a shot starting after the kill means the dead run's slot was given back.
            if slot_back_at is None and sum(r[0] == "start" for r in _calls(cluster.calls)) > starts_at_kill:
                slot_back_at = time.monotonic()
            settled = [r for r in states.values() if r.state and r.state.type.value == "PAUSED"]
            if len(settled) == EPISODES:
                break
            bad = {e: r.state_name for e, r in states.items() if r.state and r.state.type.value in ("FAILED", "CANCELLED")}
            assert not bad, f"episodes ended badly: {bad}\n{cluster.tail(survivor)}"
            assert time.monotonic() < deadline, (
                "not all episodes reached review: " + ", ".join(f"{e} {r.state_name}" for e, r in states.items())
                + "\n" + cluster.tail(survivor))
            time.sleep(1.0)
        history = client.read_flow_run_states(queued[killed_episode])
        limit = client.read_global_concurrency_limit_by_name(GPU_LIMIT)
        all_runs = client.read_flow_runs()
    finished_at = time.monotonic()

    # Every episode at review exactly once: one run each, one manifest, one version, nothing superseded.
    assert sorted(p.name for p in settings.episodes_dir.iterdir()) == sorted(queued)
    assert Counter(r.name for r in all_runs if r.deployment_id == deployment_id) == Counter(list(queued))
    for episode_id in queued:
        manifest = load_manifest(settings.episodes_dir / episode_id)
        assert manifest.status.value == "awaiting_review", episode_id
        assert manifest.review_round == 1 and manifest.version is not None and not manifest.superseded, episode_id
        assert manifest.flow_run_id == str(queued[episode_id])
        assert not (settings.episodes_dir / episode_id / "versions").exists()

    # The killed run: marked Crashed for its silence, scheduled again, replayed by the survivor.
    names = [s.name for s in sorted(history, key=lambda s: s.timestamp)]
    assert "Crashed" in names, names
    assert names.index("Crashed") < len(names) - 1 and "Scheduled" in names[names.index("Crashed"):], names
    assert states[killed_episode].run_count >= 2
    crashed = next(s for s in sorted(history, key=lambda s: s.timestamp) if s.name == "Crashed")
    detected_s = crashed.timestamp.timestamp() - killed_wall
    assert "no heartbeat" in (crashed.message or ""), crashed.message
    assert detected_s <= 2 * HEARTBEAT_S * 2 + 30  # the last heartbeat, two missed, the trigger's evaluation

    # The generator's call count: one call per episode, plus one for the shot the kill cut.
    rows = _calls(cluster.calls)
    starts = Counter(e for what, e, _, _ in rows if what == "start")
    dones = Counter(e for what, e, _, _ in rows if what == "done")
    assert dones == Counter(list(queued)), dones
    assert starts == Counter(list(queued)) + Counter([killed_episode]), starts
    assert str(queued[killed_episode]) in cluster.logs[survivor].read_text(errors="replace")  # the survivor took it

    # The GPU slot: free at the end, and held by the dead run no longer than its lease.
    assert limit.active_slots == 0, limit
    assert slot_back_at is not None
    held = slot_back_at - killed_at
    print(f"crash detected {detected_s:.0f} s after the kill; GPU slot back {held:.0f} s after it (lease {LEASE_S} s); all {EPISODES} at review "
          f"{finished_at - t0:.0f} s after the start; killed run's states: {' -> '.join(names)}")
    assert held <= LEASE_S + REPOSSESS_S + 45  # the lease, the repossessor's loop, the waiting shot's next try


def test_the_server_s_database_check_lets_a_real_postgres_in_and_names_what_it_refused():
    """flows.server.check_database, which `reelgate up` and `reelgate server start` run before a local server
    starts, against a real PostgreSQL: its database passes; a missing one is refused with the reason."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from flows.server import check_database
    from reelgate.errors import ConfigError
    from tests.scaleout import PostgresCluster

    reason = why_no_postgres()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="reelgate-db-check-"))  # not under pytest's 0700 folders: postgres walks in
    os.chmod(root, 0o755)
    cluster = PostgresCluster(root)
    try:
        url = cluster.start()
        check_database(url)
        missing = url.rsplit("/", 1)[0] + "/no_such_db"
        with pytest.raises(ConfigError) as refused:
            check_database(missing)
        message = str(refused.value)
        assert f"database at {missing} refused the connection" in message
        assert 'database "no_such_db" does not exist' in message and "PREFECT_SERVER_DATABASE_CONNECTION_URL" in message
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_wrong_auth_string_is_a_401_naming_the_setting(prefect_server):
    """Against a real server (tests/test_workers.py covers an unreachable one and the data folder)."""
    import os

    from flows.workers import check_server
    from reelgate.errors import ConfigError

    url = os.environ["PREFECT_API_URL"]
    check_server(url, os.environ["PREFECT_API_AUTH_STRING"])  # the session's own secret opens it
    for wrong, said in (("reelgate:not-the-secret", "does not open it"), ("", "no PREFECT_API_AUTH_STRING is set")):
        with pytest.raises(ConfigError) as refused:
            check_server(url, wrong)
        message = str(refused.value)
        assert "401 Unauthorized" in message and url in message and said in message
        assert "PREFECT_API_AUTH_STRING" in message and "PREFECT_SERVER_API_AUTH_STRING" in message
