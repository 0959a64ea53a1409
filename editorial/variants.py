"""Variants of one shot: a sweep over a few knobs, its takes, and the director's choice.

Previs practice: make a dozen takes of a shot, changing one knob at a time (camera, time of
day, a keyword's strength, the seed), look at them side by side, mark each rejected, maybe
or selected, and carry the selected one into the episode.

A sweep lives in `data_dir/variants/<sweep_id>/`: `sweep.json` (this module's `Sweep`), the
takes' videos and thumbnails under `takes/`, and the comparison grid (a contact sheet and one
side-by-side video). Plain Python: the flow that makes the takes is `flows.variants`.

Two origins:
- a plan file (`reelgate variants PLAN.yaml --shot 2 --sweep camera=push,track`): selecting
  a take writes its fields and seed back into that plan file;
- an episode waiting for review ("try variants of shot N" on the review page): selecting a
  take becomes a regenerate decision on the version the sweep was opened from, and the
  episode's next round uses that take.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from reelgate.errors import InputError, NotAllowed
from reelgate.files import file_sha256, write_text
from reelgate.records import (
    ANGLES, CAMERA_MOVES, MOODS, SHOT_SIZES, TIMES_OF_DAY, WEATHERS, Action, GeneratedShot, ShotPlan, ShotSpec,
    weight_problem,
)
from reelgate.seeds import derive_seed
from reelgate.settings import Settings

SWEEPS_DIR = "variants"  # under the data folder
SWEEP_FILE = "sweep.json"
SWEEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TAKE_ID = re.compile(r"^t[0-9]{2,3}$")


class TakeState(str, Enum):
    """The director's mark on a take."""

    UNMARKED = "unmarked"
    REJECTED = "rejected"
    MAYBE = "maybe"
    SELECTED = "selected"


class SweepStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"  # every take made (or failed with its reason); the comparison is built
    FAILED = "failed"
    CHOSEN = "chosen"  # a take was selected and carried into the plan or the episode


class Take(BaseModel):
    """One take of the swept shot: what it was asked to be, what came out, what the checks said."""

    id: str = Field(description="t01, t02... in order of likely choice: the user's original is t01.")
    knobs: dict[str, str] = Field(description="The knob values of this take, e.g. {'camera': 'push', 'seed': '2'}.")
    original: bool = Field(False, description="The plan's own values and seed: the take the user started from.")
    spec: ShotSpec = Field(description="The shot as this take makes it: fields, prompt and seed.")
    video: str | None = Field(None, description="The take's (enhanced) video, relative to the sweep folder.")
    video_sha256: str = ""
    thumbnail: str | None = Field(None, description="Middle-frame image, blurred when the take is blocked.")
    safety_action: Action | None = Field(None, description="allow, review or block; None until checked. "
                                         "A block is never shown unblurred.")
    safety_reasons: list[str] = Field(default_factory=list)
    quality_score: float | None = None
    quality_passed: bool | None = None
    quality_reasons: list[str] = Field(default_factory=list)
    error: str | None = Field(None, description="Why the take could not be made (generation or checks failed).")
    prompt_blocked: bool = Field(False, description="Its prompt was blocked by the screen: never generated.")
    enhance_note: str | None = Field(None, description="Why enhancement failed, when the take goes on unenhanced.")
    made_with: GeneratedShot | None = Field(None, description="How the take was made (the generator's record: "
                                            "backend, model, seed, steps, size, rate, device).")
    state: TakeState = TakeState.UNMARKED
    marked_by: str | None = None
    marked_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """Nothing more will happen to it: made, refused by the prompt screen, or failed with its reason."""
        return self.video is not None or self.error is not None or self.safety_action is not None

    @property
    def blocked(self) -> bool:
        """Blocked, or never checked: either way it is shown only blurred and can never be selected."""
        return self.safety_action in (None, Action.BLOCK) or self.error is not None


