"""A series file: a YAML description of a daily series and its episodes, validated.

    id: constellations                 # folder-safe; prefixes every episode id
    title: 星座神话
    language: zh                       # zh or en
    timezone: Asia/Shanghai            # IANA name; the schedule fires in it
    schedule: "0 8 * * *"              # cron: minute hour day-of-month month day-of-week
    style_preset: constellation-myth   # prompts/presets name, or a preset .yaml (relative to this file)
    voice: espeak-pinyin
    speech_rate: 1.0
    music_mood: mysterious             # postprocess.music.MOODS
    review: {timeout_hours: 48, reviewers: [editor]}
    episodes:
      - id: weaver-and-herdsman
        title: 织女与牛郎
        title_en: The Weaver and the Herdsman
        story: 夜空中，织女在银河边织着云锦。...
        shots:                         # optional per-shot overrides, 1-based shot numbers
          - {shot: 2, camera: tilt_up}

`load_series` reports every problem of a file at once, each with its line, so an editor
fixes the file in one pass. Stories are not screened here: the pipeline screens every
request it produces (`EpisodeRequest.screening_text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from prompts.limits import PlanLimitError, plan_limit_problems
from prompts.keywords import keyword_tables
from prompts.plan import CAMERA_PHRASE, plan_shots, rebuild_prompt, structure_sentence
from prompts.presets import get_preset
from reelgate.errors import InputError
from reelgate.records import EpisodeRequest, ShotPlan
from reelgate.settings import PlanningSettings
from reelgate.yaml_safe import YamlBudgetError, load_yaml_nodes, read_yaml_text, yaml_problem

SERIES_ID = r"^[a-z0-9][a-z0-9-]{0,39}$"
# Series id (<= 40) + "-" + episode id (<= 59) fits EpisodeRequest.episode_id (<= 100).
EPISODE_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,58}$"
_CJK_GAP = re.compile(r"(?<=[\u3000-\u303f\u3400-\u9fff\uff00-\uffef])\s+(?=[\u3000-\u303f\u3400-\u9fff\uff00-\uffef])")
CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")


class ShotOverride(BaseModel):
    """An editor's change to one planned shot of an episode; unset fields keep the plan's."""

    model_config = ConfigDict(extra="forbid")

    shot: int = Field(ge=1, description="1-based shot number in the episode's plan (`reelgate plan` shows it).")
    text: str | None = Field(None, description="The sentence the shot narrates and shows, instead of the story's.")
    prompt: str | None = Field(None, description="The diffusion prompt, used exactly as written.")
    style: str | None = Field(None, description="Style words of this shot instead of the preset's.")
    camera: str | None = Field(None, description=f"Camera move: {', '.join(CAMERA_PHRASE)}.")
    duration_s: float | None = Field(None, gt=0, le=30, description="Seconds of picture.")

    @field_validator("text", "prompt", "style")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("empty; write the text, or remove the key to keep the plan's")
        return value.strip() if value is not None else None

    @field_validator("camera")
    @classmethod
    def _known_camera(cls, value: str | None) -> str | None:
        if value is not None and value not in CAMERA_PHRASE:
            raise ValueError(f"{value!r} is not a camera move; use one of {', '.join(CAMERA_PHRASE)}")
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> "ShotOverride":
        if all(getattr(self, k) is None for k in ("text", "prompt", "style", "camera", "duration_s")):
            raise ValueError("changes nothing; give at least one of text, prompt, style, camera, duration_s")
        return self


class Episode(BaseModel):
    """One episode of a series, as the editor writes it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=EPISODE_ID, description="Folder-safe id, unique in the series (letters, digits, . _ -).")
    title: str = Field(min_length=1, description="Title in the series' language.")
    title_en: str = Field("", description="English title (for feeds and the review page).")
    story: str = Field(max_length=20000, description="The story; each sentence becomes a shot.")
    shots: list[ShotOverride] = Field(default_factory=list, description="Per-shot overrides of the plan.")

    @field_validator("id")
    @classmethod
    def _unique_id(cls, value: str, info: ValidationInfo) -> str:
        # Checked here, while the list is validated, so a duplicate is reported at its own
        # line; Series._unique_ids covers models built without this context.
        seen = info.context.get("episode_ids") if isinstance(info.context, dict) else None
        if seen is not None:
            if value in seen:
                raise ValueError(
                    f"episode id {value!r} is already used by episode {seen[value] + 1}; ids must be unique"
                )
            seen[value] = len(seen)
        return value

    @field_validator("title", "title_en", "story")
    @classmethod
    def _stripped(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name in ("title", "story") and not value.strip():
            raise ValueError(f"the {info.field_name} is empty; write it")
        # A folded YAML line break becomes a space, which Chinese text does not have.
        return _CJK_GAP.sub("", value.strip())

    @field_validator("shots")
    @classmethod
    def _one_override_per_shot(cls, value: list[ShotOverride]) -> list[ShotOverride]:
        numbers = [o.shot for o in value]
        twice = sorted({n for n in numbers if numbers.count(n) > 1})
        if twice:
            raise ValueError(f"shot {', '.join(map(str, twice))} is overridden more than once; merge the entries")
        return value


class ReviewPolicy(BaseModel):
    """How the series' episodes are reviewed."""

    model_config = ConfigDict(extra="forbid")

    timeout_hours: float = Field(48.0, gt=0, le=24 * 30, description="Hours a review may wait before it expires.")
    reviewers: list[str] = Field(default_factory=list, description="Who may decide; empty: anyone with the token.")


class Series(BaseModel):
    """A daily series: its look, voice, schedule, review policy and episodes, in order."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SERIES_ID, description="Folder-safe series id (a-z, 0-9, -); prefixes episode ids.")
    title: str = Field(min_length=1)
    title_en: str = ""
    language: Literal["zh", "en"]
    timezone: str = Field("UTC", description="IANA time zone the schedule fires in, e.g. Asia/Shanghai.")
    schedule: str = Field(description="Cron: minute hour day-of-month month day-of-week, e.g. '0 8 * * *'.")
    style_preset: str = Field(description="A preset in prompts/presets, or a preset .yaml file.")
    voice: str | None = Field(None, description="Narration voice; default: post.voice_en / voice_zh.")
    speech_rate: float = Field(1.0, gt=0.3, lt=3.0, description="Narration speed multiplier.")
    music_mood: str = Field("calm", description="Background music mood (postprocess.music.MOODS).")
    review: ReviewPolicy = Field(default_factory=ReviewPolicy)
    episodes: list[Episode] = Field(min_length=1, description="Produced in this order.")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone; write one like Asia/Shanghai, Europe/Berlin or UTC"
            ) from None
        return value

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        check_cron(value)
        return " ".join(value.split())

    @field_validator("style_preset")
    @classmethod
    def _known_preset(cls, value: str, info: ValidationInfo) -> str:
        base = info.context.get("base_dir") if isinstance(info.context, dict) else None
        if value.endswith((".yaml", ".yml")) or "/" in value:
            path = Path(value).expanduser()
            value = str((Path(base) / path) if base and not path.is_absolute() else path)
        try:
            get_preset(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("voice")
    @classmethod
    def _known_voice(cls, value: str | None, info: ValidationInfo) -> str | None:
        from postprocess.tts import check_voice

        language = info.data.get("language")
        if value is not None and language is not None:
            try:
                check_voice(value, language)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("music_mood")
    @classmethod
    def _known_mood(cls, value: str) -> str:
        from postprocess.music import MOODS

        if value not in MOODS:
            raise ValueError(f"{value!r} is not a music mood; use one of {', '.join(MOODS)}")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> "Series":
        ids = [e.id for e in self.episodes]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"episode ids must be unique; used more than once: {', '.join(twice)}")
        return self

    # ---------------------------------------------------------------- what the pipeline needs

    def episode_id(self, episode: Episode) -> str:
        """The pipeline's id of an episode: '<series id>-<episode id>' (its folder name)."""
        return f"{self.id}-{episode.id}"

    def episode(self, episode_id: str) -> Episode:
        """The episode with this id, bare ('orion') or as the pipeline names it ('constellations-orion')."""
        for e in self.episodes:
            if episode_id in (e.id, self.episode_id(e)):
                return e
        known = ", ".join(e.id for e in self.episodes)
        raise InputError(f"series {self.id!r} has no episode {episode_id!r}; its episodes: {known}")

    def planning(self, base: PlanningSettings | None = None) -> PlanningSettings:
        """The planning settings with the series' style preset in force."""
        return (base or PlanningSettings()).model_copy(update={"preset": self.style_preset})

    def plan(self, episode: Episode, planning: PlanningSettings | None = None) -> ShotPlan:
        """The episode's shot plan in the series' look, with its shot overrides applied."""
        settings = self.planning(planning)
        plan = plan_shots(episode.story, self.episode_id(episode), settings, language=self.language)
        return apply_overrides(plan, episode.shots, settings.keyword_files)

    def episode_request(self, episode: Episode, planning: PlanningSettings | None = None) -> EpisodeRequest:
        """The request that produces `episode`.

        An episode with shot overrides carries its edited plan (made with `planning`, or the
        defaults, under the series' preset). One without is planned by the pipeline, which
        must then run with `series.planning(settings.planning)` to get the series' look.
        """
        return EpisodeRequest(
            prompt=episode.story,
            episode_id=self.episode_id(episode),
            title=episode.title,
            series=self.title,
            language=self.language,
            voice=self.voice,
            speech_rate=self.speech_rate,
            music_mood=self.music_mood,
            plan=self.plan(episode, planning) if episode.shots else None,
            reviewers=list(self.review.reviewers),
        )

    def next_fire(self, after: datetime) -> datetime:
        """When the schedule next fires after `after` (timezone-aware), in the series' zone."""
        from cronsim import CronSim

        return next(CronSim(self.schedule, after.astimezone(ZoneInfo(self.timezone))))


def check_cron(expression: str) -> None:
    """Raise ValueError saying what to change unless `expression` is a 5-field cron schedule."""
    from cronsim import CronSim, CronSimError

    example = "write five fields: minute hour day-of-month month day-of-week, e.g. '0 8 * * *' (08:00 every day)"
    fields = expression.split() if isinstance(expression, str) else []
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(f"{expression!r} has {len(fields)} field(s); {example}")
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as exc:
        # cronsim says "Bad minute"; name the field and the value that is wrong.
        said = str(exc).lower().replace("-", " ")
        which = next((i for i, name in enumerate(CRON_FIELDS) if name.replace("-", " ") in said), None)
        detail = f"the {CRON_FIELDS[which]} field {fields[which]!r} is invalid" if which is not None else str(exc)
        raise ValueError(f"{expression!r} is not a cron schedule: {detail}; {example}") from None


def apply_overrides(plan: ShotPlan, overrides: Iterable[ShotOverride], keyword_files: Iterable[Path] = ()) -> ShotPlan:
    """The plan with each override applied; a prompt not given is rebuilt from the changed fields."""
    shots = list(plan.shots)
    for o in overrides:
        if o.shot > len(shots):
            raise InputError(f"shot {o.shot} is overridden, but the story plans into {len(shots)} shot(s)")
        spec = shots[o.shot - 1]
        updates: dict[str, Any] = {}
        if o.text is not None:
            tables = keyword_tables(plan.language, list(keyword_files))
            fields = structure_sentence(
                o.text, plan.language, spec.style, spec.seed,
                default_time=spec.time_of_day, default_mood=spec.mood, default_weather=spec.weather,
                earlier_subjects=[s.subject for s in shots[: o.shot - 1]], tables=tables,
            )
            updates.update(fields, text=o.text)
        updates.update({k: v for k in ("style", "camera", "duration_s") if (v := getattr(o, k)) is not None})
        spec = spec.model_copy(update=updates)
        prompt = o.prompt if o.prompt is not None else rebuild_prompt(spec, plan.language, list(keyword_files))
        shots[o.shot - 1] = spec.model_copy(update={"prompt": prompt})
    return plan.model_copy(update={"shots": shots})


def next_unproduced(series: Series, produced_ids: set[str]) -> Episode | None:
    """The first episode, in file order, whose pipeline id (`Series.episode_id`) is not in `produced_ids`.

    produced_ids: ids of episodes already produced or under way (any with a manifest),
        as the pipeline records them, e.g. 'constellations-orion'.
    """
    return next((e for e in series.episodes if series.episode_id(e) not in produced_ids), None)


# -------------------------------------------------------------------- reading the file


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a series file: where (1-based line; 0 unknown) and what to change."""

    line: int
    where: str
    message: str

    def format(self, path: Path | str) -> str:
        at = f"{path}:{self.line}" if self.line else str(path)
        return f"{at}: {self.where}: {self.message}" if self.where else f"{at}: {self.message}"


class SeriesFileError(InputError):
    """A series file with problems; `problems` lists every one, in line order."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path, self.problems = path, sorted(problems, key=lambda p: p.line)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{path}: {count}:\n" + "\n".join(f"  {p.format(path)}" for p in self.problems))


