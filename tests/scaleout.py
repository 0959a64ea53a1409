"""Scale-out harness: a throwaway PostgreSQL cluster, a Prefect server on it (or on SQLite), a
process work pool with reelgate's priority queues, and `prefect worker start` processes.

Plain helpers, no tests (tests/test_scale_out.py and bench/scale_out.py use them). Everything runs in child
processes with their own environment (this checkout on PYTHONPATH), so the pytest session's
own Prefect server and settings are untouched; in-process Prefect calls go through
`ScaleOut.client_settings()`. `ScaleOut.close()` kills every process group it started, stops
Postgres and removes the temporary folder, and is safe to call after any failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PG_BIN_DIRS = [Path(f"/usr/lib/postgresql/{v}/bin") for v in (17, 16, 15, 14, 13)]
PG_USER = "postgres"  # Debian's package creates it; Postgres refuses to run as root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every living process below `pid` (Linux /proc), children first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop(0)
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries, or None when the package is not installed."""
    for folder in PG_BIN_DIRS:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def why_no_postgres() -> str | None:
    """Why a temporary cluster cannot be made here (None: it can)."""
    if postgres_bin() is None:
        return "PostgreSQL server binaries not found (Debian package `postgresql`; scripts/setup.sh installs it)"
    if shutil.which("runuser") is None:
        return "`runuser` not found (util-linux): needed to run Postgres as an unprivileged user"
    try:
        import pwd

        pwd.getpwnam(PG_USER)
    except KeyError:
        return f"no `{PG_USER}` system user (Debian's postgresql package creates it)"
    if os.geteuid() != 0:
        return "not root: runuser cannot switch to the postgres user (CI runs as root)"
    return None


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", PG_USER, "--", *args], check=True, capture_output=True, text=True,
                          timeout=120, **kwargs)