class Sweep(BaseModel):
    """A sweep of one shot and its takes."""

    sweep_id: str
    created_at: datetime
    created_by: str = Field("owner", description="Who opened it (the CLI's user or the signed-in reviewer).")
    shot: int = Field(ge=1, description="The swept shot, numbered from 1.")
    knobs: dict[str, list[str]] = Field(description="Each swept knob and its values, in the order given.")
    seeds: int = Field(1, ge=1, description="Seeds per combination of knob values.")
    plan_file: str | None = Field(None, description="Plan-file sweeps: the plan to write the choice back to.")
    episode_id: str | None = Field(None, description="Episode sweeps: the episode under review.")
    episode_version: str | None = Field(None, description="Episode sweeps: the version at the gate when opened.")
    flow_run_id: str | None = None
    status: SweepStatus = SweepStatus.QUEUED
    takes: list[Take] = Field(default_factory=list)
    contact_sheet: str | None = Field(None, description="The grid of takes as one image, relative to the sweep folder.")
    comparison: str | None = Field(None, description="The takes side by side as one video (ffmpeg xstack).")
    chosen: str | None = Field(None, description="The take carried into the plan or the episode.")

    def take(self, take_id: str) -> Take:
        for take in self.takes:
            if take.id == take_id:
                return take
        raise InputError(f"sweep {self.sweep_id} has no take {take_id!r}; its takes are "
                         f"{', '.join(t.id for t in self.takes) or 'not made yet'}")


def sweeps_dir(data_dir: Path) -> Path:
    return Path(data_dir) / SWEEPS_DIR


def sweep_dir(data_dir: Path, sweep_id: str) -> Path:
    if not SWEEP_ID.match(sweep_id or ""):
        raise InputError(f"{sweep_id!r} is not a sweep id (letters, digits, '.', '_' and '-')")
    return sweeps_dir(data_dir) / sweep_id


def load_sweep(data_dir: Path, sweep_id: str) -> Sweep:
    path = sweep_dir(data_dir, sweep_id) / SWEEP_FILE
    try:
        return Sweep.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no sweep {sweep_id!r}; `reelgate variants list` shows them") from None
    except ValueError as exc:
        raise InputError(f"the sweep record {path} cannot be read ({exc}); make the sweep again") from None


