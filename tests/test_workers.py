"""Workers refuse to start without what a run needs, and `up --workers` keeps its processes in hand.

Fast tier: plain functions of flows.workers and the `worker`/`up` argument handling; servers are
tiny local HTTP servers (a refused port, one that answers 401, one that holds a recorded data
folder); worker processes are small Python stand-ins, so no Prefect server starts here.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli import main
from flows import workers
from reelgate.errors import BackendUnavailable, ConfigError


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie child of ours counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def tiny_server(answer):
    """An HTTP server on a free port; answer(path, headers) -> (status, body dict)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = answer(self.path, self.headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)  # stops in 20 ms, not 0.5 s
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ the data folder


def test_a_worker_without_a_data_folder_is_told_to_set_it():
    for missing in (None, "", "  "):
        with pytest.raises(ConfigError, match="REELGATE_DATA_DIR is not set.*shared data folder"):
            workers.check_data_dir(missing)


def test_a_missing_data_folder_is_refused_and_not_created(tmp_path):
    where = tmp_path / "mnt" / "reelgate-data"
    with pytest.raises(ConfigError, match=f"REELGATE_DATA_DIR={where} does not exist.*mount the shared data folder"):
        workers.check_data_dir(where)
    assert not where.exists()  # an unmounted share must not become an empty local folder


def test_a_data_path_that_is_a_file_is_refused(tmp_path):
    file = tmp_path / "data"
    file.write_text("x")
    with pytest.raises(ConfigError, match="is not a folder"):
        workers.check_data_dir(file)


def test_an_unwritable_data_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        writable = os.access(folder, os.W_OK)
        target = Path("/proc") if writable else folder  # root writes anywhere on disk, but not in /proc
        with pytest.raises(ConfigError, match="not readable and writable by this worker.*read and write access"):
            workers.check_data_dir(target)
    finally:
        folder.chmod(0o700)


def test_a_usable_data_folder_is_returned_resolved_and_left_clean(tmp_path):
    assert workers.check_data_dir(str(tmp_path)) == tmp_path.resolve()
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ the server and its secret


def test_an_unreachable_server_names_the_url_and_the_reason():
    url = f"http://127.0.0.1:{_free_port()}/api"
    with pytest.raises(BackendUnavailable) as caught:
        workers.check_server(url, "reelgate:secret", timeout=2)
    message = str(caught.value)
    assert url in message and "cannot be reached" in message
    assert "refused" in message.lower()  # the reason, as the OS gave it
    assert "PREFECT_API_URL" in message


def _closed_server(secret: str):
    import base64

    wanted = "Basic " + base64.b64encode(secret.encode()).decode()

    def answer(path, headers):
        if path.endswith("/health"):
            return 200, True
        return (404, {"detail": "not found"}) if headers.get("Authorization") == wanted else (401, {"detail": "no"})

    return answer


def test_a_wrong_secret_is_a_401_naming_the_setting_and_the_auth_file(tmp_path):
    with tiny_server(_closed_server("reelgate:right")) as url:
        with pytest.raises(ConfigError) as caught:
            workers.check_server(url, "reelgate:wrong", auth_file=tmp_path / "prefect" / "api-auth")
        message = str(caught.value)
        assert "401 Unauthorized" in message and url in message
        assert "PREFECT_API_AUTH_STRING does not open it" in message
        assert str(tmp_path / "prefect" / "api-auth") in message
        with pytest.raises(ConfigError, match="no PREFECT_API_AUTH_STRING is set"):
            workers.check_server(url, None)
        workers.check_server(url, "reelgate:right")  # the right secret passes


def test_a_server_that_is_not_prefects_api_is_named():
    with tiny_server(lambda path, headers: (404, {})) as url:
        with pytest.raises(BackendUnavailable, match="GET /health answered 404.*ends in /api"):
            workers.check_server(url, None)


# ------------------------------------------------------------------ the server's database


@pytest.mark.integration  # the real CLI in a child process, and a bound on its time
def test_a_server_on_an_unreachable_database_fails_at_start_with_the_url_masked(tmp_path):
    """`reelgate server start` with PREFECT_SERVER_DATABASE_CONNECTION_URL on a closed port: exit 2 at once with the
    URL (its password hidden) and the reason, no traceback, and no server left starting."""
    import subprocess
    import time

    db_port = _free_port()
    url = f"postgresql+asyncpg://reelgate:pw-not-to-print@127.0.0.1:{db_port}/prefect"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REELGATE_"))}
    env.update(REELGATE_DATA_DIR=str(tmp_path), REELGATE_SERVER_PORT=str(_free_port()),
               PREFECT_SERVER_DATABASE_CONNECTION_URL=url, PYTHONPATH=str(workers.ROOT))
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cli", "server", "start"], env=env, cwd=workers.ROOT,
                          capture_output=True, text=True, timeout=120)
    took = time.monotonic() - began
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stderr
    assert f"the Prefect server's database at postgresql+asyncpg://reelgate:***@127.0.0.1:{db_port}/prefect " \
           "cannot be reached" in said
    assert "Connect call failed" in said and "PREFECT_SERVER_DATABASE_CONNECTION_URL" in said
    assert "pw-not-to-print" not in done.stdout + said and "Traceback" not in said
    assert not (tmp_path / "prefect" / "server.pid").exists()  # no server was started
    assert took < 60  # at start: before a server process, not after its start-up and its traceback


