"""A shot plan as a YAML file a person reads and edits, and a compact table of it.

`dump_plan` writes the plan with a header saying what may be edited; `load_plan` reads it
back, rebuilding every `prompt: auto` from the shot's fields (see `rebuild_prompt`) and
keeping any prompt a person wrote out. A plan with prompts built from its fields is
written with `prompt: auto`, so an edit of a field shows up in the prompt on loading.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from prompts.limits import check_plan_limits, check_shot_count
from prompts.plan import rebuild_prompt, shot_expansions
from reelgate.records import ANGLES, CAMERA_MOVES, MOODS, SHOT_SIZES, TIMES_OF_DAY, WEATHERS, prompt_weights, weight_problem
from reelgate.console import table_lines
from reelgate.errors import InputError
from reelgate.records import ShotPlan, ShotSpec
from reelgate.settings import PlanLimits, PlanningSettings
from reelgate.yaml_safe import load_yaml, read_yaml_text, yaml_problem

AUTO = "auto"

HEADER = """\
# reelgate shot plan. Edit it, save it, and run the episode from this file.
#
# Per shot you may edit:
#   text             the narration and caption, as spoken (the picture model never sees it)
#   subject, action, environment, style
#                    the structured prompt, in words
#   camera           static, push, pull, pan_left, pan_right, tilt_up, tilt_down, track,
#                    handheld, orbit, crane_up, crane_down, zoom_in or zoom_out
#   shot_size        extreme_wide, wide, medium, close_up or extreme_close_up
#   angle            eye_level, low, high or birds_eye
#   time_of_day      dawn, day, dusk or night
#   weather          clear, rain, snow, fog, storm or wind (drawn, and checked by quality)
#   mood             calm, joyful, mysterious, tense, sad or epic
#   directions       the story's directions that govern this shot (never narrated); a note:
#                    edit style, camera, shot_size and angle to change what they set
#   prompt           `auto`: rebuilt from the fields above when this file is loaded (with
#                    the keyword library's descriptions of vague words such as 海怪 or
#                    "starry sky"). Write your own text instead and it is used exactly as
#                    written; edits to the fields then no longer change it. Put `auto`
#                    back to rebuild it.
#   negative_prompt  what the picture model should avoid; empty: the generation setting
#   duration_s       seconds of picture
#   seed             the shot's seed: change it for a different take of the same prompt
#   wants_motion     true if the shot should move (the frozen-shot check uses it)
#   weights          optional: how strongly a word weighs, 0 to 3 (1 neutral), e.g.
#                    `weights: {storm: 1.5, speed: 0.5}`; the same as writing (storm:1.5)
#                    in your own prompt (this field wins). The animatic scales rain, snow,
#                    storm, fog and wind, and speed (or motion) of subject and camera
# Shots play in the order listed: delete, reorder or copy them freely; `index` is
# renumbered by position when the file is loaded. The top fields record the series'
# style and seed; each shot's own fields are what is rendered.
"""

# The order a reader wants: what is said, what is seen, then the machinery.
SHOT_FIELDS = (
    "index", "duration_s", "text", "subject", "action", "environment", "time_of_day", "weather", "mood",
    "camera", "shot_size", "angle", "style", "directions", "prompt", "negative_prompt", "wants_motion", "seed",
    "weights",
)
OPTIONAL_SHOT_FIELDS = ("weights",)  # written only when set, so plans without weights read as before
PLAN_FIELDS = ("episode_id", "language", "style", "directions", "seed", "shots")
OPTIONAL_PLAN_FIELDS = ("directions",)  # plans written before directions existed load too
_TEXT_FIELDS = ("text", "subject", "action", "environment", "style", "prompt", "negative_prompt")
_CHOICES = {
    "camera": CAMERA_MOVES, "shot_size": SHOT_SIZES, "angle": ANGLES, "time_of_day": TIMES_OF_DAY,
    "weather": WEATHERS, "mood": MOODS,
}


def _keyword_files(settings: PlanningSettings | None) -> Sequence[Path]:
    return settings.keyword_files if settings is not None else ()


class _NoAliases(yaml.SafeDumper):
    """Writes every value out: a person edits the file, and the loader refuses alias bombs."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def dump_plan(plan: ShotPlan, settings: PlanningSettings | None = None) -> str:
    """The plan as commented YAML (unicode kept); prompts built from the fields read `auto`.

    settings: the planning settings the plan was made with (their keyword_files decide
        which prompts count as built from the fields).
    """
    shots = []
    for spec in plan.shots:
        row = spec.model_dump()
        if spec.prompt == rebuild_prompt(spec, plan.language, _keyword_files(settings)):
            row["prompt"] = AUTO
        shots.append({k: row[k] for k in SHOT_FIELDS if k not in OPTIONAL_SHOT_FIELDS or row[k]})
    data = {
        "episode_id": plan.episode_id, "language": plan.language, "style": plan.style,
        "directions": plan.directions, "seed": plan.seed, "shots": shots,
    }
    body = yaml.dump(data, Dumper=_NoAliases, allow_unicode=True, sort_keys=False, width=10_000, default_flow_style=False)
    body = re.sub(r"\n(- index:)", r"\n\n\1", body)  # a blank line between shots
    return HEADER + "\n" + body


