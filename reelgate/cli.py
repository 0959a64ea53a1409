"""The `reelgate` command.

    reelgate up                      start the server, serve the flows, produce the bundled example
    reelgate episode "<prompt>"      produce one episode and stop at the review gate
    reelgate generate "<text>"       render shots to MP4 for preview, with a progress bar
    reelgate screen "<text>" ...     screen texts (or stdin, one per line) against the blocklists
    reelgate plan "<story>"          show (and --out write) the editable shot plan
    reelgate moderate VIDEO          nudity and concept checks of any video (exit 1: blocked or review)
    reelgate likeness VIDEO          protected people's faces in any video
    reelgate qc VIDEO                quality scores of any video (exit 1: fails the quality gate)
    reelgate gallery add|list|remove the protected-people gallery
    reelgate review list|show|approve|reject|regenerate
    reelgate series validate|show FILE  check a series file (every problem with its line); show its episodes
    reelgate server start|stop|status
    reelgate page                    serve the review page alone (prints its URL with the token)
    reelgate settings                print the effective settings

Prefect is imported only after its environment is configured (see flows.environment).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import uuid
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from reelgate.errors import InputError, ReelgateError
from reelgate.cli_reviewers import register as register_reviewers
from reelgate.files import write_text
from reelgate.records import Action, EpisodeRequest, GeneratedShot, Refusal
from reelgate.settings import RunOptions, Settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "weaver_and_herdsman.json"
EXAMPLE_SERIES = EXAMPLE.parent / "constellations.yaml"
EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2


def _options(args: argparse.Namespace) -> RunOptions:
    """This command's run flags (--backend, --model, --size...), as the options a run may carry.

    Generation flags are merged before validation, so that a backend chosen on the command
    line gets its own native frame size unless a size was given too.
    """
    chosen = {k: v for k in ("backend", "model", "steps", "fps", "num_frames") if (v := getattr(args, k, None))}
    if getattr(args, "size", None):
        chosen["width"], chosen["height"] = _parse_size(args.size)
    try:
        return RunOptions(**chosen)
    except ValidationError as exc:
        raise UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None


def _settings(args: argparse.Namespace) -> Settings:
    """The settings from the environment (and --data-dir, exported so runs started from here see it too),
    with this command's run flags on top: the same settings a run with these options computes."""
    if getattr(args, "data_dir", None):
        os.environ["REELGATE_DATA_DIR"] = str(Path(args.data_dir).expanduser().resolve())
    return _options(args).settings()


def _parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[x*X]\s*(\d+)\s*", text)
    if not match:
        raise UsageError(f"--size must look like 832x480 (width x height), got {text!r}")
    return int(match[1]), int(match[2])


def _flows(settings: Settings):
    """flows.server, flows.runs and flows.deployments, imported once Prefect's environment is set."""
    from flows.environment import configure_prefect

    configure_prefect(settings)
    from flows import deployments, runs, server  # import prefect: only after its environment is set

    return server, runs, deployments


def default_episode_id(prompt: str) -> str:
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:6]
    return f"ep-{datetime.now():%Y%m%d-%H%M%S}-{digest}"


def _print_outcome(run, settings: Settings) -> int:
    from editorial.manifest import load_manifest

    server, runs, _ = _flows(settings)
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
    if manifest.status.value == "awaiting_review":
        version = manifest.version.id if manifest.version else "?"
        print(f"  version        {version}  (a decision names it; any other version is refused)")
        print(f"  review gate    {server.ui_url(run.id)}  (Resume shows the decision form)")
        print(f"  look first:    reelgate review show {manifest.episode_id}")
        print(f"  approve:       reelgate review approve {manifest.episode_id} --version {version} --notes '...'")
        print(f"  reject:        reelgate review reject {manifest.episode_id} --version {version} --notes '...'")
        print(f"  regenerate:    reelgate review regenerate {manifest.episode_id} --version {version} --shots 1 "
              "--notes '...'")
        return EXIT_OK
    if manifest.status.value == "published":
        print(f"  published to   {manifest.published_to}")
        return EXIT_OK
    if manifest.status.value in ("blocked", "rejected"):
        return EXIT_REFUSED
    return EXIT_ERROR if state in ("FAILED", "CRASHED") else EXIT_OK


