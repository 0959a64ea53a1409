"""Turn a story into a shot plan: sentences, keywords, a structured prompt per shot.

Everything here is deterministic heuristics, no model: a later stage may swap in a
language model behind `structure_sentence` without changing `plan_shots`' contract.
Data lives beside the code: the keyword library in prompts/keywords/{en,zh}.yaml (plus
settings.planning.keyword_files) and the series style presets in prompts/presets/.
A plan is shown and edited as YAML through prompts/plan_file.py.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

from prompts.limits import check_plan_limits
from reelgate.errors import ConfigError, InputError
from reelgate.records import ShotPlan, ShotSpec
from reelgate.settings import PlanningSettings
from reelgate.yaml_safe import load_yaml, read_yaml_text, yaml_problem  # yaml_problem: re-exported for callers

MAX_PROMPT_CHARS = 20_000
ZH_CHARS_PER_S = 4.5
EN_WORDS_PER_S = 2.6
MIN_SHOT_S, MAX_SHOT_S = 2.0, 8.0

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")

# ------------------------------------------------------------------ keyword library
# The tables live in prompts/keywords/{en,zh}.yaml (value -> keywords for camera,
# time_of_day, mood, motion; vague word -> description for expand). English keywords
# match whole words (lowercased), Chinese ones as substrings. When several match, the one
# appearing first in the sentence wins (longest keyword at the same place), so
# "early morning" beats "morning".

KEYWORDS_DIR = Path(__file__).parent / "keywords"
PRESETS_DIR = Path(__file__).parent / "presets"

LIGHTING = {
    "dawn": "soft dawn light, pale pink sky",
    "day": "bright daylight",
    "dusk": "warm golden dusk light",
    "night": "night scene, moonlight and deep blue shadows",
}

CAMERA_PHRASE = {
    "static": "static camera",
    "push": "slow push-in",
    "pull": "slow pull-back",
    "pan_left": "slow pan to the left",
    "pan_right": "slow pan to the right",
    "tilt_up": "slow tilt up",
    "tilt_down": "slow tilt down",
}

MOODS = ("calm", "joyful", "mysterious", "tense", "sad", "epic")
DEFAULT_MOVES = ("push", "pan_left", "pan_right")
MAX_EXPANSIONS = 4  # more descriptions drown the shot's own words in a long prompt

# table -> the values its keywords may name ("pan": direction read from the sentence).
_TABLE_VALUES: dict[str, tuple[str, ...]] = {
    "camera": (*CAMERA_PHRASE, "pan"),
    "time_of_day": tuple(LIGHTING),
    "mood": MOODS,
    "motion": ("moves", "still"),
}
_TABLES = (*_TABLE_VALUES, "expand")


@dataclass(frozen=True)
class KeywordTables:
    """One language's keyword library, merged from the shipped and the user's files."""

    language: str
    camera: dict[str, str]
    time_of_day: dict[str, str]
    mood: dict[str, str]
    motion: dict[str, bool]
    expand: dict[str, str]
    patterns: dict[str, re.Pattern[str]] = field(repr=False, compare=False)

    def find(self, text: str, table: str) -> object | None:
        """Value of the keyword of `table` appearing first in `text` (longest at a tie), or None."""
        m = self.patterns[table].search(text.lower())
        if m is None:
            return None
        return True if table == "moving" else getattr(self, table)[m.group()]

    def expansions(self, text: str) -> list[str]:
        """Descriptions of the expand keywords in `text`, in order, non-overlapping, each once."""
        found: list[str] = []
        for m in self.patterns["expand"].finditer(text.lower()):
            description = self.expand[m.group()]
            if description not in found:
                found.append(description)
        return found[:MAX_EXPANSIONS]


def _pattern(keywords: list[str], language: str) -> re.Pattern[str]:
    if not keywords:
        return re.compile(r"(?!x)x")  # matches nothing
    # Longest first: at one position the regex takes the first alternative that matches.
    body = "|".join(re.escape(k) for k in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<![a-z])(?:{body})(?![a-z])" if language == "en" else body)


def _read_yaml(path: Path) -> object:
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


def _text_items(path: Path, key: str, value: object) -> list[str]:
    """A keyword list (or one keyword) as stripped strings, or a ConfigError naming file and key."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(w, str) and w.strip() for w in items):
        raise ConfigError(
            f"{path}: key {key!r} must be a non-empty list of keywords (text), got {value!r}; "
            "quote words YAML reads as other types (yes, no, on, off, numbers)"
        )
    return [w.strip() for w in items]