def save_sweep(data_dir: Path, sweep: Sweep) -> Path:
    path = sweep_dir(data_dir, sweep.sweep_id) / SWEEP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(sweep.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n")
    return path


def list_sweeps(data_dir: Path, episode_id: str | None = None) -> list[Sweep]:
    """Every readable sweep (of one episode, when given), newest first."""
    found = []
    root = sweeps_dir(data_dir)
    for path in root.glob(f"*/{SWEEP_FILE}") if root.is_dir() else []:
        try:
            sweep = Sweep.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if episode_id is None or sweep.episode_id == episode_id:
            found.append(sweep)
    return sorted(found, key=lambda s: s.created_at, reverse=True)


# ------------------------------------------------------------------ the knobs of a sweep

KNOB_FIELDS = ("camera", "shot_size", "angle", "time_of_day", "weather", "mood", "subject", "action", "environment",
               "style", "duration_s")
"""The ShotSpec fields a sweep may change: the ones a person edits in a plan file."""
CHOICES: dict[str, tuple[str, ...]] = {
    "camera": CAMERA_MOVES, "shot_size": SHOT_SIZES, "angle": ANGLES, "time_of_day": TIMES_OF_DAY,
    "weather": WEATHERS, "mood": MOODS,
}
STRENGTH = "strength"  # "strength:storm": how strongly the word storm weighs (ShotSpec.weights)
SEED_KNOB = "seed"


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{text!r} is not a finite number")
    return value


def check_knob(name: str, values: Sequence[str]) -> list[str]:
    """The values of one knob, validated and written the one way (numbers as 1.5, not 1.50).

    name: a ShotSpec field of KNOB_FIELDS, or "strength:WORD" (a keyword's weight, 0 to 3).
    Raises InputError naming the knob, the value and what it may be.
    """
    values = [v.strip() for v in values]
    if not values or any(not v for v in values):
        raise InputError(f"--sweep {name}: give one or more values after '=', separated by commas")
    if name == SEED_KNOB:
        raise InputError("seeds are not swept by value: give --seeds N (the plan's seed, then N-1 derived ones)")
    if name.startswith(STRENGTH + ":"):
        word = name.split(":", 1)[1].strip().lower()
        values = _numbers(name, values, "a weight is a number from 0 to 3, e.g. 0.5,1,1.5",
                          lambda value, weight: weight_problem(word, weight))
    elif name == "duration_s":
        values = _numbers(name, values, "give seconds, e.g. 3,4.5",
                          lambda value, seconds: None if seconds > 0 else f"{value} is not a length; give seconds above 0")
    elif name in CHOICES:
        for value in values:
            if value not in CHOICES[name]:
                raise InputError(f"--sweep {name}: {value!r} is not one of {', '.join(CHOICES[name])}")
    elif name not in KNOB_FIELDS:
        raise InputError(f"--sweep {name}: not a knob; sweep one of {', '.join(KNOB_FIELDS)}, "
                         f"{STRENGTH}:WORD (a keyword's weight), or give --seeds N")
    repeated = [v for v in dict.fromkeys(values) if values.count(v) > 1]
    if repeated:
        raise InputError(f"--sweep {name}: {repeated[0]!r} is given twice; give each value once")
    return values


def _numbers(name: str, values: Sequence[str], hint: str, problem: Callable[[str, float], str | None]) -> list[str]:
    """A number knob's values written the one way (1.5, not 1.50); InputError naming the knob for a value
    that is not a number (with `hint`) or that `problem(value, number)` refuses."""
    out = []
    for value in values:
        try:
            number = _number(value)
        except InputError as exc:
            raise InputError(f"--sweep {name}: {exc}; {hint}") from None
        refused = problem(value, number)
        if refused:
            raise InputError(f"--sweep {name}: {refused}")
        out.append(f"{number:g}")
    return out


def parse_sweeps(args: Sequence[str]) -> dict[str, list[str]]:
    """--sweep arguments ("camera=push,track", "strength:storm=0.5,1,1.5") as knob -> values, in the order given."""
    knobs: dict[str, list[str]] = {}
    for arg in args:
        name, sep, rest = arg.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"--sweep {arg!r}: write KNOB=VALUE,VALUE (e.g. camera=push,track or "
                             f"{STRENGTH}:storm=0.5,1,1.5)")
        if name.startswith(STRENGTH + ":"):
            name = STRENGTH + ":" + name.split(":", 1)[1].strip().lower()
        if name in knobs:
            raise InputError(f"--sweep {name} is given twice; put all its values in one --sweep")
        knobs[name] = check_knob(name, rest.split(","))
    return knobs


def check_knobs(knobs: dict[str, list[str]]) -> dict[str, list[str]]:
    """Knobs from a run parameter or the page, validated as the command line's are."""
    if not knobs:
        raise InputError("a sweep needs at least one knob (--sweep camera=push,track) or --seeds 2 or more")
    return {name: check_knob(name, list(values)) for name, values in knobs.items()}


def knob_value(spec: ShotSpec, name: str) -> str:
    """The shot's own value of a knob, written as check_knob writes values."""
    if name.startswith(STRENGTH + ":"):
        return f"{spec.weight(name.split(':', 1)[1]):g}"
    value = getattr(spec, name)
    return f"{value:g}" if isinstance(value, float) else str(value)


def sweep_seeds(spec: ShotSpec, seeds: int) -> list[int]:
    """The plan's seed first, then seeds derived from it (the same in every process)."""
    return [spec.seed, *(derive_seed(spec.seed, "variant", k) for k in range(1, seeds))]


def take_count(spec: ShotSpec, knobs: dict[str, list[str]], seeds: int) -> int:
    """How many takes a sweep makes: every combination times the seeds, plus the original when it is not one."""
    combos = math.prod(len(v) for v in knobs.values()) * seeds
    original_in = all(knob_value(spec, name) in values for name, values in knobs.items())
    return combos + (0 if original_in else 1)