def cmd_episode(args: argparse.Namespace) -> int:
    settings = _settings(args)
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
    from safety.gallery import check_gallery

    check_gallery(settings.safety)  # and on a gallery that was set but cannot be read
    server, runs, deployments = _flows(settings)
    server.ensure_server(settings)
    deployment_id = deployments.ensure_deployment()
    run, attached = runs.start_episode(deployment_id, request, settings, replace=args.replace,
                                          options=_options(args))
    if attached:
        print(f"episode {request.episode_id}: attached to its live run {run.id} ({run.state_name}); "
              f"no second run started", flush=True)
    else:
        print(f"episode {request.episode_id}: flow run {run.id}", flush=True)
    print(f"  Prefect UI: {server.ui_url(run.id)}", flush=True)
    if attached and run.state and run.state.type.value == "PAUSED":
        return _print_outcome(run, settings)
    run = runs.drive_run(run.id, deployment_id)
    return _print_outcome(run, settings)


def cmd_generate(args: argparse.Namespace) -> int:
    """Preview shots without Prefect or review: screened, planned, rendered with a progress bar."""
    from generation.base import check_backend, get_generator
    from prompts.screen import Screener
    from prompts.structure import plan_shots
    from reelgate.console import StepBar

    if not args.text.strip():
        raise UsageError("the text is empty; describe the shot (or a story: each sentence becomes a shot)")
    settings = _settings(args)
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


def _print_safety(report, as_json: bool) -> int:
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        for f in report.findings:
            against = f" (threshold {f.threshold:.2f})" if f.threshold is not None else ""
            print(f"{f.time_s:7.2f} s  {f.action.value.upper():6s} {f.check}: {f.label} {f.score:.2f}{against}")
        for line in report.unavailable:
            print(f"unavailable: {line}")
        for line in report.notes:
            print(f"note: {line}")
        print(f"{report.action.value.upper()}: {report.frames_checked} frames checked in {report.seconds_taken:.1f} s"
              + "".join(f"\n  - {r}" for r in report.reasons))
        if report.findings_sheet:
            print(f"findings sheet: {report.findings_sheet}")
    return EXIT_OK if report.action in (Action.ALLOW, Action.WARN) else EXIT_REFUSED


def cmd_moderate(args: argparse.Namespace) -> int:
    from safety.check import check_video

    settings = _settings(args)
    video = Path(args.video)
    sheet = Path(args.sheet) if args.sheet else None
    report = check_video(video, settings.safety, contact_sheet=sheet, checks=("nudity", "concepts", "faces"))
    return _print_safety(report, args.json)


def cmd_qc(args: argparse.Namespace) -> int:
    from quality.plots import format_flags, metric_table, plot_scores, quality_contact_sheet
    from quality.score import score_video

    settings = _settings(args)
    video = Path(args.video)
    report = score_video(video, settings.quality, wants_motion=not args.no_motion)
    written = []
    if args.plot:
        written.append(("plot", plot_scores(report, Path(args.plot), title=f"{video.name}: quality per frame")))
    if args.sheet:
        written.append(("contact sheet", quality_contact_sheet(video, report, Path(args.sheet))))
    if args.json:
        bulky = set() if args.series else {"series", "curves"}
        print(report.model_dump_json(indent=2, exclude=bulky))
        for what, path in written:
            print(f"{what}: {path}", file=sys.stderr)
    else:
        verdict = "PASS" if report.passed else "FAIL"
        print(f"{video}: {verdict} (score {report.score:.2f}, scored in {report.seconds_taken:.1f} s)")
        for row in metric_table(report, settings.quality):
            print(f"  {row['metric']:22s} {row['value']:>10s}  {row['threshold']:22s} {row['result']}".rstrip())
        if report.failing:
            print(f"failing: {', '.join(report.failing)}")
        for reason in report.reasons:
            print(f"  - {reason}")
        if report.flagged_times:
            print("flagged frames:")
            for line in format_flags(report):
                print(f"  {line}")
        for what, path in written:
            print(f"{what}: {path}")
    return EXIT_OK if report.passed else EXIT_REFUSED


def _gallery_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.gallery) if args.gallery else settings.safety.gallery_dir