def _parse_keyword_file(path: Path) -> tuple[str, dict[str, dict]]:
    """(language, {table: {keyword: value}}) of one keyword file, validated."""
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with `language:` and tables {', '.join(_TABLES)}")
    language = data.get("language")
    if language not in ("zh", "en"):
        raise ConfigError(f"{path}: key 'language' must be zh or en, got {language!r}")
    unknown = sorted(str(k) for k in data if k not in ("language", *_TABLES))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; the tables are {', '.join(_TABLES)}")

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
                if not isinstance(words, str) or not words.strip():
                    raise ConfigError(f"{path}: key {key!r} must be a non-empty description (text), got {words!r}")
                table[value.strip().lower()] = words.strip()
                continue
            if value not in _TABLE_VALUES[name]:
                raise ConfigError(
                    f"{path}: key {key!r}: {value!r} is not a {name} value; use one of {', '.join(_TABLE_VALUES[name])}"
                )
            for word in _text_items(path, key, words):
                table[word.lower()] = (value == "moves") if name == "motion" else value
        tables[name] = table
    return language, tables


@lru_cache(maxsize=16)
def load_keywords(extra_files: tuple[Path, ...] = ()) -> dict[str, KeywordTables]:
    """The keyword library per language: shipped files, then `extra_files` (later entries win).

    Raises ConfigError naming the file and key of malformed data.
    """
    merged: dict[str, dict[str, dict]] = {lang: {t: {} for t in _TABLES} for lang in ("en", "zh")}
    for path in (KEYWORDS_DIR / "en.yaml", KEYWORDS_DIR / "zh.yaml", *extra_files):
        language, tables = _parse_keyword_file(Path(path))
        for name, table in tables.items():
            merged[language][name].update(table)
    library: dict[str, KeywordTables] = {}
    for lang, tables in merged.items():
        patterns = {name: _pattern(list(table), lang) for name, table in tables.items()}
        patterns["moving"] = _pattern([k for k, v in tables["motion"].items() if v], lang)
        library[lang] = KeywordTables(language=lang, patterns=patterns, **tables)
    return library


def keyword_tables(language: str, keyword_files: Sequence[Path] = ()) -> KeywordTables:
    """The library of `language` ("zh", else English) with the user's files on top."""
    return load_keywords(tuple(Path(p) for p in keyword_files))["zh" if language == "zh" else "en"]


# ------------------------------------------------------------------ style presets

SEED_POLICIES = ("series", "episode", "fixed")


@dataclass(frozen=True)
class StylePreset:
    """A series-wide look: style words, negative prompt and how seeds are chosen.

    seed_policy: "series": every episode derives its shot seeds from one series seed, so
    shot k looks alike across episodes; "episode": from the episode id; "fixed": every
    shot of every episode uses the series seed itself.
    """

    name: str
    description: str
    style: str
    negative_prompt: str
    seed_policy: str


def _parse_preset_file(path: Path) -> StylePreset:
    data = _read_yaml(path)
    fields_ = ("name", "description", "style", "negative_prompt", "seed_policy")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {', '.join(fields_)}")
    for key in data:
        if key not in fields_:
            raise ConfigError(f"{path}: unknown key {key!r}; a preset has {', '.join(fields_)}")
    for key in fields_:
        value = data.get(key, "" if key in ("description", "negative_prompt") else None)
        if not isinstance(value, str) or (key != "negative_prompt" and key != "description" and not value.strip()):
            raise ConfigError(f"{path}: key {key!r} must be text, got {value!r}")
    if data["seed_policy"] not in SEED_POLICIES:
        raise ConfigError(
            f"{path}: key 'seed_policy': {data['seed_policy']!r} is not one of {', '.join(SEED_POLICIES)}"
        )
    return StylePreset(**{k: str(data.get(k, "")).strip() for k in fields_})


