"""`reelgate batch FILE`: many episodes from a JSONL or CSV file, one run each, idempotent by id.

Every line becomes the same EpisodeRequest `reelgate episode` would build, goes through the
same screen, plan limits and backend checks, and is started by `flows.runs.start_episode`:
an id that already holds the same request is reported (waiting, approved, published, running),
never queued twice; an id holding another request is a conflict on that line, never replaced.

What a line may carry is the request's own fields and a preset *name* from the shipped list;
nothing in the file becomes a setting or a run option beyond that.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from cli.common import EXIT_ERROR, EXIT_OK, EXIT_REFUSED, UsageError, import_flows, load_settings
from editorial.requests import (
    BAD, BLOCKED, CONFLICT, DONE, FAILED, FIELDS, OK, PUBLISHED, QUEUED, REQUIRED, RUNNING, WAITING, Entry,
    check_entry, parse_entry,
)
from reelgate.errors import EpisodeConflict, InputError, ReelgateError
from reelgate.settings import PRIORITY_NAMES, Settings

DEFAULT_PRIORITY = "normal"  # a batch's runs: after episodes started by hand, before series fires
# A batch is text for people to write: 10 MiB is thousands of long stories.
MAX_FILE_BYTES = 10 * 1024 * 1024
# A line holds one story (at most MAX_PROMPT_CHARS) and a few short fields beside it.
FIELD_ALLOWANCE = 2_000

# Outcomes, as the table prints them, and the exit code each one implies.
_EXIT = {QUEUED: EXIT_OK, WAITING: EXIT_OK, PUBLISHED: EXIT_OK, DONE: EXIT_OK, RUNNING: EXIT_OK, OK: EXIT_OK,
         BLOCKED: EXIT_REFUSED, FAILED: EXIT_ERROR, BAD: EXIT_ERROR, CONFLICT: EXIT_ERROR}


class BatchFileError(UsageError):
    """The file as a whole cannot be read as a batch (too big, not text, no header...)."""


# ---- reading the file -----------------------------------------------------------------------

def read_batch(path: Path) -> list[Entry]:
    """Every line of a JSONL or CSV batch as an Entry; a malformed one is marked `bad line` with why.

    JSONL: one object per line (blank lines skipped). CSV: a header row naming the fields.
    A file over MAX_FILE_BYTES, or not UTF-8, is refused whole (BatchFileError).
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BatchFileError(f"cannot read the batch file {path}: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise BatchFileError(f"{path} is {size} bytes; a batch file may be at most {MAX_FILE_BYTES} bytes: "
                             "split it into several files")
    try:
        text = path.read_bytes()[: MAX_FILE_BYTES + 1].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchFileError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    rows = _csv_rows(text) if _is_csv(path, text) else _jsonl_rows(text)
    from prompts.presets import load_presets

    presets = sorted(load_presets())
    entries: list[Entry] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        entry = row if isinstance(row, Entry) else parse_entry(line, row, presets)
        if entry.episode_id and not entry.outcome:
            if entry.episode_id in first_line:
                entry.mark(BAD, f"duplicate id {entry.episode_id!r}: line {first_line[entry.episode_id]} has it; "
                                "each line needs its own id")
            else:
                first_line[entry.episode_id] = line
        entries.append(entry)
    return entries


def _is_csv(path: Path, text: str) -> bool:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return False
    if suffix == ".csv":
        return True
    return not text.lstrip().startswith("{")


def _line_limit() -> int:
    from prompts.plan import MAX_PROMPT_CHARS

    return MAX_PROMPT_CHARS + FIELD_ALLOWANCE


def _too_long(line: int, length: int) -> Entry:
    return Entry.bad(line, f"the line is {length} characters; the limit is {_line_limit()} (a story of at most "
                           f"{_line_limit() - FIELD_ALLOWANCE} characters and its fields): shorten the story "
                           "or split it")


def _jsonl_rows(text: str):
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        if len(raw) > _line_limit():
            yield number, _too_long(number, len(raw))
            continue
        try:
            row = json.loads(raw)
        except ValueError as exc:
            yield number, Entry.bad(number, f"not valid JSON: {exc}")
            continue
        if not isinstance(row, dict):
            yield number, Entry.bad(number, f"a line must be a JSON object with {', '.join(FIELDS)}; "
                                            f"got {type(row).__name__}")
            continue
        yield number, row


