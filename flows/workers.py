"""Workers of the work pool: the checks each runs before it takes a run, and the local ones `reelgate up --workers N` starts.

A worker is Prefect's own `prefect worker start --pool NAME --type process`, started through
`reelgate worker` (cli/worker.py), which first checks what a run will need and Prefect does not:

- the server answers at PREFECT_API_URL (else: the URL and the reason);
- it takes this worker's secret (else: a 401 naming PREFECT_API_AUTH_STRING and the auth file);
- REELGATE_DATA_DIR is set, is a folder this worker can read and write, and is the *same* data
  folder the server side uses: `record_data_dir` (called when the deployments are applied to the
  pool) leaves a random mark in the folder and the mark and path in a Prefect variable; a worker
  whose folder lacks the mark (an empty folder where the shared mount should be) or whose path
  differs is refused before it polls.
- with REELGATE_STORAGE_URL (shared data in object storage, reelgate.storage): the store answers
  and this worker can write to it, it is the store recorded for the pool (its mark), and the
  worker holds the pool's keys (`<data_dir>/results.key` signs the Prefect results,
  `<data_dir>/review.key` the page's and the CLI's decisions; copied there, never in the store). The data
  folder is then this worker's own working copy: made if missing, at the same path as on the
  other workers (cache keys and results name absolute paths).

`up --workers N` starts N such workers as child processes, each in its own process group with
its own log, restarts one that dies, and stops them all (their flow-run processes included).
Prefect is imported lazily (only `record_data_dir` needs it): this module may be imported
before `flows.environment.configure_prefect`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from reelgate.errors import BackendUnavailable, ConfigError

ROOT = Path(__file__).resolve().parent.parent  # the checkout the workers run in
DATA_MARK = ".reelgate-data-id"  # in the data folder: which data folder this is
STARTED = "started!"  # Prefect's worker prints "Worker '...' started!" once it polls
RESTARTS = 3  # a worker that dies is restarted at most this many times within RESTART_WINDOW_S
RESTART_WINDOW_S = 600.0


# ---------------------------------------------------------------- the checks a worker runs at start


def check_data_dir(data_dir: Path | str | None, storage_url: str | None = None) -> Path:
    """The data folder a worker was given, if it is a folder it can read and write; else what to change.

    Never creates it: a missing shared mount must not turn into an empty local folder. With a
    storage URL the folder is only this worker's working copy of the store, so it is made.
    """
    if storage_url and data_dir is not None and str(data_dir).strip():
        try:
            Path(data_dir).expanduser().mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"REELGATE_DATA_DIR={data_dir} (this worker's working copy of {storage_url}) cannot "
                              f"be made: {exc.strerror or exc}; set REELGATE_DATA_DIR to a folder it can write") from None
    if data_dir is None or not str(data_dir).strip():
        raise ConfigError("REELGATE_DATA_DIR is not set: a worker must be given the shared data folder "
                          "(the same path as on the machine that runs `reelgate up` or `reelgate pool`, e.g. a "
                          "shared mount); set REELGATE_DATA_DIR or pass --data-dir")
    path = Path(data_dir).expanduser()
    if not path.exists():
        raise ConfigError(f"REELGATE_DATA_DIR={path} does not exist on this machine: mount the shared data folder "
                          f"there, or set REELGATE_DATA_DIR to where it is mounted")
    if not path.is_dir():
        raise ConfigError(f"REELGATE_DATA_DIR={path} is not a folder: set it to the shared data folder")
    probe = path / f".reelgate-write-check-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        list(os.scandir(path))
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"REELGATE_DATA_DIR={path} is not readable and writable by this worker "
                          f"({exc.strerror or exc}): give the user that runs it read and write access, "
                          f"or set REELGATE_DATA_DIR to a folder it can write") from None
    return path.resolve()


def auth_headers(secret: str | None) -> dict[str, str]:
    """What a client sends the server for its secret (PREFECT_API_AUTH_STRING): HTTP basic auth."""
    return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()} if secret else {}


def auth_probe(api_url: str) -> str:
    """A read that needs the secret (CSRF checks only writes): 404 once let in, 401 without it."""
    return f"{api_url.rstrip('/')}/flows/{uuid.UUID(int=0)}"


def check_server(api_url: str, secret: str | None, auth_file: Path | None = None, timeout: float = 10.0) -> None:
    """The server answers at api_url and takes this secret; else the URL, the reason and what to change.

    auth_file: where reelgate keeps the local server's secret (named in the 401 message).
    """
    base = api_url.rstrip("/")
    try:
        health = httpx.get(base + "/health", timeout=timeout)
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise BackendUnavailable(f"the Prefect server at {api_url} cannot be reached: {reason}; start it "
                                 "(`reelgate server start` on its machine) or set PREFECT_API_URL to its address") from None
    if health.status_code == 401:
        raise ConfigError(_unauthorized(api_url, secret, auth_file))
    if health.status_code != 200:
        raise BackendUnavailable(f"the Prefect server at {api_url} is not healthy: GET /health answered "
                                 f"{health.status_code} {health.reason_phrase}; is PREFECT_API_URL the server's API "
                                 "(it ends in /api)?")
    try:
        answer = httpx.get(auth_probe(api_url), headers=auth_headers(secret), timeout=timeout)
    except httpx.HTTPError as exc:
        raise BackendUnavailable(f"the Prefect server at {api_url} stopped answering: {exc}") from None
    if answer.status_code == 401:
        raise ConfigError(_unauthorized(api_url, secret, auth_file))


def _unauthorized(api_url: str, secret: str | None, auth_file: Path | None) -> str:
    given = "no PREFECT_API_AUTH_STRING is set" if not secret else "PREFECT_API_AUTH_STRING does not open it"
    local = (f"; for the server `reelgate up` starts, the secret is the contents of {auth_file} (is "
             f"REELGATE_DATA_DIR={auth_file.parent.parent} the data folder of the machine that started it?)"
             if auth_file else "")
    return (f"the Prefect server at {api_url} answers 401 Unauthorized ({given}): set PREFECT_API_AUTH_STRING "
            f"to the server's secret (its PREFECT_SERVER_API_AUTH_STRING){local}")


def check_storage(storage_url: str | None, data_dir: Path) -> str:
    """With a storage URL: the store answers, takes a write, and signs results with this worker's key.

    Returns a line for the worker's log; ConfigError or BackendUnavailable naming the URL and the reason.
    """
    from reelgate.storage import check_key, check_store, open_store

    if storage_url is None:
        return "no REELGATE_STORAGE_URL: the data folder is shared as a folder"
    store = open_store(storage_url)
    check_store(store)
    said = []
    for key_file, signs in ((data_dir / "results.key", "the Prefect results"),
                            (data_dir / "review.key", "the decisions of the review page and CLI")):
        try:
            key = bytes.fromhex(key_file.read_text().strip())
        except FileNotFoundError:
            raise ConfigError(f"{key_file} is missing: with REELGATE_STORAGE_URL={storage_url} each worker holds the "
                              f"key that signs {signs} (it never goes to the store); copy {key_file.name} from the "
                              f"machine that set up the pool (`reelgate pool` or `reelgate up`) to {key_file}, mode "
                              "0600") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{key_file} cannot be read as a key ({exc}); copy it again from the machine that set "
                              "up the pool") from None
        said.append(check_key(store, key, key_file))
    return f"store {storage_url} answers and takes writes; " + "; ".join(said)


def data_variable(pool: str) -> str:
    """The Prefect variable that records the pool's data folder (lowercase letters, digits, '-' and '_')."""
    return "reelgate-data-dir-" + re.sub(r"[^a-z0-9_-]", "-", pool.lower())[:200]


