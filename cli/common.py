"""What every command group shares: exit codes, the usage error, settings and options from the
command line, Prefect's modules (imported once its environment is set), and a run's outcome.

Prefect is imported only after its environment is configured (see flows.environment).
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from pydantic import ValidationError

from reelgate.errors import InputError
from reelgate.settings import RunOptions, Settings

EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2


class UsageError(InputError):
    """The command line itself is wrong (exit 2, like argparse's own errors)."""


# The run flags a command may offer: flag -> (its argparse keywords). run_options reads them.
RUN_FLAGS: dict[str, dict] = {
    "--backend": {"help": "generator backend: animatic (default, offline), wan, diffusers or dashscope"},
    "--model": {"help": "model id or local folder for diffusers backends, or a cloud model name"},
    "--size": {"help": "frame size WIDTHxHEIGHT (default: the model's native size)"},
    "--fps": {"type": int, "help": "frames per second (default: the model's)"},
    "--frames": {"dest": "num_frames", "type": int, "help": "frames per shot (default: from the shot's length)"},
    "--steps": {"type": int, "help": "denoising steps"},
}


def add_run_flags(parser: argparse.ArgumentParser, *flags: str) -> None:
    """Give a command the run flags it offers, e.g. add_run_flags(p, "--backend", "--model")."""
    for flag in flags:
        parser.add_argument(flag, **RUN_FLAGS[flag])


def run_options(args: argparse.Namespace) -> RunOptions:
    """This command's run flags (--backend, --model, --size...), as the options a run may carry.

    Generation flags are merged before validation, so that a backend chosen on the command
    line gets its own native frame size unless a size was given too. A command offers only
    some of RUN_FLAGS (and some none): a flag it does not offer is not chosen.
    """
    chosen = {k: v for k in ("backend", "model", "steps", "fps", "num_frames") if (v := getattr(args, k, None))}
    if getattr(args, "size", None):
        chosen["width"], chosen["height"] = parse_size(args.size)
    try:
        return RunOptions(**chosen)
    except ValidationError as exc:
        raise UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None


def load_settings(args: argparse.Namespace) -> Settings:
    """The settings from the environment (and --data-dir, exported so runs started from here see it too),
    with this command's run flags on top: the same settings a run with these options computes."""
    if getattr(args, "data_dir", None):
        os.environ["REELGATE_DATA_DIR"] = str(Path(args.data_dir).expanduser().resolve())
    return run_options(args).settings()


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[x*X]\s*(\d+)\s*", text)
    if not match:
        raise UsageError(f"--size must look like 832x480 (width x height), got {text!r}")
    return int(match[1]), int(match[2])


def import_flows(settings: Settings):
    """flows.server, flows.runs and flows.deployments, imported once Prefect's environment is set."""
    from flows.environment import configure_prefect

    configure_prefect(settings)
    from flows import deployments, runs, server  # import prefect: only after its environment is set

    return server, runs, deployments


def print_outcome(run, settings: Settings) -> int:
    from editorial.manifest import Status, load_manifest

    server, runs, _ = import_flows(settings)
    episode_dir = runs.episode_dir_of(run)
    state = run.state.type.value if run.state else "UNKNOWN"
    try:
        manifest = load_manifest(episode_dir)
    except InputError:
        print(f"run {run.id} ended {state} before writing a manifest: {run.state.message if run.state else ''}")
        print(f"  Prefect UI: {server.ui_url(run.id)}")
        return EXIT_ERROR
    print(f"episode {manifest.episode_id}: {manifest.status.value}")
    for reason in manifest.verdict.reasons:
        print(f"  - {reason}")
    if manifest.outputs:
        for name, file in manifest.outputs.items():
            print(f"  {name:14s} {episode_dir / file}")
    print(f"  {'manifest':14s} {episode_dir / 'manifest.json'}")
    print(f"  {'Prefect UI':14s} {server.ui_url(run.id)}")
    if manifest.status == Status.AWAITING_REVIEW:
        version = manifest.version.id if manifest.version else "?"
        print(f"  version        {version}  (a decision names it; any other version is refused)")
        print(f"  review gate    {server.ui_url(run.id)}  (Resume shows the decision form)")
        print(f"  look first:    reelgate review show {manifest.episode_id}")
        print(f"  approve:       reelgate review approve {manifest.episode_id} --version {version} --notes '...'")
        print(f"  reject:        reelgate review reject {manifest.episode_id} --version {version} --notes '...'")
        print(f"  regenerate:    reelgate review regenerate {manifest.episode_id} --version {version} --shots 1 "
              "--notes '...'")
        return EXIT_OK
    if manifest.status == Status.PUBLISHED:
        print(f"  published to   {manifest.published_to}")
        return EXIT_OK
    if manifest.status in (Status.BLOCKED, Status.REJECTED):
        return EXIT_REFUSED
    return EXIT_ERROR if state in ("FAILED", "CRASHED") else EXIT_OK


def expire_overdue_reviews(settings: Settings) -> None:
    """Expire the episodes whose review is overdue (a late decision must not find one waiting), saying which."""
    from flows.review import expire_overdue

    for episode_id in expire_overdue(settings):
        print(f"{episode_id}: review expired (not decided in {settings.review_timeout_hours:g} h); not published",
              flush=True)


def sign_in_hint(settings: Settings) -> str:
    """Where the Prefect UI's password is (the local server is closed; an existing one has its own)."""
    from flows.environment import auth_file

    if os.environ.get("PREFECT_API_URL", "").rstrip("/") != settings.local_api_url:
        return "(sign in with your server's secret, PREFECT_API_AUTH_STRING)"
    return f"(sign in with the secret in {auth_file(settings)})"