@lru_cache(maxsize=1)
def load_presets() -> dict[str, StylePreset]:
    """The shipped presets (prompts/presets/*.yaml) by name."""
    presets: dict[str, StylePreset] = {}
    for path in sorted(PRESETS_DIR.glob("*.yaml")):
        preset = _parse_preset_file(path)
        if preset.name in presets:
            raise ConfigError(f"{path}: key 'name': preset {preset.name!r} is defined twice")
        presets[preset.name] = preset
    return presets


@lru_cache(maxsize=16)
def _preset_from_file(path: Path) -> StylePreset:
    return _parse_preset_file(path)


def get_preset(name: str) -> StylePreset:
    """A shipped preset by name, or a preset file when `name` is a path to a .yaml/.yml file."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return _preset_from_file(Path(name).expanduser())
    presets = load_presets()
    if name not in presets:
        raise ConfigError(
            f"unknown style preset {name!r} (settings planning.preset); "
            f"known presets: {', '.join(sorted(presets))}, or a path to a preset .yaml file"
        )
    return presets[name]


# ------------------------------------------------------------------ language and sentences


def detect_language(text: str) -> Literal["zh", "en"]:
    """"zh" when CJK characters are at least as many as Latin words, else "en"."""
    cjk = len(_CJK.findall(text))
    words = len(_LATIN_WORD.findall(text))
    return "zh" if cjk and cjk >= words else "en"


_ZH_SPLIT = re.compile(r"[^。！？；!?;…\n]+(?:[。！？；!?;…]+[”’」』）)\"']*)?|\n")
_EN_ABBREV = {"mr", "mrs", "ms", "dr", "st", "prof", "sr", "jr", "vs", "etc", "e.g", "i.e", "mt"}


def _is_short(piece: str, language: str) -> bool:
    if language == "zh":
        return len(_CJK.findall(piece)) < 6
    return len(_LATIN_WORD.findall(piece)) < 4


def _split_en(text: str) -> list[str]:
    pieces: list[str] = []
    for line in text.splitlines():
        start = 0
        for m in re.finditer(r"[.!?]+[\"')\]”’]*(?=\s|$)", line):
            before = line[start : m.start()].split()
            if m.group().startswith(".") and before and before[-1].lower().rstrip(".") in _EN_ABBREV:
                continue  # "Dr. Smith" is one sentence
            pieces.append(line[start : m.end()])
            start = m.end()
        pieces.append(line[start:])
    return pieces


def split_sentences(text: str, language: str) -> list[str]:
    """Split a story into sentences; fragments too short for a shot join a neighbour.

    Chinese splits after 。！？；… (and ! ? ;) and at line breaks; English after . ! ?
    followed by a space or the end (not after Mr. Dr. ...) and at line breaks. A piece with
    fewer than 6 CJK characters (Chinese) or 4 words (English) joins the previous sentence,
    or the next one when it comes first. Never returns empty strings.
    """
    if language == "zh":
        pieces = [m.group() for m in _ZH_SPLIT.finditer(text)]
    else:
        pieces = _split_en(text)
    pieces = [p.strip() for p in pieces if p.strip()]
    joiner = "" if language == "zh" else " "
    merged: list[str] = []
    pending = ""
    for piece in pieces:
        if pending:
            piece = pending + joiner + piece
            pending = ""
        if _is_short(piece, language):
            if merged:
                merged[-1] = merged[-1] + joiner + piece
            else:
                pending = piece
            continue
        merged.append(piece)
    if pending:
        merged.append(pending)  # the whole text is one short piece
    return merged


# ------------------------------------------------------------------ one sentence

_EN_DETERMINERS = set("a an the his her its my our their your this that these those one two three some every".split())
_EN_PREPOSITIONS = (
    "in on under at above across through beside near inside over along by into onto among "
    "around behind below beneath beyond toward towards past from within"
).split()
_EN_VERBS = set(
    "is are was were be been has have had do does did can could will would may might must shall should "
    "run fly walk swim jump dance sing play sit stand lie look watch see find meet open hold carry wait "
    "ride sail float drift glow shine rise fall climb sleep wake smile laugh cry turn chase follow hide "
    "search reach return leave come go sit rest whisper call grow bloom fade burn light write read "
    "become learn listen hear feel take give bring make build dig paint wander gaze stare race roar "
    "stood sat ran flew swam fell rose saw found met held came went took gave made became grew lay "
    "woke sang drank ate caught told said heard felt left brought began fought slept shone "
    "shout scream blink keep curl wave sink soar swoop glide descend ascend appear vanish weep".split()
)
# A clause split off a longer sentence may open with a conjunction: "while the sailors shout".
_EN_CONJUNCTION = re.compile(r"^(?:and|but|while|then|so|as|when|until)\s+")
_EN_SPLIT_ENV = re.compile(r"[,;:]")
_EN_LEAD = re.compile(rf"^((?:{'|'.join(_EN_PREPOSITIONS)})\s[^,]+),\s*", re.IGNORECASE)
# "The camera pans left as ..." directs the shot; it is not part of the picture.
_EN_CAMERA_TALK = re.compile(
    r"\b(?:the\s+)?camera\s+\w+(?:\s+(?:in|out|back|left|right|up|down))?(?:\s+(?:as|while|and|to)\b|\s*,)?\s*",
    re.IGNORECASE,
)


def _is_en_verb(word: str) -> bool:
    w = word.lower().strip(".,!?;:\"'")
    if w in _EN_VERBS or w.endswith("ed") or w.endswith("ing"):
        return True
    for suffix in ("es", "s"):
        if w.endswith(suffix) and w[: -len(suffix)] in _EN_VERBS:
            return True
    return w.endswith("ies") and (w[:-3] + "y") in _EN_VERBS


def _structure_en(sentence: str) -> tuple[str, str, str]:
    """English: (subject, action, environment).

    environment: the first clause piece starting with a spatial/temporal preposition (to
    the next comma or the end); subject: words before the first verb-like word (a small
    verb list, -ed, -ing; the word right after a determiner never counts); action: the
    verb to the environment or the end of its clause.
    """
    text = _EN_CAMERA_TALK.sub("", sentence.strip()).rstrip(".!?,;").strip()
    lead = ""
    m = _EN_LEAD.match(text)
    if m and m.end() < len(text):
        # "At dawn, the sailor ..." : the opening phrase sets the scene; parse the rest.
        lead, text = m.group(1), text[m.end() :]
    text = _EN_CONJUNCTION.sub("", text)  # lowercase only: a capitalised "As ..." opens a sentence
    words = text.split()
    environment = ""
    before, after = words, []
    for i, word in enumerate(words):
        if word.lower().strip(",") in _EN_PREPOSITIONS and i + 1 < len(words):
            end = i + 1
            while end < len(words) and not _EN_SPLIT_ENV.search(words[end - 1]):
                end += 1
            environment = " ".join(words[i:end]).strip(" ,;:")
            before, after = words[:i], words[end:]
            break
    verb_at = -1
    if before and before[0][:1].islower() and _is_en_verb(before[0]):
        verb_at = 0  # a clause split off a longer sentence: "looking for the moon" has no subject
    for i, word in enumerate(before if verb_at < 0 else []):
        after_det = i > 0 and before[i - 1].lower() in _EN_DETERMINERS
        if i > 0 and not after_det and _is_en_verb(word):
            verb_at = i
            break
    if verb_at < 0:
        subject, action = " ".join(before), ""
    else:
        subject, action = " ".join(before[:verb_at]), " ".join(before[verb_at:])
    tail = " ".join(after).strip(" ,;:")
    if tail:
        # Words after the place phrase ("..., looking for the moon") belong to the action.
        action = f"{action.strip(' ,;:')}, {tail}" if action.strip(" ,;:") else tail
    environment = ", ".join(p for p in (environment, lead) if p)
    return subject.strip(" ,;:"), action.strip(" ,;:"), environment


_ZH_VERBS = set("跑飞走跳看坐站唱说游追落升照是有来去笑哭飘流睡醒望遇找回奔爬吃喝玩舞洒照亮开变带送给做躺等")
_ZH_LOCATIVE = set("里上中下边旁前后外内间底顶")
_ZH_CLAUSE = re.compile(r"[，,、；;：:]")
# 在/从 opening a place; 正在 现在 存在 自从 ... are other words.
_ZH_AT = re.compile(r"(?<![正现存实自所好])[在从]")
_ZH_TIME_WORDS = ("时", "时分", "的时候", "之时")


def _is_zh_time_phrase(clause: str, tables: KeywordTables) -> bool:
    """夜晚 / 黄昏时 / 清晨时分: a short clause that only says when (time_of_day has it already).

    One the library describes (星空下, 月光下) shows something and is kept as a place.
    """
    core = clause
    for suffix in _ZH_TIME_WORDS:
        core = core.removesuffix(suffix)
    return len(core) <= 4 and tables.find(core, "time_of_day") is not None and not tables.expansions(core)


def _structure_zh(sentence: str, tables: KeywordTables) -> tuple[str, str, str]:
    """Chinese: (subject, action, environment).

    Leading clauses without a verb set the scene: they join the environment, except short
    time phrases (夜晚， 黄昏时，) already read into time_of_day. In the first clause with
    a verb: environment is 在 (or 从) up to the next locative character (里上中下边...)
    without the 在; subject is the text before 在 or before the first verb-like character; action is the
    rest of that clause plus the clauses after it. Clauses about the camera (镜头推进) are
    skipped.
    """
    text = sentence.strip().rstrip("。！？；!?;…\"”，,、")
    clauses = [c.strip() for c in _ZH_CLAUSE.split(text) if c.strip() and "镜头" not in c]
    if not clauses:
        return text, "", ""
    main_at = next((k for k, c in enumerate(clauses) if any(ch in _ZH_VERBS or ch in "在从" for ch in c)), 0)
    main, later = clauses[main_at], "，".join(clauses[main_at + 1 :])
    lead = "，".join(c for c in clauses[:main_at] if not _is_zh_time_phrase(c, tables))
    subject, action, environment = main, "", ""
    m = _ZH_AT.search(main)
    at = m.start() if m else -1
    end = next((k for k in range(at + 1, len(main)) if main[k] in _ZH_LOCATIVE), -1) if at >= 0 else -1
    if at >= 0 and end > at + 1:
        subject, environment, action = main[:at], main[at + 1 : end + 1], main[end + 1 :]
    elif at > 0:
        subject, action = main[:at], main[at:]  # 它在黄昏时醒来: a time, not a place, follows 在
    else:
        verb = next((k for k, ch in enumerate(main) if ch in _ZH_VERBS and k > 0), -1)
        if verb > 0:
            subject, action = main[:verb], main[verb:]
    if later:
        action = f"{action}，{later}" if action else later
    environment = "，".join(p for p in (environment, lead) if p)
    return subject, action, environment


# ------------------------------------------------------------------ subject carry-over

_EN_PRONOUNS = {"it", "he", "she", "they", "him", "her", "them"}
_EN_FILLERS = {"then", "and", "but", "so", "both", "all", "too", "also", "now", "soon", "later", "together"}
_ZH_PRONOUNS = {"它", "他", "她", "它们", "他们", "她们", "它俩", "他俩", "她俩"}
_ZH_LEADING = ("然后", "接着", "于是", "随后", "后来", "最后", "终于", "忽然", "突然", "这时", "又", "也", "便", "就", "还", "再", "才")
_ZH_TRAILING = ("一起", "一同", "都", "也", "又", "便", "就", "还", "再", "才")


def needs_subject(subject: str, language: str) -> bool:
    """True when a sentence's subject is a pronoun (it/he/she/they, 它/他/她/他们...) or missing."""
    if language == "zh":
        core, changed = subject.strip(), True
        while changed:
            changed = False
            for word in _ZH_LEADING:
                if core.startswith(word):
                    core, changed = core[len(word) :], True
            for word in _ZH_TRAILING:
                if core.endswith(word) and len(core) > len(word):
                    core, changed = core[: -len(word)], True
        return not core or core in _ZH_PRONOUNS
    words = [w for w in re.findall(r"[a-z']+", subject.lower()) if w not in _EN_FILLERS]
    return not words or (len(words) == 1 and words[0] in _EN_PRONOUNS)