def data_mark(data_dir: Path) -> str:
    """The data folder's mark, made once: a worker finds it there only if it sees the same folder."""
    path = data_dir / DATA_MARK
    if not path.is_file():
        path.write_text(secrets.token_hex(16) + "\n", encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def record_data_dir(data_dir: Path, pool: str, storage_url: str | None = None) -> dict:
    """Record on the server which data folder the pool's runs use (its path and mark, and with a storage URL
    the store and its mark); workers compare theirs."""
    from prefect.variables import Variable

    value = {"path": str(data_dir), "mark": data_mark(data_dir)}
    if storage_url is not None:
        from editorial.review import KEY_FILE, decision_key
        from reelgate.storage import check_key, open_store, store_mark
        from tasks.results import results_key

        store = open_store(storage_url)
        value.update(storage_url=storage_url, store_mark=store_mark(store))
        # The pool's keys are made here, once; each worker gets a copy (flows.workers.check_storage).
        check_key(store, results_key(data_dir / "results"), data_dir / "results.key")
        check_key(store, decision_key(data_dir), data_dir / KEY_FILE)
    Variable.set(data_variable(pool), value, overwrite=True)
    return value


def check_same_data(api_url: str, secret: str | None, pool: str, data_dir: Path, timeout: float = 10.0,
                    storage_url: str | None = None) -> str:
    """This worker's data folder is the one recorded for the pool (same path, same mark; with a store, the same
    store and its mark); else what to change.

    Returns a line for the worker's log. A pool set up before the record existed cannot be compared: said so.
    """
    name = data_variable(pool)
    try:
        reply = httpx.get(f"{api_url.rstrip('/')}/variables/name/{name}", headers=auth_headers(secret),
                          timeout=timeout)
        if reply.status_code == 404:
            return (f"data folder {data_dir}: the pool {pool} has no recorded data folder to compare with "
                    f"(run `reelgate pool {pool}` on the server side to record it)")
        reply.raise_for_status()
        recorded = reply.json().get("value") or {}
        if isinstance(recorded, str):
            recorded = json.loads(recorded)
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise BackendUnavailable(f"the Prefect server at {api_url} did not give the pool {pool}'s data folder "
                                 f"(variable {name}): {exc}") from None
    if not isinstance(recorded, dict):
        recorded = {}
    path, mark = recorded.get("path"), recorded.get("mark")
    if path and Path(path) != data_dir and recorded.get("storage_url"):
        raise ConfigError(f"REELGATE_DATA_DIR={data_dir} differs from the pool {pool}'s data folder {path}: cached "
                          f"work is keyed by absolute paths, so give this worker its working copy at the same path: "
                          f"set REELGATE_DATA_DIR={path} (a local folder; the shared data is in the store)")
    if path and Path(path) != data_dir:
        raise ConfigError(f"REELGATE_DATA_DIR={data_dir} differs from the pool {pool}'s data folder {path}: the "
                          f"deployments carry absolute paths, so mount the shared data folder at {path} on this "
                          f"machine and set REELGATE_DATA_DIR={path}")
    if recorded.get("storage_url") or storage_url:
        return _same_store(recorded, storage_url, pool, data_dir)
    mine = (data_dir / DATA_MARK).read_text(encoding="utf-8").strip() if (data_dir / DATA_MARK).is_file() else None
    if mark and mine != mark:
        raise ConfigError(f"REELGATE_DATA_DIR={data_dir} is not the shared data folder of the pool {pool!r}: its "
                          f"{DATA_MARK} is {'missing' if mine is None else 'another one'} (an empty folder where the "
                          f"shared mount should be?); mount the shared data folder at {data_dir}")
    return f"data folder {data_dir}: the pool {pool}'s shared data folder"


def _same_store(recorded: dict, storage_url: str | None, pool: str, data_dir: Path) -> str:
    from reelgate.storage import MARK, open_store

    if recorded.get("storage_url") != storage_url:
        want = recorded.get("storage_url")
        raise ConfigError(f"REELGATE_STORAGE_URL={storage_url or '(unset)'} differs from the pool {pool}'s store "
                          f"{want or '(none: its data folder is shared as a folder)'}: set REELGATE_STORAGE_URL="
                          f"{want or ''} on this worker" + ("" if want else ", or unset it"))
    raw = open_store(storage_url).read_bytes(MARK)
    mine = raw.decode(errors="replace").strip() if raw is not None else None
    if recorded.get("store_mark") and mine != recorded["store_mark"]:
        raise ConfigError(f"the store {storage_url} is not the pool {pool}'s store: its {MARK} is "
                          f"{'missing' if mine is None else 'another one'} (another bucket or prefix, or another "
                          "endpoint such as AWS_ENDPOINT_URL?); point this worker at the pool's store")
    return f"data folder {data_dir}: this worker's working copy of the pool {pool}'s store {storage_url}"


# ---------------------------------------------------------------- local workers for `reelgate up --workers N`


@dataclass
class LocalWorker:
    """One `reelgate worker` child process: its own process group (its pid), its log file."""

    index: int
    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: list[float] = field(default_factory=list)  # when it was restarted (monotonic)
    given_up: bool = False
    # Flow-run processes it started (each in its own session), last seen; kept when it dies, so
    # that such a run goes on to its end (Prefect's heartbeats) and is still stopped with the rest.
    runs_seen: list = field(default_factory=list)  # psutil.Process

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None


def worker_command(pool: str, limit: int, name: str) -> list[str]:
    """`reelgate worker` in this checkout: the checks, then `prefect worker start` (the same process)."""
    return [sys.executable, "-m", "cli", "worker", "--pool", pool, "--limit", str(limit), "--name", name]


def make_workers(count: int, pool: str, limit: int, data_dir: Path, log_dir: Path,
                 env: dict[str, str] | None = None) -> list[LocalWorker]:
    """count local workers of the pool (not started). env: the environment to give them (default: this
    process's, which carries PREFECT_API_URL and the secret once Prefect's environment is configured)."""
    if count < 1:
        raise ConfigError(f"--workers must be 1 or more, got {count}")
    if limit < 1:
        raise ConfigError(f"a worker's limit must be 1 or more, got {limit}")
    base = dict(os.environ if env is None else env)
    path = base.get("PYTHONPATH", "")
    base.update({
        "REELGATE_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT) + (os.pathsep + path if path and path != str(ROOT) else ""),
        "PYTHONUNBUFFERED": "1",
    })
    base.setdefault("PREFECT_WORKER_QUERY_SECONDS", "2")  # a local worker picks a queued run up within seconds
    log_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{os.uname().nodename}-{os.getpid()}"
    workers = []
    for i in range(1, count + 1):
        name = f"{pool}-{tag}-{i}"
        workers.append(LocalWorker(index=i, name=name, command=worker_command(pool, limit, name), env=base,
                                   log_path=log_dir / f"worker-{i}.log"))
    return workers


def start(worker: LocalWorker) -> None:
    """Start (or restart) one worker in its own process group, its output appended to its log."""
    with open(worker.log_path, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {worker.name}\n".encode())
        log.flush()
        worker.proc = subprocess.Popen(worker.command, env=worker.env, cwd=ROOT, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    worker.started_at = time.monotonic()


def log_tail(path: Path, lines: int = 12, since: int = 0) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(empty log)"


def wait_started(workers: list[LocalWorker], timeout_s: float = 120.0) -> list[LocalWorker]:
    """Wait until each worker polls (its log says so); a worker that exits meanwhile is an error with its log's tail.

    Returns the workers still starting after timeout_s (slow, not failed: they are watched like the others).
    """
    offsets = {w.index: _log_size(w.log_path) for w in workers}
    pending = {w.index: w for w in workers}
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        for index, w in list(pending.items()):
            if STARTED in log_tail(w.log_path, lines=10_000, since=_start_offset(w, offsets[index])):
                del pending[index]
            elif w.proc is not None and w.proc.poll() is not None:
                raise ConfigError(f"worker {w.index} (pid {w.pid}) exited at start with code {w.proc.returncode}; "
                                  f"log {w.log_path}:\n{log_tail(w.log_path)}")
        time.sleep(0.1)
    return list(pending.values())


def _log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _start_offset(worker: LocalWorker, before: int) -> int:
    """Where this start's output begins in the log (the log is appended to across restarts)."""
    with open(worker.log_path, "rb") as f:
        text = f.read()
    marker = f"starting {worker.name}\n".encode()
    found = text.rfind(marker)
    return found if found >= 0 else before


def watch(workers: list[LocalWorker], now: float | None = None) -> list[str]:
    """Restart each worker that died (at most RESTARTS times within RESTART_WINDOW_S); lines saying what happened."""
    now = time.monotonic() if now is None else now
    said = []
    for w in workers:
        if w.proc is not None and w.proc.poll() is None:
            seen = {p.pid: p for p in w.runs_seen if _running(p)}
            seen.update((p.pid, p) for p in _children(w.pid))
            w.runs_seen = list(seen.values())
        if w.given_up or w.proc is None or w.proc.poll() is None:
            continue
        code = w.proc.returncode
        _stop_group(w.proc.pid, [])  # whatever it left in its group
        w.restarts = [t for t in w.restarts if now - t < RESTART_WINDOW_S]
        tail = log_tail(w.log_path, lines=8)
        if len(w.restarts) >= RESTARTS:
            w.given_up = True
            said.append(f"worker {w.index} (pid {w.pid}) exited with code {code} again: {RESTARTS} restarts in "
                        f"{RESTART_WINDOW_S / 60:.0f} min, not restarted; log {w.log_path}:\n{tail}")
            continue
        old = w.pid
        w.restarts.append(now)
        start(w)
        said.append(f"worker {w.index} (pid {old}) exited with code {code}; restarted as pid {w.pid} "
                    f"(log {w.log_path}); its last lines:\n{tail}")
    return said


def _children(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:  # gone already, or no psutil: the process group is still stopped
        return []


def _running(process) -> bool:
    try:
        return process.is_running() and process.status() != "zombie"  # is_running also rules out a reused pid
    except Exception:
        return False


def descendants(pid: int) -> list[int]:
    return [p.pid for p in _children(pid)]


def wait_idle(workers: list[LocalWorker], timeout_s: float = 30.0) -> bool:
    """Wait until no live worker has a flow-run process left; True if none is left in time.

    A run that suspends at the review gate is PAUSED a moment before its process exits; a
    worker stopped in that moment reports the run's process as killed, and Prefect marks the
    waiting run Crashed. So `up --until-review` waits for this before stopping the workers.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(descendants(w.proc.pid) for w in workers if w.proc is not None and w.proc.poll() is None):
            return True
        time.sleep(0.5)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _stop_group(pgid: int, others: list[int], grace_s: float = 15.0) -> None:
    """SIGTERM the process group and the other pids' groups (flow runs start their own session), then SIGKILL."""
    own = os.getpgrp()
    groups = {pgid}
    for pid in others:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    groups.discard(own)  # never signal the caller's own group
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            try:
                os.killpg(group, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline and any(_alive(p) for p in [pgid, *others]):
            time.sleep(0.05)
        if not any(_alive(p) for p in [pgid, *others]):
            return


def stop(workers: list[LocalWorker], grace_s: float = 15.0) -> list[int]:
    """Stop every worker and what it started (SIGTERM to each process group, SIGKILL after grace_s); the pids stopped."""
    plans = [(w, sorted({*descendants(w.pid), *(p.pid for p in w.runs_seen if _running(p))}))
             for w in workers if w.proc is not None]
    for w, _ in plans:  # all at once: each gets its grace in parallel
        try:
            os.killpg(w.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    stopped = []
    for w, others in plans:
        _stop_group(w.proc.pid, others, grace_s)
        try:
            w.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        stopped.append(w.proc.pid)
    return stopped
