"""Turn a story into a shot plan: directions apart, one shot per narrated sentence, each
with its subject, action, setting, camera, shot size, angle, time, weather and mood.

The order of the work, each step in its own module:
- sentences: split the story (prompts/sentences.py);
- directions: take out what directs rather than narrates (prompts/directions.py);
- parse_zh / parse_en: subject, action and setting as phrases;
- pronouns: he/she/it/他/她/它 and "Its wings" take their antecedent;
- keywords: time, weather, mood, camera words, and the descriptions of vague words that
  agree with what the shot states (prompts/keywords.py);
- rewriter (optional, settings.planning.rewriter): a language model fills the same fields;
  its plan is validated and screened, and the rules take over on any failure.
A plan is shown and edited as YAML through prompts/plan_file.py.

Fields the later stages rely on (generation, the animatic, quality): see ShotSpec in
reelgate/records.py. Every value is chosen deterministically: the same story, settings
and seed give the same plan in every process.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prompts.directions import Direction, camera_in, merge_style, read_sentence
from prompts.keywords import KeywordTables, keyword_tables
from prompts.limits import check_plan_limits
from prompts.parse_en import parse_en
from prompts.parse_zh import parse_zh
from prompts.presets import StylePreset, get_preset
from prompts.pronouns import needs_subject, resolve_subject
from prompts.sentences import (
    MAX_SHOT_S,
    detect_language,
    estimate_narration_s,
    is_short,
    merge_short,
    split_clauses,
    split_pieces,
)
from reelgate.errors import InputError
from reelgate.records import Expansion, ShotPlan, ShotSpec, Verdict
from reelgate.seeds import derive_seed
from reelgate.settings import PlanningSettings, ScreeningSettings

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 20_000
MIN_SHOT_S = 2.0

LIGHTING = {
    "dawn": "soft dawn light, pale pink sky",
    "day": "bright daylight",
    "dusk": "warm golden dusk light",
    "night": "night scene, moonlight and deep blue shadows",
}
# A night storm has no moonlight: the weather phrase replaces the night's.
NIGHT_UNDER_CLOUD = "night scene, dark overcast sky, deep blue shadows"
WEATHER_PHRASE = {
    "clear": "",
    "rain": "heavy rain falling, wet reflective surfaces",
    "snow": "snow falling, snow-covered ground",
    "fog": "thick fog, low visibility, soft diffused shapes",
    "storm": "thunderstorm, dark churning clouds, flashes of lightning",
    "wind": "strong wind, blowing grass and flying leaves",
}
CAMERA_PHRASE = {
    "static": "static camera",
    "push": "slow push-in",
    "pull": "slow pull-back",
    "pan_left": "slow pan to the left",
    "pan_right": "slow pan to the right",
    "tilt_up": "slow tilt up",
    "tilt_down": "slow tilt down",
    "track": "tracking shot following the subject",
    "handheld": "handheld camera, slight natural shake",
    "orbit": "camera orbiting around the subject",
    "crane_up": "crane shot rising up",
    "crane_down": "crane shot descending",
    "zoom_in": "zoom in",
    "zoom_out": "zoom out",
}
SHOT_SIZE_PHRASE = {
    "extreme_wide": "extreme wide shot",
    "wide": "wide shot",
    "medium": "medium shot",
    "close_up": "close-up",
    "extreme_close_up": "extreme close-up",
}
ANGLE_PHRASE = {"eye_level": "", "low": "low angle", "high": "high angle", "birds_eye": "bird's-eye view"}

# The camera when the text names none, from what happens (first match wins).
_EN_ACTION_CAMERA = (
    ("track", r"\b(?:chas|pursu|flee|fled|run|ran|sprint|race|racing|gallop|rid(?:e|es|ing)|rode|hunt|escap|dash|charg"
              r"|bolt|scatter|leaps? (?:across|between|from)|tracks)\w*"),
    ("push", r"\b(?:see|sees|saw|discover|reveal|appear|emerg|notic|find|finds|found|spot|realis|realiz|open|burst"
             r"|erupt|(?:rise|rises|rose|rising|springs?|leaps?) (?:out|up from|from))\w*"),
    ("crane_up", r"\b(?:rise|rises|rose|rising|soar|ascend|fly|flies|flew|flying|climb)\w*"),
    ("tilt_down", r"\b(?:fall|falls|fell|sink|sinks|sank|descend|dive|dives|plunge)\b(?! asleep)"),
)
_ZH_ACTION_CAMERA = (
    ("track", "追|逃|奔跑|飞奔|狂奔|疾驰|奔驰|跑|骑|慌不择路|冲上|冲向|冲进|逃窜"),
    ("push", "发现|看见|看到|出现|露出|望见|揭开|打开|浮现|钻出|冒出|窜出|钻了出来|冒了出来|跳出|找到|显现"),
    ("crane_up", "升起|飞向|飞上|腾空|飞起|登上|攀"),
    ("tilt_down", "落下|坠|跌|沉入|降落|掉(?!落在)"),
)
_CLOSE_WORDS_EN = re.compile(r"\b(?:face|faces|eyes|eye|hand|hands|fingers|tears|lips|mouth|letter|ring|key|coin)\b", re.I)
_CLOSE_WORDS_ZH = re.compile(r"脸|双眼|眼睛|眼泪|手指|双手|嘴唇|信|戒指|钥匙")
_VAST_EN = re.compile(r"\b(?:sky|heavens|sea|ocean|desert|mountains|valley|plain|plains|galaxy|stars|constellation|horizon|world|army|city)\b", re.I)
_VAST_ZH = re.compile(r"天空|天上|大海|海上|沙漠|群山|山谷|平原|星空|银河|星座|天际|世界|大军|城市|天地")


@dataclass
class _Piece:
    """A narrated piece of the story and the directions that sit in it."""

    narration: str
    directions: list[Direction] = field(default_factory=list)


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
    *,
    shot_size: str = "",
    angle: str = "",
    weather: str = "clear",
    expansions: Sequence[Expansion] | None = None,
) -> str:
    """The diffusion prompt from structured fields.

    "subject action, environment, the sentence, expansions, style, shot size, angle,
    lighting, weather, mood, camera move". fallback: the narrated sentence; it follows the
    fields when it says more than they do (the fields hold the core: "the lion leaps", the
    sentence the rest: "with a thunderous roar"). expansions: the keyword library's
    descriptions (default: found in the fields, or in the sentence when they are empty,
    agreeing with the weather and time of day).
    """
    head = " ".join(p for p in (subject, action) if p.strip())
    content = [p for p in (head, environment) if p.strip()] or [fallback.strip()]
    if head and fallback.strip() and _says_more(fallback, " ".join(content)):
        content.append(fallback.strip().rstrip("。.！!？?；;"))
    if expansions is None:
        expansions = tables.expansions(" ".join(content), _stated(weather, time_of_day))
    lighting = LIGHTING.get(time_of_day, "")
    if time_of_day == "night" and weather in ("storm", "rain", "fog", "snow"):
        lighting = NIGHT_UNDER_CLOUD
    parts = [
        *content,
        *(e.text for e in expansions),
        style,
        SHOT_SIZE_PHRASE.get(shot_size, ""),
        ANGLE_PHRASE.get(angle, ""),
        lighting,
        WEATHER_PHRASE.get(weather, ""),
        f"{mood} atmosphere" if mood else "",
        CAMERA_PHRASE.get(camera, ""),
    ]
    return ", ".join(p for p in parts if p)


def _says_more(sentence: str, fields: str) -> bool:
    """Whether the sentence has words (two or more, or three CJK characters) the fields lack."""
    if re.search(r"[\u4e00-\u9fff]", sentence):
        return sum(ch not in fields for ch in re.findall(r"[\u4e00-\u9fff]", sentence)) >= 3
    have = set(re.findall(r"[a-z']+", fields.lower()))
    extra = [w for w in re.findall(r"[a-z']+", sentence.lower()) if w not in have and w not in _FILLER_WORDS]
    return len(extra) >= 2


_FILLER_WORDS = set("a an the and of to in on at his her its their he she it they then".split())


def _stated(weather: str, time_of_day: str, water: str | None = None) -> dict[str, str]:
    stated = {"weather": weather, "time_of_day": time_of_day}
    if water:
        stated["water"] = water
    return stated


def rebuild_prompt(spec: ShotSpec, language: str = "auto", keyword_files: Sequence[Path] = ()) -> str:
    """The prompt `plan_shots` would give this shot's current fields (after a user edits them).

    language: the plan's language; "auto" detects it from the shot's text.
    keyword_files: the same settings.planning.keyword_files the plan was made with.
    """
    if language == "auto":
        language = detect_language(" ".join([spec.text, spec.subject, spec.action, spec.environment]))
    tables = keyword_tables(language, keyword_files)
    return build_prompt(
        spec.subject, spec.action, spec.environment, spec.style, spec.camera, spec.time_of_day, spec.mood,
        tables, fallback=spec.text, shot_size=spec.shot_size, angle=spec.angle, weather=spec.weather,
        expansions=_expansions(spec, tables),
    )


def shot_expansions(spec: ShotSpec, language: str, keyword_files: Sequence[Path] = ()) -> list[Expansion]:
    """The keyword-library descriptions a shot's fields call for (see build_prompt)."""
    return _expansions(spec, keyword_tables(language, keyword_files))


