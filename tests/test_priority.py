"""Priorities (issue 19): the queue table, priority checks, and which queue each way of starting an episode picks.

Fast tier: no Prefect server. Prefect's client is replaced at the one boundary the runs
module talks through (`flows.runs.get_client`); the CLI's Prefect modules by fakes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

import cli.batch
import cli.episode
from cli import build_parser, main
from flows import runs
from reelgate.errors import ConfigError, InputError
from reelgate.records import EpisodeRequest
from reelgate.settings import PRIORITY_NAMES, PrioritySettings, Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _session_data_dir_restored(monkeypatch):
    """`--data-dir` exports REELGATE_DATA_DIR; put the session's back after each test."""
    monkeypatch.setenv("REELGATE_DATA_DIR", os.environ["REELGATE_DATA_DIR"])


# ---- the queue table -------------------------------------------------------------------------

def test_the_queue_table_is_high_normal_low_with_1_taken_first():
    assert PRIORITY_NAMES == ("high", "normal", "low")
    assert Settings().priorities.table() == {"high": 1, "normal": 2, "low": 3}
    assert Settings().priorities.pool == "reelgate"


def test_every_priority_field_is_described():
    for name, field in PrioritySettings.model_fields.items():
        assert field.description, name
    assert Settings.model_fields["priorities"].description


def test_priorities_and_pool_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("REELGATE_PRIORITIES__POOL", "gpu-farm")
    monkeypatch.setenv("REELGATE_PRIORITIES__LOW", "9")
    settings = Settings()
    assert settings.priorities.pool == "gpu-farm"
    assert settings.priorities.table() == {"high": 1, "normal": 2, "low": 9}


@pytest.mark.parametrize("numbers", [{"high": 2, "normal": 2}, {"high": 3, "normal": 2, "low": 1}])
def test_priorities_out_of_order_or_shared_are_refused_naming_the_settings(numbers):
    with pytest.raises(ConfigError, match="REELGATE_PRIORITIES__HIGH"):
        PrioritySettings(**numbers)


def test_an_unknown_priority_lists_the_known_ones():
    with pytest.raises(InputError, match="unknown priority 'urgent'; the priorities are high, normal, low"):
        runs.check_priority("urgent")
    assert runs.check_priority("low") == "low"


# ---- which queue a run is created on ---------------------------------------------------------

class FakeClient:
    """Prefect's sync client, as far as flows.runs uses it to create a run."""

    def __init__(self, pool: str | None):
        self.pool = pool
        self.queues = set(PRIORITY_NAMES)
        self.created: list[dict] = []
        self.deployments_read = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read_deployment(self, deployment_id):
        self.deployments_read += 1
        return SimpleNamespace(work_pool_name=self.pool)

    def read_work_queue_by_name(self, name, work_pool_name):
        from prefect.exceptions import ObjectNotFound

        if name not in self.queues:
            raise ObjectNotFound(http_exc=Exception("404"))
        return SimpleNamespace(name=name, priority=PRIORITY_NAMES.index(name) + 1)

    def create_flow_run_from_deployment(self, deployment_id, **kwargs):
        self.created.append(kwargs)
        return SimpleNamespace(id=uuid.uuid4(), **kwargs)


@pytest.fixture
def client(monkeypatch):
    fake = FakeClient(pool="reelgate")
    monkeypatch.setattr(runs, "get_client", lambda **_: fake)
    return fake


REQUEST = EpisodeRequest(episode_id="fox-1", prompt="A fox runs across the snowy hills.")


@pytest.mark.parametrize("priority", PRIORITY_NAMES)
def test_on_a_pool_the_run_waits_in_its_priority_queue(client, priority):
    runs.create_episode_run(uuid.uuid4(), REQUEST, priority=priority, idempotency_key="k")
    (created,) = client.created
    assert created["work_queue_name"] == priority
    assert f"priority:{priority}" in created["tags"]
    assert created["idempotency_key"] == "k"
    assert (created["state"] is not None) == (priority == "high")  # scheduled back (see the runner test)


