"""The keyword library: words that name a camera move, a time, the weather, a mood; and
descriptions of vague words ("sea monster", 海怪) that a prompt spells out.

The tables live in prompts/keywords/{en,zh}.yaml, plus settings.planning.keyword_files
(later files win). English keywords match whole words, case-insensitively, and single
words also match their inflections (storm: storms, stormed, storming). Chinese keywords
match as substrings. When several keywords of one table match, `find` gives the one
appearing first (the longest at the same place), so "early morning" beats "morning".

An expand entry is one description or a list of alternatives. `expansions` keeps only
descriptions that agree with what the shot states: a description is read with the same
tables (weather, time of day, the state of water), and one that names another value than
the shot's stated one is never used ("night sky" in a storm is not a clear starry sky).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from reelgate.errors import ConfigError
from reelgate.records import ANGLES, CAMERA_MOVES, MOODS, SHOT_SIZES, TIMES_OF_DAY, WEATHERS, Expansion

# The animatic's staging vocabulary: what it can draw.
SUBJECT_KINDS = ("person", "animal", "bird", "serpent", "giant", "vehicle", "building", "celestial", "tree")
POSES = ("standing", "running", "falling", "reaching", "seated", "chained", "flying")
COLOURS = ("red", "orange", "yellow", "gold", "green", "blue", "purple", "pink", "white", "black", "grey", "silver", "brown")
SETTINGS = ("sea", "river", "lake", "rocks", "wall", "city", "plains", "forest", "mountains", "interior", "constellation",
            "desert", "snowfield")
from reelgate.yaml_safe import load_yaml, read_yaml_text, yaml_problem

KEYWORDS_DIR = Path(__file__).parent / "keywords"
MAX_EXPANSIONS = 4  # more descriptions drown the shot's own words in a long prompt

# "pan": the side is read from the sentence ("left", 左), else from the action.
_CAMERA_VALUES: tuple[str, ...] = (*CAMERA_MOVES, "pan")
# table -> the values its keywords may name.
TABLE_VALUES: dict[str, tuple[str, ...]] = {
    "camera": _CAMERA_VALUES,
    "shot_size": SHOT_SIZES,
    "angle": ANGLES,
    "time_of_day": TIMES_OF_DAY,
    "weather": WEATHERS,
    "mood": MOODS,
    "motion": ("moves", "still"),
    "water": ("calm", "rough"),
    # Directions about the look; a user's word of a facet replaces the preset's words of it.
    "look": ("medium", "film", "lens", "light", "colour", "aspect", "pacing", "tone"),
    # What the offline animatic draws (generation/animatic/staging.py); the planner ignores these.
    "kind": SUBJECT_KINDS,
    "pose": POSES,
    "colour": COLOURS,
    "setting": SETTINGS,
}
TABLES = (*TABLE_VALUES, "expand")
# The facts an expansion must not contradict.
FACTS = ("weather", "time_of_day", "water")


@dataclass(frozen=True)
class KeywordTables:
    """One language's keyword library, merged from the shipped and the user's files."""

    language: str
    tables: Mapping[str, Mapping[str, str]]  # table -> keyword -> value, as written in the files
    expand: Mapping[str, tuple[str, ...]]  # keyword -> alternative descriptions
    lookup: Mapping[str, Mapping[str, str]] = field(repr=False, compare=False)  # the keywords and their inflections
    patterns: Mapping[str, re.Pattern[str]] = field(repr=False, compare=False)

    def __getattr__(self, name: str) -> Mapping[str, str]:
        """tables.camera, tables.mood, ...: keyword -> value."""
        tables = object.__getattribute__(self, "tables")
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def find(self, text: str, table: str) -> str | None:
        """Value of the keyword of `table` appearing first in `text` (longest at a tie), or None."""
        m = self.patterns[table].search(text.lower())
        return None if m is None else self.lookup[table][m.group()]

    def find_all(self, text: str, table: str) -> list[tuple[str, str]]:
        """Every (keyword as written in `text`, value) of `table`, in order, non-overlapping."""
        return [
            (text[m.start() : m.end()], self.lookup[table][m.group()])
            for m in self.patterns[table].finditer(text.lower())
        ]

    def facts(self, text: str) -> dict[str, str]:
        """What `text` states about weather, time of day and water (first keyword of each)."""
        found = {}
        for table in FACTS:
            value = self.find(text, table)
            if value is not None:
                found[table] = value
        return found

    def expansions(self, text: str, stated: Mapping[str, str] | None = None) -> list[Expansion]:
        """Descriptions of the expand keywords in `text`, in order, each once, at most MAX_EXPANSIONS.

        stated: the shot's facts (weather, time_of_day, water); a description naming another
            value is skipped, and of several alternatives the one agreeing with most facts wins.
        """
        stated = {**self.facts(text), **(stated or {})}
        found: list[Expansion] = []
        for m in self.patterns["expand"].finditer(text.lower()):
            keyword = m.group()
            choice = self._choose(self.expand[keyword], stated)
            if choice is not None and all(e.text != choice for e in found):
                found.append(Expansion(trigger=text[m.start() : m.end()], text=choice))
        return found[:MAX_EXPANSIONS]

    def _choose(self, alternatives: Sequence[str], stated: Mapping[str, str]) -> str | None:
        best, best_agree = None, -1
        for description in alternatives:
            facts = self.facts(description)
            if any(stated.get(k) not in (None, v) for k, v in facts.items()):
                continue  # contradicts the shot
            agree = sum(stated.get(k) == v for k, v in facts.items())
            if agree > best_agree:
                best, best_agree = description, agree
        return best


def inflections(word: str) -> set[str]:
    """English forms of one keyword: storm -> storms, stormed, storming; chase -> chased, chasing."""
    if " " in word or "-" in word or not word.isalpha() or len(word) < 3:
        return set()
    forms = {word + "s", word + "ed", word + "ing"}
    if word.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(word + "es")
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing"}
    if word.endswith("y") and word[-2] not in "aeiou":
        forms |= {word[:-1] + "ies", word[:-1] + "ied"}
    if len(word) <= 4 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and word[-3] not in "aeiou":
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}  # stop: stopped, stopping
    return forms


def _pattern(keywords: Sequence[str], language: str) -> re.Pattern[str]:
    if not keywords:
        return re.compile(r"(?!x)x")  # matches nothing
    # Longest first: at one position the regex takes the first alternative that matches.
    body = "|".join(re.escape(k) for k in sorted(set(keywords), key=len, reverse=True))
    return re.compile(rf"(?<![a-z])(?:{body})(?![a-z])" if language == "en" else body)


def read_config_yaml(path: Path) -> object:
    """A YAML file the settings name, or a ConfigError naming the file and line."""
    try:
        text = read_yaml_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read {path}: {reason}; fix the path in the settings") from exc
    try:
        return load_yaml(text, str(path))
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        where = f" line {line}" if line else ""
        raise ConfigError(f"{path}:{where}: not valid YAML ({problem}); fix the syntax") from exc


def _text_items(path: Path, key: str, value: object, what: str) -> list[str]:
    """A list (or one) of non-empty strings, or a ConfigError naming file and key."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(w, str) and w.strip() for w in items):
        raise ConfigError(
            f"{path}: key {key!r} must be a non-empty list of {what} (text), got {value!r}; "
            "quote words YAML reads as other types (yes, no, on, off, numbers)"
        )
    return [w.strip() for w in items]