def check_take_limit(spec: ShotSpec, knobs: dict[str, list[str]], seeds: int, max_takes: int) -> int:
    """The number of takes, or InputError saying how many and how to narrow the sweep."""
    if seeds < 1:
        raise InputError(f"--seeds {seeds}: give 1 or more")
    count = take_count(spec, knobs, seeds)
    if count > max_takes:
        sizes = " x ".join([*(f"{len(v)} {n}" for n, v in knobs.items()), f"{seeds} seed(s)"])
        raise InputError(
            f"the sweep would make {count} takes ({sizes}, with the original); the limit is {max_takes} "
            "(variants.max_takes, REELGATE_VARIANTS__MAX_TAKES): give fewer values or seeds, or sweep one knob "
            "at a time and sweep again from the take you select")
    return count


def apply_knobs(spec: ShotSpec, values: dict[str, str], seed: int, language: str,
                keyword_files: Sequence[Path] = ()) -> ShotSpec:
    """The shot with these knob values and seed. Its prompt is rebuilt from the fields exactly as
    `load_plan` does for `prompt: auto`; a prompt the person wrote out stays as written (the
    weights field still weighs its words)."""
    from prompts.plan import rebuild_prompt, shot_expansions

    update: dict = {"seed": seed}
    weights = dict(spec.weights)
    for name, value in values.items():
        if name.startswith(STRENGTH + ":"):
            weights[name.split(":", 1)[1]] = float(value)
        elif name == "duration_s":
            update[name] = float(value)
        else:
            update[name] = value
    update["weights"] = weights
    auto = spec.prompt == rebuild_prompt(spec, language, keyword_files)
    try:
        made = ShotSpec.model_validate({**spec.model_dump(), **update})
    except ValidationError as exc:
        raise InputError(f"shot {spec.index + 1}: {exc.errors()[0]['msg']}") from None
    if auto:
        made = made.model_copy(update={"prompt": rebuild_prompt(made, language, keyword_files)})
    return made.model_copy(update={"expansions": shot_expansions(made, language, keyword_files)})


def plan_takes(plan: ShotPlan, shot: int, knobs: dict[str, list[str]], seeds: int, max_takes: int,
               keyword_files: Sequence[Path] = (), limits=None) -> list[Take]:
    """Every take of the sweep, in order of likely choice.

    t01 is the original (the plan's own values and seed); then the takes that change one knob
    (the seed counts as one), then two, and so on; ties in the order the values were given,
    then by seed. A sweep over max_takes is refused before any take is built; every take keeps
    the plan limits (limits: settings.planning.limits; None: the defaults).
    """
    from prompts.limits import check_plan_limits
    from reelgate.settings import PlanLimits

    if not 1 <= shot <= len(plan.shots):
        raise InputError(f"--shot {shot}: the plan has {len(plan.shots)} shot(s); give 1 to {len(plan.shots)}")
    knobs = check_knobs(knobs) if knobs else {}
    if not knobs and seeds < 2:
        raise InputError("nothing to sweep: give --sweep KNOB=VALUES or --seeds 2 or more")
    spec = plan.shots[shot - 1]
    check_take_limit(spec, knobs, seeds, max_takes)
    limits = limits or PlanLimits()
    names = list(knobs)
    own = {name: knob_value(spec, name) for name in names}
    seed_list = sweep_seeds(spec, seeds)
    rows = []  # (changes, value positions, seed position, values)
    for picks in itertools.product(*(range(len(knobs[n])) for n in names)):
        values = {n: knobs[n][k] for n, k in zip(names, picks)}
        for s in range(seeds):
            changed = sum(values[n] != own[n] for n in names) + (s > 0)
            rows.append((changed, picks, s, values))
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    if not rows or rows[0][0] != 0:
        rows.insert(0, (0, (), 0, own))
    width = 3 if len(rows) > 99 else 2
    takes = []
    for number, (changed, _, s, values) in enumerate(rows, start=1):
        take_id = f"t{number:0{width}d}"
        made = spec if changed == 0 else apply_knobs(spec, values, seed_list[s], plan.language, keyword_files)
        trial = plan.model_copy(update={"shots": [made if i == shot - 1 else x for i, x in enumerate(plan.shots)]})
        check_plan_limits(trial, limits, f"take {take_id} ({', '.join(f'{k}={v}' for k, v in values.items())})")
        takes.append(Take(id=take_id, knobs={**values, SEED_KNOB: str(seed_list[s])}, original=changed == 0, spec=made))
    return takes


