"""An episode request from a few plain fields: a line of `reelgate batch`, the review page's new-episode form.

Both accept the same fields (FIELDS), check them the same way, with the same messages, and
screen and plan the request as the episode flow will (`check_entry`). What a line or a form
may carry is the request's own fields and a preset *name* from the shipped list; nothing
becomes a setting or a run option beyond that.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from editorial.series import SERIES_ID
from reelgate.errors import ReelgateError
from reelgate.records import Action, EpisodeRequest
from reelgate.settings import RunOptions, Settings

FIELDS = ("id", "story", "title", "language", "preset", "series")
REQUIRED = ("id", "story")
LANGUAGES = ("auto", "zh", "en")

# Outcomes, as `reelgate batch` prints them.
QUEUED, WAITING, PUBLISHED, DONE, RUNNING = "queued", "waiting for review", "published", "already done", "running"
BLOCKED, FAILED, BAD, CONFLICT, OK = "blocked", "failed", "bad line", "conflict", "ok"


def default_episode_id(prompt: str) -> str:
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:6]
    return f"ep-{datetime.now():%Y%m%d-%H%M%S}-{digest}"


@dataclass
class Entry:
    """One line of the batch: its request and preset once parsed, or what is wrong with it."""

    line: int
    episode_id: str = ""
    request: EpisodeRequest | None = None
    preset: str | None = None
    outcome: str = ""
    reasons: list[str] = field(default_factory=list)

    def mark(self, outcome: str, *reasons: str) -> None:
        self.outcome, self.reasons = outcome, [r for r in reasons if r]

    @classmethod
    def bad(cls, line: int, reason: str) -> Entry:
        """A line that cannot become a request, marked with why."""
        entry = cls(line)
        entry.mark(BAD, reason)
        return entry

    @property
    def options(self) -> RunOptions | None:
        """The run options this line may choose: a preset name, nothing else."""
        return RunOptions(preset=self.preset) if self.preset else None


def parse_entry(line: int, row: dict, presets: list[str]) -> Entry:
    """A parsed row checked field by field, as EpisodeRequest and `reelgate episode` check them."""
    entry = Entry(line)
    unknown = [k for k in row if k not in FIELDS]
    problems = []
    if unknown:
        # Refused, never ignored: a field the batch cannot carry (backend, settings) is a mistake to show.
        problems.append(f"unknown field(s) {', '.join(repr(k) for k in unknown)}; the fields are {', '.join(FIELDS)}")
    values: dict[str, str] = {}
    for name in FIELDS:
        value = row.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"{name} must be text, got {type(value).__name__}")
            continue
        values[name] = value.strip() if name != "story" else value
    if not values.get("id"):
        values.pop("id", None)
        if not any(p.startswith("id ") for p in problems):
            problems.append("id is missing")
    if "story" not in values and not any(p.startswith("story ") for p in problems):
        problems.append("story is missing")
    if "id" in values:
        entry.episode_id = values["id"]
    if "story" in values and not values["story"].strip():
        problems.append("story is empty; write one or more sentences")
    language = values.get("language") or "auto"
    if language not in LANGUAGES:
        problems.append(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    preset = values.get("preset") or None
    if preset is not None and preset not in presets:
        # Only a shipped preset's name: a path here would read a file named by the batch.
        problems.append(f"unknown preset {preset!r}; known presets: {', '.join(presets)}")
    series = values.get("series") or None
    if series is not None and not re.fullmatch(SERIES_ID, series):
        problems.append(f"series {series!r} must be a series id (a-z, 0-9 and -, at most 40)")
    if problems:
        entry.mark(BAD, *problems)
        return entry
    try:
        entry.request = EpisodeRequest(
            episode_id=values["id"], prompt=values["story"], title=values.get("title", ""),
            language=language, series=series,
        )
    except ValidationError as exc:
        entry.mark(BAD, *(_field_message(e) for e in exc.errors()))
        return entry
    entry.preset = preset
    return entry


def _field_message(error: dict) -> str:
    name = {"episode_id": "id", "prompt": "story"}.get(str(error["loc"][0]), str(error["loc"][0]))
    if name == "id" and error["type"] == "string_pattern_mismatch":
        return ("id must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit "
                "(it names the episode's folder)")
    return f"{name}: {error['msg']}"


def check_entry(entry: Entry, settings: Settings) -> None:
    """Screen the request and plan it against the limits, as the flow will; mark it blocked or bad."""
    from prompts.plan import plan_shots
    from prompts.screen import screener_for

    screener = screener_for(settings.screening, settings.data_dir / "cache")
    screening = screener.screen(entry.request.screening_text())
    if screening.action == Action.BLOCK:
        entry.mark(BLOCKED, *screening.verdict().reasons)
        return
    planning = settings.planning.with_preset(entry.preset)
    if planning.rewriter.kind != "rules":
        return  # a rewriter is a model call per line: the flow plans and checks the limits then
    try:
        plan = plan_shots(entry.request.prompt, entry.request.episode_id, planning, language=entry.request.language)
    except ReelgateError as exc:  # over a plan limit, or a story of directions only
        entry.mark(BAD, str(exc))
        return
    planned = screener.screen(plan.screening_text())  # the preset's words reach the model too, as in the flow
    if planned.action == Action.BLOCK:
        entry.mark(BLOCKED, *(f"the planned prompts: {r}" for r in planned.verdict().reasons))
