"""Telling people that an episode needs them: a signed webhook and Apprise URLs.

Events: ``awaiting_review`` (at a review gate), ``expiring`` (less than
``notify.expiring_hours`` of review left), ``expired``, ``failed`` (the flow run failed or
crashed) and ``published``. Each carries the episode id, its title, a one-line headline
("needs review: 2 findings"), the review page's link (never with a token) and the Prefect
run's link. It never carries the review token, a finding's text, the story or a prompt.

The webhook is a JSON POST of `Event`, signed so a receiver can check that it came from us
and was not replayed::

    X-Reelgate-Timestamp: 1767139200            (unix seconds when this attempt was sent)
    X-Reelgate-Signature: sha256=<hex>          HMAC-SHA256(secret, f"{timestamp}.".encode() + body)
    X-Reelgate-Event: awaiting_review
    X-Reelgate-Delivery: <event id>             the same on every retry: deduplicate on it

A receiver recomputes the HMAC over the exact bytes it received, compares in constant time,
and refuses a timestamp more than a few minutes old (see `verify_signature`). Transient
failures (a 5xx, 408/429, a timeout, a refused connection) are retried with exponential
backoff; everything, retries included, stays inside ``notify.budget_s``. Delivery runs in a
daemon thread that the caller waits for at most that long; nothing here raises into a flow.

Why our own webhook and Apprise, not a Prefect automation: an automation sees Prefect's
states, not ours. "Awaiting review" is a Paused state with no episode title, finding count or
review link; "expired" is our own Cancelled state set by `flows.review.expire_overdue`
outside any flow; "expiring" is no state at all; and an automation's message would be a
Jinja template kept in the server's database, away from the code and tests, with its
webhook secret in a block any API user can read. Sending from here keeps one place that
decides what a message may say (no token, no findings), works the same with a local server
in tests, and needs no server-side set-up. Apprise is what Prefect's own notification blocks
use underneath (it is already installed with Prefect), so the channels are the same.

Each event is sent at most once per (episode, kind, key) — the key is the review version
for awaiting_review / expiring, the round for expired, the flow run for failed — recorded in
``notified.jsonl`` in the episode folder before sending, so a resumed or replayed run, or two
processes calling `expire_overdue`, do not send it twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from editorial.audit import locked
from reelgate.registry import NOTIFIERS
from reelgate.settings import NotifyKind, NotifySettings, Settings

log = logging.getLogger("reelgate.notify")

SENT_FILE = "notified.jsonl"
SIGNATURE_HEADER = "X-Reelgate-Signature"
TIMESTAMP_HEADER = "X-Reelgate-Timestamp"
MAX_AGE_S = 300  # what `verify_signature` accepts by default: five minutes of clock skew and queueing
_TRANSIENT_STATUS = {408, 425, 429}
BACKOFF_S = 0.5  # the first wait between webhook attempts; doubled after each


class Event(BaseModel):
    """One notification: what happened to which episode, and where to look. Nothing private."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, description="Delivery id: the same on every retry.")
    kind: NotifyKind
    episode_id: str
    title: str = ""
    headline: str = Field(description="One line: 'needs review: 2 findings', 'review expired'... never findings text.")
    review_url: str = Field("", description="The review page of the episode, without a token.")
    run_url: str = Field("", description="The Prefect flow run.")
    round: int = 0
    at: datetime

    def text(self) -> tuple[str, str]:
        """(title, body) for a chat or mail message."""
        name = self.title or self.episode_id
        title = f"reelgate: {name}: {self.headline}"
        links = [f"Review: {self.review_url}" if self.review_url else "", f"Run: {self.run_url}" if self.run_url else ""]
        return title, "\n".join([f"Episode {self.episode_id}: {self.headline}", *filter(None, links)])


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, signature: str, body: bytes,
                     now: float | None = None, max_age_s: float = MAX_AGE_S) -> bool:
    """What a receiver does: the signature matches the exact body and the timestamp is recent."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    return abs(age) <= max_age_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def channels(settings: NotifySettings) -> list[str]:
    """The notifiers (reelgate.registry.NOTIFIERS) that the settings turn on, in registry order."""
    configured = {"webhook": settings.webhook_url, "apprise": settings.apprise_urls}
    return [name for name in NOTIFIERS.names() if configured.get(name)]


def _wanted(kind: NotifyKind, settings: NotifySettings) -> bool:
    return kind in settings.events and bool(channels(settings))


def notify(event: Event, settings: NotifySettings, wait_s: float | None = None) -> dict[str, bool]:
    """Send `event` to every configured channel; return {channel: delivered} for those that finished.

    Never raises. Delivery runs in a daemon thread; this waits for it at most `wait_s`
    (default settings.budget_s), so a dead receiver costs the caller that long at most.
    """
    if not _wanted(event.kind, settings):
        return {}
    results: dict[str, bool] = {}

    def deliver() -> None:
        # A little inside the caller's wait, so that a give-up is reported rather than cut off.
        deadline = time.monotonic() + 0.9 * settings.budget_s
        for name in channels(settings):
            send = NOTIFIERS.get(name)
            results[name] = _safe(lambda send=send: send(event, settings, deadline), name, event)

    thread = threading.Thread(target=deliver, name=f"notify-{event.kind}-{event.episode_id}", daemon=True)
    thread.start()
    thread.join(settings.budget_s if wait_s is None else wait_s)
    if thread.is_alive():
        log.warning("notification %s for %s still being sent after %.0f s; going on", event.kind, event.episode_id,
                    settings.budget_s if wait_s is None else wait_s)
    return dict(results)


def notify_once(event: Event, episode_dir: Path, key: str, settings: NotifySettings,
                wait_s: float | None = None) -> dict[str, bool] | None:
    """`notify`, unless `key` was already sent for the episode; None when it was (or nothing is set).

    The event is recorded before it is sent: at most once, so a replayed run never repeats it
    (a delivery that fails in every retry is logged, not sent again by a later run).
    """
    try:
        if not _wanted(event.kind, settings):
            return None
        if not claim(episode_dir, key):
            return None
    except Exception:  # a full disk or an unreadable folder must not stop the flow
        log.warning("could not record notification %s for %s", event.kind, event.episode_id, exc_info=True)
        return None
    return notify(event, settings, wait_s)


def notify_episode(kind: NotifyKind, episode_dir: Path, settings: Settings, headline: str, key: str,
                   run_url: str = "", title: str = "", wait_s: float | None = None) -> dict[str, bool] | None:
    """The flows' one call: build the event from the episode's manifest and send it once. Never raises.

    key: what makes this event distinct within the episode (the review version, the round,
    the flow run), so that a replayed run does not send it again.
    title: used when the episode has no manifest yet (a run that failed at its first checks).
    """
    try:
        if not _wanted(kind, settings.notify):
            return None
        from editorial.manifest import load_manifest, manifest_path
        from editorial.review import review_link

        episode_id, round_ = Path(episode_dir).name, 0
        if manifest_path(episode_dir).is_file():  # a run can fail before its manifest is first written
            manifest = load_manifest(episode_dir)
            episode_id, title, round_ = manifest.episode_id, manifest.request.title, manifest.review_round
        event = Event(
            kind=kind, episode_id=episode_id, title=title, headline=headline,
            review_url=review_link(settings.data_dir, settings.review_host, settings.review_port, episode_id),
            run_url=run_url, round=round_, at=datetime.now(timezone.utc),
        )
    except Exception as exc:
        log.warning("notification %s for %s not sent: %s", kind, Path(episode_dir).name, type(exc).__name__)
        return None
    return notify_once(event, episode_dir, f"{kind}:{key}", settings.notify, wait_s)


def findings_headline(reasons: list[str]) -> str:
    """'needs review: 2 findings' — how many, never what they say."""
    n = len(reasons)
    return "needs review" + (f": {n} finding{'s' if n != 1 else ''}" if n else "")


def claim(episode_dir: Path, key: str) -> bool:
    """Record `key` as sent for this episode; False if it already was."""
    path = Path(episode_dir) / SENT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.with_name(".notify.lock")):
        if key in sent(episode_dir):
            return False
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "at": time.time()}) + "\n")
    return True


def sent(episode_dir: Path) -> set[str]:
    """The event keys already sent for an episode."""
    try:
        lines = (Path(episode_dir) / SENT_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return set()
    out = set()
    for line in lines:
        try:
            entry = json.loads(line)
            out.add(entry["key"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line: that event is sent again rather than lost
    return out


def send_webhook(event: Event, settings: NotifySettings, deadline: float) -> bool:
    """POST the event, retrying transient failures with backoff until `deadline` (time.monotonic())."""
    import httpx

    assert settings.webhook_secret is not None  # NotifySettings refuses a webhook without one
    secret = settings.webhook_secret.get_secret_value()
    body = event.model_dump_json().encode()
    delay = BACKOFF_S
    for attempt in range(settings.retries + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json", "User-Agent": "reelgate-notify",
            TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body),
            "X-Reelgate-Event": event.kind, "X-Reelgate-Delivery": event.id,
        }
        try:
            reply = httpx.post(settings.webhook_url, content=body, headers=headers,
                               timeout=min(settings.timeout_s, left), follow_redirects=False)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            problem = f"{type(exc).__name__}"
        else:
            if reply.status_code < 300:
                return True
            if reply.status_code < 500 and reply.status_code not in _TRANSIENT_STATUS:
                log.warning("webhook refused %s for %s: HTTP %d (not retried)", event.kind, event.episode_id,
                            reply.status_code)
                return False
            problem = f"HTTP {reply.status_code}"
        log.info("webhook attempt %d for %s %s failed: %s", attempt + 1, event.kind, event.episode_id, problem)
        if attempt < settings.retries:
            time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
            delay *= 2
    log.warning("webhook gave up on %s for %s", event.kind, event.episode_id)
    return False


def send_apprise(event: Event, settings: NotifySettings, deadline: float | None = None) -> bool:
    """Send the event's title and body to every Apprise URL; True if all took it.

    deadline: not used: Apprise's services keep their own timeouts, and `notify` waits for
    the delivery thread at most notify.budget_s whatever they do.
    """
    import apprise

    sender = apprise.Apprise()
    for url in settings.apprise_urls:
        if not sender.add(url):
            # The URL holds the service's token: say which entry, not what it is.
            log.warning("apprise URL #%d (%s://) is not one Apprise understands; skipped",
                        settings.apprise_urls.index(url) + 1, url.split("://", 1)[0])
    if not len(sender):
        return False
    title, body = event.text()
    return bool(sender.notify(title=title, body=body))


def _safe(send, channel: str, event: Event) -> bool:
    try:
        return bool(send())
    except Exception as exc:  # a notification never fails anything else
        log.warning("%s notification %s for %s failed: %s", channel, event.kind, event.episode_id, type(exc).__name__)
        return False