def _parse_keyword_file(path: Path) -> tuple[str, dict[str, dict]]:
    """(language, {table: {keyword: value}}) of one keyword file, validated."""
    data = read_config_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with `language:` and tables {', '.join(TABLES)}")
    language = data.get("language")
    if language not in ("zh", "en"):
        raise ConfigError(f"{path}: key 'language' must be zh or en, got {language!r}")
    unknown = sorted(str(k) for k in data if k not in ("language", *TABLES))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; the tables are {', '.join(TABLES)}")

    tables: dict[str, dict] = {}
    for name, section in data.items():
        if name == "language":
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: key {name!r} must be a mapping, got {type(section).__name__}")
        table: dict[str, object] = {}
        for value, words in section.items():
            key = f"{name}.{value}"
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{path}: key {key!r} must be text; quote it")
            if name == "expand":
                table[value.strip().lower()] = tuple(_text_items(path, key, words, "descriptions"))
                continue
            if value not in TABLE_VALUES[name]:
                raise ConfigError(
                    f"{path}: key {key!r}: {value!r} is not a {name} value; use one of {', '.join(TABLE_VALUES[name])}"
                )
            for word in _text_items(path, key, words, "keywords"):
                table[word.lower()] = value
        tables[name] = table
    return language, tables


@lru_cache(maxsize=16)
def load_keywords(extra_files: tuple[Path, ...] = ()) -> dict[str, KeywordTables]:
    """The keyword library per language: shipped files, then `extra_files` (later entries win).

    Raises ConfigError naming the file and key of malformed data.
    """
    merged: dict[str, dict[str, dict]] = {lang: {t: {} for t in TABLES} for lang in ("en", "zh")}
    for path in (KEYWORDS_DIR / "en.yaml", KEYWORDS_DIR / "zh.yaml", *extra_files):
        language, tables = _parse_keyword_file(Path(path))
        for name, table in tables.items():
            merged[language][name].update(table)
    library: dict[str, KeywordTables] = {}
    for lang, tables in merged.items():
        expand = tables.pop("expand")
        lookup: dict[str, dict[str, str]] = {}
        for name, table in tables.items():
            forms = {f: v for k, v in table.items() for f in inflections(k)} if lang == "en" else {}
            lookup[name] = {**forms, **table}  # a keyword as written wins over another's inflection
        lookup["moving"] = {k: v for k, v in lookup["motion"].items() if v == "moves"}
        patterns = {name: _pattern(list(words), lang) for name, words in lookup.items()}
        patterns["expand"] = _pattern(list(expand), lang)
        library[lang] = KeywordTables(language=lang, tables=tables, expand=expand, lookup=lookup, patterns=patterns)
    return library


def keyword_tables(language: str, keyword_files: Sequence[Path] = ()) -> KeywordTables:
    """The library of `language` ("zh", else English) with the user's files on top."""
    return load_keywords(tuple(Path(p) for p in keyword_files))["zh" if language == "zh" else "en"]