def cmd_likeness(args: argparse.Namespace) -> int:
    from safety.check import check_video
    from safety.gallery import Gallery

    settings = _settings(args)
    folder = _gallery_dir(args, settings)
    if not Gallery(folder).list():  # also refuses a folder that does not exist
        raise InputError(f"the gallery {folder} is empty; enrol people first: reelgate gallery add NAME IMAGE...")
    safety = settings.safety.model_copy(update={"gallery_dir": folder, "likeness": True})
    sheet = Path(args.sheet) if args.sheet else None
    report = check_video(Path(args.video), safety, contact_sheet=sheet, checks=("likeness",))
    return _print_safety(report, args.json)


def cmd_gallery(args: argparse.Namespace) -> int:
    from safety.faces import FaceDetector
    from safety.gallery import Gallery
    from safety.likeness import make_embedder

    settings = _settings(args)
    gallery = Gallery(_gallery_dir(args, settings), max_image_pixels=settings.safety.max_image_pixels)
    if args.action == "add":
        detector = FaceDetector(min_face_size=settings.safety.face_min_size)
        person = gallery.add(args.name, [Path(p) for p in args.images], detector, make_embedder(settings.safety))
        print(f"enrolled {person.name}: {len(person.embeddings)} photo(s) in {gallery.folder}")
    elif args.action == "remove":
        gallery.remove(args.name)
        print(f"removed {args.name} from {gallery.folder}")
    else:
        people = gallery.list()
        for person in people:
            print(f"{person.name:24s} {len(person.embeddings)} photo(s), {person.embedder}")
        print(f"{len(people)} protected {'person' if len(people) == 1 else 'people'} in {gallery.folder}")
    return EXIT_OK


def _screen_settings(args: argparse.Namespace, settings: Settings):
    updates = {"extra_lists": [Path(p) for p in args.blocklist]}
    if args.no_defaults:
        if not args.blocklist:
            raise UsageError("--no-defaults needs at least one --blocklist FILE to screen against")
        updates["use_default_lists"] = False
    for layer in ("pinyin", "initials", "homophones", "semantic"):
        if getattr(args, layer) is not None:
            updates[layer] = getattr(args, layer)
    return settings.screening.model_copy(update=updates)


def _no_surrogates(text: str) -> str:
    """Lone surrogates (undecodable input) shown as U+FFFD: same length, so spans still fit."""
    return re.sub(r"[\ud800-\udfff]", "\ufffd", text)


def _marked(text: str, matches) -> str:
    """The text with each match bracketed: 'a [血 腥] scene'."""
    out, last = [], 0
    for m in sorted(matches, key=lambda m: m.start):
        if m.start < last:
            continue
        out += [text[last : m.start], "[", text[m.start : m.end], "]"]
        last = m.end
    return _no_surrogates("".join(out) + text[last:])