def knob_label(take: Take, sweep: Sweep | None = None) -> str:
    """A take's knob values in a few words: "push · dusk · storm ×1.5 · seed 2" (seed: its place among
    the sweep's seeds, shown when the sweep has several)."""
    parts = []
    for name, value in take.knobs.items():
        if name == SEED_KNOB:
            continue
        if name.startswith(STRENGTH + ":"):
            parts.append(f"{name.split(':', 1)[1]} ×{value}")
        elif name == "duration_s":
            parts.append(f"{value} s")
        else:
            parts.append(value.replace("_", " "))
    if sweep is not None and sweep.seeds > 1:
        seeds = list(dict.fromkeys(t.knobs.get(SEED_KNOB) for t in sweep.takes))
        parts.append(f"seed {seeds.index(take.knobs.get(SEED_KNOB)) + 1}")
    return " · ".join(parts) or "as planned"


def take_verdict(take: Take) -> str:
    """Quality and safety of a take in a few words, or why it is blocked."""
    if take.error:
        return take.error
    if take.safety_action is None:
        return "not checked"
    if take.blocked:
        return "; ".join(take.safety_reasons) or "blocked"
    quality = "" if take.quality_score is None else (
        f"q {take.quality_score:.2f} {'pass' if take.quality_passed else 'fail'} · ")
    return f"{quality}{take.safety_action.value}"


def take_screening_text(plan: ShotPlan, spec: ShotSpec) -> str:
    """What of a take reaches a model or a viewer: screened as a planned prompt is."""
    return plan.model_copy(update={"shots": [spec]}).screening_text()


def new_sweep_id(episode_id: str, shot: int, when: datetime | None = None) -> str:
    """<episode>-s<shot>-<yyyymmdd-hhmmss>: sortable, folder-safe."""
    when = when or datetime.now(timezone.utc)
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", episode_id).strip("-._")[:60] or "sweep"
    return f"{base}-s{shot}-{when:%Y%m%d-%H%M%S}"


def open_sweep(settings: Settings, plan: ShotPlan, shot: int, knobs: dict[str, list[str]], seeds: int, *,
               sweep_id: str | None = None, plan_file: str | None = None, episode_id: str | None = None,
               episode_version: str | None = None, created_by: str = "owner") -> Sweep:
    """The record of a sweep of shot `shot` (1-based) of `plan`, its takes planned and checked.

    A new record, or the one already under `sweep_id` (queued by the client, or an earlier
    run) with the marks and the choice kept on the takes that are the same. InputError for
    bad knobs, too many takes, plan limits, or an id that holds a sweep with other knobs.
    plan_file: given by the client that read the plan file (flows.runs.start_sweep), never by a
    run: an existing record keeps its own, so a run made through the API names no file a
    selection would rewrite.
    """
    sweep_id = sweep_id or new_sweep_id(episode_id or plan.episode_id, shot)
    knobs = check_knobs(knobs) if knobs else {}
    takes = plan_takes(plan, shot, knobs, seeds, settings.variants.max_takes, settings.planning.keyword_files,
                       settings.planning.limits)
    sweep = Sweep(
        sweep_id=sweep_id, created_at=datetime.now(timezone.utc), created_by=created_by, shot=shot,
        knobs={k: list(v) for k, v in knobs.items()}, seeds=seeds, plan_file=plan_file, episode_id=episode_id,
        episode_version=episode_version, takes=takes,
    )
    if not (sweep_dir(settings.data_dir, sweep_id) / SWEEP_FILE).is_file():
        return sweep
    old = load_sweep(settings.data_dir, sweep_id)
    if (old.shot, old.knobs, old.seeds) != (shot, sweep.knobs, seeds):
        raise InputError(f"sweep {sweep_id} already exists with other knobs (shot {old.shot}, {old.knobs}, "
                         f"{old.seeds} seed(s)); give another sweep id, or the same knobs to resume it")
    marks = {t.id: t for t in old.takes}
    for take in takes:
        before = marks.get(take.id)
        if before is not None and before.knobs == take.knobs:
            take.state, take.marked_by, take.marked_at = before.state, before.marked_by, before.marked_at
    sweep.created_at, sweep.created_by, sweep.plan_file = old.created_at, old.created_by, old.plan_file
    sweep.chosen = old.chosen if old.chosen in {t.id for t in takes} else None
    sweep.status = old.status
    return sweep