def _expansions(spec: ShotSpec, tables: KeywordTables) -> list[Expansion]:
    content = " ".join(p for p in (spec.subject, spec.action, spec.environment) if p.strip()) or spec.text
    water = tables.find(spec.text, "water")
    return tables.expansions(content, _stated(spec.weather, spec.time_of_day, water))


def _mood(text: str, tables: KeywordTables) -> str | None:
    """The mood the text states: an event or a strong word beats calm; else the first."""
    found = [value for _, value in tables.find_all(text, "mood")]
    strong = [m for m in found if m != "calm"]
    return (strong or found or [None])[0]


def _weather(text: str, tables: KeywordTables) -> str | None:
    """The weather the text states; a storm anywhere outweighs the rain it brings."""
    found = [value for _, value in tables.find_all(text, "weather")]
    if not found:
        return None
    return "storm" if "storm" in found and "clear" not in found[-1:] else found[-1] if found[-1] == "clear" else found[0]


# Weather and nightfall falling are no camera move: "as snow begins to fall".
_FALLING_WEATHER = re.compile(
    r"\b(?:snow|rain|night|darkness|dusk|silence|leaves|ash|petals)\s+(?:\w+\s+)?(?:to\s+)?(?:fall|falls|fell|falling)\b"
    r"|(?:雪|雨|夜幕|夜色|花瓣|树叶)(?:纷纷|缓缓|慢慢)?(?:落下|飘落|降临|落)",
    re.IGNORECASE,
)


