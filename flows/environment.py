"""Prefect's environment for reelgate. Imported BEFORE prefect: Prefect reads it at import.

Everything Prefect stores (its SQLite database, persisted task results, the server log)
lives under the reelgate data folder (mode 0700), and telemetry is off.

The local server is closed: its API asks for a secret (`PREFECT_SERVER_API_AUTH_STRING`)
made once and kept in `prefect/api-auth` (mode 0600) under the data folder, which the CLI,
the runner and workers started by reelgate read; CSRF protection is on and CORS allows only
the server's own UI. Without the secret nobody resumes a run, creates one, or reads a
parameter. Against an existing server (PREFECT_API_URL), set PREFECT_API_AUTH_STRING to its
secret (README, "An existing server").
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from reelgate.files import secret_file
from reelgate.settings import Settings

HEARTBEAT_S = 30  # a running flow's heartbeat (Prefect's minimum); flows.runs.ensure_crash_recovery listens for it
AUTH_FILE = "api-auth"  # in settings.prefect_home, mode 0600


def server_secret(settings: Settings) -> str:
    """The local server's API secret, made once (mode 0600); `user:password` as Prefect's UI asks."""
    return secret_file(auth_file(settings), lambda: f"reelgate:{secrets.token_urlsafe(32)}")


def auth_file(settings: Settings) -> Path:
    return settings.prefect_home / AUTH_FILE


def prefect_env(settings: Settings) -> dict[str, str]:
    """Environment variables that point Prefect at reelgate's server and storage, with its secret."""
    api_url = settings.prefect_api_url or os.environ.get("PREFECT_API_URL") or settings.local_api_url
    closed: dict[str, str] = {}
    if api_url.rstrip("/") == settings.local_api_url:
        secret = server_secret(settings)
        ui_origin = f"http://{settings.server_host}:{settings.server_port}"
        closed = {
            "PREFECT_SERVER_API_AUTH_STRING": secret,
            "PREFECT_API_AUTH_STRING": secret,
            "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true",
            "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": ui_origin,
            "PREFECT_SERVER_API_CORS_ALLOWED_METHODS": "GET,POST,PUT,PATCH,DELETE,OPTIONS",
        }
    return {**closed,
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_API_HOST": settings.server_host,
        "PREFECT_SERVER_API_PORT": str(settings.server_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_RESULTS_DEFAULT_SERIALIZER": "json",  # never pickle (reelgate's own storage also signs)
        "PREFECT_LOCAL_STORAGE_PATH": str(settings.data_dir / "results"),
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        # Long renders must not be mistaken for crashed runs.
        "PREFECT_RUNNER_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S),
    }


def configure_prefect(settings: Settings) -> dict[str, str]:
    """Export `prefect_env` into this process (and so into every child it starts)."""
    for folder in (settings.data_dir, settings.prefect_home, settings.data_dir / "results"):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(settings.data_dir / "results", 0o700)  # results decide what a worker runs: owner only
    env = prefect_env(settings)
    os.environ.update(env)
    return env



def api_client(settings: Settings, timeout: float = 30.0):
    """A raw HTTP client of the local server's API, signed in and with a CSRF token for writes.

    For benchmarks and tests that count runs through the REST API; flows use Prefect's client.
    Like Prefect's own client, it retries the answers of a busy server (429, 502, 503: SQLite
    locked under load) a few times with backoff.
    """
    import time

    import httpx

    class Retrying(httpx.Client):
        def send(self, request: httpx.Request, **kwargs) -> httpx.Response:
            for wait_s in (0.5, 1.0, 2.0, 4.0):
                response = super().send(request, **kwargs)
                if response.status_code not in (429, 502, 503):
                    return response
                response.close()
                time.sleep(wait_s)
            return super().send(request, **kwargs)

    user, _, password = server_secret(settings).partition(":")
    client = Retrying(base_url=settings.local_api_url, timeout=timeout, auth=(user, password))

    def csrf(request: httpx.Request) -> None:
        if request.method != "GET" and "Prefect-Csrf-Token" not in client.headers:
            reply = httpx.get(settings.local_api_url + "/csrf-token", params={"client": "reelgate-api"},
                              auth=(user, password), timeout=timeout)
            client.headers.update({"Prefect-Csrf-Token": reply.raise_for_status().json()["token"],
                                   "Prefect-Csrf-Client": "reelgate-api"})
        if request.method != "GET":
            request.headers.update({k: client.headers[k] for k in ("Prefect-Csrf-Token", "Prefect-Csrf-Client")})

    client.event_hooks["request"] = [csrf]
    return client
