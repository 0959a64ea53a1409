"""Priorities on a real Prefect server: `reelgate pool` sets the pool up (idempotently), and runs land on their queues.

Integration tier: the session's Prefect server (tests/conftest.py). No worker is started:
the order a worker takes runs in is read from the same server call a worker makes
(`get_scheduled_flow_runs_for_work_pool`); bench/priority.py runs a real worker.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from cli import main

pytestmark = pytest.mark.integration

POOL = "test-priorities"


@pytest.fixture
def pool(prefect_server, monkeypatch):
    """A list for the runs a test starts; afterwards they are cancelled and the episode deployment
    is deleted, so the session's next test applies it afresh, on no pool (Prefect keeps a
    deployment on its pool when it is applied again without one)."""
    monkeypatch.setenv("REELGATE_DATA_DIR", os.environ["REELGATE_DATA_DIR"])
    created = []
    yield created
    _forget_episode_deployment(created)


def _forget_episode_deployment(created=()) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Cancelled

    from flows import runs

    with get_client(sync_client=True) as client:
        for run in created:
            client.set_flow_run_state(run.id, Cancelled(message="test over"), force=True)
        try:
            client.delete_deployment(client.read_deployment_by_name(runs.DEPLOYMENT).id)
        except ObjectNotFound:
            pass


def test_reelgate_pool_sets_up_the_queues_and_is_idempotent(pool, capsys):
    from flows import deployments, runs

    assert main(["pool", POOL]) == 0
    first = capsys.readouterr().out
    assert main(["pool", POOL]) == 0
    second = capsys.readouterr().out

    assert deployments.pool_queues(POOL) == {"high": 1, "normal": 2, "low": 3, "default": 4}
    assert f"work pool {POOL}: created" in first and f"work pool {POOL}: already there" in second
    assert first.count("created") == 4 and second.count("unchanged") == 3
    assert f"prefect worker start --pool {POOL} --type process --limit 1" in second
    assert "api-auth" in second and "REELGATE_DATA_DIR=" in second
    deployment_id = runs.episode_deployment_id()
    assert runs.deployment_pool(deployment_id) == POOL
    # `reelgate episode` re-applies the deployment: it must stay on the pool, on its queue.
    assert deployments.ensure_deployment() == deployment_id
    assert runs.deployment_pool(deployment_id) == POOL


def test_renumbered_priorities_are_applied_and_put_back(pool, monkeypatch, capsys):
    from flows import deployments

    monkeypatch.setenv("REELGATE_PRIORITIES__HIGH", "2")
    monkeypatch.setenv("REELGATE_PRIORITIES__NORMAL", "3")
    monkeypatch.setenv("REELGATE_PRIORITIES__LOW", "5")
    assert main(["pool", POOL]) == 0
    queues = deployments.pool_queues(POOL)
    assert (queues["high"], queues["normal"], queues["low"]) == (2, 3, 5)
    for name in ("HIGH", "NORMAL", "LOW"):
        monkeypatch.delenv(f"REELGATE_PRIORITIES__{name}")
    assert main(["pool", POOL]) == 0
    assert "priority 5 -> 3" in capsys.readouterr().out
    assert deployments.pool_queues(POOL) == {"high": 1, "normal": 2, "low": 3, "default": 4}


def test_a_high_run_lands_on_high_and_is_taken_before_older_low_ones(pool):
    from prefect.client.orchestration import get_client

    from flows import deployments, runs
    from reelgate.records import EpisodeRequest
    from reelgate.settings import Settings

    settings = Settings()
    deployment_id = deployments.apply_to_pool([], settings, POOL).deployments[runs.DEPLOYMENT]
    tag = uuid.uuid4().hex[:6]

    def start(name: str, priority: str | None):
        request = EpisodeRequest(episode_id=f"prio-{name}-{tag}", prompt="A fox runs across the snowy hills.")
        run, attached = runs.start_episode(deployment_id, request, settings, priority=priority)
        assert not attached
        pool.append(run)
        return run

    low = [start(f"low{i}", "low") for i in range(2)]
    plain = start("plain", None)
    high = start("high", "high")
    assert [r.work_queue_name for r in low] == ["low", "low"]
    assert plain.work_queue_name == "normal"  # the episode deployment's own queue
    assert high.work_queue_name == "high"

    # The same request again (another priority): the same run back, on the queue it was created on.
    again, attached = runs.start_episode(deployment_id, EpisodeRequest(
        episode_id=f"prio-high-{tag}", prompt="A fox runs across the snowy hills."), settings, priority="low")
    assert attached and again.id == high.id

    with get_client(sync_client=True) as client:
        offered = client.get_scheduled_flow_runs_for_work_pool(
            POOL, scheduled_before=datetime.now(timezone.utc) + timedelta(seconds=10))
    ours = [r.flow_run.id for r in offered if r.flow_run.id in {x.id for x in pool}]
    # What a worker takes first: high, then normal, then the low ones oldest first.
    assert ours == [high.id, plain.id, low[0].id, low[1].id]


def test_served_by_a_runner_a_high_run_is_taken_before_older_ones(pool):
    """`reelgate up` serves the deployment from no pool; its runner takes the earliest scheduled run first."""
    from prefect.client.orchestration import get_client

    from flows import deployments, runs
    from reelgate.records import EpisodeRequest
    from reelgate.settings import Settings

    settings = Settings()
    _forget_episode_deployment()
    deployment_id = deployments.ensure_deployment()  # as `reelgate up` applies it: no pool
    assert runs.deployment_pool(deployment_id) is None
    tag = uuid.uuid4().hex[:6]
    made = []
    for name, priority in (("low", "low"), ("batch", "normal"), ("hand", "high")):
        request = EpisodeRequest(episode_id=f"runner-{name}-{tag}", prompt="A fox runs across the snowy hills.")
        run, _ = runs.start_episode(deployment_id, request, settings, priority=priority)
        assert run.work_queue_name is None
        made.append(run)
    pool.extend(made)
    with get_client(sync_client=True) as client:
        offered = client.get_scheduled_flow_runs_for_deployments(
            deployment_ids=[deployment_id], scheduled_before=datetime.now(timezone.utc) + timedelta(seconds=10))
    # Prefect's runner (_ScheduledRunPoller) submits in next_scheduled_start_time order.
    order = [r.id for r in sorted(offered, key=lambda r: r.next_scheduled_start_time) if r.id in {m.id for m in made}]
    low, batch, hand = made
    assert order == [hand.id, low.id, batch.id]


def test_series_deploy_puts_the_series_fires_on_low_and_sets_up_the_queues(pool, capsys):
    from pathlib import Path

    from prefect.client.orchestration import get_client

    from flows import deployments, runs

    series_file = Path(__file__).resolve().parent.parent / "examples" / "constellations.yaml"
    assert main(["series", "deploy", str(series_file), "--pool", POOL]) == 0
    assert "low queue" in capsys.readouterr().out
    with get_client(sync_client=True) as client:
        fires = client.read_deployment_by_name(f"{runs.SERIES_FLOW}/constellations")
        episode = client.read_deployment_by_name(runs.DEPLOYMENT)
        try:
            assert (fires.work_pool_name, fires.work_queue_name) == (POOL, "low")
            assert (episode.work_pool_name, episode.work_queue_name) == (POOL, "normal")
            assert deployments.pool_queues(POOL)["low"] == 3
        finally:
            client.delete_deployment(fires.id)  # its schedule must not fire into the rest of the session