def cmd_screen(args: argparse.Namespace) -> int:
    from prompts.screen import Screener

    texts = list(args.texts)
    if any(not t.strip() for t in texts):
        raise UsageError("an empty text was given; pass the texts to screen, or none to read them from stdin")
    if not texts:
        raw = sys.stdin.buffer.read().decode("utf-8", errors="replace")  # bad bytes become U+FFFD
        texts = [line.rstrip("\r") for line in raw.split("\n") if line.strip()]
        if not texts:
            raise UsageError("nothing to screen: give texts as arguments or one per line on stdin")
    settings = _settings(args)
    screener = Screener.from_settings(_screen_settings(args, settings), settings.data_dir / "cache")
    worst = Action.ALLOW
    for text in texts:
        result = screener.screen(text)
        worst = Action.strictest([worst, result.action])
        action = "pass" if result.action is Action.ALLOW else result.action.value
        if args.json:
            matches = [m.model_dump(mode="json", exclude_none=True) for m in result.matches]
            for m in matches:
                m["text"] = _no_surrogates(m["text"])
            print(json.dumps({"text": _no_surrogates(text), "action": action, "matches": matches}, ensure_ascii=False))
            continue
        print(f"{action.upper():6s} {_marked(text, result.matches)}")
        for m in result.matches:
            score = f", score {m.score:.2f}" if m.score is not None else ""
            print(f"       {m.action.value:6s} {m.category}: '{m.term}' ({m.layer}{score}) at {m.start}-{m.end} "
                  f"\"{_no_surrogates(m.text)}\"" + (f"  [{m.source}]" if m.source else ""))
    return EXIT_REFUSED if worst.rank >= Action.REVIEW.rank else EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from prompts.plan_file import dump_plan, load_plan, render_plan_table
    from prompts.structure import plan_shots
    from reelgate.files import write_text

    settings = _settings(args)
    if args.preset:
        settings.planning = settings.planning.model_copy(update={"preset": args.preset})
    if args.source:
        plan = load_plan(Path(args.source), settings.planning)
    elif args.story and args.story.strip():
        plan = plan_shots(args.story, args.id, settings.planning, language=args.language, seed=args.seed)
    else:
        raise UsageError("give a story to plan, or --from FILE to check an edited plan")
    print(render_plan_table(plan))
    if args.out:
        write_text(Path(args.out), dump_plan(plan, settings.planning))
        print(f"plan written to {args.out}; edit it, then: reelgate episode --plan {args.out} --id {plan.episode_id}")
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    """Start (or use) the Prefect server, serve the episode and series deployments, the review page.

    With no --series, the bundled example episode is produced first and the example series
    is deployed (its first episode comes at its next scheduled time, not now); with --series,
    only those series are deployed, and the example only if --example is given.
    """
    from datetime import timezone

    from editorial.series import SeriesFileError, load_series

    if args.parallel < 1:
        raise UsageError(f"--parallel must be 1 or more, got {args.parallel}")
    settings = _settings(args)
    series_files = [Path(f) for f in (args.series or [EXAMPLE_SERIES])]
    series = []
    for file in series_files:
        try:
            series.append(load_series(file, settings.planning))
        except SeriesFileError as exc:
            for problem in exc.problems:
                print(problem.format(exc.path), file=sys.stderr)
            raise InputError(f"{file}: {len(exc.problems)} problem(s); fix them (`reelgate series validate {file}`)") from None
    request = None
    if args.example or not args.series:
        request = _example_request(Path(args.example or EXAMPLE))
    server, runs, deployments = _flows(settings)
    server.ensure_server(settings)
    print(f"Prefect UI      {server.ui_url()}  {_sign_in_hint(settings)}")
    print(f"output folder   {settings.episodes_dir}")
    print(f"publish folder  {settings.publish_dir}", flush=True)
    if args.until_review:
        if request is None:
            raise InputError("--until-review waits for the example episode; give --example FILE with --series")
        # Run it here, as `reelgate episode` does: a runner stopped right after the run
        # suspends cancels it on the way out (Prefect 3.8 Runner.astop -> cancel_all),
        # which would leave nothing at the review gate.
        deployment_id = deployments.ensure_deployment()
        run = runs.create_episode_run(deployment_id, request, _options(args))
        print(f"example episode {request.episode_id}: flow run {run.id}", flush=True)
        return _print_outcome(runs.drive_run(run.id, deployment_id), settings)

    page = _start_review_page(settings, args.allow_remote)

    def every_minute() -> None:
        from flows.review import expire_overdue

        for episode_id in expire_overdue(settings):
            print(f"review expired  {episode_id}", flush=True)

    def on_ready() -> None:
        now = datetime.now(timezone.utc)
        for s, file in zip(series, series_files, strict=True):
            print(f"series {s.id:14s} next episode at {s.next_fire(now):%Y-%m-%d %H:%M %Z} ({s.timezone}), "
                  f"'{s.schedule}'; {file}")
        print("serving the episode and series deployments; decide in the review page, the Prefect UI "
              "or `reelgate review`; Ctrl-C stops", flush=True)

    def on_settled(settled, run) -> None:
        if settled is None:
            print(f"example episode {request.episode_id}: flow run {run.id}")
            print(f"review gate     {server.ui_url(run.id)}", flush=True)
            return
        _print_outcome(settled, settings)

    try:
        deployments.serve(settings, request, on_settled, series_files=series_files, on_ready=on_ready,
                      first_options=_options(args),
                      every_minute=every_minute, limit=args.parallel)
    finally:
        if page is not None:
            page.stop()
    return EXIT_OK


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