def _default_camera(text: str, action: str, language: str) -> str:
    """The move the action asks for: its own verb first, then the whole sentence."""
    rules = _ZH_ACTION_CAMERA if language == "zh" else _EN_ACTION_CAMERA
    sentence = _FALLING_WEATHER.sub(" ", text)
    for source in (action, sentence):
        for move, pattern in rules:
            if source and re.search(pattern, source, re.IGNORECASE):
                return move
    return "static"


def _default_shot_size(subject: str, environment: str, text: str, mood: str, language: str) -> str:
    close = _CLOSE_WORDS_ZH if language == "zh" else _CLOSE_WORDS_EN
    vast = _VAST_ZH if language == "zh" else _VAST_EN
    if close.search(subject):
        return "close_up"
    if vast.search(environment or text) and mood == "epic":
        return "extreme_wide"
    if environment:
        return "wide"
    return "medium"


def structure_sentence(
    sentence: str,
    language: str,
    style: str,
    seed: int,
    *,
    default_time: str = "day",
    default_mood: str = "calm",
    default_weather: str = "clear",
    place: str = "",
    previous_subject: str = "",
    earlier_subjects: Sequence[str] = (),
    directions: Sequence[Direction] = (),
    tables: KeywordTables | None = None,
    look_tables: KeywordTables | None = None,
) -> dict:
    """Structure one narrated sentence into the fields of a ShotSpec (without index/duration/seed).

    sentence: narration only (directions already taken out, see prompts/directions.py).
    style: the series' style; the user's look directions replace the parts they cover.
    seed: kept for callers; every default is read from the text, not drawn.
    default_time, default_mood, default_weather: the previous shot's (a night storm stays
        one until the text says otherwise).
    place: the scene's slugline place ("interior of the lighthouse"): the environment when the
        sentence names none; an interior is added to the one it names ("by the window").
    previous_subject / earlier_subjects: antecedents for a pronoun or a missing subject.
    directions: the directions governing this shot (the episode's, then its own).
    Returns the ShotSpec fields subject ... prompt.
    """
    language = "zh" if language == "zh" else "en"
    tables = tables or keyword_tables(language)
    look_tables = look_tables or keyword_tables("en")
    try:
        subject, action, environment = parse_zh(sentence) if language == "zh" else parse_en(sentence)
    except Exception:  # heuristics must never stop a plan; the sentence still works as a prompt
        log.exception("could not parse %r; the sentence is used as it is", sentence)
        subject, action, environment = "", "", ""
    earlier = [*earlier_subjects] or ([previous_subject] if previous_subject else [])
    if language == "en" and subject.lower() == "it" and _WEATHER_IT.match(action):
        subject = ""  # "It is raining hard": the weather, nobody's action
    elif (action or environment) and earlier:
        subject = resolve_subject(subject, earlier, language)
    directions = list(directions)
    # An interior holds for "by the window", not for "by the sea": a sentence naming an outdoor
    # setting has left the room.
    outdoors = tables.find(environment, "setting") not in (None, "interior") if environment else False
    if place and (not environment or (place.startswith("interior ") and not outdoors
                                      and place.split()[-1] not in environment.lower())):
        environment = f"{environment}, {place}" if environment else place

    def directed(name: str) -> str | None:
        return next((getattr(d, name) for d in reversed(directions) if getattr(d, name)), None)

    time_of_day = tables.find(sentence, "time_of_day") or directed("time_of_day") or default_time
    weather = _weather(sentence, tables) or directed("weather") or default_weather
    mood = _mood(sentence, tables) or directed("mood") or ("tense" if weather == "storm" else default_mood)
    camera = directed("camera") or camera_in(sentence, tables) or _default_camera(sentence, action, language)
    shot_size = directed("shot_size") or tables.find(sentence, "shot_size") or _default_shot_size(
        subject, environment, sentence, mood, language
    )
    angle = directed("angle") or tables.find(sentence, "angle") or "eye_level"
    wants_motion = tables.find(sentence, "motion") != "still" or bool(tables.find(sentence, "moving"))
    shot_style = merge_style(directions, style, look_tables)
    content = " ".join(p for p in (subject, action, environment) if p.strip()) or sentence
    expansions = tables.expansions(content, _stated(weather, time_of_day, tables.find(sentence, "water")))
    return {
        "subject": subject,
        "action": action,
        "environment": environment,
        "style": shot_style,
        "camera": camera,
        "shot_size": shot_size,
        "angle": angle,
        "time_of_day": time_of_day,
        "weather": weather,
        "mood": mood,
        "wants_motion": wants_motion,
        "directions": [d.text for d in directions],
        "expansions": expansions,
        "prompt": build_prompt(
            subject, action, environment, shot_style, camera, time_of_day, mood, tables, fallback=sentence,
            shot_size=shot_size, angle=angle, weather=weather, expansions=expansions,
        ),
    }


