"""A served series: its cron schedule fires and produces each episode exactly once.

`reelgate up --series FILE` runs as a user runs it, against its own Prefect server and
data folder (so the every-minute schedule never leaks into other tests), and the test
watches the server through its REST API.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from editorial.manifest import load_manifest
from reelgate.settings import Settings

pytestmark = pytest.mark.integration

SERIES = """\
id: fables
title: Tiny Fables
language: en
timezone: Europe/Berlin
schedule: "* * * * *"
style_preset: storybook
music_mood: calm
review: {timeout_hours: 1}
episodes:
  - {id: fox, title: The Fox, story: A red fox runs across the snowy hill at dusk.}
  - {id: owl, title: The Owl, story: An old owl watches the moon rise over the pines.}
  - {id: hare, title: The Hare, story: A white hare jumps over the frozen stream.}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, timeout_s: float, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        assert proc.poll() is None, f"reelgate up exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; up's output:\n{log.read_text()[-3000:]}")


def test_schedule_produces_the_next_episode_once_even_when_fired_twice(tmp_path):
    series_file = tmp_path / "fables.yaml"
    series_file.write_text(SERIES, encoding="utf-8")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(REELGATE_DATA_DIR=str(tmp_path / "data"), REELGATE_SERVER_PORT=str(port),
               REELGATE_REVIEW_PORT=str(_free_port()), PYTHONUNBUFFERED="1")
    settings = Settings(data_dir=tmp_path / "data", server_port=port)
    from flows.environment import api_client

    # The server `up` starts is closed: this client signs in with the secret it keeps in the data folder.
    api = api_client(settings, timeout=10)
    log = tmp_path / "up.log"

    def runs(**flow_runs) -> list[dict]:
        return api.post("/flow_runs/filter", json={"flow_runs": flow_runs, "limit": 200}).raise_for_status().json()

    def runs_named(name: str) -> list[dict]:
        return runs(name={"any_": [name]})

    def status(episode_id: str) -> str | None:
        try:
            return load_manifest(settings.episodes_dir / episode_id).status.value
        except Exception:
            return None

    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "up", "--series", str(series_file), "--parallel", "2"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=Path(__file__).parent.parent,
        )
    try:
        def deployment() -> dict | None:
            try:
                reply = api.get("/deployments/name/produce-next-episode/fables")
            except httpx.HTTPError:
                return None
            return reply.json() if reply.status_code == 200 else None

        series_dep = _wait("the series deployment", deployment, 120, proc, log)
        schedule = series_dep["schedules"][0]["schedule"]
        assert schedule["cron"] == "* * * * *" and schedule["timezone"] == "Europe/Berlin"
        printed = _wait("up's series line", lambda: "series fables" in log.read_text(), 60, proc, log)
        assert printed and "Europe/Berlin" in log.read_text()

        # Fire it twice by hand while the first episode is still being produced.
        for _ in range(2):
            api.post(f"/deployments/{series_dep['id']}/create_flow_run", json={}).raise_for_status()
        _wait("the fox at the review gate", lambda: status("fables-fox") == "awaiting_review", 150, proc, log)
        # The schedule's next fire (every minute) takes the next episode.
        _wait("the owl's run", lambda: runs_named("fables-owl"), 90, proc, log)

        fox_runs = runs_named("fables-fox")
        assert len(fox_runs) == 1, [r["id"] for r in fox_runs]
        assert fox_runs[0]["state_type"] == "PAUSED"  # suspended at the gate: no process held
        assert len(runs_named("fables-owl")) == 1

        fires = runs(deployment_id={"any_": [series_dep["id"]]}, state={"type": {"any_": ["COMPLETED"]}})
        manual = [r for r in fires if not r["auto_scheduled"]]
        scheduled = [r for r in fires if r["auto_scheduled"]]
        assert len(manual) == 2, "both hand-made fires ran and completed"
        assert scheduled, "no scheduled fire ran: the server's scheduler made no runs"
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as a user stops it
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        from flows import server

        server.stop_server(settings)
        api.close()
