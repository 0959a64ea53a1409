"""What a shot asks the animatic to draw, read from the plan's words: the subject's kind,
pose and colour, and the elements of the setting.

The words live in the keyword library (prompts/keywords/{en,zh}.yaml, tables kind, pose,
colour and setting), so a studio adds its own names there. The kind is read from the
subject first (a maiden chained before a sea monster is a maiden), then from the sentence;
a name (Europa, 织女) or an unknown word is a person standing, never an animal by chance.
Plain data, so a test or another renderer reads a shot the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prompts.keywords import KeywordTables, keyword_tables
from reelgate.records import ShotSpec

_CJK = re.compile(r"[\u3400-\u9fff]")
# Settings that decide what the ground is made of, first match wins.
_GROUNDS = (("water", ("sea", "river", "lake")), ("sand", ("desert",)), ("snow", ("snowfield",)))


@dataclass(frozen=True)
class Staging:
    """The subject and the setting of one shot, as the animatic draws them."""

    kind: str  # prompts.keywords.SUBJECT_KINDS
    pose: str  # prompts.keywords.POSES; a person's, others ignore it
    colour: str | None  # prompts.keywords.COLOURS: the subject's or its garment's, None when unsaid
    settings: tuple[str, ...]  # prompts.keywords.SETTINGS named anywhere in the shot, in order
    ground: str  # grass, water, snow or sand
    weather: str  # the plan's weather, or rain when only the words say so (a plan older than the field)

    @property
    def city(self) -> bool:
        return "city" in self.settings

    @property
    def forest(self) -> bool:
        return "forest" in self.settings


def _tables(text: str) -> KeywordTables:
    return keyword_tables("zh" if _CJK.search(text) else "en")


def _first(shot_texts: list[str], table: str) -> str | None:
    for text in shot_texts:
        if text:
            found = _tables(text).find(text, table)
            if found is not None:
                return found
    return None


def read_staging(shot: ShotSpec) -> Staging:
    """The staging of `shot`: kind and colour from its subject first, pose from its action."""
    scene_texts = [shot.environment, shot.subject, shot.action, shot.text]
    settings: list[str] = []
    for text in scene_texts:
        for _, value in _tables(text).find_all(text, "setting") if text else []:
            if value not in settings:
                settings.append(value)
    weather = shot.weather
    if weather == "clear" and _first([shot.text, shot.prompt], "weather") in ("rain", "storm"):
        weather = "rain"
    ground = next((g for g, names in _GROUNDS if any(s in settings for s in names)), "grass")
    if weather == "snow" and ground != "water":
        ground = "snow"
    return Staging(
        kind=_first([shot.subject, shot.text], "kind") or "person",
        pose=_first([shot.action, shot.text], "pose") or "standing",
        colour=_first([shot.subject, shot.text], "colour"),
        settings=tuple(settings),
        ground=ground,
        weather=weather,
    )
