"""`reelgate up`, `episode`, `generate` and `plan`: producing episodes, previews and shot plans."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from cli.common import (
    EXIT_OK, EXIT_REFUSED, UsageError, add_run_flags, expire_overdue_reviews, import_flows, load_settings,
    print_outcome, run_options, sign_in_hint,
)
from cli.series import load_series_file
from editorial.requests import default_episode_id
from reelgate.errors import InputError
from reelgate.records import Action, EpisodeRequest, GeneratedShot, Refusal
from reelgate.settings import PRIORITY_NAMES, Settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "weaver_and_herdsman.json"
EXAMPLE_SERIES = EXAMPLE.parent / "constellations.yaml"


def cmd_episode(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    plan = None
    if args.plan:
        from prompts.plan_file import load_plan

        plan = load_plan(Path(args.plan), settings.planning)
    prompt = args.prompt if args.prompt is not None else " ".join(s.text for s in plan.shots) if plan else ""
    request = EpisodeRequest(
        plan=plan,
        prompt=prompt,
        episode_id=args.id or default_episode_id(args.prompt),
        title=args.title or "",
        seed=args.seed,
        language=args.language,
    )
    if not request.prompt.strip():
        raise InputError("the prompt is empty; write one or more sentences describing the story (or give --plan FILE)")
    from generation.base import check_backend

    check_backend(settings.generation)  # fail at once on a missing model, before any work
    from postprocess.enhance.chain import check_for_generation

    check_for_generation(settings.enhance, settings.generation, settings.planning.preset)  # or a missing LUT
    from safety.gallery import check_gallery

    check_gallery(settings.safety)  # and on a gallery that was set but cannot be read
    server, runs, deployments = import_flows(settings)
    server.ensure_server(settings)
    deployment_id = deployments.ensure_deployment()
    run, attached = runs.start_episode(deployment_id, request, settings, replace=args.replace,
                                          options=run_options(args), priority=args.priority)
    if attached:
        print(f"episode {request.episode_id}: attached to its live run {run.id} ({run.state_name}); "
              f"no second run started", flush=True)
    else:
        print(f"episode {request.episode_id}: flow run {run.id}", flush=True)
    print(f"  Prefect UI: {server.ui_url(run.id)}", flush=True)
    if attached and run.state and run.state.type.value == "PAUSED":
        return print_outcome(run, settings)
    run = runs.drive_run(run.id, deployment_id)
    return print_outcome(run, settings)


def cmd_generate(args: argparse.Namespace) -> int:
    """Preview shots without Prefect or review: screened, planned, rendered with a progress bar."""
    from generation.base import check_backend, get_generator
    from prompts.screen import Screener
    from prompts.plan import plan_shots
    from reelgate.console import StepBar

    if not args.text.strip():
        raise UsageError("the text is empty; describe the shot (or a story: each sentence becomes a shot)")
    settings = load_settings(args)
    check_backend(settings.generation)  # a missing model or a bad size fails before anything else
    screening = Screener.from_settings(settings.screening, settings.data_dir / "cache").screen(args.text)
    for reason in screening.verdict().reasons:
        print(f"screening: {reason}", file=sys.stderr)
    if screening.action == Action.BLOCK:
        print("not generated: the text is blocked", file=sys.stderr)
        return EXIT_REFUSED
    plan = plan_shots(args.text, "preview", settings.planning, language=args.language, seed=args.seed)
    shots = plan.shots
    if args.raw:  # the text is the diffusion prompt, as written, in one shot
        shots = [shots[0].model_copy(update={"prompt": args.text, "text": args.text})]
    if args.shot is not None:
        if not 1 <= args.shot <= len(shots):
            raise UsageError(f"--shot {args.shot} is out of range: the text plans into {len(shots)} shot(s)")
        shots = [shots[args.shot - 1]]
    out_dir = Path(args.out)
    generator = get_generator(settings.generation)
    records = []
    for spec in shots:
        bar = StepBar(f"shot {spec.index + 1}/{len(plan.shots)}")
        try:
            record = generator.generate(
                spec, seed=args.seed if args.seed is not None else spec.seed, attempt=0,
                out_path=out_dir / f"shot{spec.index + 1:02d}.mp4", progress=bar,
            )
        finally:
            bar.close()
        records.append(record)
        if args.json:
            print(record.model_dump_json())
        elif isinstance(record, GeneratedShot):
            print(f"shot {spec.index + 1}: {record.path}  {record.width}x{record.height} {record.frames} frames "
                  f"@ {record.fps:g} fps, seed {record.seed}, {record.seconds_taken:.1f} s"
                  + (f", peak {record.peak_memory_mb:.0f} MiB" if record.peak_memory_mb else ""))
        else:
            print(f"shot {spec.index + 1}: refused: {record.reason()}")
    return EXIT_REFUSED if any(isinstance(r, Refusal) for r in records) else EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from prompts.plan_file import dump_plan, load_plan, render_plan_table
    from prompts.plan import plan_shots, rewriter_screen
    from reelgate.files import write_text

    settings = load_settings(args)
    settings.planning = settings.planning.with_preset(args.preset)
    if args.source:
        plan = load_plan(Path(args.source), settings.planning)
    elif args.story and args.story.strip():
        screen = rewriter_screen(settings.planning, settings.screening)  # the flow's lists
        plan = plan_shots(args.story, args.id, settings.planning, language=args.language, seed=args.seed, screen=screen)
    else:
        raise UsageError("give a story to plan, or --from FILE to check an edited plan")
    if args.json:
        # Everything a generator receives: per shot its fields, the directions that govern
        # it, the expansions with the words that triggered them, and the built prompt.
        print(json.dumps(plan.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        print(render_plan_table(plan))
        if plan.planner_note:
            print(f"the rewriter was not used: {plan.planner_note}")
    if args.out:
        write_text(Path(args.out), dump_plan(plan, settings.planning))
        print(
            f"plan written to {args.out}; edit it, then: reelgate episode --plan {args.out} --id {plan.episode_id}",
            file=sys.stderr if args.json else sys.stdout,
        )
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    """Start (or use) the Prefect server, serve the episode and series deployments, the review page.

    With no --series, the bundled example episode is produced first and the example series
    is deployed (its first episode comes at its next scheduled time, not now); with --series,
    only those series are deployed, and the example only if --example is given. With
    --workers N, the deployments go on the work pool and N local `reelgate worker` processes
    run them instead of a runner in this process (_up_with_workers).
    """
    if args.parallel < 1:
        raise UsageError(f"--parallel must be 1 or more, got {args.parallel}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be 1 or more, got {args.workers}")
    settings = load_settings(args)
    series_files = [Path(f) for f in (args.series or [EXAMPLE_SERIES])]
    series = [load_series_file(file, settings.planning) for file in series_files]
    request = None
    if args.example or not args.series:
        request = _example_request(Path(args.example or EXAMPLE))
    server, runs, deployments = import_flows(settings)
    if args.workers is not None and os.environ["PREFECT_API_URL"].rstrip("/") != settings.local_api_url:
        from flows.workers import check_server

        # An existing server the workers will need: its URL and the reason it fails, before anything starts.
        check_server(os.environ["PREFECT_API_URL"], os.environ.get("PREFECT_API_AUTH_STRING"))
    server.ensure_server(settings)
    print(f"Prefect UI      {server.ui_url()}  {sign_in_hint(settings)}")
    print(f"output folder   {settings.episodes_dir}")
    print(f"publish folder  {settings.publish_dir}", flush=True)
    if args.until_review and args.workers is None:
        if request is None:
            raise InputError("--until-review waits for the example episode; give --example FILE with --series")
        # Run it here, as `reelgate episode` does: a runner stopped right after the run
        # suspends cancels it on the way out (Prefect 3.8 Runner.astop -> cancel_all),
        # which would leave nothing at the review gate.
        deployment_id = deployments.ensure_deployment()
        run = runs.create_episode_run(deployment_id, request, run_options(args), priority="high")
        print(f"example episode {request.episode_id}: flow run {run.id}", flush=True)
        return print_outcome(runs.drive_run(run.id, deployment_id), settings)

    if args.workers is not None:
        return _up_with_workers(args, settings, series, series_files, request)

    page = _start_review_page(settings, args.allow_remote)

    def every_minute() -> None:
        expire_overdue_reviews(settings)

    def on_ready() -> None:
        _print_next_episodes(series, series_files)
        print("serving the episode, variants and series deployments; decide in the review page, the Prefect UI "
              "or `reelgate review`; Ctrl-C stops", flush=True)

    def on_settled(settled, run) -> None:
        if settled is None:
            print(f"example episode {request.episode_id}: flow run {run.id}")
            print(f"review gate     {server.ui_url(run.id)}", flush=True)
            return
        print_outcome(settled, settings)

    try:
        deployments.serve(settings, request, on_settled, series_files=series_files, on_ready=on_ready,
                      first_options=run_options(args),
                      every_minute=every_minute, limit=args.parallel)
    finally:
        if page is not None:
            page.stop()
    return EXIT_OK


def _print_next_episodes(series: list, series_files: list[Path]) -> None:
    now = datetime.now(timezone.utc)
    for s, file in zip(series, series_files, strict=True):
        print(f"series {s.id:14s} next episode at {s.next_fire(now):%Y-%m-%d %H:%M %Z} ({s.timezone}), "
              f"'{s.schedule}'; {file}")


def _up_with_workers(args: argparse.Namespace, settings: Settings, series, series_files: list[Path],
                     request: EpisodeRequest | None) -> int:
    """`up --workers N`: the work-pool path of many machines, here: the pool, N `reelgate worker` processes.

    The example (if any) is queued high; the workers are watched (one that dies is restarted) and
    stopped, with what they started, on Ctrl-C or SIGTERM, or once the example waits for review
    with --until-review.
    """
    import signal
    import time

    from flows import workers as local

    if args.until_review and request is None:
        raise InputError("--until-review waits for the example episode; give --example FILE with --series")
    server, runs, deployments = import_flows(settings)
    pool = settings.priorities.pool
    setup = deployments.apply_to_pool(series_files, settings, pool)
    print(f"work pool       {pool} (queues {', '.join(f'{q} {p}' for q, p in setup.queues.items())}); "
          f"data folder recorded for its workers", flush=True)
    team = local.make_workers(args.workers, pool, args.parallel, settings.data_dir, settings.data_dir / "workers")

    def on_term(signum, frame):  # SIGTERM stops like Ctrl-C: the finally below stops the workers
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    page = None
    try:
        for worker in team:
            local.start(worker)
        for worker in team:
            print(f"worker {worker.index}        pid {worker.pid}, log {worker.log_path}", flush=True)
        slow = local.wait_started(team)
        for worker in slow:
            print(f"worker {worker.index} has not started polling yet; watching it (log {worker.log_path})", flush=True)
        print(f"{len(team) - len(slow)} worker(s) polling the pool {pool}, each --limit {args.parallel}", flush=True)
        if not args.until_review:
            page = _start_review_page(settings, args.allow_remote)
            _print_next_episodes(series, series_files)
        run = None
        if request is not None:
            run = runs.create_episode_run(setup.deployments[runs.DEPLOYMENT], request, run_options(args),
                                          priority="high")
            print(f"example episode {request.episode_id}: flow run {run.id} (queue high)")
            print(f"review gate     {server.ui_url(run.id)}", flush=True)
        if not args.until_review:
            print("workers run the episode and series deployments; decide in the review page, the Prefect UI "
                  "or `reelgate review`; Ctrl-C stops them", flush=True)
        next_chore = time.monotonic() + 60
        while True:
            for line in local.watch(team):
                print(f"reelgate: {line}", file=sys.stderr, flush=True)
            if all(w.given_up for w in team):
                raise InputError("every worker keeps exiting; see the logs above and fix what they say")
            if run is not None:
                try:
                    settled = runs.read_run(run.id)
                except Exception as exc:  # a busy or restarting server: ask again at the next turn
                    print(f"reelgate: reading the example's run failed: {exc!r}", file=sys.stderr, flush=True)
                    settled = None
                if settled is not None and settled.state and settled.state.type in runs.SETTLED:
                    code = print_outcome(settled, settings)
                    run = None
                    if args.until_review:
                        local.wait_idle(team)  # the suspended run's process exits on its own first
                        return code
            if time.monotonic() >= next_chore:
                next_chore += 60
                try:
                    expire_overdue_reviews(settings)
                except Exception as exc:  # a periodic chore must not stop the workers
                    print(f"reelgate: periodic check failed: {exc!r}", file=sys.stderr, flush=True)
            time.sleep(2)
    except KeyboardInterrupt:
        print("stopping the workers", flush=True)
        return EXIT_OK
    finally:
        stopped = local.stop(team)
        print(f"stopped {len(stopped)} worker(s): pid {', '.join(map(str, stopped)) or '-'}", flush=True)
        signal.signal(signal.SIGTERM, previous)
        if page is not None:
            page.stop()


def _example_request(path: Path) -> EpisodeRequest:
    try:
        example = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the example episode {path}: {exc}; pass --example with a JSON "
                         f"file like {EXAMPLE.name} (prompt, title, language)") from exc
    if not isinstance(example, dict) or not str(example.get("prompt", "")).strip():
        raise InputError(f"{path} needs a JSON object with a non-empty \"prompt\"")
    # A fresh id per start, so the example is produced anew rather than resumed.
    base = example.get("episode_id") or "example"
    return EpisodeRequest(**{**example, "episode_id": f"{base}-{datetime.now():%Y%m%d-%H%M%S}"})


def _start_review_page(settings: Settings, allow_remote: bool = False):
    from flows.desk import start_review_page

    page = start_review_page(settings, allow_remote=allow_remote)
    print(f"review page     {page.url}", flush=True)
    return page


def register(sub: argparse._SubParsersAction) -> None:
    """Add `up`, `episode`, `generate` and `plan` to the main parser's subcommands."""
    up = sub.add_parser(
        "up", help="start the Prefect server, serve the episode and series flows and the review page; "
                   "with no --series, also produce the bundled example")
    up.add_argument("--series", action="append", metavar="FILE",
                    help="a series YAML to deploy on its schedule (repeatable; default: "
                         f"{EXAMPLE_SERIES.name}, with the example episode)")
    up.add_argument("--example", help=f"episode request JSON to produce first (default with no --series: {EXAMPLE.name})")
    up.add_argument("--until-review", action="store_true", help="exit once the example waits for review")
    up.add_argument("--allow-remote", action="store_true",
                    help="let REELGATE_REVIEW_HOST be other than loopback (put the review page behind TLS)")
    up.add_argument("--parallel", type=int, default=1, metavar="N",
                    help="flow runs this machine executes at once (default 1; with --workers: each worker's "
                         "--limit; GPU work is limited apart, by generation.gpu_slots)")
    up.add_argument("--workers", type=int, metavar="N",
                    help="run the deployments on the work pool (REELGATE_PRIORITIES__POOL) with N local "
                         "`reelgate worker` processes, each --limit --parallel, instead of one runner: "
                         "the same path as workers on other machines")
    add_run_flags(up, "--backend", "--model")
    up.set_defaults(func=cmd_up)

    ep = sub.add_parser("episode", help="produce one episode end to end; exits when it waits for review or is blocked")
    ep.add_argument("prompt", nargs="?", help="the story, Chinese or English; several sentences become several shots")
    ep.add_argument("--plan", help="an edited plan file (reelgate plan --out) to produce instead of planning the prompt")
    ep.add_argument("--id", help="episode id (default: ep-<time>-<hash>); the same request under it resumes it, "
                    "another request is refused unless --replace")
    ep.add_argument("--replace", action="store_true",
                    help="end the episode's current run, move its files to versions/<n>/ (marked superseded), start over")
    ep.add_argument("--title", help="episode title")
    ep.add_argument("--seed", type=int, help="episode seed (default: derived from the id)")
    ep.add_argument("--language", default="auto", choices=["auto", "zh", "en"])
    add_run_flags(ep, "--backend", "--model")
    ep.add_argument("--priority", default="high", choices=PRIORITY_NAMES,
                    help="the work-pool queue the run waits in when workers run episodes (default high: "
                         "ahead of batches and scheduled series episodes; see README, Priorities)")
    ep.set_defaults(func=cmd_episode)

    gen = sub.add_parser(
        "generate",
        help="render a text's shots to MP4 files for preview (screened; no review, nothing published)",
    )
    gen.add_argument("text", help="a shot description or a story (each sentence becomes a shot)")
    gen.add_argument("--out", default="previews", help="folder for shotNN.mp4 (default: ./previews)")
    gen.add_argument("--shot", type=int, help="render only shot N of the plan")
    gen.add_argument("--raw", action="store_true", help="send the text to the model as written, as one shot")
    gen.add_argument("--seed", type=int, help="seed (default: the plan's per-shot seed)")
    gen.add_argument("--language", default="auto", choices=["auto", "zh", "en"])
    add_run_flags(gen, "--backend", "--model", "--size", "--fps", "--frames", "--steps")
    gen.add_argument("--json", action="store_true", help="print each shot's generation record as JSON")
    gen.set_defaults(func=cmd_generate)

    pl = sub.add_parser("plan", help="show the shot plan a story becomes; --out writes it as editable YAML")
    pl.add_argument("story", nargs="?", help="the story to plan")
    pl.add_argument("--from", dest="source", metavar="FILE", help="check and show an edited plan file instead")
    pl.add_argument("--id", default="draft", help="episode id the plan is for (seeds derive from it)")
    pl.add_argument("--language", default="auto", choices=["auto", "zh", "en"])
    pl.add_argument("--seed", type=int, help="plan seed (default: from the id or the preset's policy)")
    pl.add_argument("--preset", help="style preset: storybook, ink-wash, cinematic, anime-cel, constellation-myth, or a YAML file")
    pl.add_argument("--out", help="write the plan here as YAML to edit")
    pl.add_argument(
        "--json", action="store_true",
        help="print the plan as JSON: each shot's fields, built prompt, directions and expansions",
    )
    pl.set_defaults(func=cmd_plan)