def test_a_database_url_s_password_is_never_printed():
    from flows.server import check_database, masked_url

    assert masked_url("postgresql+asyncpg://u:secret@db.example:5432/prefect") == \
        "postgresql+asyncpg://u:***@db.example:5432/prefect"
    assert "secret" not in masked_url("postgres ql://u:secret@")  # not a URL: nothing of it
    check_database("sqlite+aiosqlite:////tmp/prefect.db")  # SQLite (the default) is not checked
    closed = f"postgresql+asyncpg://u:secret@127.0.0.1:{_free_port()}/prefect"
    with pytest.raises(BackendUnavailable, match=r"database at postgresql\+asyncpg://u:\*\*\*@127.0.0.1:\d+/prefect "
                                                 "cannot be reached") as unreached:
        check_database(closed, login=False)  # with Prefect's own TLS settings: the host and port only
    assert "secret" not in str(unreached.value)
    with pytest.raises(ConfigError, match="is not a database URL") as refused:
        check_database("not a url with secret")
    assert "secret" not in str(refused.value)


# ------------------------------------------------------------------ the same data folder as the server side


def _recorded(value):
    def answer(path, headers):
        if path.endswith("/variables/name/" + workers.data_variable("team")):
            return (404, {}) if value is None else (200, {"name": "x", "value": value})
        return 404, {}

    return answer


def test_a_worker_on_another_data_folder_is_refused(tmp_path):
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.mkdir()
    theirs.mkdir()
    with tiny_server(_recorded({"path": str(theirs), "mark": workers.data_mark(theirs)})) as url:
        with pytest.raises(ConfigError, match=f"REELGATE_DATA_DIR={mine} differs .* set REELGATE_DATA_DIR={theirs}"):
            workers.check_same_data(url, None, "team", mine)


def test_an_empty_folder_where_the_share_should_be_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    mark = workers.data_mark(shared)
    assert workers.data_mark(shared) == mark  # made once
    empty = tmp_path / "shared-unmounted"
    empty.mkdir()
    with tiny_server(_recorded({"path": str(empty), "mark": mark})) as url:
        with pytest.raises(ConfigError, match=r"\.reelgate-data-id is missing.*mount the shared data folder"):
            workers.check_same_data(url, None, "team", empty)
    with tiny_server(_recorded({"path": str(shared), "mark": mark})) as url:
        assert "shared data folder" in workers.check_same_data(url, None, "team", shared)
    with tiny_server(_recorded(None)) as url:  # a pool set up before the record: said, not refused
        assert "no recorded data folder" in workers.check_same_data(url, None, "team", shared)


def test_the_data_variable_name_is_one_prefect_accepts():
    from prefect.client.schemas.actions import VariableCreate

    name = workers.data_variable("GPU Pool/2")
    assert VariableCreate(name=name, value={"path": "/x"}).name == name


# ------------------------------------------------------------------ the command line


def test_reelgate_worker_without_a_data_folder_exits_2_before_anything(monkeypatch, capsys):
    monkeypatch.delenv("REELGATE_DATA_DIR", raising=False)
    assert main(["worker", "--check"]) == 2
    assert "REELGATE_DATA_DIR is not set" in capsys.readouterr().err


