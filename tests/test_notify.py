"""Notifications: a local webhook receiver checks the signature, counts deliveries and times them."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from editorial.notify import (
    SENT_FILE, SIGNATURE_HEADER, TIMESTAMP_HEADER, Event, findings_headline, notify, notify_episode, notify_once,
    verify_signature,
)
from reelgate.errors import ConfigError
from reelgate.settings import NotifySettings, RunOptions, Settings, refuse_run_settings

SECRET = "s3cret-for-the-receiver-only"
TOKEN = "the-owners-review-token-never-sent-0123"


class Receiver:
    """An http.server on 127.0.0.1 in a thread that records what it gets; `fail_first` answers 500 first."""

    def __init__(self, fail_first: int = 0) -> None:
        self.got: list[dict] = []
        self.attempts = 0
        self.fail_first = fail_first
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.got.append({"headers": dict(self.headers), "body": body, "at": time.monotonic()})
                self.send_response(204)
                self.end_headers()
                receiver.arrived.set()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()  # stops in 20 ms, not 0.5 s

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr("editorial.notify.BACKOFF_S", 0.05)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _settings(url: str, **kw) -> NotifySettings:
    return NotifySettings(webhook_url=url, webhook_secret=SECRET, **kw)


def _event(**kw) -> Event:
    fields = dict(kind="awaiting_review", episode_id="ep-1", title="Fox", headline="needs review: 2 findings",
                  review_url="http://127.0.0.1:8765/episodes/ep-1", run_url="http://127.0.0.1:4200/runs/flow-run/x",
                  round=1, at=datetime.now(timezone.utc))
    return Event(**{**fields, **kw})


@pytest.mark.integration  # wall-clock; the fast test below checks what arrives
def test_the_webhook_arrives_within_seconds(receiver):
    start = time.monotonic()
    assert notify(_event(), _settings(receiver.url)) == {"webhook": True}
    (got,) = receiver.got
    assert got["at"] - start < 3.0


def test_the_webhook_is_signed_over_the_exact_body(receiver):
    assert notify(_event(), _settings(receiver.url)) == {"webhook": True}
    (got,) = receiver.got
    headers, body = got["headers"], got["body"]
    assert verify_signature(SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body)
    assert not verify_signature("another-secret-entirely", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body)
    assert not verify_signature(SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body + b" ")
    # An old timestamp is a replay, even with a signature that matches it.
    assert not verify_signature(SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body,
                                now=int(headers[TIMESTAMP_HEADER]) + 3600)
    payload = json.loads(body)
    assert payload["kind"] == "awaiting_review" and payload["episode_id"] == "ep-1" and payload["title"] == "Fox"
    assert payload["review_url"].endswith("/episodes/ep-1") and "/runs/flow-run/" in payload["run_url"]
    assert headers["X-Reelgate-Delivery"] == payload["id"] and headers["X-Reelgate-Event"] == "awaiting_review"


def test_a_500_is_retried_and_then_delivered_once():
    receiver = Receiver(fail_first=2)
    try:
        assert notify(_event(), _settings(receiver.url, retries=3)) == {"webhook": True}
        assert receiver.attempts == 3 and len(receiver.got) == 1
    finally:
        receiver.close()


def _dead_and_silent_receivers(timed: bool, budget_s: float = 1.0) -> None:
    """Notify a port nobody listens on, then one that accepts and never answers; `timed`: within the 1 s budget."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    start = time.monotonic()
    assert notify(_event(), _settings(dead, retries=5, budget_s=budget_s)) == {"webhook": False}
    if timed:
        assert time.monotonic() - start < 1.5

    # A receiver that accepts and never answers: the caller waits its budget at most.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        start = time.monotonic()
        assert notify(_event(), _settings(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout_s=30, budget_s=budget_s)) \
            in ({}, {"webhook": False})
        if timed:
            assert time.monotonic() - start < 1.5
    finally:
        silent.close()


def test_a_dead_receiver_never_raises():
    _dead_and_silent_receivers(timed=False, budget_s=0.2)  # the budget is spent waiting: keep it short here


@pytest.mark.integration  # wall-clock: the delivery budget bounds the caller's wait
def test_a_dead_receiver_never_blocks_or_raises():
    _dead_and_silent_receivers(timed=True)