def _csv_rows(text: str):
    # A row over the limit is reported by the length of its longest line; csv's own field
    # limit (131072 characters) bounds what one cell costs to read, within the file's size.
    long = {n: len(raw) for n, raw in enumerate(text.splitlines(), start=1) if len(raw) > _line_limit()}
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise BatchFileError(f"line 1: the CSV header cannot be read: {exc}") from None
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in FIELDS]
    missing = [f for f in REQUIRED if f not in header]
    if unknown or missing or len(set(header)) != len(header):
        problems = []
        if unknown:
            problems.append(f"unknown column(s) {', '.join(repr(u) for u in unknown)}")
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if len(set(header)) != len(header):
            problems.append("a column is named twice")
        raise BatchFileError(f"line 1: the CSV header has {'; '.join(problems)}; the columns are "
                             f"{', '.join(FIELDS)} (id and story required)")
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line, start = start, reader.line_num + 1
            too_long = [n for n in range(line, start) if n in long]
            if too_long:
                yield line, _too_long(line, long[too_long[0]])
                continue
            yield line, Entry.bad(line, f"the CSV row cannot be read: {exc}")
            continue
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        too_long = [n for n in range(line, start) if n in long]
        if too_long:
            yield line, _too_long(line, long[too_long[0]])
            continue
        if len(cells) != len(header):
            yield line, Entry.bad(line, f"{len(cells)} cells; the header has {len(header)} columns "
                                        f"({', '.join(header)})")
            continue
        yield line, {h: c for h, c in zip(header, cells, strict=True) if c != "" or h in REQUIRED}


# ---- checking and queuing -------------------------------------------------------------------

def check_existing(entry: Entry, settings: Settings) -> bool:
    """Whether the id already holds this request as decided work (marked done) or another one (conflict)."""
    from editorial.manifest import Status, load_manifest, manifest_path
    from editorial.review import check_same_request

    folder = settings.episodes_dir / entry.request.episode_id
    if not manifest_path(folder).is_file():
        return False
    try:
        manifest = load_manifest(folder)
        check_same_request(manifest, entry.request)
    except EpisodeConflict as exc:
        entry.mark(CONFLICT, str(exc).split(". Use another")[0] + "; give this line another id")
        return True
    except ReelgateError as exc:
        entry.mark(FAILED, f"its manifest cannot be read: {exc}")
        return True
    status = manifest.status
    if status == Status.AWAITING_REVIEW:
        entry.mark(WAITING, "already waiting")
    elif status == Status.PUBLISHED:
        entry.mark(PUBLISHED, "already published")
    elif status == Status.BLOCKED:
        entry.mark(BLOCKED, *manifest.verdict.reasons)
    elif status in (Status.APPROVED, Status.REJECTED, Status.EXPIRED):
        entry.mark(DONE, status.value)
    else:
        return False  # producing, regenerating, superseded: a live run is attached to, else it resumes
    return True


def queue_entry(entry: Entry, settings: Settings, runs, deployment_id, priority: str | None = None):
    """Start the line's run (or attach to its live one); the run, or None when nothing was started.

    priority: the work-pool queue a new run waits in (the batch's --priority, normal by default).
    """
    try:
        run, attached = runs.start_episode(deployment_id, entry.request, settings, options=entry.options,
                                              priority=priority)
    except EpisodeConflict as exc:
        entry.mark(CONFLICT, str(exc).split(". Use another")[0] + "; give this line another id")
        return None
    if attached:
        waiting = run.state is not None and run.state.type.value == "PAUSED"
        entry.mark(WAITING if waiting else RUNNING, f"already {run.state_name}, run {run.id}")
        return None
    entry.mark(QUEUED, f"run {run.id}")
    return run


def settle_entry(entry: Entry, run, runs, deployment_id) -> None:
    """Get the run executed (as `reelgate episode` does) and mark the line with where it ended."""
    from editorial.manifest import Status, load_manifest

    settled = runs.drive_run(run.id, deployment_id)
    state = settled.state.type.value if settled.state else "UNKNOWN"
    try:
        manifest = load_manifest(runs.episode_dir_of(settled))
    except InputError:
        entry.mark(FAILED, f"run {settled.id} ended {state}: {settled.state.message if settled.state else ''}")
        return
    status = manifest.status
    if status == Status.AWAITING_REVIEW:
        entry.mark(WAITING, f"version {manifest.version.id if manifest.version else '?'}")
    elif status == Status.PUBLISHED:
        entry.mark(PUBLISHED)
    elif status == Status.BLOCKED:
        entry.mark(BLOCKED, *manifest.verdict.reasons)
    elif state in ("FAILED", "CRASHED", "CANCELLED"):
        entry.mark(FAILED, f"run {settled.id} ended {state}: {settled.state.message if settled.state else ''}")
    else:
        entry.mark(DONE, status.value)


