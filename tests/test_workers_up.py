"""`reelgate up --workers 2 --until-review`: the example episode reaches the review gate through two real
`prefect worker start` processes on the work pool, and no worker process outlives the command.

Integration tier: the session's Prefect server (tests/conftest.py); `up` runs as a subprocess of
this checkout, as a user runs it, on its own pool so the other tests' pools are untouched.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
POOL = "test-workers-up"


def _alive(pid: int) -> bool:
    from flows.workers import _alive

    return _alive(pid)


def _forget(run_id: str | None) -> None:
    """Cancel the example at its gate and delete what `up --workers` put on the pool, so the session's
    later tests apply the deployments afresh, on no pool (and the series schedule fires into nothing)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Cancelled

    from flows import runs

    with get_client(sync_client=True) as client:
        if run_id:
            client.set_flow_run_state(run_id, Cancelled(message="test over"), force=True)
        for name in (runs.DEPLOYMENT, runs.SWEEP_DEPLOYMENT, f"{runs.SERIES_FLOW}/constellations"):
            try:
                client.delete_deployment(client.read_deployment_by_name(name).id)
            except ObjectNotFound:
                pass


def test_up_with_two_workers_reaches_the_review_gate_and_leaves_no_worker(prefect_server):
    import psutil

    env = {**os.environ, "PYTHONPATH": str(ROOT), "REELGATE_PRIORITIES__POOL": POOL, "REELGATE_REVIEW_PORT": "0",
           "REELGATE_PLANNING__SHOT_SECONDS": "1"}
    run_id = None
    try:
        done = subprocess.run([sys.executable, "-m", "cli", "up", "--workers", "2", "--until-review"], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=170)
        out = done.stdout + done.stderr
        found = re.search(r"flow run ([0-9a-f-]{36})", out)
        run_id = found[1] if found else None
        assert done.returncode == 0, out
        pids = [int(p) for p in re.findall(r"^worker \d\s+pid (\d+), log ", out, re.M)]
        assert len(pids) == 2, out
        assert "2 worker(s) polling the pool test-workers-up" in out
        assert "(queue high)" in out
        assert re.search(r"episode weaver-and-herdsman-\S+: awaiting_review", out), out
        assert f"stopped 2 worker(s): pid {pids[0]}, {pids[1]}" in out
        for pid in pids:
            assert not _alive(pid), f"worker pid {pid} outlived `up`"
        leftovers = [p.pid for p in psutil.process_iter(["cmdline"])
                     if POOL in " ".join(p.info["cmdline"] or [])]
        assert leftovers == [], f"processes of the pool {POOL} left behind: {leftovers}"

        from flows import runs

        run = runs.read_run(run_id)
        assert run.state.type.value == "PAUSED" and run.work_queue_name == "high"
        assert runs.deployment_pool(run.deployment_id) == POOL  # the runs went through the pool
    finally:
        _forget(run_id)