# "It is raining", "it snows", "it gets dark": an "it" with no one behind it.
_WEATHER_IT = re.compile(
    r"(?:is|was|has been|keeps|starts|begins)?\s*(?:to\s+)?(?:rain|snow|pour|drizzl|storm|thunder|hail|sleet|"
    r"gets? dark|getting dark|grows? dark|dark|night|cold|windy|foggy|misty|late)",
    re.IGNORECASE,
)


def read_story(text: str, language: str, tables: KeywordTables, max_shots: int) -> tuple[list[Direction], list[_Piece]]:
    """(directions standing alone, narrated pieces with their own directions) of a story.

    Pieces too short for a shot join a neighbour; over-long ones split at clauses; more
    pieces than max_shots are grouped evenly.
    """
    standalone: list[Direction] = []
    pieces: list[_Piece] = []
    heading: list[Direction] = []  # "Night." governs the next shot (and, carried, those after)
    for raw in split_pieces(text, language):
        reading = read_sentence(raw, language, tables)
        if reading.only_directions:
            for d in reading.directions:
                # "Night." and, once the story has begun, "The camera orbits the ship." govern
                # the shots after them; a look (style, colour, lens, pacing) governs them all.
                framing = (d.camera or d.shot_size or d.angle) and not d.looks
                (heading if d.is_heading or (framing and pieces) else standalone).append(d)
        else:
            pieces.append(_Piece(reading.narration, [*heading, *reading.directions]))
            heading = []
    standalone += heading
    joiner = "" if language == "zh" else " "

    def join(a: _Piece, b: _Piece) -> _Piece:
        return _Piece(a.narration + joiner + b.narration, a.directions + b.directions)

    def short(piece: _Piece) -> bool:  # "Close-up: its eyes glow." is a shot of its own
        framed = any(d.camera or d.shot_size or d.angle for d in piece.directions)
        return is_short(piece.narration, language) and not framed

    merged = merge_short(pieces, language, short=short, join=join)
    split = [
        _Piece(part, piece.directions)
        for piece in merged
        for part in split_clauses(piece.narration, language)
    ]
    if len(split) > max_shots:
        n = len(split)
        bounds = [round(k * n / max_shots) for k in range(max_shots + 1)]
        split = [
            _Piece(joiner.join(p.narration for p in split[a:b]), [d for p in split[a:b] for d in p.directions])
            for a, b in zip(bounds, bounds[1:])
        ]
    return standalone, split