def load_series(path: Path | str, planning: PlanningSettings | None = None) -> Series:
    """Read and check a series file; SeriesFileError lists every problem with its line.

    planning: the settings the episodes will be planned with (default: the defaults), to
        check that every shot override names a shot the story has.
    """
    path = Path(path)
    try:
        text = read_yaml_text(path, "series file")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the series file {path}: {exc}; check the path") from exc
    except YamlBudgetError as exc:
        raise SeriesFileError(path, [Problem(exc.line, "", exc.problem)]) from None
    try:
        data, root = load_yaml_nodes(text, str(path))
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        raise SeriesFileError(path, [Problem(line, "", f"not valid YAML ({problem}); fix the syntax")]) from exc
    except YamlBudgetError as exc:
        raise SeriesFileError(path, [Problem(exc.line, "", exc.problem)]) from None
    if not isinstance(data, dict) or root is None:
        expected = "expected a mapping with id, title, language, schedule, ... and episodes"
        raise SeriesFileError(path, [Problem(1, "", expected)])

    problems = _duplicate_keys(root)
    try:
        series = Series.model_validate(data, context={"base_dir": str(path.parent), "episode_ids": {}})
    except ValidationError as exc:
        problems += [_problem(root, error) for error in exc.errors(include_url=False)]
        raise SeriesFileError(path, problems) from None
    limits = (planning or PlanningSettings()).limits
    for i, episode in enumerate(series.episodes):
        # Every episode is planned here (milliseconds each), so one the pipeline would refuse
        # for its length fails validation instead of a scheduled run months later.
        story_loc = ("episodes", i, "story")
        try:
            plan = series.plan(episode.model_copy(update={"shots": []}), planning)
        except InputError as exc:
            problems.append(Problem(_line(root, story_loc), _where(story_loc), _episode_message(exc)))
            continue
        count = len(plan.shots)
        overrides_fit = True
        for j, override in enumerate(episode.shots):
            if override.shot > count:
                overrides_fit = False
                loc = ("episodes", i, "shots", j, "shot")
                problems.append(Problem(_line(root, loc), _where(loc),
                                        f"shot {override.shot} does not exist: the story plans into {count} shot(s)"))
        if episode.shots and overrides_fit:
            for limit, message in plan_limit_problems(series.plan(episode, planning), limits):
                loc = ("episodes", i, "shots") if limit == "max_shot_s" else story_loc
                problems.append(Problem(_line(root, loc), _where(loc), message))
    if problems:
        raise SeriesFileError(path, problems)
    return series


