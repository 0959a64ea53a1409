"""`reelgate reviewers add NAME | list | remove NAME`: the people who may sign in to the review page.

Registered into the main parser by `reelgate.cli.build_parser`; errors are InputError, which
`reelgate.cli.main` turns into exit 2 with the message.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial

from editorial.review import url_host
from editorial.reviewers import OWNER, add_reviewer, list_reviewers, remove_reviewer, reviewers_file
from reelgate.errors import InputError
from reelgate.settings import Settings

EXIT_OK = 0


def cmd_reviewers(args: argparse.Namespace, settings_loader: Callable[[argparse.Namespace], Settings]) -> int:
    settings = settings_loader(args)
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


def register(subparsers: argparse._SubParsersAction,
             settings_loader: Callable[[argparse.Namespace], Settings]) -> None:
    """Add `reviewers` to the main parser's subcommands.

    Args:
        settings_loader: builds the settings from the parsed arguments (reelgate.cli._settings).
    """
    parser = subparsers.add_parser(
        "reviewers",
        help="the people who may sign in to the review page, each with a personal token: add, list, remove",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a reviewer and print their token (shown only once)")
    add.add_argument("name", help="1 to 64 letters, digits, '.', '_' or '-' (as a series' review.reviewers names them)")
    actions.add_parser("list", help="the named reviewers and when each was added")
    remove = actions.add_parser("remove", help="withdraw a reviewer's token (their page sessions end too)")
    remove.add_argument("name")
    parser.set_defaults(func=partial(cmd_reviewers, settings_loader=settings_loader))