def test_a_pool_without_the_priority_queue_is_refused_naming_the_command(client):
    client.queues = {"default"}  # a pool made by hand: Prefect would add the queue last, with any priority
    with pytest.raises(ConfigError, match="the work pool 'reelgate' has no queue 'high'.*`reelgate pool reelgate`"):
        runs.create_episode_run(uuid.uuid4(), REQUEST, priority="high")
    assert client.created == []


def test_served_by_a_runner_a_high_run_is_scheduled_back_and_the_others_now(client):
    """`reelgate up` has no pool: its runner takes the earliest scheduled run first."""
    from datetime import datetime, timezone

    client.pool = None
    for priority in PRIORITY_NAMES:
        runs.create_episode_run(uuid.uuid4(), REQUEST, priority=priority)
    high, normal, low = client.created
    assert [c["work_queue_name"] for c in client.created] == [None, None, None]
    assert "priority:high" in high["tags"] and "priority:low" in low["tags"]
    assert high["state"].is_scheduled()
    back = datetime.now(timezone.utc) - high["state"].state_details.scheduled_time
    assert abs(back - runs.RUNNER_HEAD_START).total_seconds() < 60
    assert normal["state"] is None and low["state"] is None


def test_without_a_priority_the_deployment_queue_is_used_and_nothing_else_is_asked(client):
    runs.create_episode_run(uuid.uuid4(), REQUEST)
    assert client.created[0]["work_queue_name"] is None and client.deployments_read == 0


def test_an_unknown_priority_creates_nothing(client):
    with pytest.raises(InputError, match="high, normal, low"):
        runs.create_episode_run(uuid.uuid4(), REQUEST, priority="urgent")
    assert client.created == []


def test_start_episode_refuses_an_unknown_priority_before_touching_the_server(monkeypatch, tmp_path):
    monkeypatch.setattr(runs, "get_client", lambda **_: pytest.fail("the server was asked"))
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    with pytest.raises(InputError, match="unknown priority 'asap'"):
        runs.start_episode(uuid.uuid4(), REQUEST, Settings(), priority="asap")


def test_the_priority_is_no_part_of_the_idempotency_key(client, monkeypatch, tmp_path):
    """Re-running the same request with another priority gets the same key, so the same run back."""
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(runs, "live_runs", lambda episode_id: [])
    monkeypatch.setattr(runs, "failed_run_count", lambda episode_id: 0)
    for priority in ("high", "low", None):
        runs.start_episode(uuid.uuid4(), REQUEST, Settings(), priority=priority)
    keys = {c["idempotency_key"] for c in client.created}
    assert len(keys) == 1
    assert [c["work_queue_name"] for c in client.created] == ["high", "low", None]


# ---- who picks which priority ----------------------------------------------------------------

def test_the_command_line_defaults_episode_high_and_batch_normal():
    parser = build_parser()
    assert parser.parse_args(["episode", "A fox."]).priority == "high"
    assert parser.parse_args(["episode", "A fox.", "--priority", "low"]).priority == "low"
    assert parser.parse_args(["batch", "b.jsonl"]).priority == "normal"
    assert parser.parse_args(["batch", "b.jsonl", "--priority", "high"]).priority == "high"


def test_an_unknown_priority_on_the_command_line_lists_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["episode", "A fox.", "--priority", "urgent"])
    assert exit_.value.code == 2
    assert "choose from 'high', 'normal', 'low'" in capsys.readouterr().err