def _shot_near(text: str, line: int) -> str:
    """", near shot N" for the last shot starting at or before 1-based `line`."""
    count = 0
    for number, row in enumerate(text.splitlines()[:line], start=1):
        if re.match(r"^\s*-\s", row):
            count += 1
    return f", near shot {count}" if count else ""


def _read(source: str | Path) -> tuple[str, str]:
    """(text, where) of a plan given as a path or as YAML text."""
    if isinstance(source, Path) or ("\n" not in source and source.endswith((".yaml", ".yml"))):
        path = Path(source)
        try:
            return read_yaml_text(path, "plan file"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise InputError(f"cannot read the plan file {path}: {reason}") from exc
    return source, "the plan"


def _shot(raw: object, number: int, language: str, keyword_files: Sequence[Path]) -> ShotSpec:
    label = f"shot {number}"
    if not isinstance(raw, dict):
        raise InputError(f"{label}: expected fields ({', '.join(SHOT_FIELDS)}), got {raw!r}")
    unknown = [str(k) for k in raw if k not in SHOT_FIELDS]
    if unknown:
        raise InputError(f"{label}, field {unknown[0]!r}: unknown field; the fields are {', '.join(SHOT_FIELDS)}")
    row = dict(raw)
    row["index"] = number - 1
    for key in _TEXT_FIELDS:
        if row.get(key) is None:
            row[key] = ""  # an emptied field reads as None
        elif isinstance(row[key], (int, float)) and not isinstance(row[key], bool):
            row[key] = str(row[key])
    if not str(row["text"]).strip():
        raise InputError(f"{label}, field 'text': empty; write the sentence this shot narrates")
    for key, choices in _CHOICES.items():
        if key in row and row[key] not in choices:
            raise InputError(f"{label}, field {key!r}: {row[key]!r} is not one of {', '.join(choices)}")
    if row.get("weights") is None:
        row["weights"] = {}  # an emptied field reads as None
    if not isinstance(row["weights"], dict):
        raise InputError(f"{label}, field 'weights': expected word: weight pairs such as {{storm: 1.5}}, "
                         f"got {row['weights']!r}")
    for word, weight in row["weights"].items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise InputError(f"{label}, field 'weights': the weight of {word!r} must be a number from 0 to 3, "
                             f"got {weight!r}")
        problem = weight_problem(str(word), float(weight))
        if problem:
            raise InputError(f"{label}, field 'weights': {problem}")
    auto = not str(row["prompt"]).strip() or str(row["prompt"]).strip().lower() == AUTO
    for word, weight in ({} if auto else prompt_weights(str(row["prompt"]))).items():
        problem = weight_problem(word, weight)
        if problem:
            raise InputError(f"{label}, field 'prompt': ({word}:{weight:g}): {problem}")
    if auto:
        row["prompt"] = AUTO  # placeholder, rebuilt below once the fields are valid
    try:
        spec = ShotSpec.model_validate(row)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "?"
        raise InputError(f"{label}, field {where!r}: {error['msg']} (got {error.get('input')!r})") from exc
    if auto:
        spec = spec.model_copy(update={"prompt": rebuild_prompt(spec, language, keyword_files)})
    return spec.model_copy(update={"expansions": shot_expansions(spec, language, keyword_files)})


def load_plan(source: str | Path, settings: PlanningSettings | None = None) -> ShotPlan:
    """Read a plan written by `dump_plan` (a Path, a .yaml path string, or the YAML text).

    settings: the planning settings (their keyword_files feed the rebuilt prompts; their
        limits bound the plan; None: the defaults).
    Raises InputError naming the shot and field to fix, or the limit the plan is over.
    """
    limits = settings.limits if settings is not None else PlanLimits()
    text, where = _read(source)
    try:
        data = load_yaml(text, where)
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        at = f" line {line}{_shot_near(text, line)}" if line else ""
        raise InputError(f"{where}:{at}: not valid YAML ({problem}); fix the syntax there") from exc
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected the fields {', '.join(PLAN_FIELDS)}; write it with dump_plan")
    unknown = [str(k) for k in data if k not in PLAN_FIELDS]
    missing = [k for k in PLAN_FIELDS if k not in data and k not in OPTIONAL_PLAN_FIELDS]
    if unknown or missing:
        problem = f"unknown field {unknown[0]!r}" if unknown else f"missing field {missing[0]!r}"
        raise InputError(f"{where}: {problem}; a plan has {', '.join(PLAN_FIELDS)}")
    language = data["language"]
    if language not in ("zh", "en"):
        raise InputError(f"{where}, field 'language': {language!r} is not zh or en")
    shots = data["shots"]
    if not isinstance(shots, list) or not shots:
        raise InputError(f"{where}, field 'shots': a plan needs at least one shot")
    check_shot_count(len(shots), limits, where)  # before building each shot's prompt
    specs = [_shot(raw, k + 1, language, _keyword_files(settings)) for k, raw in enumerate(shots)]
    try:
        plan = ShotPlan(
            episode_id=str(data["episode_id"]), language=language, style=str(data["style"] or ""),
            seed=data["seed"], shots=specs, directions=data.get("directions") or [],
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise InputError(f"{where}, field {field!r}: {error['msg']}") from exc
    return check_plan_limits(plan, limits, where)


# ------------------------------------------------------------------ a table for people


_COLUMNS = (
    ("#", 3), ("sec", 5), ("subject", 16), ("action", 24), ("environment", 18), ("camera", 9), ("size", 8),
    ("angle", 9), ("mood", 10), ("weather", 7), ("time", 5),
)


def render_plan_table(plan: ShotPlan) -> str:
    """A compact table of the shots: number, seconds, subject, action, environment, camera,
    shot size, angle, mood, weather, time; then the directions that govern every shot."""
    lines = table_lines(_COLUMNS, (
        (str(spec.index + 1), f"{spec.duration_s:.1f}", spec.subject, spec.action, spec.environment,
         spec.camera, spec.shot_size, spec.angle, spec.mood, spec.weather, spec.time_of_day)
        for spec in plan.shots
    ))
    total = sum(s.duration_s for s in plan.shots)
    styles = {s.style for s in plan.shots}
    style = styles.pop() if len(styles) == 1 else f"{plan.style} (some shots differ: see the plan file)"
    lines.append(f"{len(plan.shots)} shots, {total:.1f} s, language {plan.language}, seed {plan.seed}, style: {style}")
    if plan.directions:
        lines.append("directions (not narrated): " + " | ".join(plan.directions))
    return "\n".join(lines)
