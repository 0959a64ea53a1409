"""`reelgate series validate|show|deploy FILE`: check a series file, show its episodes, deploy it to a work pool."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from cli.common import EXIT_OK, UsageError, import_flows, load_settings
from reelgate.errors import InputError
from reelgate.settings import PlanningSettings


def load_series_file(file: Path, planning: PlanningSettings, problems_to=None):
    """The Series in `file`. When it has problems, each is printed with its line (on stderr unless
    `problems_to` says where) and InputError (exit 2) counts them."""
    from editorial.series import SeriesFileError, load_series

    try:
        return load_series(file, planning)
    except SeriesFileError as exc:
        for problem in exc.problems:
            print(problem.format(exc.path), file=problems_to or sys.stderr)
        raise InputError(f"{exc.path}: {len(exc.problems)} problem(s); fix them "
                         f"(`reelgate series validate {exc.path}` lists them)") from None


def cmd_series(args: argparse.Namespace) -> int:
    from datetime import timezone

    series = load_series_file(Path(args.file), load_settings(args).planning, problems_to=sys.stdout)
    next_at = series.next_fire(datetime.now(timezone.utc))
    if args.action == "deploy":
        if not args.pool:
            raise UsageError("series deploy needs --pool NAME (a process work pool, created with its priority queues "
                             "if missing; see `reelgate pool`); to serve a series on this machine, run "
                             "`reelgate up --series FILE`")
        settings = load_settings(args)
        server, runs, deployments = import_flows(settings)
        server.ensure_server(settings)
        deployments.apply_to_pool([Path(args.file)], settings, args.pool)
        print(f"{series.id}: deployed to work pool {args.pool} with the episode deployment (its episodes wait in "
              f"the low queue); next episode at {next_at:%Y-%m-%d %H:%M %Z} ({series.timezone}); start workers "
              f"with `prefect worker start --pool {args.pool}` in a checkout of reelgate (`reelgate pool` prints "
              "the whole line)")
        return EXIT_OK
    print(f"{args.file}: valid: {series.title} ({series.id}), {len(series.episodes)} episodes, "
          f"schedule '{series.schedule}' {series.timezone}, next at {next_at:%Y-%m-%d %H:%M %Z}")
    if args.action == "show":
        width = max(len(e.id) for e in series.episodes)
        for number, e in enumerate(series.episodes, start=1):
            overrides = f"  [{len(e.shots)} shot override(s)]" if e.shots else ""
            print(f"{number:3d}  {e.id:{width}s}  {e.title}  {e.title_en}  ({len(e.story)} chars){overrides}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add `series` to the main parser's subcommands."""
    se = sub.add_parser("series", help="check a series file (exit 2 with every problem and its line); show its episodes")
    se.add_argument("action", choices=["validate", "show", "deploy"])
    se.add_argument("file", help="the series YAML file, e.g. examples/constellations.yaml")
    se.add_argument("--pool", help="deploy: the Prefect work pool whose workers run the series and its episodes")
    se.set_defaults(func=cmd_series)
