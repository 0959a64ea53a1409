"""`reelgate variants`: sweep one shot of a plan file into takes, list and show sweeps, mark takes.

    reelgate variants PLAN.yaml --shot 2 --sweep camera=push,track --sweep time_of_day=dusk,night --seeds 2
    reelgate variants list
    reelgate variants show SWEEP
    reelgate variants mark SWEEP TAKE rejected|maybe|selected

The rules (which knobs, the order of takes, the limit, what a mark may do, the write-back into
the plan file) are editorial.variants: the review page calls the same functions.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cli.common import (
    EXIT_ERROR, EXIT_OK, EXIT_REFUSED, UsageError, add_run_flags, import_flows, load_settings, run_options,
)
from editorial.variants import (
    SweepStatus, TakeState, choose_take, knob_label, list_sweeps, load_sweep, parse_sweeps, plan_takes, sweep_dir,
    take_verdict,
)
from reelgate.console import StepBar, table_lines

ACTIONS = ("list", "show", "mark")


def cmd_variants(args: argparse.Namespace) -> int:
    words = args.words
    if words[0] == "list":
        return _list(args, words[1:])
    if words[0] == "show":
        return _show(args, words[1:])
    if words[0] == "mark":
        return _mark(args, words[1:])
    if len(words) != 1:
        raise UsageError("give one plan file (reelgate variants PLAN.yaml --shot N --sweep KNOB=VALUES), "
                         f"or one of {', '.join(ACTIONS)}")
    return _sweep(args, Path(words[0]))


def _sweep(args: argparse.Namespace, plan_file: Path) -> int:
    from generation.base import check_backend
    from prompts.plan_file import load_plan

    if args.shot is None:
        raise UsageError("give --shot N: the shot of the plan to sweep (numbered from 1)")
    settings = load_settings(args)
    plan = load_plan(plan_file, settings.planning)
    knobs = parse_sweeps(args.sweep or [])
    # Everything is checked here, before a server starts or a run is made: knobs, limits, the backend.
    takes = plan_takes(plan, args.shot, knobs, args.seeds, settings.variants.max_takes,
                       settings.planning.keyword_files, settings.planning.limits)
    check_backend(settings.generation)
    server, runs, deployments = import_flows(settings)
    server.ensure_server(settings)
    deployments.ensure_sweep_deployment()
    run, sweep_id = runs.start_sweep(plan, args.shot, knobs, args.seeds, sweep_id=args.id, plan_file=plan_file,
                                     options=run_options(args), settings=settings, created_by=args.who)
    folder = sweep_dir(settings.data_dir, sweep_id)
    if not args.json:
        print(f"sweep {sweep_id}: {len(takes)} takes of shot {args.shot}; flow run {run.id}", flush=True)
        print(f"  Prefect UI: {server.ui_url(run.id)}", flush=True)
    child = None
    if not runs.deployment_served(runs.sweep_deployment_id()):
        child = runs.execute_sweep(run.id, folder / "run.log")
    bar = StepBar(f"sweep {sweep_id}", unit="take")
    try:
        settled = _follow(runs, run.id, settings.data_dir, sweep_id, len(takes), bar, child)
    finally:
        bar.close()
    sweep = load_sweep(settings.data_dir, sweep_id)
    state = settled.state.type.value if settled.state else "UNKNOWN"
    if args.json:
        print(json.dumps({"run_state": state, "folder": str(folder), **sweep.model_dump(mode="json")},
                         ensure_ascii=False, indent=2))
    else:
        _print_sweep(sweep, folder)
        if state != "COMPLETED":
            print(f"run {run.id} ended {state}: {settled.state.message if settled.state else ''}")
            print(f"  its log: {folder / 'run.log'}" if child else f"  Prefect UI: {server.ui_url(run.id)}")
    if state != "COMPLETED":
        return EXIT_ERROR
    return EXIT_REFUSED if sweep.takes and all(t.blocked for t in sweep.takes) else EXIT_OK


def _follow(runs, run_id, data_dir: Path, sweep_id: str, total: int, bar, child):
    """Wait for the run to settle, moving the bar as takes are recorded in the sweep."""
    while True:
        run = runs.read_run(run_id)
        try:
            done = sum(1 for t in load_sweep(data_dir, sweep_id).takes if t.finished)
        except Exception:  # noqa: BLE001 - the record is being written; the next poll reads it
            done = None
        if done is not None:
            bar(done, total)
        if run.state and run.state.type in runs.SETTLED and (child is None or child.poll() is not None):
            return run
        if child is not None and child.poll() is not None and not (run.state and run.state.type in runs.SETTLED):
            # The child ended but the server has not heard yet: give it a moment, then report what it says.
            time.sleep(2.0)
            return runs.read_run(run_id)
        time.sleep(0.5)


def _list(args: argparse.Namespace, rest: list[str]) -> int:
    if rest:
        raise UsageError("reelgate variants list takes no arguments (--episode ID filters)")
    settings = load_settings(args)
    sweeps = list_sweeps(settings.data_dir, args.episode)
    if args.json:
        print(json.dumps([{"sweep_id": s.sweep_id, "status": s.status.value, "shot": s.shot, "takes": len(s.takes),
                           "chosen": s.chosen, "plan_file": s.plan_file, "episode_id": s.episode_id,
                           "created_at": s.created_at.isoformat()} for s in sweeps], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not sweeps:
        print("no sweeps yet; make one: reelgate variants PLAN.yaml --shot N --sweep camera=push,track")
        return EXIT_OK
    for s in sweeps:
        origin = s.plan_file or (f"episode {s.episode_id} {s.episode_version or ''}".strip() if s.episode_id else "-")
        knobs = " x ".join([*s.knobs, *(["seed"] if s.seeds > 1 else [])])
        print(f"{s.sweep_id:40s}  {s.status.value:8s}  shot {s.shot:<3d} {len(s.takes):3d} takes  "
              f"chosen {s.chosen or '-':4s}  {knobs}  {origin}")
    return EXIT_OK


def _show(args: argparse.Namespace, rest: list[str]) -> int:
    if len(rest) != 1:
        raise UsageError("reelgate variants show SWEEP")
    settings = load_settings(args)
    sweep = load_sweep(settings.data_dir, rest[0])
    if args.json:
        print(sweep.model_dump_json(indent=2))
    else:
        _print_sweep(sweep, sweep_dir(settings.data_dir, sweep.sweep_id))
    return EXIT_OK


def _mark(args: argparse.Namespace, rest: list[str]) -> int:
    if len(rest) != 3:
        raise UsageError("reelgate variants mark SWEEP TAKE " + "|".join(s.value for s in TakeState))
    settings = load_settings(args)
    sweep_id, take_id, state = rest
    sweep = choose_take(settings.data_dir, sweep_id, take_id, state, who=args.who, planning=settings.planning)
    take = sweep.take(take_id)
    print(f"sweep {sweep_id}: {take.id} marked {take.state.value}")
    if sweep.chosen == take.id and sweep.status == SweepStatus.CHOSEN:
        if sweep.plan_file:
            print(f"  written into shot {sweep.shot} of {sweep.plan_file}: {knob_label(take, sweep)}, seed {take.spec.seed}")
        else:
            print(f"  recorded as the choice for episode {sweep.episode_id}; regenerate it from the review page")
    return EXIT_OK


_COLUMNS = (("take", 5), ("knobs", 44), ("quality", 12), ("safety", 26), ("state", 9))


def _print_sweep(sweep, folder: Path) -> None:
    print(f"sweep {sweep.sweep_id}: shot {sweep.shot}, {sweep.status.value}"
          + (f", chosen {sweep.chosen}" if sweep.chosen else ""))
    rows = []
    for t in sweep.takes:
        quality = "-" if t.quality_score is None else f"{t.quality_score:.2f} {'pass' if t.quality_passed else 'fail'}"
        safety = ("blocked: " + take_verdict(t)) if t.blocked else (t.safety_action.value if t.safety_action else "-")
        knobs = ("original · " if t.original else "") + knob_label(t, sweep)
        rows.append((t.id, knobs, quality, safety, t.state.value))
    print("\n".join(table_lines(_COLUMNS, rows)))
    if sweep.contact_sheet:
        print(f"  grid image     {folder / sweep.contact_sheet}")
    if sweep.comparison:
        print(f"  side by side   {folder / sweep.comparison}")
    print(f"  record         {folder / 'sweep.json'}")
    if sweep.status in (SweepStatus.READY, SweepStatus.CHOSEN):
        print(f"  choose:        reelgate variants mark {sweep.sweep_id} TAKE selected|maybe|rejected")


def register(sub: argparse._SubParsersAction) -> None:
    """Add `variants` (sweep, list, show, mark) to the main parser's subcommands."""
    va = sub.add_parser(
        "variants",
        usage="reelgate variants PLAN.yaml --shot N --sweep KNOB=V1,V2 [--sweep ...] [--seeds N] [--id SWEEP]\n"
              "       reelgate variants list | show SWEEP | mark SWEEP TAKE rejected|maybe|selected",
        help="takes of one shot over a few knobs, side by side: PLAN.yaml --shot N --sweep KNOB=VALUES; "
             "list; show SWEEP; mark SWEEP TAKE rejected|maybe|selected",
        description="reelgate variants PLAN.yaml --shot 2 --sweep camera=push,track --sweep strength:storm=0.5,1.5 "
                    "--seeds 2 | list | show SWEEP | mark SWEEP TAKE rejected|maybe|selected. Knobs: camera, shot_size, "
                    "angle, time_of_day, weather, mood, subject, action, environment, style, duration_s, and "
                    "strength:WORD (a keyword's weight, 0 to 3). The original is take t01; selecting a take writes "
                    "its values and seed into the plan file.",
    )
    va.add_argument("words", nargs="+", metavar="WORD",
                    help="a plan file to sweep, or list, show SWEEP, mark SWEEP TAKE STATE")
    va.add_argument("--shot", type=int, help="the shot to sweep, numbered from 1")
    va.add_argument("--sweep", action="append", metavar="KNOB=V1,V2",
                    help="a knob and its values (repeatable): camera=push,track, time_of_day=dusk,night, "
                         "strength:storm=0.5,1,1.5")
    va.add_argument("--seeds", type=int, default=1, help="seeds per combination: the plan's, then derived ones (default 1)")
    va.add_argument("--id", help="sweep id (default <episode>-s<shot>-<time>); the same id resumes a sweep")
    va.add_argument("--episode", help="list: only the sweeps of this episode")
    va.add_argument("--who", default="owner", help="who makes the sweep or the mark (recorded)")
    add_run_flags(va, "--backend", "--model", "--size", "--fps", "--steps")
    va.add_argument("--json", action="store_true", help="print the sweep (or the list) as JSON")
    va.set_defaults(func=cmd_variants)