class PostgresCluster:
    """A temporary cluster (`initdb` in `root/pg`, owned by the postgres user) on a free port of 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.bin = postgres_bin()
        self.data = root / "pg"
        self.socket_dir = root / "pg-socket"
        self.log = root / "postgres.log"
        self.port = free_port()
        self.started = False

    def start(self, database: str = "prefect") -> str:
        """Create and start the cluster and one database; return its SQLAlchemy URL for Prefect."""
        import pwd

        user = pwd.getpwnam(PG_USER)
        for folder in (self.data, self.socket_dir):
            folder.mkdir(mode=0o700)
            os.chown(folder, user.pw_uid, user.pw_gid)
        self.log.touch()
        os.chown(self.log, user.pw_uid, user.pw_gid)
        _as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", PG_USER,
                      "-E", "UTF8", "--no-sync"])
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                      "-o", options, "start"])
        self.started = True
        _as_postgres([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), database])
        return f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        try:
            _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pid_file = self.data / "postmaster.pid"
            if pid_file.is_file():
                try:
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass


class ScaleOut:
    """A Prefect server on a temporary Postgres, closed by reelgate's API secret, and its workers.

    Args:
        env: REELGATE_* (and test) variables for the server and every worker, on top of a clean
            copy of this process's environment (no PREFECT_* or REELGATE_* of the session).
        prefect: extra PREFECT_* variables for the server and the workers.
        database: "postgres" (a temporary cluster) or "sqlite" (Prefect's default file under the
            data folder, as `reelgate up` runs it).
    """

    def __init__(self, env: dict[str, str] | None = None, prefect: dict[str, str] | None = None,
                 database: str = "postgres") -> None:
        if database not in ("postgres", "sqlite"):
            raise ValueError(f"database must be 'postgres' or 'sqlite', got {database!r}")
        self.database = database
        self.root = Path(tempfile.mkdtemp(prefix="reelgate-scaleout-"))
        os.chmod(self.root, 0o755)  # the postgres user walks into its own folder below
        self.data_dir = self.root / "data"
        self.port = free_port()
        self.postgres = PostgresCluster(self.root)
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.extra = dict(env or {})
        self.prefect_extra = dict(prefect or {})
        self.env: dict[str, str] = {}
        self.database_url = ""

    # -- set-up ---------------------------------------------------------------------------
    def settings(self):
        from reelgate.settings import Settings

        return Settings(data_dir=self.data_dir, server_port=self.port, server_host="127.0.0.1",
                        prefect_api_url=self.api_url)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start_server(self, wait_s: float = 120.0) -> None:
        """Start Postgres (unless on SQLite) and `prefect server start` on it, with the env flows.environment
        sets for a local server."""
        from flows.environment import prefect_env

        if self.database == "postgres":
            self.database_url = self.postgres.start()
        settings = self.settings()
        for folder in (settings.data_dir, settings.prefect_home, settings.data_dir / "results"):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REELGATE_"))}
        self.env = {
            **base, **prefect_env(settings), **self.prefect_extra, **self.extra,
            "REELGATE_DATA_DIR": str(self.data_dir), "REELGATE_SERVER_PORT": str(self.port),
            "REELGATE_SERVER_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
        }
        server_env = dict(self.env)
        if self.database_url:
            server_env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = self.database_url
        self._spawn("server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", str(self.port)], server_env)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.api_url + "/health", timeout=2).status_code == 200:
                    from tasks.results import register_result_storage

                    with self.client_settings():
                        register_result_storage()  # the episode flow's result storage block, as ensure_server does
                    return
            except httpx.HTTPError:
                pass
            if self.procs["server"].poll() is not None:
                raise RuntimeError("the Prefect server exited at start:\n" + self.tail("server"))
            time.sleep(0.5)
        raise TimeoutError(f"the Prefect server on Postgres was not healthy in {wait_s:.0f} s:\n" + self.tail("server"))

    @contextmanager
    def client_settings(self):
        """Point this process's Prefect client at this server (with its secret) inside the block."""
        from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api_url,
                                         PREFECT_API_AUTH_STRING: self.env["PREFECT_API_AUTH_STRING"]}):
            yield

    def start_worker(self, name: str, pool: str, limit: int = 1, env: dict[str, str] | None = None) -> subprocess.Popen:
        """`prefect worker start --pool POOL --type process` in its own process group, after the
        pre-flight `reelgate worker` makes (flows.workers.check_server)."""
        from flows.workers import check_server

        worker_env = {**self.env, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1",
                      **(env or {})}
        check_server(worker_env["PREFECT_API_URL"], worker_env.get("PREFECT_API_AUTH_STRING", ""))
        return self._spawn(name, [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool,
                                  "--type", "process", "--limit", str(limit), "--name", name], worker_env)

    def wait_started(self, names: list[str], wait_s: float = 120.0) -> None:
        """Wait until each worker polls (Prefect's worker logs "Worker '...' started!")."""
        from flows.workers import STARTED

        deadline = time.monotonic() + wait_s
        pending = list(names)
        while pending:
            for name in list(pending):
                if STARTED in self.tail(name, chars=100_000):
                    pending.remove(name)
                elif self.procs[name].poll() is not None:
                    raise RuntimeError(f"worker {name} exited at start:\n" + self.tail(name))
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"workers {pending} did not poll in {wait_s:.0f} s:\n" + self.tail(pending[0]))
            time.sleep(0.3)

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.logs[name] = self.root / f"{name}.log"
        with open(self.logs[name], "ab") as out:
            proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs[name] = proc
        return proc

    # -- failure and clean-up -------------------------------------------------------------
    def kill(self, name: str) -> None:
        """SIGKILL a worker and the flow runs it started, as a dead machine would.

        Prefect 3.8's process worker starts each flow run in a session of its own, so the
        worker's process group does not hold its runs: their groups are killed too.
        """
        proc = self.procs[name]
        for pid in [proc.pid, *descendants(proc.pid)]:
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)

    def group_of(self, pid: int) -> str | None:
        """The name of the process started here (a worker) that `pid` is, or descends from, if any."""
        for name, proc in self.procs.items():
            if pid == proc.pid or pid in descendants(proc.pid):
                return name
        return None

    def tail(self, name: str, chars: int = 3000) -> str:
        log = self.logs.get(name)
        return log.read_text(errors="replace")[-chars:] if log and log.exists() else "(no log)"

    def close(self) -> None:
        """Kill every process group started here (workers first), stop Postgres, remove the folder."""
        for name in sorted(self.procs, key=lambda n: n == "server"):
            proc = self.procs[name]
            family = [proc.pid, *descendants(proc.pid)]  # before the worker goes: its runs get reparented
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            for pid in family:  # whatever is left: the worker's group, its flow runs' groups
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if proc.poll() is None:
                proc.wait(timeout=10)
        self.postgres.stop()
        shutil.rmtree(self.root, ignore_errors=True)
