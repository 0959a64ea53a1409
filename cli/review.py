"""`reelgate review list|show|approve|reject|regenerate` and `reelgate page`: deciding at the review gate."""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
from pathlib import Path

from pydantic import ValidationError

from cli.common import (
    EXIT_OK, EXIT_REFUSED, UsageError, expire_overdue_reviews, import_flows, load_settings, print_outcome,
)
from reelgate.errors import InputError
from reelgate.files import write_text
from reelgate.records import EpisodeRequest
from reelgate.settings import Settings


def cmd_review(args: argparse.Namespace) -> int:
    from editorial.manifest import Decision, ReviewDecision, load_manifest
    from editorial.review import describe_version

    settings = load_settings(args)
    server, runs, deployments = import_flows(settings)
    server.ensure_server(settings)
    expire_overdue_reviews(settings)
    if args.action == "list":
        return _review_list(settings)
    episode_id = _episode_id_of(args.id)
    episode_dir = settings.episodes_dir / episode_id
    manifest = load_manifest(episode_dir)
    reviewer = _cli_reviewer(settings)
    shown = _shown_file(settings, reviewer, episode_id)
    if args.action == "show":
        print(manifest.model_dump_json(indent=2))
        print(f"version: {describe_version(manifest.version)}", file=sys.stderr)
        if manifest.version:
            write_text(shown, manifest.version.id + "\n")  # what `review approve` decides on by default
        return EXIT_OK
    # No version at all is refused by the gate's rules, with the version to watch in the message.
    version = args.version or (shown.read_text().strip() if shown.is_file() else "")
    if version:
        print(f"deciding as {reviewer} on version {version}"
              + ("" if args.version else " (the one `reelgate review show` printed last)"), flush=True)
    try:
        decision = ReviewDecision(
            decision=Decision(args.action), notes=args.notes or "", version=version,
            shots=_parse_shots(args.shots) if args.action == "regenerate" else [],
            take=(args.take or "") if args.action == "regenerate" else "",
        )
    except ValidationError as exc:  # the form's own rules, said as what to type
        raise UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    from flows.review import decide

    run = decide(settings, episode_id, decision, reviewer, via="cli")
    settled = runs.drive_run(run.id, run.deployment_id)
    code = print_outcome(settled, settings)
    final = load_manifest(episode_dir)
    if decision.decision == Decision.REGENERATE and final.review and final.review.refused:
        print(f"  regenerate refused: {final.review.refused}")
        return EXIT_REFUSED
    return code


def _episode_id_of(run_or_episode: str) -> str:
    """An episode id, or the episode of a flow run id (Prefect is configured by then)."""
    from flows.runs import read_run

    try:
        return read_run(uuid.UUID(run_or_episode)).name
    except ValueError:
        pass
    if not re.fullmatch(EpisodeRequest.model_fields["episode_id"].metadata[0].pattern, run_or_episode):
        raise UsageError(f"{run_or_episode!r} is neither an episode id (letters, digits, '.', '_', '-') "
                         "nor a flow run id; `reelgate review list` shows the episodes")
    return run_or_episode


def _shown_file(settings: Settings, reviewer: str, episode_id: str) -> Path:
    """What `review show` last showed this reviewer: another reviewer's look is never a default."""
    return settings.data_dir / "review-shown" / reviewer / episode_id


def _cli_reviewer(settings: Settings) -> str:
    """Who decides from this terminal: the reviewer whose token is in REELGATE_REVIEWER_TOKEN, else the owner.

    Whoever runs the CLI on the data folder holds the key that signs decisions, which is the owner's role.
    """
    from editorial.reviewers import OWNER, authenticate

    token = os.environ.get("REELGATE_REVIEWER_TOKEN", "").strip()
    if not token:
        return OWNER
    owner = settings.review_token.get_secret_value() if settings.review_token else None
    name = authenticate(settings.data_dir, token, owner)
    if name is None:
        raise InputError("REELGATE_REVIEWER_TOKEN is not a known reviewer's token; ask the owner for one "
                         "(`reelgate reviewers add NAME`), or unset it to decide as the owner")
    return name