# ------------------------------------------------------------------ the director's marks


def mark_take(sweep: Sweep, take_id: str, state: TakeState | str, who: str = "owner",
              when: datetime | None = None) -> Take:
    """Mark one take (in memory): rejected, maybe, selected or unmarked.

    A blocked take (blocked, never checked, or failed) can never be selected; selecting a take
    un-selects any other (it goes back to maybe); un-selecting the chosen take clears the choice.
    """
    try:
        state = TakeState(state)
    except ValueError:
        raise InputError(f"{state!r} is not a mark; mark a take {', '.join(s.value for s in TakeState)}") from None
    take = sweep.take(take_id)
    if state == TakeState.SELECTED and take.blocked:
        why = "; ".join(take.safety_reasons) or take.error or "its safety was never checked"
        raise NotAllowed(f"take {take.id} is blocked ({why}); a blocked take cannot be selected: select another")
    when = when or datetime.now(timezone.utc)
    if state == TakeState.SELECTED:
        for other in sweep.takes:
            if other.id != take.id and other.state == TakeState.SELECTED:
                other.state, other.marked_by, other.marked_at = TakeState.MAYBE, who, when
    elif sweep.chosen == take.id:
        sweep.chosen = None
        if sweep.status == SweepStatus.CHOSEN:
            sweep.status = SweepStatus.READY
    take.state, take.marked_by, take.marked_at = state, who, when
    return take


LOCK_FILE = ".sweep.lock"  # in the sweep folder: one writer of sweep.json at a time


def sweep_lock(data_dir: Path, sweep_id: str):
    """An exclusive lock on one sweep's record (the flow saving progress, a mark from the CLI or the page)."""
    from editorial.audit import locked

    return locked(sweep_dir(data_dir, sweep_id) / LOCK_FILE)


def save_progress(data_dir: Path, sweep: Sweep) -> Sweep:
    """Save the flow's record of a sweep, keeping the marks and the choice made meanwhile (by the CLI or
    the page) on the record on disk; `sweep` is updated with them and returned."""
    with sweep_lock(data_dir, sweep.sweep_id):
        path = sweep_dir(data_dir, sweep.sweep_id) / SWEEP_FILE
        if path.is_file():
            try:
                on_disk = load_sweep(data_dir, sweep.sweep_id)
            except InputError:
                on_disk = None
            if on_disk is not None:
                marks = {t.id: t for t in on_disk.takes}
                for take in sweep.takes:
                    before = marks.get(take.id)
                    if before is not None and before.knobs == take.knobs:
                        take.state, take.marked_by, take.marked_at = before.state, before.marked_by, before.marked_at
                sweep.chosen = on_disk.chosen if on_disk.chosen in {t.id for t in sweep.takes} else None
        if sweep.status == SweepStatus.READY and sweep.chosen:
            sweep.status = SweepStatus.CHOSEN  # made again after a choice: the choice stands
        save_sweep(data_dir, sweep)
    return sweep


def chosen_take(sweep: Sweep) -> Take:
    """The take a sweep's choice carries (for the episode's regenerate: `chosen_take(sweep).spec` is the
    shot to make, fields, weights and seed); InputError when nothing is chosen."""
    if sweep.chosen is None:
        raise InputError(f"sweep {sweep.sweep_id} has no chosen take; select one first")
    return sweep.take(sweep.chosen)