def print_table(entries: list[Entry], out=None) -> None:
    """One row per line: line number, id, outcome, and each reason beneath it."""
    out = out or sys.stdout
    width = max([len("id"), *(len(e.episode_id) for e in entries)])
    print(f"{'line':>5}  {'id':{width}}  outcome", file=out)
    for e in entries:
        detail = f" ({e.reasons[0]})" if len(e.reasons) == 1 and len(e.reasons[0]) < 60 else ""
        print(f"{e.line:>5}  {e.episode_id or '-':{width}}  {e.outcome}{detail}", file=out)
        if not detail:
            for reason in e.reasons:
                print(f"{'':>5}  {'':{width}}    - {reason}", file=out)
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.outcome] = counts.get(e.outcome, 0) + 1
    print(f"in all: {len(entries)} line(s): " + ", ".join(f"{n} {o}" for o, n in counts.items()), file=out)


def exit_code(entries: list[Entry]) -> int:
    return max((_EXIT[e.outcome] for e in entries), default=EXIT_OK)


def cmd_batch(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    entries = read_batch(Path(args.file))
    if not entries:
        raise BatchFileError(f"{args.file} holds no episodes")
    todo = [e for e in entries if not e.outcome]
    bar = _bar("checking", len(todo))
    try:
        for done, entry in enumerate(todo, start=1):
            # An id that already holds work is reported as it stands, without screening it again.
            if not check_existing(entry, settings):
                check_entry(entry, settings)
            if args.dry_run and not entry.outcome:
                entry.mark(OK)
            bar(done, len(todo))
    finally:
        bar.close()
    if args.dry_run:
        print_table(entries)
        return exit_code(entries)
    todo = [e for e in todo if not e.outcome]
    if todo:
        _queue(todo, settings, wait=args.wait, priority=args.priority)
    print_table(entries)
    return exit_code(entries)


def _queue(todo: list[Entry], settings: Settings, wait: bool, priority: str | None = DEFAULT_PRIORITY) -> None:
    from generation.base import check_backend
    from postprocess.enhance.chain import check_for_generation
    from safety.gallery import check_gallery

    check_backend(settings.generation)  # fail at once, before any run, as `reelgate episode` does
    check_gallery(settings.safety)
    server, runs, deployments = import_flows(settings)
    server.ensure_server(settings)
    deployment_id = deployments.ensure_deployment()
    started = []
    bar = _bar("queuing", len(todo))
    try:
        for done, entry in enumerate(todo, start=1):
            try:
                check_for_generation(settings.enhance, settings.generation, entry.preset or settings.planning.preset)
                run = queue_entry(entry, settings, runs, deployment_id, priority)
            except ReelgateError as exc:
                entry.mark(FAILED, str(exc))
                run = None
            if run is not None:
                started.append((entry, run))
            bar(done, len(todo))
    finally:
        bar.close()
    if not wait:
        return
    bar = _bar("waiting", len(started))
    try:
        for done, (entry, run) in enumerate(started, start=1):
            try:
                settle_entry(entry, run, runs, deployment_id)
            except ReelgateError as exc:
                entry.mark(FAILED, str(exc))
            bar(done, len(started))
    finally:
        bar.close()


def _bar(description: str, total: int):
    """A progress bar over `total` episodes, drawn only when a terminal watches."""
    from reelgate.console import StepBar

    bar = StepBar(description, unit="episode")
    bar(0, total)
    return bar


def register(sub: argparse._SubParsersAction) -> None:
    """Add `batch` to the main parser's subcommands."""
    batch = sub.add_parser(
        "batch", help="queue one episode per line of a JSONL or CSV file (id, story, title, language, preset, "
                      "series); idempotent by id; exit 0 all ok, 1 some blocked, 2 a bad line or a failure",
    )
    batch.add_argument("file", help="JSONL (one object per line) or CSV (a header row): id and story required")
    batch.add_argument("--dry-run", action="store_true",
                       help="check every line (parsing, screening, plan limits, existing ids) and queue nothing")
    batch.add_argument("--wait", action=argparse.BooleanOptionalAction, default=True,
                       help="wait for each run to reach the review gate or end, executing it here when no "
                            "`reelgate up` serves the deployment (default); --no-wait only queues")
    batch.add_argument("--priority", default=DEFAULT_PRIORITY, choices=PRIORITY_NAMES,
                       help="the work-pool queue the runs wait in when workers run episodes (default normal: "
                            "after episodes started by hand, before scheduled series episodes)")
    batch.set_defaults(func=cmd_batch)