def _rewritten_pieces(
    shots: list, language: str, tables: KeywordTables
) -> tuple[list[Direction], list[tuple[_Piece, object]]]:
    """The rewriter's shots as narrated pieces: a shot whose text only directs is dropped
    (its directions govern every shot), and directions inside a text are taken out of it."""
    standalone: list[Direction] = []
    pieces: list[tuple[_Piece, object]] = []
    for shot in shots:
        reading = read_sentence(shot.text, language, tables)
        if reading.only_directions:
            standalone.extend(reading.directions)
        else:
            pieces.append((_Piece(reading.narration, reading.directions), shot))
    return standalone, pieces


def _rewritten_fields(
    shot: object, piece: _Piece, directions: list[Direction], style: str, language: str,
    tables: KeywordTables, look_tables: KeywordTables,
) -> dict:
    """A ShotSpec's fields from a rewritten shot: its words and choices, the rules' style
    merge and expansions (which never contradict its weather or time)."""
    shot_style = merge_style(directions, style, look_tables)
    if shot.style and shot.style not in shot_style:
        shot_style = ", ".join(p for p in (shot.style, shot_style) if p)
    content = " ".join(p for p in (shot.subject, shot.action, shot.environment) if p.strip()) or piece.narration
    water = tables.find(piece.narration, "water")
    expansions = tables.expansions(content, _stated(shot.weather, shot.time_of_day, water))
    wants_motion = tables.find(piece.narration, "motion") != "still" or bool(tables.find(piece.narration, "moving"))
    return {
        "subject": shot.subject, "action": shot.action, "environment": shot.environment, "style": shot_style,
        "camera": shot.camera, "shot_size": shot.shot_size, "angle": shot.angle, "time_of_day": shot.time_of_day,
        "weather": shot.weather, "mood": shot.mood, "wants_motion": wants_motion,
        "directions": [d.text for d in directions], "expansions": expansions,
        "prompt": build_prompt(
            shot.subject, shot.action, shot.environment, shot_style, shot.camera, shot.time_of_day, shot.mood, tables,
            fallback=piece.narration, shot_size=shot.shot_size, angle=shot.angle, weather=shot.weather,
            expansions=expansions,
        ),
    }


def rewriter_screen(
    planning: PlanningSettings, screening: ScreeningSettings, cache_dir: Path | None = None
) -> Callable[[str], Verdict] | None:
    """The `screen` of plan_shots: verdicts of `screening`'s lists (the flow's) on a language-model
    rewriter's fields; None under the rules, which have no fields to screen (no screener is loaded)."""
    if planning.rewriter.kind == "rules":
        return None
    from prompts.screen import screener_for

    screener = screener_for(screening, cache_dir)
    return lambda text: screener.screen(text).verdict()