# ------------------------------------------------------------------ prompts


def build_prompt(
    subject: str,
    action: str,
    environment: str,
    style: str,
    camera: str,
    time_of_day: str,
    mood: str,
    tables: KeywordTables,
    fallback: str = "",
) -> str:
    """The diffusion prompt from structured fields.

    "subject, action, environment, expansions, style, lighting, mood, camera move":
    expansions are the keyword library's descriptions of vague words in the subject,
    action and environment (or in `fallback`, the sentence, when those are all empty).
    """
    content = [p for p in (subject, action, environment) if p.strip()] or [fallback.strip()]
    parts = [
        *content,
        *tables.expansions(" ".join(content)),
        style,
        LIGHTING.get(time_of_day, ""),
        f"{mood} atmosphere" if mood else "",
        CAMERA_PHRASE.get(camera, ""),
    ]
    return ", ".join(p for p in parts if p)


def rebuild_prompt(spec: ShotSpec, language: str = "auto", keyword_files: Sequence[Path] = ()) -> str:
    """The prompt `plan_shots` would give this shot's current fields (after a user edits them).

    language: the plan's language; "auto" detects it from the shot's text.
    keyword_files: the same settings.planning.keyword_files the plan was made with.
    """
    if language == "auto":
        language = detect_language(" ".join([spec.text, spec.subject, spec.action, spec.environment]))
    return build_prompt(
        spec.subject, spec.action, spec.environment, spec.style, spec.camera, spec.time_of_day, spec.mood,
        keyword_tables(language, keyword_files), fallback=spec.text,
    )


