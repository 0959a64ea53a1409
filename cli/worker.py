"""`reelgate worker`: check what a worker needs (the server, its secret, the shared data folder), then become
`prefect worker start --pool NAME --type process --limit N` (the same process: its pid and signals are Prefect's).

This is how every worker starts, on a GPU machine or under `reelgate up --workers N`; a check that fails
exits 2 with what to change, before the worker takes a run.
"""

from __future__ import annotations

import argparse
import os
import sys

from cli.common import EXIT_OK, load_settings
from reelgate.errors import InputError


def cmd_worker(args: argparse.Namespace) -> int:
    from flows import workers  # plain code until record_data_dir: Prefect is not imported here

    if args.limit < 1:
        raise InputError(f"--limit must be 1 or more, got {args.limit}")
    # Checked before the settings make anything: a missing mount must not become an empty local folder.
    given = args.data_dir if args.data_dir is not None else os.environ.get("REELGATE_DATA_DIR")
    workers.check_data_dir(given, os.environ.get("REELGATE_STORAGE_URL"))
    settings = load_settings(args)
    pool = args.pool or settings.priorities.pool
    from flows.environment import auth_file, configure_prefect

    env = configure_prefect(settings)  # PREFECT_API_URL, the secret (this machine's local server's, if that is the URL)
    api_url = env["PREFECT_API_URL"]
    local = api_url.rstrip("/") == settings.local_api_url
    workers.check_server(api_url, os.environ.get("PREFECT_API_AUTH_STRING"), auth_file(settings) if local else None)
    note = workers.check_same_data(api_url, os.environ.get("PREFECT_API_AUTH_STRING"), pool, settings.data_dir,
                                   storage_url=settings.storage_url)
    store = workers.check_storage(settings.storage_url, settings.data_dir)
    print(f"reelgate worker: server {api_url} answers and takes this worker's secret; {note}; {store}", flush=True)
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process",
               "--limit", str(args.limit)]
    if args.name:
        command += ["--name", args.name]
    for queue in args.work_queue or []:
        command += ["--work-queue", queue]
    if args.check:
        print("checks passed; would run: " + " ".join(command[1:]), flush=True)
        return EXIT_OK
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, os.environ)  # never returns


def register(sub: argparse._SubParsersAction) -> None:
    """Add `worker` to the main parser's subcommands."""
    worker = sub.add_parser(
        "worker", help="check the server, its secret and the shared data folder, then run a Prefect process "
                       "worker of the pool (`prefect worker start`); use it on every machine that runs episodes")
    worker.add_argument("--pool", help="the work pool (default: REELGATE_PRIORITIES__POOL, reelgate)")
    worker.add_argument("--limit", type=int, default=1, metavar="N",
                        help="flow runs this worker executes at once (default 1: one per GPU; priorities decide "
                             "which run takes a free slot)")
    worker.add_argument("--name", help="the worker's name in the Prefect UI (default: Prefect's)")
    worker.add_argument("--work-queue", action="append", metavar="QUEUE",
                        help="poll only this queue (repeatable), e.g. high for a machine kept for episodes people wait on")
    worker.add_argument("--check", action="store_true", help="run the checks and exit (0: this machine is ready)")
    worker.set_defaults(func=cmd_worker)
