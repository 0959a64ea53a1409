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
    # Else the server exits with a traceback (blamed on the port below), or waits on a database that never answers.
    check_database(database_url(), login=not _database_tls())
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


def database_url() -> str:
    """The database the local server will use: PREFECT_SERVER_DATABASE_CONNECTION_URL (or Prefect's profile),
    by default SQLite under PREFECT_HOME."""
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url
    return url.get_secret_value() if url is not None else ""


def _database_tls() -> bool:
    """Whether Prefect connects to its database with its own TLS settings (which this check does not repeat)."""
    from prefect.settings import get_current_settings

    return bool(get_current_settings().server.database.sqlalchemy.connect_args.tls.enabled)


def masked_url(url: str) -> str:
    """The database URL with its password hidden (***), as it may be printed."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL: nothing of it is printed, it may hold a password
        return "(not a database URL)"


def check_database(url: str, timeout: float = 5.0, login: bool = True) -> None:
    """A PostgreSQL database URL the server is given must answer and let it in; else the URL (password masked),
    the reason, and what to change. Other databases (SQLite, the default) are not checked.

    login: sign in as the server will; False: only reach the host and port (when Prefect adds its TLS settings).
    """
    import asyncio
    import socket

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    setting = "PREFECT_SERVER_DATABASE_CONNECTION_URL"
    if not url or url.startswith("sqlite"):
        return
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{setting} is not a database URL (e.g. postgresql+asyncpg://user:password@host:5432/prefect): "
                          "set it to the server's database, or unset it for SQLite in the data folder") from None
    if not parsed.drivername.startswith("postgresql"):
        return
    shown = masked_url(url)

    async def connect() -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(parsed, connect_args={"timeout": timeout})
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()

    try:
        if login:
            asyncio.run(asyncio.wait_for(connect(), timeout + 1.0))
        elif parsed.host:
            socket.create_connection((parsed.host, parsed.port or 5432), timeout=timeout).close()
    except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
        reason = str(exc) or f"no answer in {timeout:.0f} s"
        raise BackendUnavailable(f"the Prefect server's database at {shown} cannot be reached: {reason}; start "
                                 f"PostgreSQL there, or set {setting} to where it runs") from None
    except Exception as exc:  # the database answered and refused: a wrong password, user or database name
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] or type(exc).__name__
        raise ConfigError(f"the Prefect server's database at {shown} refused the connection: {reason}; fix the "
                          f"user, password or database name in {setting}") from None


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
