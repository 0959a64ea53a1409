"""`reelgate up --workers 2 --until-review`: the example episode reaches the review gate through two real
`prefect worker start` processes on the work pool, and no worker process outlives the command.

Integration tier: the session's Prefect server (tests/conftest.py); `up` runs as a subprocess of
this checkout, as a user runs it, on a pool of its own: its name is this session's alone, so neither
another test's deployments nor another session's workers on this machine (the leftover check looks
at every process) carry it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.test_workers import alive

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
POOL = f"test-workers-up-{uuid.uuid4().hex[:8]}"


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
        assert f"2 worker(s) polling the pool {POOL}" in out
        assert "(queue high)" in out
        assert re.search(r"episode weaver-and-herdsman-\S+: awaiting_review", out), out
        assert f"stopped 2 worker(s): pid {pids[0]}, {pids[1]}" in out
        for pid in pids:
            assert not alive(pid), f"worker pid {pid} outlived `up`"
        leftovers = [p.pid for p in psutil.process_iter(["cmdline"])
                     if POOL in " ".join(p.info["cmdline"] or [])]
        assert leftovers == [], f"processes of the pool {POOL} left behind: {leftovers}"

        from flows import runs

        run = runs.read_run(run_id)
        assert run.state.type.value == "PAUSED" and run.work_queue_name == "high"
        assert run.work_pool_name == POOL  # the run itself was taken from the pool
        assert runs.deployment_pool(run.deployment_id) == POOL  # the runs went through the pool
    finally:
        _forget(run_id)


def test_a_real_worker_checks_the_pool_s_recorded_data_folder(prefect_server, tmp_path):
    """`reelgate worker --check` against the session's server, as from another machine (its URL, its secret):
    the data folder the pool recorded passes; another folder, or an empty one at no mark, is refused."""
    from flows import deployments
    from flows.environment import auth_file
    from flows.workers import DATA_MARK

    settings = prefect_server
    setup = deployments.apply_to_pool([], settings, POOL)
    try:
        assert setup.data["path"] == str(settings.data_dir)
        assert (settings.data_dir / DATA_MARK).read_text().strip() == setup.data["mark"]
        remote = {**os.environ, "PYTHONPATH": str(ROOT),
                  "PREFECT_API_URL": settings.local_api_url.replace("127.0.0.1", "localhost"),
                  "PREFECT_API_AUTH_STRING": auth_file(settings).read_text().strip()}

        def check(data_dir: Path) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "cli", "worker", "--pool", POOL, "--check"], cwd=ROOT,
                                  env={**remote, "REELGATE_DATA_DIR": str(data_dir)}, capture_output=True,
                                  text=True, timeout=60)

        ok = check(settings.data_dir)
        assert ok.returncode == 0 and "checks passed" in ok.stdout, ok.stdout + ok.stderr
        assert f"prefect worker start --pool {POOL} --type process --limit 1" in ok.stdout
        other = check(tmp_path)
        assert other.returncode == 2
        assert f"REELGATE_DATA_DIR={tmp_path} differs from the pool {POOL}'s data folder {settings.data_dir}" in other.stderr
    finally:
        _forget(None)