def choose_take(data_dir: Path, sweep_id: str, take_id: str, state: TakeState | str, who: str = "owner",
                planning=None) -> Sweep:
    """Mark a take and save the sweep; selecting one carries it out of the sweep.

    A plan-file sweep: the take's fields, weights and seed are written into that shot of the
    plan file (atomically; the header and the other shots kept; the file still loads), then
    `Sweep.chosen` is set and the status is `chosen`. An episode sweep: the choice is recorded
    the same way; making the episode use it is the review page's regenerate (see README).
    planning: settings.planning (the keyword files and limits the plan file is loaded with).
    Bad input (no such take, a blocked take, a plan file that no longer fits) writes nothing.
    """
    load_sweep(data_dir, sweep_id)  # no such sweep: say so before making its folder for a lock
    with sweep_lock(data_dir, sweep_id):
        sweep = load_sweep(data_dir, sweep_id)
        take = mark_take(sweep, take_id, state, who)
        if take.state == TakeState.SELECTED:
            if sweep.status in (SweepStatus.QUEUED, SweepStatus.RUNNING):
                raise NotAllowed(f"sweep {sweep_id} is still {sweep.status.value}; select once its takes are made")
            if sweep.plan_file:
                write_take_to_plan(Path(sweep.plan_file), sweep.shot, take.spec, planning)
            sweep.chosen, sweep.status = take.id, SweepStatus.CHOSEN
        save_sweep(data_dir, sweep)
    return sweep


def _header(text: str) -> str:
    """The comment block a plan file starts with (its own, as a person may have edited it)."""
    lines = []
    for line in text.splitlines():
        if line.startswith("#") or (not line.strip() and lines):
            lines.append(line)
        else:
            break
    return "\n".join(lines).rstrip() + "\n" if lines else ""


def write_take_to_plan(plan_file: Path, shot: int, take: ShotSpec, planning=None) -> ShotPlan:
    """Write a take's knob fields, weights and seed into shot `shot` of a plan file; return the plan.

    Only that shot's swept fields, weights and seed change (its prompt is rebuilt when it was
    `auto`, a written-out prompt stays); the file's header and every other shot are kept, and
    the new text must load with `load_plan` before it replaces the file (atomically).
    """
    from prompts.plan import rebuild_prompt, shot_expansions
    from prompts.plan_file import HEADER, dump_plan, load_plan

    plan_file = Path(plan_file)
    plan = load_plan(plan_file, planning)
    if not 1 <= shot <= len(plan.shots):
        raise InputError(f"{plan_file} has {len(plan.shots)} shot(s) now, so shot {shot} of the sweep is gone; "
                         "put the take's values into the plan by hand (reelgate variants show lists them)")
    keyword_files = planning.keyword_files if planning is not None else ()
    old = plan.shots[shot - 1]
    update = {name: getattr(take, name) for name in KNOB_FIELDS}
    update.update(weights=dict(take.weights), seed=take.seed)
    new = old.model_copy(update=update)
    if old.prompt == rebuild_prompt(old, plan.language, keyword_files):
        new = new.model_copy(update={"prompt": rebuild_prompt(new, plan.language, keyword_files)})
    new = new.model_copy(update={"expansions": shot_expansions(new, plan.language, keyword_files)})
    plan = plan.model_copy(update={"shots": [new if i == shot - 1 else s for i, s in enumerate(plan.shots)]})
    text = plan_file.read_text(encoding="utf-8")
    body = dump_plan(plan, planning)[len(HEADER):]
    written = (_header(text) or HEADER) + body
    load_plan(written, planning)  # the file must still load: refuse before replacing it
    write_text(plan_file, written)
    return plan


# ---- carrying a chosen take into the episode under review ----------------------------------