def cmd_review(args: argparse.Namespace) -> int:
    from editorial.manifest import Decision, ReviewDecision, load_manifest
    from editorial.review import describe_version

    settings = _settings(args)
    server, runs, deployments = _flows(settings)
    server.ensure_server(settings)
    from flows.review import expire_overdue

    for episode_id in expire_overdue(settings):  # a late decision must not find it waiting
        print(f"{episode_id}: review expired (not decided in {settings.review_timeout_hours:g} h); not published")
    if args.action == "list":
        return _review_list(settings)
    episode_id = _episode_id_of(args.id)
    episode_dir = settings.episodes_dir / episode_id
    manifest = load_manifest(episode_dir)
    shown = _shown_file(settings, episode_id)
    if args.action == "show":
        print(manifest.model_dump_json(indent=2))
        print(f"version: {describe_version(manifest.version)}", file=sys.stderr)
        if manifest.version:
            write_text(shown, manifest.version.id + "\n")  # what `review approve` decides on by default
        return EXIT_OK
    reviewer = _cli_reviewer(settings)
    # No version at all is refused by the gate's rules, with the version to watch in the message.
    version = args.version or (shown.read_text().strip() if shown.is_file() else "")
    if version:
        print(f"deciding as {reviewer} on version {version}"
              + ("" if args.version else " (the one `reelgate review show` printed last)"), flush=True)
    try:
        decision = ReviewDecision(
            decision=Decision(args.action), notes=args.notes or "", version=version,
            shots=_parse_shots(args.shots) if args.action == "regenerate" else [],
        )
    except ValidationError as exc:  # the form's own rules, said as what to type
        raise UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    from flows.review import decide

    run = decide(settings, episode_id, decision, reviewer, via="cli")
    settled = runs.drive_run(run.id, run.deployment_id)
    code = _print_outcome(settled, settings)
    final = load_manifest(episode_dir)
    if decision.decision == Decision.REGENERATE and final.review and final.review.refused:
        print(f"  regenerate refused: {final.review.refused}")
        return EXIT_REFUSED
    return code


def _sign_in_hint(settings: Settings) -> str:
    """Where the Prefect UI's password is (the local server is closed; an existing one has its own)."""
    from flows.environment import auth_file

    if os.environ.get("PREFECT_API_URL", "").rstrip("/") != settings.local_api_url:
        return "(sign in with your server's secret, PREFECT_API_AUTH_STRING)"
    return f"(sign in with the secret in {auth_file(settings)})"


def _episode_id_of(run_or_episode: str) -> str:
    """An episode id, or the episode of a flow run id (Prefect is configured by then)."""
    from flows.runs import read_run

    try:
        return read_run(uuid.UUID(run_or_episode)).name
    except ValueError:
        return run_or_episode


def _shown_file(settings: Settings, episode_id: str) -> Path:
    return settings.data_dir / "review-shown" / episode_id


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
    from editorial.manifest import now_utc
    from editorial.review import format_age, read_manifests

    manifests = sorted(read_manifests(settings.episodes_dir), key=lambda m: m.waiting_since or m.created_at,
                       reverse=True)
    if not manifests:
        print("no episode is waiting for review")
        return EXIT_OK
    print(f"{'EPISODE':32s} {'STATUS':16s} {'ROUND':>5s} {'VERSION':16s} {'AGE':>10s}  EXPIRES / DECIDED")
    for m in manifests:
        when = (m.review_due_at if m.status.value == "awaiting_review" else m.expired_at or
                (m.review.decided_at if m.review else None))
        age = format_age(now_utc() - (m.waiting_since or m.created_at))
        print(f"{m.episode_id:32s} {m.status.value:16s} {m.review_round or '-':>5} "
              f"{m.version.id if m.version else '-':16s} {age:>10s}  {when.isoformat(timespec='seconds') if when else '-'}")
    return EXIT_OK


def cmd_page(args: argparse.Namespace) -> int:
    import time

    settings = _settings(args)
    server, runs, deployments = _flows(settings)
    server.ensure_server(settings)
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


def cmd_server(args: argparse.Namespace) -> int:
    settings = _settings(args)
    server, runs, deployments = _flows(settings)
    if args.action == "start":
        print(f"Prefect server healthy at {server.ensure_server(settings)}; UI {server.ui_url()}  "
              f"{_sign_in_hint(settings)}")
    elif args.action == "stop":
        print("stopped" if server.stop_server(settings) else "no local server was running")
    else:
        import os

        healthy = server.server_healthy(os.environ["PREFECT_API_URL"])
        print(f"{os.environ['PREFECT_API_URL']}: {'healthy' if healthy else 'not answering'}")
        return EXIT_OK if healthy else EXIT_REFUSED
    return EXIT_OK