def structure_sentence(
    sentence: str,
    language: str,
    style: str,
    seed: int,
    *,
    default_time: str = "day",
    default_mood: str = "calm",
    previous_subject: str = "",
    tables: KeywordTables | None = None,
) -> dict:
    """Structure one sentence into the fields of a ShotSpec (without index/duration/seed).

    seed: picks the default camera move when the sentence names none.
    default_time, default_mood: used when the sentence names no time of day or mood (the
        planner passes the previous sentence's, so a night story stays night).
    previous_subject: replaces a pronoun or missing subject ("It meets an owl").
    tables: the keyword library; default the shipped one for `language`.
    Returns subject, action, environment, style, camera, time_of_day, mood, wants_motion
    and prompt (see build_prompt).
    """
    language = "zh" if language == "zh" else "en"
    tables = tables or keyword_tables(language)
    try:
        if language == "zh":
            subject, action, environment = _structure_zh(sentence, tables)
        else:
            subject, action, environment = _structure_en(sentence)
    except Exception:  # heuristics must never stop a plan; the whole sentence still works as a prompt
        subject, action, environment = sentence.strip(), "", ""
    if previous_subject and (action or environment) and needs_subject(subject, language):
        subject = previous_subject
    camera = tables.find(sentence, "camera")
    if camera == "pan":
        lowered = sentence.lower()
        if "left" in lowered or "左" in sentence:
            camera = "pan_left"
        elif "right" in lowered or "右" in sentence:
            camera = "pan_right"
        else:
            camera = ("pan_left", "pan_right")[seed % 2]
    if camera is None:
        camera = DEFAULT_MOVES[seed % len(DEFAULT_MOVES)]
    time_of_day = tables.find(sentence, "time_of_day") or default_time
    mood = tables.find(sentence, "mood") or default_mood
    wants_motion = tables.find(sentence, "motion")
    if wants_motion is None or (wants_motion is False and tables.find(sentence, "moving")):
        wants_motion = True
    return {
        "subject": subject,
        "action": action,
        "environment": environment,
        "style": style,
        "camera": camera,
        "time_of_day": time_of_day,
        "mood": mood,
        "wants_motion": wants_motion,
        "prompt": build_prompt(
            subject, action, environment, style, str(camera), str(time_of_day), str(mood), tables, fallback=sentence
        ),
    }