def take_for_episode(data_dir: Path, ref: str, episode_id: str, version_id: str, shot: int) -> tuple[Sweep, Take, Path]:
    """The take `ref` (SWEEP/tNN) as it may replace shot `shot` of the version at the gate, with its video.

    The decision names the take; everything else comes from the sweep record on disk and is
    checked: the sweep was opened on this episode, on this very version and on this shot; the
    take was selected there, was not blocked (nor unchecked, nor failed), and its video is still
    the bytes that were checked. Raises InputError with the reason otherwise.
    """
    sweep_id, _, take_id = ref.partition("/")
    if not SWEEP_ID.match(sweep_id) or not TAKE_ID.match(take_id):
        raise InputError(f"{ref!r} is not a take (SWEEP/tNN)")
    sweep = load_sweep(data_dir, sweep_id)
    if sweep.episode_id != episode_id:
        raise InputError(f"sweep {sweep_id} was not opened on episode {episode_id}")
    if sweep.episode_version != version_id:
        raise InputError(f"sweep {sweep_id} was opened on version {sweep.episode_version}, but the gate holds "
                         f"{version_id}; open a sweep on this version")
    if sweep.shot != shot:
        raise InputError(f"sweep {sweep_id} varies shot {sweep.shot}, not shot {shot}")
    take = sweep.take(take_id)
    if take.blocked:
        raise InputError(f"take {take_id} cannot be used: "
                         + ("; ".join(take.safety_reasons) or take.error or "it was blocked or never checked"))
    if take.state != TakeState.SELECTED:
        raise InputError(f"take {take_id} is {take.state.value}, not selected; select it first")
    folder = sweep_dir(data_dir, sweep_id).resolve()
    video = (folder / (take.video or "")).resolve()
    if not take.video or not video.is_relative_to(folder) or not video.is_file():
        raise InputError(f"the video of take {take_id} is missing; make the sweep again")
    if not take.video_sha256 or file_sha256(video) != take.video_sha256:
        raise InputError(f"the video of take {take_id} changed on disk after it was checked; make the sweep again")
    return sweep, take, video


def mark_carried(data_dir: Path, sweep_id: str, take_id: str) -> None:
    """Record that the take went into the episode (the episode flow calls this once it is in).

    A sweep removed since is no reason to stop the episode: the attempt record keeps the take.
    """
    try:
        load_sweep(data_dir, sweep_id)
    except InputError:
        return
    with sweep_lock(data_dir, sweep_id):
        sweep = load_sweep(data_dir, sweep_id)
        if sweep.chosen != take_id or sweep.status != SweepStatus.CHOSEN:
            save_sweep(data_dir, sweep.model_copy(update={"chosen": take_id, "status": SweepStatus.CHOSEN}))


def mark_on_page(data_dir: Path, sweep_id: str, take_id: str, state: TakeState | str, who: str,
                 planning=None) -> Sweep:
    """`choose_take` for a signed-in reviewer on the review page, with a line in the audit log."""
    from editorial.audit import append_audit

    sweep = choose_take(data_dir, sweep_id, take_id, state, who, planning)
    take = sweep.take(take_id)
    append_audit(Path(data_dir) / "audit.jsonl", {
        "when": (take.marked_at or datetime.now(timezone.utc)).isoformat(), "who": who, "what": "mark-take",
        "sweep": sweep_id, "take": take_id, "state": take.state.value, "episode_id": sweep.episode_id,
        "plan_file": sweep.plan_file if sweep.chosen == take_id else None,
    })
    return sweep


class TakeCheck(BaseModel):
    """What the review gate found about a chosen take, fixed once (a resumed run replays this, not the disk)."""

    problem: str | None = Field(None, description="Why the take cannot be used; None: it can.")
    spec: ShotSpec | None = None
    video: Path | None = Field(None, description="The take's checked video in the sweep folder.")
    video_sha256: str = ""
    made_with: GeneratedShot | None = None


def check_take(data_dir: Path, ref: str, episode_id: str, version_id: str, shot: int) -> TakeCheck:
    """`take_for_episode` as a result: the problem, or the take's spec and the bytes to carry in."""
    try:
        _, take, video = take_for_episode(data_dir, ref, episode_id, version_id, shot)
    except InputError as exc:
        return TakeCheck(problem=str(exc))
    return TakeCheck(spec=take.spec, video=video, video_sha256=take.video_sha256, made_with=take.made_with)