def cmd_series(args: argparse.Namespace) -> int:
    from datetime import timezone

    from editorial.series import SeriesFileError, load_series

    try:
        series = load_series(Path(args.file), _settings(args).planning)
    except SeriesFileError as exc:
        for problem in exc.problems:
            print(problem.format(exc.path))
        print(f"{exc.path}: {len(exc.problems)} problem(s); fix them and validate again", file=sys.stderr)
        return EXIT_ERROR
    next_at = series.next_fire(datetime.now(timezone.utc))
    if args.action == "deploy":
        if not args.pool:
            raise UsageError("series deploy needs --pool NAME (a work pool: prefect work-pool create NAME --type process); "
                             "to serve a series on this machine, run `reelgate up --series FILE`")
        settings = _settings(args)
        server, runs, deployments = _flows(settings)
        server.ensure_server(settings)
        deployments.apply_to_pool([Path(args.file)], settings, args.pool)
        print(f"{series.id}: deployed to work pool {args.pool} with the episode deployment; "
              f"next episode at {next_at:%Y-%m-%d %H:%M %Z} ({series.timezone}); start workers with "
              f"`prefect worker start --pool {args.pool}` in a checkout of reelgate")
        return EXIT_OK
    print(f"{args.file}: valid: {series.title} ({series.id}), {len(series.episodes)} episodes, "
          f"schedule '{series.schedule}' {series.timezone}, next at {next_at:%Y-%m-%d %H:%M %Z}")
    if args.action == "show":
        width = max(len(e.id) for e in series.episodes)
        for number, e in enumerate(series.episodes, start=1):
            overrides = f"  [{len(e.shots)} shot override(s)]" if e.shots else ""
            print(f"{number:3d}  {e.id:{width}s}  {e.title}  {e.title_en}  ({len(e.story)} chars){overrides}")
    return EXIT_OK