def _parse_shots(text: str | None) -> list[int]:
    """--shots 1,3 -> [1, 3]"""
    if not text or not re.fullmatch(r"\s*\d+\s*(,\s*\d+\s*)*", text):
        raise UsageError(f"--shots takes shot numbers from 1, separated by commas, e.g. --shots 1,3 (got {text!r})")
    return [int(n) for n in text.split(",")]


def _review_list(settings: Settings) -> int:
    """Every episode with its review status, version and age (since it reached the gate), newest first."""
    from editorial.manifest import Status, now_utc
    from editorial.review import format_age, read_manifests

    manifests = sorted(read_manifests(settings.episodes_dir), key=lambda m: m.waiting_since or m.created_at,
                       reverse=True)
    if not manifests:
        print("no episode is waiting for review")
        return EXIT_OK
    print(f"{'EPISODE':32s} {'STATUS':16s} {'ROUND':>5s} {'VERSION':16s} {'AGE':>10s}  EXPIRES / DECIDED")
    for m in manifests:
        when = (m.review_due_at if m.status == Status.AWAITING_REVIEW else m.expired_at or
                (m.review.decided_at if m.review else None))
        age = format_age(now_utc() - (m.waiting_since or m.created_at))
        print(f"{m.episode_id:32s} {m.status.value:16s} {m.review_round or '-':>5} "
              f"{m.version.id if m.version else '-':16s} {age:>10s}  {when.isoformat(timespec='seconds') if when else '-'}")
    return EXIT_OK


def cmd_page(args: argparse.Namespace) -> int:
    import time

    settings = load_settings(args)
    server, runs, deployments = import_flows(settings)
    server.ensure_server(settings)
    # The page starts episodes and sweeps: their deployments must be on the server (a re-apply keeps a pool).
    deployments.ensure_deployment()
    deployments.ensure_sweep_deployment()
    from flows.desk import start_review_page

    page = start_review_page(settings, args.host, args.port, allow_remote=args.allow_remote)
    print(f"review page     {page.url}")
    print("open it in a browser (the token in the URL is the key: keep it private); Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        page.stop()
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add `review` and `page` to the main parser's subcommands."""
    review = sub.add_parser("review", help="act on episodes waiting at the review gate")
    rsub = review.add_subparsers(dest="action", required=True)
    rsub.add_parser("list", help="episodes with their review status and age, newest first (expires overdue ones)")
    show = rsub.add_parser("show", help="print an episode's manifest and the version at its gate "
                           "(approve/reject/regenerate then decide on that version)")
    show.add_argument("id", help="episode id or flow run id")
    helps = {
        "approve": "approve an episode: it is published with the feeds updated (resumes its run)",
        "reject": "reject an episode: it ends unpublished (resumes its run)",
        "regenerate": "make chosen shots again with your notes added to their prompts; the episode comes back for review",
    }
    for action, text in helps.items():
        p = rsub.add_parser(action, help=text)
        p.add_argument("id", help="episode id or flow run id")
        p.add_argument("--notes", help="what you saw" + ("; required" if action != "approve" else "")
                       + ("; added to the chosen shots' prompts, and screened like any prompt" if action == "regenerate" else ""))
        if action == "regenerate":
            p.add_argument("--shots", required=True, help="the shots to make again, numbered from 1: --shots 1,3")
            p.add_argument("--take", help="use a selected take of a variants sweep of this version instead of making "
                           "the shot again: --take SWEEP/t03 (with --shots N, the swept shot)")
        p.add_argument("--version", help="the version you watched (default: the one `reelgate review show` printed "
                       "last); a decision on a version no longer at the gate is refused")
    review.set_defaults(func=cmd_review)

    pg = sub.add_parser("page", help="serve the review page alone (the queue, the player, the decisions); Ctrl-C stops")
    pg.add_argument("--host", help="host to bind (default: settings review_host, 127.0.0.1)")
    pg.add_argument("--port", type=int, help="port (default: settings review_port, 8765; 0: any free port)")
    pg.add_argument("--allow-remote", action="store_true",
                    help="allow a host other than loopback (put the page behind TLS: tokens and cookies travel on it)")
    pg.set_defaults(func=cmd_page)
