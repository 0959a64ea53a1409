"""`reelgate server start|stop|status`, `reelgate settings`, `reelgate pool [NAME]` (the work pool and its priority
queues) and `reelgate reviewers add NAME | list | remove NAME` (the people who may sign in to the review page):
looking after the installation rather than its episodes.

Errors are InputError, which `cli.main` turns into exit 2 with the message.
"""

from __future__ import annotations

import argparse

from cli.common import EXIT_OK, EXIT_REFUSED, import_flows, load_settings, sign_in_hint
from cli.series import load_series_file
from editorial.review import url_host
from editorial.reviewers import OWNER, add_reviewer, list_reviewers, remove_reviewer, reviewers_file
from reelgate.errors import InputError


def cmd_server(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    server, runs, deployments = import_flows(settings)
    if args.action == "start":
        print(f"Prefect server healthy at {server.ensure_server(settings)}; UI {server.ui_url()}  "
              f"{sign_in_hint(settings)}")
    elif args.action == "stop":
        print("stopped" if server.stop_server(settings) else "no local server was running")
    else:
        import os

        healthy = server.server_healthy(os.environ["PREFECT_API_URL"])
        print(f"{os.environ['PREFECT_API_URL']}: {'healthy' if healthy else 'not answering'}")
        return EXIT_OK if healthy else EXIT_REFUSED
    return EXIT_OK


def cmd_pool(args: argparse.Namespace) -> int:
    """Set up the work pool: the process pool, its high/normal/low queues, the episode (and series) deployments."""
    from pathlib import Path

    settings = load_settings(args)
    name = args.name or settings.priorities.pool
    series_files = [Path(f).resolve() for f in args.series or []]
    for file in series_files:
        if not file.is_file():
            raise InputError(f"no series file {file}; give --series the path of a series YAML")
        load_series_file(file, settings.planning)
    server, runs, deployments = import_flows(settings)
    server.ensure_server(settings)  # a server that does not answer: BackendUnavailable, saying which and what to do
    setup = deployments.apply_to_pool(series_files, settings, name)
    print(f"work pool {name}: {'created' if setup.created else 'already there'} (type process)")
    for queue, priority in setup.queues.items():
        print(f"  queue {queue:7s} priority {priority}  {setup.changes[queue]:22s} {QUEUE_USE[queue]}")
    for deployment in setup.deployments:
        queue = {runs.DEPLOYMENT: deployments.EPISODE_QUEUE, runs.SWEEP_DEPLOYMENT: deployments.SWEEP_QUEUE}.get(
            deployment, deployments.SERIES_QUEUE)
        print(f"  deployment {deployment} (its own runs wait in {queue})")
    print("start a worker in a checkout of reelgate, on each machine that runs episodes "
          "(--limit: runs at once; priorities decide which run takes a free slot):")
    print(f"  {worker_command(settings, name)}")
    print(f"  (it checks the server, its secret and the shared data folder {settings.data_dir}, then runs "
          f"prefect worker start --pool {name} --type process --limit 1; `reelgate up --workers N` starts N here)")
    return EXIT_OK


QUEUE_USE = {
    "high": "reelgate episode, the review page",
    "normal": "reelgate batch, runs started without a priority",
    "low": "series episodes from their schedule",
}


def worker_command(settings, pool: str, limit: int = 1) -> str:
    """The shell line that starts a worker of the pool against this server, with its secret and data folder."""
    import os
    import shlex

    from flows.environment import auth_file

    api_url = os.environ.get("PREFECT_API_URL", settings.local_api_url)
    secret = (f'"$(cat {shlex.quote(str(auth_file(settings)))})"' if api_url.rstrip("/") == settings.local_api_url
              else "'<the server secret>'")
    return (f"PREFECT_API_URL={shlex.quote(api_url)} PREFECT_API_AUTH_STRING={secret} "
            f"REELGATE_DATA_DIR={shlex.quote(str(settings.data_dir))} "
            f"reelgate worker --pool {shlex.quote(pool)} --limit {limit}")


def cmd_settings(args: argparse.Namespace) -> int:
    print(load_settings(args).model_dump_json(indent=2))
    return EXIT_OK


def cmd_reviewers(args: argparse.Namespace) -> int:
    """`reelgate reviewers add NAME | list | remove NAME`: the people who may sign in to the review page."""
    settings = load_settings(args)
    data_dir = settings.data_dir
    if args.action == "add":
        token = add_reviewer(data_dir, args.name)
        host = "127.0.0.1" if settings.review_host in ("0.0.0.0", "", "::") else settings.review_host
        base_url = f"http://{url_host(host)}:{settings.review_port or 8765}"
        print(f"added reviewer {args.name}; their token:\n\n    {token}\n")
        print(f"It is shown only once (only its hash is kept, in {reviewers_file(data_dir)}): give it to "
              f"{args.name} privately. If it is lost, remove {args.name} and add them again.")
        print(f"{args.name} signs in to the review page by adding ?token=<token> to its URL "
              f"({base_url}/?token=...), or decides from the command line with REELGATE_REVIEWER_TOKEN=<token> set.")
    elif args.action == "remove":
        if not remove_reviewer(data_dir, args.name):
            raise InputError(f"no reviewer named {args.name}; `reelgate reviewers list` shows them")
        print(f"removed reviewer {args.name}: their token no longer signs in, and their open page sessions end")
    else:
        reviewers = list_reviewers(data_dir)
        for reviewer in reviewers:
            print(f"{reviewer.name:24s} added {reviewer.added_at:%Y-%m-%d %H:%M %Z}")
        print(f"{len(reviewers)} named reviewer{'' if len(reviewers) == 1 else 's'} in {reviewers_file(data_dir)}; "
              f"the owner's token (REELGATE_REVIEW_TOKEN) signs in as {OWNER}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add `reviewers`, `server`, `pool` and `settings` to the main parser's subcommands."""
    parser = sub.add_parser(
        "reviewers",
        help="the people who may sign in to the review page, each with a personal token: add, list, remove",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a reviewer and print their token (shown only once)")
    add.add_argument("name", help="1 to 64 letters, digits, '.', '_' or '-' (as a series' review.reviewers names them)")
    actions.add_parser("list", help="the named reviewers and when each was added")
    remove = actions.add_parser("remove", help="withdraw a reviewer's token (their page sessions end too)")
    remove.add_argument("name")
    parser.set_defaults(func=cmd_reviewers)

    server = sub.add_parser("server", help="the local Prefect server")
    server.add_argument("action", choices=["start", "stop", "status"])
    server.set_defaults(func=cmd_server)

    pool = sub.add_parser(
        "pool", help="set up the work pool for workers: a process pool, its queues high/normal/low with their "
                     "priorities, the episode deployment (and --series); idempotent; prints the worker command")
    pool.add_argument("name", nargs="?", help="the work pool (default: REELGATE_PRIORITIES__POOL, reelgate)")
    pool.add_argument("--series", action="append", metavar="FILE",
                      help="a series YAML to deploy to the pool too, its fires on the low queue (repeatable)")
    pool.set_defaults(func=cmd_pool)

    settings = sub.add_parser("settings", help="print the effective settings as JSON")
    settings.set_defaults(func=cmd_settings)
