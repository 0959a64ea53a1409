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
# Words naming a garment: with one, a colour word colours the garment ("a red-cloaked
# warrior"), without, the whole figure ("a white horse"). A drawing detail, not a studio's
# vocabulary, so it lives here rather than in the keyword library.
_GARMENT_EN = re.compile(
    r"(?<![a-z])(?:cloak|cape|robe|dress|gown|armou?r|scarf|mantle|tunic|coat|veil|shawl|sash|kimono|hanfu|skirt|"
    r"toga|hood|jacket|uniform|clothes|garment|silks?)(?:s|es|ed|d)?(?![a-z])")
_GARMENT_ZH = ("斗篷", "披风", "袍", "裙", "铠甲", "盔甲", "金甲", "衣", "纱", "围巾", "披肩", "袈裟", "霓裳", "战甲", "彩带", "绸")
# Settings that decide what the ground is made of, first match wins. A room has a floor
# whatever lies outside; a river winds through grass, the sea and a lake fill the view.
# Words naming a constellation figure the animatic draws (generation/animatic/constellation.py
# FIGURES): proper names, so a list here rather than a keyword table of the planner's.
STAR_FIGURES: dict[str, str] = {
    "orion": "orion", "猎户": "orion", "参宿": "orion",
    "dipper": "dipper", "plough": "dipper", "ursa major": "dipper", "great bear": "dipper", "北斗": "dipper",
    "大熊": "dipper", "cassiopeia": "cassiopeia", "仙后": "cassiopeia",
    "lyra": "lyra", "vega": "lyra", "天琴": "lyra", "织女星": "lyra",
    "cygnus": "cygnus", "swan": "cygnus", "天鹅": "cygnus", "deneb": "cygnus",
    "andromeda": "andromeda", "仙女座": "andromeda",
}
_GROUNDS = (("floor", ("interior",)), ("water", ("sea", "lake")), ("sand", ("desert",)), ("snow", ("snowfield",)))


@dataclass(frozen=True)
class Staging:
    """The subject and the setting of one shot, as the animatic draws them."""

    kind: str  # prompts.keywords.SUBJECT_KINDS
    pose: str  # prompts.keywords.POSES; a person's, others ignore it
    colour: str | None  # prompts.keywords.COLOURS: the subject's or its garment's, None when unsaid
    settings: tuple[str, ...]  # prompts.keywords.SETTINGS named anywhere in the shot, in order
    ground: str  # grass, water, snow, sand, or floor (a room)
    weather: str  # the plan's weather, rain when only the words say so (a plan older than the field); clear indoors
    kind_word: str = ""  # the keyword that named the kind, lower case ("kraken", "chariot", "moon", 海怪): its form
    garment: bool = False  # the subject wears a named garment: the colour is the garment's
    star_figure: str | None = None  # the constellation named (STAR_FIGURES), when the setting has one
    water: str | None = None  # calm or rough, when the words say how the water is (波涛汹涌, choppy)

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


def _first_word(shot_texts: list[str], table: str) -> tuple[str, str] | None:
    """(keyword as written, value) of the first keyword of `table`, from the first text naming one."""
    for text in shot_texts:
        found = _tables(text).find_all(text, table) if text else []
        if found:
            return found[0][0].lower(), found[0][1]
    return None


def _wears_garment(texts: list[str]) -> bool:
    return any(_GARMENT_EN.search(t.lower()) or any(w in t for w in _GARMENT_ZH) for t in texts if t)


def _star_figure(texts: list[str]) -> str | None:
    """The constellation figure the shot names first, or None."""
    for text in texts:
        low = text.lower()
        found = [(low.find(word), figure) for word, figure in STAR_FIGURES.items() if word in low]
        if found:
            return min(found)[1]
    return None


def read_staging(shot: ShotSpec) -> Staging:
    """The staging of `shot`: kind and colour from its subject first, pose from its action."""
    scene_texts = [shot.environment, shot.subject, shot.action, shot.text]
    settings: list[str] = []
    for text in scene_texts:
        for _, value in _tables(text).find_all(text, "setting") if text else []:
            if value not in settings:
                settings.append(value)
    if "wall" in settings and "city" in settings:
        # "The ancient city wall ... the city sleeps": one place, and a wall has no skyscrapers.
        settings.remove("city")
    weather = shot.weather
    if weather == "clear" and _first([shot.text, shot.prompt], "weather") in ("rain", "storm"):
        weather = "rain"
    if "interior" in settings:
        weather = "clear"  # no rain or snow falls inside a room
    ground = next((g for g, names in _GROUNDS if any(s in settings for s in names)), "grass")
    if weather == "snow" and ground not in ("water", "floor"):
        ground = "snow"
    word, kind = _first_word([shot.subject, shot.text], "kind") or ("", "person")
    return Staging(
        kind=kind,
        pose=_first([shot.action, shot.text], "pose") or "standing",
        colour=_first([shot.subject, shot.text], "colour"),
        settings=tuple(settings),
        ground=ground,
        weather=weather,
        kind_word=word,
        garment=_wears_garment([shot.subject, shot.text]),
        star_figure=_star_figure(scene_texts) if "constellation" in settings else None,
        water=_first(scene_texts, "water"),
    )