def plan_shots(
    text: str,
    episode_id: str,
    settings: PlanningSettings,
    language: str = "auto",
    seed: int | None = None,
    *,
    screen: Callable[[str], Verdict] | None = None,
) -> ShotPlan:
    """Plan one shot per narrated sentence (at most settings.max_shots), sharing one style and seed.

    language: "zh", "en" or "auto" (detected).
    seed: the plan's seed, used whatever the seed policy; default from the policy of
        settings.preset: "episode" (no preset) derive_seed(episode_id); "series" and
        "fixed" settings.series_seed, or one derived from the preset name. Shot k gets
        derive_seed(seed, k), or the plan seed itself under "fixed".
    Directions standing alone govern every shot (ShotPlan.directions); those inside a
    sentence govern its shot. Neither is narrated. A story of directions only is refused.
    With settings.rewriter set, its fields are used when its reply is valid and screens
    clean (`screen`: the flow's screener; default the shipped lists); otherwise the rules
    plan the story and ShotPlan.planner_note says why.
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
    look_tables = keyword_tables("en", settings.keyword_files)
    if seed is not None:
        plan_seed = seed
    elif policy == "episode" or preset is None:
        plan_seed = derive_seed(episode_id)
    else:
        plan_seed = settings.series_seed if settings.series_seed is not None else derive_seed("series", preset.name)

    rewritten, note = None, ""
    if settings.rewriter.kind != "rules":
        from prompts.rewriter import rewrite_or_none

        rewritten, note = rewrite_or_none(text, language, settings, screen=screen)
    if rewritten:
        standalone, paired = _rewritten_pieces(rewritten, language, tables)
        if paired:
            return _plan_from_rewrite(
                paired, standalone, episode_id, language, style, negative_prompt, policy, plan_seed, settings,
                tables, look_tables,
            )
        note = "the rewriter's shots only gave directions"

    standalone, pieces = read_story(text, language, tables, settings.max_shots)
    if not pieces:
        said = "; ".join(d.text for d in standalone[:3])
        raise InputError(
            f"the story only gives directions ({said}); add at least one sentence that says what happens, "
            "e.g. 'A fox runs across the snowy hills.'"
        )
    shots: list[ShotSpec] = []
    time_of_day, mood, weather, place = "day", "calm", "clear", ""
    subjects: list[str] = []
    for index, piece in enumerate(pieces):
        shot_seed = plan_seed if policy == "fixed" else derive_seed(plan_seed, index)
        # A slugline's place holds until the next slugline.
        place = next((d.place for d in reversed(piece.directions) if d.place), place)
        fields = structure_sentence(
            piece.narration, language, style, shot_seed,
            default_time=time_of_day, default_mood=mood, default_weather=weather, place=place,
            earlier_subjects=subjects, directions=[*standalone, *piece.directions],
            tables=tables, look_tables=look_tables,
        )
        time_of_day, mood, weather = fields["time_of_day"], fields["mood"], fields["weather"]
        subjects.append("" if needs_subject(fields["subject"], language) else fields["subject"])
        shots.append(_shot(index, piece, shot_seed, negative_prompt, fields, language, settings))
    plan = ShotPlan(
        episode_id=episode_id, language=language, style=style, seed=plan_seed, shots=shots,
        directions=[d.text for d in standalone], planner_note=note,
    )
    # The planner keeps the shot count and length within the limits itself; the episode can
    # still add up to more than max_episode_s (many long sentences), which is refused here.
    return check_plan_limits(plan, settings.limits, f"the story of {episode_id}")


def _shot(
    index: int, piece: _Piece, seed: int, negative_prompt: str, fields: dict, language: str,
    settings: PlanningSettings,
) -> ShotSpec:
    """A shot as long as its narration needs, within MIN_SHOT_S..MAX_SHOT_S and the limits."""
    narration = estimate_narration_s(piece.narration, language)
    duration = min(max(narration, settings.shot_seconds, MIN_SHOT_S), MAX_SHOT_S, settings.limits.max_shot_s)
    return ShotSpec(
        index=index, text=piece.narration, duration_s=round(duration, 2), seed=seed,
        negative_prompt=negative_prompt, **fields,
    )


def _plan_from_rewrite(
    paired: list[tuple[_Piece, object]], standalone: list[Direction], episode_id: str, language: str, style: str,
    negative_prompt: str, policy: str, plan_seed: int, settings: PlanningSettings,
    tables: KeywordTables, look_tables: KeywordTables,
) -> ShotPlan:
    shots: list[ShotSpec] = []
    for index, (piece, rewritten) in enumerate(paired):
        shot_seed = plan_seed if policy == "fixed" else derive_seed(plan_seed, index)
        fields = _rewritten_fields(
            rewritten, piece, [*standalone, *piece.directions], style, language, tables, look_tables
        )
        shots.append(_shot(index, piece, shot_seed, negative_prompt, fields, language, settings))
    plan = ShotPlan(
        episode_id=episode_id, language=language, style=style, seed=plan_seed, shots=shots,
        directions=[d.text for d in standalone], planned_by=settings.rewriter.kind,
    )
    return check_plan_limits(plan, settings.limits, f"the story of {episode_id}")