def test_reelgate_worker_against_an_unreachable_server_exits_2_with_the_url(monkeypatch, capsys, tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/api"
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REELGATE_PREFECT_API_URL", url)
    saved = dict(os.environ)
    try:
        assert main(["worker", "--check"]) == 2
    finally:  # configure_prefect exported this worker's environment into the test process: put it back
        os.environ.clear()
        os.environ.update(saved)
    err = capsys.readouterr().err
    assert f"the Prefect server at {url} cannot be reached" in err


@pytest.mark.parametrize("argv, message", [
    (["worker", "--limit", "0"], "--limit must be 1 or more"),
    (["up", "--workers", "0"], "--workers must be 1 or more"),
])
def test_bad_counts_are_refused(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_bad_count_is_an_argparse_error():
    with pytest.raises(SystemExit) as caught:
        main(["up", "--workers", "two"])
    assert caught.value.code == 2


# ------------------------------------------------------------------ local worker processes


def _stand_ins(tmp_path, code: str, count: int = 1):
    team = workers.make_workers(count, "team", 1, tmp_path, tmp_path / "workers", env=dict(os.environ))
    for w in team:
        w.command = [sys.executable, "-c", code]
    return team


def test_local_workers_carry_the_data_folder_the_checkout_and_a_limit(tmp_path):
    team = workers.make_workers(2, "team", 1, tmp_path, tmp_path / "workers", env={"PYTHONPATH": "/elsewhere"})
    assert [w.log_path.name for w in team] == ["worker-1.log", "worker-2.log"]
    assert len({w.name for w in team}) == 2
    w = team[0]
    assert w.env["REELGATE_DATA_DIR"] == str(tmp_path)
    assert w.env["PYTHONPATH"].split(os.pathsep) == [str(workers.ROOT), "/elsewhere"]
    assert w.command[1:] == ["-m", "cli", "worker", "--pool", "team", "--limit", "1", "--name", w.name]
    with pytest.raises(ConfigError, match="--workers must be 1 or more"):
        workers.make_workers(0, "team", 1, tmp_path, tmp_path / "workers")


def test_a_worker_that_exits_at_start_is_an_error_with_its_log_tail(tmp_path):
    team = _stand_ins(tmp_path, "print('reelgate: REELGATE_DATA_DIR is not set'); raise SystemExit(2)")
    workers.start(team[0])
    with pytest.raises(ConfigError) as caught:
        workers.wait_started(team, timeout_s=30)
    message = str(caught.value)
    assert f"pid {team[0].pid}" in message and "exited at start with code 2" in message
    assert "REELGATE_DATA_DIR is not set" in message and str(team[0].log_path) in message


def test_a_dead_worker_is_restarted_then_given_up(tmp_path, monkeypatch):
    monkeypatch.setattr(workers, "RESTARTS", 2)
    team = _stand_ins(tmp_path, "print('Worker x started!', flush=True); raise SystemExit(1)")
    w = team[0]
    workers.start(w)
    w.proc.wait(timeout=30)
    pids = [w.pid]
    said = workers.watch(team)
    assert "exited with code 1; restarted as pid" in said[0] and w.pid != pids[0]
    w.proc.wait(timeout=30)
    assert "restarted" in workers.watch(team)[0]
    w.proc.wait(timeout=30)
    said = workers.watch(team)
    assert "not restarted" in said[0] and w.given_up
    assert workers.watch(team) == []  # said once


def test_stop_leaves_no_process_behind_not_even_a_flow_run_in_its_own_session(tmp_path):
    pid_file = tmp_path / "child.pid"
    code = ("import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
            f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
            "print('Worker x started!', flush=True)\n"
            "time.sleep(120)\n")
    team = _stand_ins(tmp_path, code, count=2)
    for w in team:
        workers.start(w)
    assert workers.wait_started(team, timeout_s=30) == []
    child = int(pid_file.read_text())
    assert alive(child)
    stopped = workers.stop(team, grace_s=5)
    assert sorted(stopped) == sorted(w.pid for w in team)
    for pid in [*stopped, child]:
        assert not alive(pid), f"pid {pid} outlived stop()"


def test_up_with_workers_against_an_unreachable_server_starts_nothing(monkeypatch, capsys, tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/api"
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REELGATE_PREFECT_API_URL", url)
    saved = dict(os.environ)
    try:
        assert main(["up", "--workers", "2", "--until-review"]) == 2
    finally:
        os.environ.clear()
        os.environ.update(saved)
    err = capsys.readouterr().err
    assert f"the Prefect server at {url} cannot be reached" in err and "refused" in err.lower()
    assert not (tmp_path / "workers").exists()  # no worker was started


def test_the_run_of_a_worker_that_died_goes_on_and_is_stopped_with_the_rest(tmp_path):
    import signal
    import time

    pid_file = tmp_path / "children.pid"
    code = ("import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
            f"open({str(pid_file)!r}, 'a').write(f'{{child.pid}}\\n')\n"
            "print('Worker x started!', flush=True)\n"
            "time.sleep(120)\n")
    team = _stand_ins(tmp_path, code)
    w = team[0]
    workers.start(w)
    assert workers.wait_started(team, timeout_s=30) == []
    assert workers.watch(team) == [] and workers.watch(team) == []
    assert len(w.runs_seen) == 1  # its flow run, seen while it lives (once, however often it is watched)
    first = w.pid
    os.kill(first, signal.SIGKILL)
    w.proc.wait(timeout=10)
    assert "restarted as pid" in workers.watch(team)[0]
    deadline = time.monotonic() + 30
    while len(pid_file.read_text().split()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    orphan, second = map(int, pid_file.read_text().split())
    assert alive(orphan)  # the dead worker's run goes on (Prefect's heartbeats keep it)
    workers.stop(team, grace_s=5)
    for pid in (first, w.pid, orphan, second):
        assert not alive(pid), f"pid {pid} outlived stop()"


def test_reelgate_worker_with_a_wrong_secret_exits_2_naming_the_setting(monkeypatch, capsys, tmp_path):
    with tiny_server(_closed_server("reelgate:right")) as url:
        monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("REELGATE_PREFECT_API_URL", url)
        monkeypatch.setenv("PREFECT_API_AUTH_STRING", "reelgate:wrong")
        saved = dict(os.environ)
        try:
            assert main(["worker", "--check"]) == 2
        finally:
            os.environ.clear()
            os.environ.update(saved)
    err = capsys.readouterr().err
    assert f"the Prefect server at {url} answers 401 Unauthorized" in err
    assert "set PREFECT_API_AUTH_STRING to the server's secret" in err