def cmd_settings(args: argparse.Namespace) -> int:
    print(_settings(args).model_dump_json(indent=2))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reelgate",
        description="Prompt -> moderated, human-approved video, orchestrated by Prefect. "
        "Settings come from REELGATE_* environment variables (see `reelgate settings`).",
    )
    parser.add_argument("--data-dir", type=Path, help="where episodes, the publish folder and Prefect's database live")
    sub = parser.add_subparsers(dest="command", required=True)

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
                    help="flow runs this machine executes at once (default 1; GPU work is limited apart, "
                         "by generation.gpu_slots)")
    up.add_argument("--backend", help="generator backend (default: animatic, offline)")
    up.add_argument("--model", help="model id or local folder for diffusers backends")
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
    ep.add_argument("--backend", help="generator backend (default: animatic, offline)")
    ep.add_argument("--model", help="model id or local folder for diffusers backends")
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
    gen.add_argument("--backend", help="animatic (default), wan, diffusers or dashscope")
    gen.add_argument("--model", help="local diffusers folder, cached model id, or cloud model name")
    gen.add_argument("--size", help="frame size WIDTHxHEIGHT (default: the model's native size)")
    gen.add_argument("--fps", type=int, help="frames per second (default: the model's)")
    gen.add_argument("--frames", dest="num_frames", type=int, help="frames per shot (default: from the shot's length)")
    gen.add_argument("--steps", type=int, help="denoising steps")
    gen.add_argument("--json", action="store_true", help="print each shot's generation record as JSON")
    gen.set_defaults(func=cmd_generate)

    sc = sub.add_parser(
        "screen",
        help="screen texts against the blocklists; exit 0 if all pass (or only warn), 1 if any is blocked or needs review",
    )
    sc.add_argument("texts", nargs="*", help="texts to screen; none: read one per line from stdin")
    sc.add_argument("--blocklist", action="append", default=[], metavar="FILE",
                    help="a list file or folder, added to the defaults (repeatable)")
    sc.add_argument("--no-defaults", action="store_true", help="screen only against the --blocklist files")
    sc.add_argument("--json", action="store_true", help="one JSON object per line: text, action, matches")
    for layer, what in (("pinyin", "pinyin spellings"), ("initials", "pinyin initials"),
                        ("homophones", "sound-alike characters"), ("semantic", "English paraphrases (loads a model)")):
        sc.add_argument(f"--{layer}", dest=layer, action=argparse.BooleanOptionalAction, default=None,
                        help=f"the {what} layer (default: from settings)")
    sc.set_defaults(func=cmd_screen)

    mo = sub.add_parser("moderate", help="check a video's frames for nudity and harmful concepts; exit 1 if blocked or needs review")
    mo.add_argument("video")
    mo.add_argument("--json", action="store_true", help="print the whole report as JSON")
    mo.add_argument("--sheet", help="write a contact sheet PNG here (finding thumbnails go beside it)")
    mo.set_defaults(func=cmd_moderate)

    qc = sub.add_parser("qc", help="score a video's quality (jumps, flicker, frozen motion); exit 1 if it fails")
    qc.add_argument("video")
    qc.add_argument("--json", action="store_true", help="print the report as JSON (per-frame series only with --series)")
    qc.add_argument("--series", action="store_true", help="with --json: include the per-frame series and curves")
    qc.add_argument("--no-motion", action="store_true", help="the shot may be still: do not fail it as frozen")
    qc.add_argument("--plot", metavar="PNG", help="write a plot of the per-frame scores with threshold lines here")
    qc.add_argument("--sheet", metavar="PNG", help="write a contact sheet with the flagged frames marked here")
    qc.set_defaults(func=cmd_qc)

    li = sub.add_parser("likeness", help="look for protected people's faces in a video; exit 1 if one is found")
    li.add_argument("video")
    li.add_argument("--gallery", help="gallery folder (default: <data dir>/gallery)")
    li.add_argument("--json", action="store_true", help="print the whole report as JSON")
    li.add_argument("--sheet", help="write a contact sheet PNG here")
    li.set_defaults(func=cmd_likeness)

    ga = sub.add_parser("gallery", help="the protected-people gallery: add, list, remove")
    gsub = ga.add_subparsers(dest="action", required=True)
    add = gsub.add_parser("add", help="enrol a person from photos with exactly one face each")
    add.add_argument("name")
    add.add_argument("images", nargs="+")
    gsub.add_parser("list", help="the people enrolled")
    rm = gsub.add_parser("remove", help="remove a person")
    rm.add_argument("name")
    for p in gsub.choices.values():
        p.add_argument("--gallery", help="gallery folder (default: <data dir>/gallery)")
    ga.set_defaults(func=cmd_gallery)

    pl = sub.add_parser("plan", help="show the shot plan a story becomes; --out writes it as editable YAML")
    pl.add_argument("story", nargs="?", help="the story to plan")
    pl.add_argument("--from", dest="source", metavar="FILE", help="check and show an edited plan file instead")
    pl.add_argument("--id", default="draft", help="episode id the plan is for (seeds derive from it)")
    pl.add_argument("--language", default="auto", choices=["auto", "zh", "en"])
    pl.add_argument("--seed", type=int, help="plan seed (default: from the id or the preset's policy)")
    pl.add_argument("--preset", help="style preset: storybook, ink-wash, cinematic, anime-cel, constellation-myth, or a YAML file")
    pl.add_argument("--out", help="write the plan here as YAML to edit")
    pl.set_defaults(func=cmd_plan)

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
        p.add_argument("--version", help="the version you watched (default: the one `reelgate review show` printed "
                       "last); a decision on a version no longer at the gate is refused")
    review.set_defaults(func=cmd_review)

    se = sub.add_parser("series", help="check a series file (exit 2 with every problem and its line); show its episodes")
    se.add_argument("action", choices=["validate", "show", "deploy"])
    se.add_argument("file", help="the series YAML file, e.g. examples/constellations.yaml")
    se.add_argument("--pool", help="deploy: the Prefect work pool whose workers run the series and its episodes")
    se.set_defaults(func=cmd_series)

    pg = sub.add_parser("page", help="serve the review page alone (the queue, the player, the decisions); Ctrl-C stops")
    pg.add_argument("--host", help="host to bind (default: settings review_host, 127.0.0.1)")
    pg.add_argument("--port", type=int, help="port (default: settings review_port, 8765; 0: any free port)")
    pg.add_argument("--allow-remote", action="store_true",
                    help="allow a host other than loopback (put the page behind TLS: tokens and cookies travel on it)")
    pg.set_defaults(func=cmd_page)

    register_reviewers(sub, _settings)

    server = sub.add_parser("server", help="the local Prefect server")
    server.add_argument("action", choices=["start", "stop", "status"])
    server.set_defaults(func=cmd_server)

    settings = sub.add_parser("settings", help="print the effective settings as JSON")
    settings.set_defaults(func=cmd_settings)
    return parser


class UsageError(InputError):
    """The command line itself is wrong (exit 2, like argparse's own errors)."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ReelgateError, ValidationError) as exc:
        print(f"reelgate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