def test_each_event_is_sent_once_per_episode_and_key(receiver, tmp_path):
    settings = _settings(receiver.url)
    assert notify_once(_event(), tmp_path, "awaiting_review:v1", settings) == {"webhook": True}
    assert notify_once(_event(), tmp_path, "awaiting_review:v1", settings) is None  # a replayed run
    assert notify_once(_event(kind="expired"), tmp_path, "expired:v1", settings) == {"webhook": True}
    assert len(receiver.got) == 2
    assert len((tmp_path / SENT_FILE).read_text().splitlines()) == 2


def test_the_message_has_no_token_and_no_findings_text(receiver, tmp_path, monkeypatch):
    from editorial.manifest import Manifest, save_manifest
    from reelgate.records import Action, EpisodeRequest, Verdict

    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REELGATE_REVIEW_TOKEN", TOKEN)
    monkeypatch.setenv("REELGATE_NOTIFY__WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("REELGATE_NOTIFY__WEBHOOK_SECRET", SECRET)
    settings = Settings()
    finding = "shot 2: a face resembles a listed public figure"
    manifest = Manifest(episode_id="ep-9", request=EpisodeRequest(episode_id="ep-9", prompt="a secret story", title="T"),
                        verdict=Verdict(action=Action.REVIEW, reasons=[finding, "narration unclear"]))
    folder = settings.episodes_dir / "ep-9"
    folder.mkdir(parents=True)
    save_manifest(folder, manifest)
    headline = findings_headline(manifest.verdict.reasons)
    assert headline == "needs review: 2 findings"
    assert notify_episode("awaiting_review", folder, settings, headline, key="v1", run_url="http://x/runs/flow-run/1") \
        == {"webhook": True}
    body = receiver.got[0]["body"].decode()
    assert TOKEN not in body and "token" not in body.lower()
    assert finding not in body and "narration unclear" not in body and "secret story" not in body
    assert json.loads(body)["review_url"].endswith("/episodes/ep-9") and json.loads(body)["headline"] == headline


def test_an_event_kind_not_chosen_is_not_sent(receiver):
    assert notify(_event(kind="published"), _settings(receiver.url, events=["failed"])) == {}
    assert receiver.got == []


def test_apprise_urls_get_the_title_and_links(receiver):
    # Apprise's json:// sends to our receiver: the same path as slack:// or mailtos:// up to the service.
    apprise_url = receiver.url.replace("http://", "json://")
    assert notify(_event(), NotifySettings(apprise_urls=[apprise_url])) == {"apprise": True}
    payload = json.loads(receiver.got[0]["body"])
    assert "needs review: 2 findings" in payload["title"] and "/episodes/ep-1" in payload["message"]


@pytest.mark.parametrize("env, named", [
    ({"REELGATE_NOTIFY__WEBHOOK_URL": "file:///etc/passwd", "REELGATE_NOTIFY__WEBHOOK_SECRET": SECRET},
     "notify.webhook_url"),
    ({"REELGATE_NOTIFY__WEBHOOK_URL": "ftp://example.com/x", "REELGATE_NOTIFY__WEBHOOK_SECRET": SECRET},
     "notify.webhook_url"),
    ({"REELGATE_NOTIFY__WEBHOOK_URL": "https://example.com/hook"}, "notify.webhook_secret"),
    ({"REELGATE_NOTIFY__WEBHOOK_URL": "https://example.com/hook", "REELGATE_NOTIFY__WEBHOOK_SECRET": "short"},
     "notify.webhook_secret"),
    ({"REELGATE_NOTIFY__APPRISE_URLS": '["file:///tmp/x"]'}, "notify.apprise_urls"),
    ({"REELGATE_NOTIFY__APPRISE_URLS": '["no-scheme-here"]'}, "notify.apprise_urls"),
])
def test_bad_settings_are_refused_naming_the_setting(monkeypatch, env, named):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=named):
        Settings()


def test_notification_settings_never_travel_as_run_parameters(monkeypatch):
    assert "notify" not in RunOptions.model_fields
    message = refuse_run_settings({"notify": {"webhook_url": "https://evil.example/", "apprise_urls": ["x://y"]}})
    assert "REELGATE_NOTIFY__WEBHOOK_URL" in message and "REELGATE_NOTIFY__APPRISE_URLS" in message
    monkeypatch.setenv("REELGATE_NOTIFY__WEBHOOK_URL", "https://hooks.example/T0K3N")
    monkeypatch.setenv("REELGATE_NOTIFY__WEBHOOK_SECRET", SECRET)
    dumped = json.dumps(Settings().model_dump(mode="json"))
    assert "T0K3N" not in dumped and SECRET not in dumped


def test_unconfigured_notifications_do_nothing(tmp_path):
    assert notify(_event(), NotifySettings()) == {}
    assert notify_once(_event(), tmp_path, "k", NotifySettings()) is None
    assert not (tmp_path / SENT_FILE).exists()


