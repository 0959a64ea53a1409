"""The `reelgate` command. One module per command group, each adding its commands with `register`:
`episode` (up, episode, generate, plan), `batch`, `variants`, `review` (review, page), `media` (screen, moderate,
likeness, gallery, qc, enhance), `series`, `admin` (server, settings, reviewers), `worker`; `common` holds what
they share.

    reelgate up                      start the server, serve the flows, produce the bundled example
    reelgate episode "<prompt>"      produce one episode and stop at the review gate
    reelgate generate "<text>"       render shots to MP4 for preview, with a progress bar
    reelgate screen "<text>" ...     screen texts (or stdin, one per line) against the blocklists
    reelgate batch FILE              one episode per line of a JSONL or CSV file, idempotent by id (--dry-run checks)
    reelgate plan "<story>"          show (and --out write) the editable shot plan
    reelgate variants PLAN --shot N --sweep KNOB=V1,V2   takes of one shot side by side; list|show|mark
    reelgate moderate VIDEO          nudity and concept checks of any video (exit 1: blocked or review)
    reelgate likeness VIDEO          protected people's faces in any video
    reelgate qc VIDEO                quality scores of any video (exit 1: fails the quality gate)
    reelgate enhance VIDEO --out F   the enhancement chain on any video (grade, match, clean, upscale, fps, aspect)
    reelgate gallery add|list|remove the protected-people gallery
    reelgate review list|show|approve|reject|regenerate
    reelgate series validate|show FILE  check a series file (every problem with its line); show its episodes
    reelgate reviewers add|list|remove  the people who may sign in to the review page
    reelgate server start|stop|status
    reelgate worker [--pool NAME]     check the server, its secret and the shared data folder, then run a pool worker
    reelgate page                    serve the review page alone (prints its URL with the token)
    reelgate settings                print the effective settings

Prefect is imported only after its environment is configured (see flows.environment).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from cli import admin, batch, episode, media, review, series, variants, worker
from cli.common import EXIT_ERROR
from reelgate.errors import ReelgateError


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the global flags, then each group's commands."""
    parser = argparse.ArgumentParser(
        prog="reelgate",
        description="Prompt -> moderated, human-approved video, orchestrated by Prefect. "
        "Settings come from REELGATE_* environment variables (see `reelgate settings`).",
    )
    parser.add_argument("--data-dir", type=Path, help="where episodes, the publish folder and Prefect's database live")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (episode, batch, variants, media, review, series, admin, worker):
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit code is 0 (done), 1 (refused: blocked, needs review) or 2 (bad input, failure)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ReelgateError, ValidationError) as exc:
        print(f"reelgate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
