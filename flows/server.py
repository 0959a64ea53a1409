"""The Prefect server reelgate talks to: start the local one (closed by its secret), check it, stop it.

Import `flows.environment.configure_prefect` and call it before importing this module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import httpx

from reelgate.errors import BackendUnavailable, ConfigError
from reelgate.settings import Settings
from tasks.results import register_result_storage


def server_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(api_url.rstrip("/") + "/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_server(settings: Settings, wait_s: float = 120.0) -> str:
    """Return the API URL of a healthy Prefect server, starting a local one if needed.

    The local server runs detached (it outlives this command, like a database would),
    with its SQLite database and log under `settings.prefect_home`.
    """
    api_url = os.environ["PREFECT_API_URL"]
    if server_healthy(api_url):
        check_server_auth(api_url, settings)
        register_result_storage()
        return api_url
    if api_url.rstrip("/") != settings.local_api_url:
        raise BackendUnavailable(f"the Prefect server at {api_url} does not answer; start it or unset PREFECT_API_URL")
    log_path = settings.prefect_home / "server.log"
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start",
             "--host", settings.server_host, "--port", str(settings.server_port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    (settings.prefect_home / "server.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if server_healthy(api_url):
            check_server_auth(api_url, settings)
            register_result_storage()
            return api_url
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise ConfigError(
                f"the local Prefect server exited at start (is port {settings.server_port} taken? "
                f"set REELGATE_SERVER_PORT); log {log_path}:\n" + "\n".join(tail)
            )
        time.sleep(0.5)
    raise BackendUnavailable(f"the local Prefect server did not become healthy in {wait_s:.0f} s; see {log_path}")


def check_server_auth(api_url: str, settings: Settings) -> None:
    """The server must refuse a caller without its secret, and take ours; else say what to do."""
    from flows.environment import auth_file
    from flows.workers import auth_headers, auth_probe

    probe = auth_probe(api_url)
    local = api_url.rstrip("/") == settings.local_api_url
    if local and httpx.get(probe, timeout=10).status_code != 401:
        raise ConfigError(
            f"the Prefect server at {api_url} answers without authentication (it was started before reelgate "
            "closed it, or by hand): stop it (`reelgate server stop`, or end the `prefect server start` process) "
            "and run again; reelgate starts it with its secret"
        )
    if httpx.get(probe, headers=auth_headers(os.environ.get("PREFECT_API_AUTH_STRING")), timeout=10).status_code == 401:
        where = (f"the secret in {auth_file(settings)} does not open it (another data folder's server on this port?)"
                 if local else "set PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING")
        raise ConfigError(f"the Prefect server at {api_url} answers 401 Unauthorized: {where}")


def stop_server(settings: Settings) -> bool:
    """Stop the local server started by `ensure_server`; False if none was running."""
    pid_file = settings.prefect_home / "server.pid"
    if not pid_file.is_file():
        return False
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)
    return True


def ui_url(flow_run_id: uuid.UUID | str | None = None) -> str:
    base = os.environ["PREFECT_API_URL"].rstrip("/").removesuffix("/api")
    return f"{base}/runs/flow-run/{flow_run_id}" if flow_run_id else base
