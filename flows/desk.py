"""The review page on Prefect: a Desk over the runs waiting at the review gate, and serving it.

`start_review_page` runs the page (editorial.web) in a background thread of the calling
process (`reelgate up`, `reelgate page`, tests). A decision resumes the run through the
Prefect API; when no runner serves the deployment, the run is executed in a child process
started from here, as `reelgate review approve` does.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from editorial.manifest import Manifest, ReviewDecision, load_manifest, manifest_path
from editorial.web import QueueItem, create_app
from flows.environment import configure_prefect
from reelgate.errors import ConfigError
from reelgate.files import write_text
from reelgate.settings import Settings

PAGE_FILE = "review-page.url"  # in data_dir: where the running page is, for review_link


class PrefectDesk:
    """The review queue and decisions of the Prefect runs suspended at the review gate."""

    def __init__(self, settings: Settings) -> None:
        configure_prefect(settings)
        from flows import runtime  # imports prefect: only after its environment is set

        self.settings = settings
        self.runtime = runtime
        self._executions: list[threading.Thread] = []

    def waiting(self) -> list[QueueItem]:
        items = []
        for run in self.runtime.waiting_runs():
            folder = self.settings.episodes_dir / run.episode_id
            manifest = load_manifest(folder) if manifest_path(folder).is_file() else None
            items.append(QueueItem(
                episode_id=run.episode_id,
                series=manifest.request.series if manifest else None,
                title=(manifest.request.title if manifest else "") or run.episode_id,
                waiting_since=_parse_time(run.waiting_since) or datetime.now(timezone.utc),
                status=manifest.status.value if manifest else "awaiting_review",
                expires_at=_parse_time(run.timeout_at),
            ))
        return items

    def episode(self, episode_id: str) -> Manifest:
        return load_manifest(self.settings.episodes_dir / episode_id)

    def decide(self, episode_id: str, decision: ReviewDecision) -> None:
        run = self.runtime.find_run(episode_id)
        self.runtime.resume_with_decision(run, decision)
        if run.deployment_id is None or not self.runtime.deployment_served(run.deployment_id):
            # Nobody polls the deployment: execute the resumed run here, without holding the request.
            thread = threading.Thread(
                target=self.runtime.execute_run, args=(run.id,), name=f"resume-{episode_id}", daemon=True
            )
            thread.start()
            self._executions.append(thread)

    def join(self, timeout_s: float = 600.0) -> None:
        """Wait for runs this desk executes itself (tests, and a clean stop)."""
        deadline = time.monotonic() + timeout_s
        for thread in self._executions:
            thread.join(max(0.0, deadline - time.monotonic()))


@dataclass
class ReviewPage:
    """A running review page."""

    url: str  # with the token: what to open
    token: str
    base_url: str
    desk: PrefectDesk
    _server: object = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _page_file: Path = field(repr=False)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout_s)
        try:
            if self._page_file.read_text().strip() == self.base_url:
                self._page_file.unlink()
        except OSError:
            pass


def start_review_page(settings: Settings, host: str | None = None, port: int | None = None) -> ReviewPage:
    """Serve the review page in a background thread; returns once it answers.

    Args:
        host, port: override settings.review_host / review_port (port 0: any free port).
    """
    import uvicorn

    host = host or settings.review_host
    port = settings.review_port if port is None else port
    token = settings.review_token.get_secret_value() if settings.review_token else secrets.token_urlsafe(24)
    desk = PrefectDesk(settings)
    app = create_app(desk, token, settings.episodes_dir)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="review-page", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ConfigError(
                f"the review page could not listen on {host}:{port} (taken?); set REELGATE_REVIEW_PORT "
                "to a free port, or 0 for any"
            )
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    base_url = f"http://{_url_host(shown)}:{bound}"
    page_file = settings.data_dir / PAGE_FILE
    write_text(page_file, base_url + "\n")
    return ReviewPage(
        url=f"{base_url}/?token={quote(token)}", token=token, base_url=base_url, desk=desk,
        _server=server, _thread=thread, _page_file=page_file,
    )


def review_link(settings: Settings, episode_id: str) -> str:
    """The review page's URL for one episode (without the token: the editor's cookie carries it).

    Points at the running page when there is one (it records where it listens in the data
    folder), else at settings.review_host / review_port.
    """
    page_file = settings.data_dir / PAGE_FILE
    try:
        base_url = page_file.read_text().strip()
    except OSError:
        base_url = ""
    if not base_url:
        host = "127.0.0.1" if settings.review_host in ("0.0.0.0", "", "::") else settings.review_host
        base_url = f"http://{_url_host(host)}:{settings.review_port or 8765}"
    return f"{base_url}/episodes/{quote(episode_id)}"


def _url_host(host: str) -> str:
    try:
        socket.inet_pton(socket.AF_INET6, host)
        return f"[{host}]"
    except OSError:
        return host


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