@pytest.mark.integration
def test_a_real_episode_notifies_once_at_the_gate_and_once_when_published(prefect_server, receiver, monkeypatch, capsys):
    from cli import main
    from editorial.manifest import load_manifest

    monkeypatch.setenv("REELGATE_NOTIFY__WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("REELGATE_NOTIFY__WEBHOOK_SECRET", SECRET)
    story = "At dusk a fox runs across the snowy hills. Then the moon rises slowly over the quiet valley."
    assert main(["episode", story, "--id", "notify-e2e", "--title", "Fox"]) == 0
    assert receiver.arrived.wait(10)
    manifest = load_manifest(prefect_server.episodes_dir / "notify-e2e")
    (got,) = receiver.got
    headers, body = got["headers"], got["body"]
    assert verify_signature(SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body)
    event = json.loads(body)
    assert event["kind"] == "awaiting_review" and event["episode_id"] == "notify-e2e" and event["title"] == "Fox"
    assert event["review_url"].endswith("/episodes/notify-e2e") and "token" not in event["review_url"]
    assert event["run_url"].endswith(f"/runs/flow-run/{manifest.flow_run_id}")
    assert event["headline"].startswith("needs review")

    # The approved run replays its gate on resume: the gate's event is not sent again, publishing's is.
    assert main(["review", "approve", "notify-e2e", "--version", manifest.version.id]) == 0
    capsys.readouterr()
    deadline = time.monotonic() + 10
    while len(receiver.got) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    kinds = [json.loads(g["body"])["kind"] for g in receiver.got]
    assert kinds == ["awaiting_review", "published"]


@pytest.mark.integration
def test_a_failed_run_notifies_once_with_the_error_type_only(prefect_server, receiver, monkeypatch, capsys):
    from cli import main

    monkeypatch.setenv("REELGATE_NOTIFY__WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("REELGATE_NOTIFY__WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("REELGATE_GENERATION__BACKEND", "tests.fakes:BrokenGenerator")
    assert main(["episode", "A fox runs across the snowy hills at dusk.", "--id", "notify-failed"]) != 0
    capsys.readouterr()
    assert receiver.arrived.wait(10)
    (got,) = receiver.got
    event = json.loads(got["body"])
    assert event["kind"] == "failed" and event["episode_id"] == "notify-failed"
    assert event["headline"] == "failed: MediaError" and "secret detail" not in got["body"].decode()
    assert "/runs/flow-run/" in event["run_url"]


@pytest.mark.integration
def test_expiring_then_expired_are_sent_once_each_by_the_expiry_sweep(prefect_server, receiver, monkeypatch):
    import uuid
    from datetime import timedelta

    from editorial.manifest import EpisodeVersion, Manifest, Status, save_manifest
    from flows.review import expire_overdue
    from reelgate.records import EpisodeRequest

    monkeypatch.setenv("REELGATE_NOTIFY__WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("REELGATE_NOTIFY__WEBHOOK_SECRET", SECRET)
    settings = Settings()
    run_id = str(uuid.uuid4())  # a run the server does not know: the manifest's deadline decides
    now = datetime.now(timezone.utc)
    folder = settings.episodes_dir / "notify-expiry"
    folder.mkdir(parents=True)
    save_manifest(folder, Manifest(
        episode_id="notify-expiry", request=EpisodeRequest(episode_id="notify-expiry", prompt="a fox", title="Fox"),
        flow_run_id=run_id, status=Status.AWAITING_REVIEW, review_round=1, waiting_since=now - timedelta(hours=70),
        review_due_at=now + timedelta(hours=2),
        version=EpisodeVersion(id="v-expiry", flow_run_id=run_id, round=1, video_sha256="0" * 64),
    ))
    assert "notify-expiry" not in expire_overdue(settings)
    assert "notify-expiry" not in expire_overdue(settings)  # called every minute: 'expiring' goes once
    manifest_file = folder / "manifest.json"
    data = json.loads(manifest_file.read_text())
    data["review_due_at"] = (now - timedelta(minutes=1)).isoformat()
    manifest_file.write_text(json.dumps(data))
    assert "notify-expiry" in expire_overdue(settings)
    events = [json.loads(g["body"]) for g in receiver.got]
    assert [e["kind"] for e in events] == ["expiring", "expired"]
    assert events[0]["headline"].startswith("review expires in 2.0 h") and events[1]["episode_id"] == "notify-expiry"
