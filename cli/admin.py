"""`reelgate server start|stop|status`, `reelgate settings`, and `reelgate reviewers add NAME | list | remove NAME`
(the people who may sign in to the review page): looking after the installation rather than its episodes.

Errors are InputError, which `cli.main` turns into exit 2 with the message.
"""

from __future__ import annotations

import argparse

from cli.common import EXIT_OK, EXIT_REFUSED, import_flows, load_settings, sign_in_hint
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
    """Add `reviewers`, `server` and `settings` to the main parser's subcommands."""
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

    settings = sub.add_parser("settings", help="print the effective settings as JSON")
    settings.set_defaults(func=cmd_settings)