def _episode_message(exc: InputError) -> str:
    """An error of planning one episode, without the prefix that names what was planned."""
    if isinstance(exc, PlanLimitError):
        return "; ".join(text for _, text in exc.problems)
    return str(exc)


def _duplicate_keys(node: yaml.Node, loc: tuple[Any, ...] = ()) -> list[Problem]:
    """YAML keeps the last of two equal keys silently; an editor means one of them."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in first:
                problems.append(Problem(key.start_mark.line + 1, _where((*loc, name)),
                                        f"key {name!r} appears twice (first at line {first[name]}); keep one"))
            else:
                first[name] = key.start_mark.line + 1
            problems += _duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*loc, i))
    return problems


def _node_at(root: yaml.Node, loc: tuple[Any, ...], want_key: bool = False) -> yaml.Node:
    """The deepest node on the path `loc` (the key node of the last step with want_key)."""
    node = root
    for step, part in enumerate(loc):
        last = step == len(loc) - 1
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in reversed(node.value) if str(k.value) == str(part)), None)
            if pair is None:
                return node
            node = pair[0] if last and want_key else pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _line(root: yaml.Node, loc: tuple[Any, ...], want_key: bool = False) -> int:
    return _node_at(root, loc, want_key).start_mark.line + 1


def _where(loc: tuple[Any, ...]) -> str:
    """('episodes', 3, 'story') -> 'episodes[4].story' (1-based, as an editor counts)."""
    out = ""
    for part in loc:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(root: yaml.Node, error: dict[str, Any]) -> Problem:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind, where, line = error["type"], _where(loc), _line(root, loc)
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        return Problem(_line(root, loc, want_key=True), _where(loc[:-1]), f"unknown key {loc[-1]!r}; {known}")
    if kind == "missing":
        return Problem(_line(root, loc[:-1]), _where(loc[:-1]), f"missing key {loc[-1]!r}; add it")
    if kind == "string_pattern_mismatch" and loc[-1] == "id":
        rule = ("letters, digits, '.', '_' and '-', at most 59 characters" if loc[0] == "episodes"
                else "lowercase letters, digits and '-', at most 40 characters")
        rule += ", starting with a letter or digit"
        return Problem(line, where, f"{error['input']!r} is not a folder-safe id; use {rule}")
    message = re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
    if kind == "string_type":
        # YAML reads 007 as the number 7 and yes as true: show the text as the editor wrote it.
        node = _node_at(root, loc)
        written = node.value if isinstance(node, yaml.ScalarNode) else error.get("input")
        message += f"; quote it: \"{written}\""
    return Problem(line, where, message)


def _known_keys(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = Series
    if loc[:1] == ("episodes",):
        model = Episode if len(loc) <= 2 else ShotOverride
    elif loc[:1] == ("review",):
        model = ReviewPolicy
    return f"the keys here are {', '.join(model.model_fields)}"