# ------------------------------------------------------------------ the plan


def derive_seed(*parts: str | int) -> int:
    """A seed in [0, 2**31) from the parts; the same in every process (sha256, not hash())."""
    digest = hashlib.sha256("\x1f".join(f"{type(p).__name__}:{p}" for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % (2**31)


def estimate_narration_s(text: str, language: str) -> float:
    """Seconds a narrator needs: Chinese ~4.5 characters/s, English ~2.6 words/s."""
    if language == "zh":
        return len(_CJK.findall(text)) / ZH_CHARS_PER_S + len(_LATIN_WORD.findall(text)) / EN_WORDS_PER_S
    return len(text.split()) / EN_WORDS_PER_S


_ZH_CLAUSE_PIECE = re.compile(r"[^，；、,;]+[，；、,;]*|[，；、,;]+")


def split_clauses(sentence: str, language: str, max_s: float = MAX_SHOT_S) -> list[str]:
    """Split a sentence whose narration runs past `max_s` at clauses (，；、 , ;).

    Consecutive clauses are grouped into the fewest pieces of near-equal length that each
    fit in `max_s`; a single clause longer than that stays whole (it cannot be avoided
    without cutting a clause). Shorter sentences come back as they are. The pieces joined
    ("" for Chinese, " " for English) give the sentence back.
    """
    if estimate_narration_s(sentence, language) <= max_s:
        return [sentence]
    if language == "zh":
        clauses = _ZH_CLAUSE_PIECE.findall(sentence)
    else:
        clauses = [c for c in re.split(r"(?<=[,;])\s+", sentence) if c]
    if len(clauses) < 2:
        return [sentence]
    joiner = "" if language == "zh" else " "
    weights = [estimate_narration_s(c, language) for c in clauses]
    for count in range(max(2, math.ceil(sum(weights) / max_s)), len(clauses) + 1):
        pieces = [joiner.join(g) for g in _balanced_groups(clauses, weights, count)]
        if all(estimate_narration_s(p, language) <= max_s for p in pieces):
            return pieces
    return clauses


def _balanced_groups(items: list[str], weights: list[float], count: int) -> list[list[str]]:
    """Cut `items` into `count` consecutive groups whose weights are near total/count each."""
    cumulative = [0.0]
    for w in weights:
        cumulative.append(cumulative[-1] + w)
    total, cuts = cumulative[-1], [0]
    for k in range(1, count):
        lo, hi = cuts[-1] + 1, len(items) - (count - k)  # leave at least one item per group
        cuts.append(min(range(lo, hi + 1), key=lambda j: abs(cumulative[j] - k * total / count)))
    cuts.append(len(items))
    return [items[cuts[k] : cuts[k + 1]] for k in range(count)]


def split_story(text: str, language: str) -> list[str]:
    """Sentences (split_sentences), each over-long one split at clauses (split_clauses)."""
    return [piece for sentence in split_sentences(text, language) for piece in split_clauses(sentence, language)]


def _group(sentences: list[str], count: int, joiner: str) -> list[str]:
    """Join consecutive sentences into `count` groups of near-equal size."""
    n = len(sentences)
    bounds = [round(k * n / count) for k in range(count + 1)]
    return [joiner.join(sentences[bounds[k] : bounds[k + 1]]) for k in range(count)]


def series_look(settings: PlanningSettings) -> tuple[str, str, str, StylePreset | None]:
    """(style, negative_prompt, seed_policy, preset) every shot of the series shares.

    Without a preset: settings.style, no negative prompt of its own, seeds per episode.
    With one: the preset's style words (plus settings.style when it was set explicitly),
    its negative prompt and its seed policy.
    """
    if not settings.preset:
        return settings.style, "", "episode", None
    preset = get_preset(settings.preset)
    style = preset.style
    if "style" in settings.model_fields_set and settings.style.strip() and settings.style not in style:
        style = f"{style}, {settings.style}"
    return style, preset.negative_prompt, preset.seed_policy, preset


def plan_shots(
    text: str,
    episode_id: str,
    settings: PlanningSettings,
    language: str = "auto",
    seed: int | None = None,
) -> ShotPlan:
    """Plan one shot per sentence (at most settings.max_shots), sharing one style and seed.

    language: "zh", "en" or "auto" (detected).
    seed: the plan's seed, used whatever the seed policy; default from the policy of
        settings.preset: "episode" (no preset) derive_seed(episode_id); "series" and
        "fixed" settings.series_seed, or one derived from the preset name. Shot k gets
        derive_seed(seed, k), or the plan seed itself under "fixed".
    A sentence whose narration would run past MAX_SHOT_S is split at clauses. When there
    are more pieces than max_shots, consecutive ones are grouped evenly (rather than piling
    the whole tail into the last shot, whose narration would then run far past its
    picture). A pronoun or missing subject takes the previous shot's subject.
    Raises InputError when the plan breaks settings.limits (prompts/limits.py).
    """
    if not text or not text.strip():
        raise InputError("the prompt is empty; write one or more sentences describing the story")
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError(
            f"the prompt is {len(text)} characters; the limit is {MAX_PROMPT_CHARS}: "
            "shorten it or split the story into several episodes"
        )
    if language == "auto":
        language = detect_language(text)
    if language not in ("zh", "en"):
        raise InputError(f"unknown language {language!r}; use zh, en or auto")
    style, negative_prompt, policy, preset = series_look(settings)
    tables = keyword_tables(language, settings.keyword_files)
    if seed is not None:
        plan_seed = seed
    elif policy == "episode" or preset is None:
        plan_seed = derive_seed(episode_id)
    else:
        plan_seed = settings.series_seed if settings.series_seed is not None else derive_seed("series", preset.name)
    sentences = split_story(text, language)
    if len(sentences) > settings.max_shots:
        sentences = _group(sentences, settings.max_shots, "" if language == "zh" else " ")

    shots: list[ShotSpec] = []
    time_of_day, mood, subject = "day", "calm", ""
    for index, sentence in enumerate(sentences):
        shot_seed = plan_seed if policy == "fixed" else derive_seed(plan_seed, index)
        fields = structure_sentence(
            sentence, language, style, shot_seed,
            default_time=time_of_day, default_mood=mood, previous_subject=subject, tables=tables,
        )
        time_of_day, mood = fields["time_of_day"], fields["mood"]
        if not needs_subject(fields["subject"], language):
            subject = fields["subject"]
        narration = estimate_narration_s(sentence, language)
        duration = min(max(narration, settings.shot_seconds, MIN_SHOT_S), MAX_SHOT_S, settings.limits.max_shot_s)
        shots.append(
            ShotSpec(
                index=index, text=sentence, duration_s=round(duration, 2), seed=shot_seed,
                negative_prompt=negative_prompt, **fields,
            )
        )
    plan = ShotPlan(episode_id=episode_id, language=language, style=style, seed=plan_seed, shots=shots)
    # The planner keeps the shot count and length within the limits itself; the episode can
    # still add up to more than max_episode_s (many long sentences), which is refused here.
    return check_plan_limits(plan, settings.limits, f"the story of {episode_id}")
