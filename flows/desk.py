"""Serving the review page (editorial.web) over the Prefect runs waiting at the review gate.

`start_review_page` runs the page in a background thread of the calling process
(`reelgate up`, `reelgate page`, tests), over `flows.review.PrefectDesk`. It listens on the
loopback interface unless told `allow_remote`: tokens and session cookies travel in clear
over plain HTTP, so a page reachable from other machines must sit behind TLS.
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from editorial.review import PAGE_FILE, url_host
from editorial.web import create_app
from reelgate.errors import ConfigError
from reelgate.files import write_text
from reelgate.settings import Settings, is_loopback_host

if TYPE_CHECKING:
    from flows.review import PrefectDesk


@dataclass
class ReviewPage:
    """A running review page."""

    url: str  # with the owner's token: what to open
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


def start_review_page(settings: Settings, host: str | None = None, port: int | None = None,
                      allow_remote: bool = False) -> ReviewPage:
    """Serve the review page in a background thread; returns once it answers.

    Args:
        host, port: override settings.review_host / review_port (port 0: any free port).
        allow_remote: listen on a host other machines can reach; the page must then sit
            behind TLS (a reverse proxy serving https), which is said on stderr.
    """
    host = host or settings.review_host
    if not is_loopback_host(host):
        if not allow_remote:
            raise ConfigError(
                f"the review page would listen on {host or 'every interface'}, reachable from other machines; "
                "add --allow-remote if that is meant, and put the page behind TLS (a reverse proxy serving "
                "https): tokens and session cookies travel in clear otherwise. Or set REELGATE_REVIEW_HOST=127.0.0.1"
            )
        print(f"warning: the review page listens on {host or 'every interface'}: serve it to others only "
              "behind TLS (a reverse proxy serving https); tokens and session cookies travel in clear otherwise",
              file=sys.stderr, flush=True)
    import uvicorn

    from flows.review import PrefectDesk  # imports prefect: only once the page is really starting

    port = settings.review_port if port is None else port
    token = settings.review_token.get_secret_value() if settings.review_token else secrets.token_urlsafe(32)
    desk = PrefectDesk(settings)
    app = create_app(desk, token, settings.episodes_dir, settings.data_dir, settings)
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
    base_url = f"http://{url_host(shown)}:{bound}"
    page_file = settings.data_dir / PAGE_FILE
    write_text(page_file, base_url + "\n")
    return ReviewPage(
        url=f"{base_url}/?token={quote(token)}", token=token, base_url=base_url, desk=desk,
        _server=server, _thread=thread, _page_file=page_file,
    )