class FakeFlows:
    """flows.server, flows.runs and flows.deployments as the CLI uses them, recording each start."""

    def __init__(self):
        self.started: list[tuple[str, str | None]] = []
        self.server = SimpleNamespace(ensure_server=lambda settings: "http://fake/api", ui_url=lambda *a: "http://ui")
        self.deployments = SimpleNamespace(ensure_deployment=lambda: uuid.uuid4())
        self.runs = SimpleNamespace(start_episode=self.start_episode,
                                    drive_run=lambda run_id, deployment_id: SimpleNamespace(id=run_id))

    def start_episode(self, deployment_id, request, settings, **kwargs):
        self.started.append((request.episode_id, kwargs.get("priority")))
        return SimpleNamespace(id=uuid.uuid4(), state=None, state_name="Scheduled"), False

    def __call__(self, settings):
        return self.server, self.runs, self.deployments


def test_reelgate_episode_starts_its_run_high_unless_told(monkeypatch):
    flows = FakeFlows()
    monkeypatch.setattr(cli.episode, "import_flows", flows)
    monkeypatch.setattr(cli.episode, "print_outcome", lambda run, settings: 0)
    assert main(["episode", "A fox runs across the snowy hills.", "--id", "fox-hand"]) == 0
    assert main(["episode", "A fox runs across the snowy hills.", "--id", "fox-low", "--priority", "low"]) == 0
    assert flows.started == [("fox-hand", "high"), ("fox-low", "low")]


def test_reelgate_batch_starts_its_runs_normal_unless_told(monkeypatch, tmp_path):
    monkeypatch.setenv("REELGATE_SCREENING__SEMANTIC", "false")  # the lists; the semantic model is integration's
    flows = FakeFlows()
    monkeypatch.setattr(cli.batch, "import_flows", flows)
    batch = tmp_path / "b.jsonl"
    batch.write_text("\n".join(json.dumps({"id": f"b-{i}", "story": "A fox runs across the snowy hills."})
                               for i in range(2)) + "\n", encoding="utf-8")
    assert main(["--data-dir", str(tmp_path / "data"), "batch", str(batch), "--no-wait"]) == 0
    assert main(["--data-dir", str(tmp_path / "data2"), "batch", str(batch), "--no-wait", "--priority", "high"]) == 0
    assert flows.started == [("b-0", "normal"), ("b-1", "normal"), ("b-0", "high"), ("b-1", "high")]


def test_a_series_fire_queues_its_episode_low(monkeypatch, tmp_path):
    import flows.series as series_flow

    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    started = []

    def start_episode(deployment_id, request, settings, **kwargs):
        started.append((request.episode_id, kwargs["priority"], kwargs["idempotency_key"]))
        return SimpleNamespace(id=uuid.uuid4()), False

    monkeypatch.setattr(series_flow.runs, "start_episode", start_episode)
    monkeypatch.setattr(series_flow.runs, "episode_deployment_id", lambda: uuid.uuid4())
    monkeypatch.setattr(series_flow.runs, "failed_run_count", lambda episode_id: 0)
    monkeypatch.setattr(series_flow, "get_run_context",
                        lambda: SimpleNamespace(flow_run=SimpleNamespace(auto_scheduled=False, expected_start_time=None)))
    monkeypatch.setattr(series_flow, "get_run_logger", lambda: SimpleNamespace(info=lambda *a: None))
    monkeypatch.setattr(series_flow.server, "ui_url", lambda *a: "http://ui")
    result = series_flow.produce_next_episode.fn(str(ROOT / "examples" / "constellations.yaml"))
    assert result["status"] == "queued"
    ((episode_id, priority, key),) = started
    assert priority == series_flow.SERIES_PRIORITY == "low"
    assert key == series_flow.episode_idempotency_key(episode_id, 0)  # unchanged by the priority


# ---- reelgate pool without a server ----------------------------------------------------------

def test_reelgate_pool_says_when_the_server_does_not_answer(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"REELGATE_DATA_DIR": str(tmp_path), "REELGATE_PREFECT_API_URL": "http://127.0.0.1:9/api",
                "PYTHONPATH": str(ROOT)})
    done = subprocess.run([sys.executable, "-m", "cli", "pool", "farm"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "the Prefect server at http://127.0.0.1:9/api does not answer; start it or unset PREFECT_API_URL" \
        in done.stderr
