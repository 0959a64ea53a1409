"""Directions: the words of a story that tell the camera and the look, not the tale.

"Shot on 35 mm film, warm tungsten light, handheld camera drifting left." narrates
nothing: it is a direction. "The camera follows him as he runs." holds a direction (the
camera follows) and a narration (he runs). `read_sentence` splits a sentence into the
two: the narration is what is spoken and subtitled, the directions are never spoken.

A clause directs when, once the direction words (the keyword library's look, camera,
shot_size and angle tables, and words such as camera, shot, lens, 镜头, 画面, 风格) and
filler are taken out, no content word is left; or when the camera is its subject
("the camera tracks her", 镜头跟随侦探): then what follows "as"/"while" (or, in Chinese,
the rest of the clause) is narration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prompts.keywords import KeywordTables

LOOK_FACETS = ("medium", "film", "lens", "light", "colour", "aspect", "pacing", "tone")

# Words that only carry a direction, or hold one together ("with", "in the style of").
_EN_DIRECTION_WORDS = set(
    """camera cameras shot shots lens lenses frame frames framing framed footage film filmed filming style styled
    look looks looking feel feeling palette lighting light lights colour color colours colors grade graded grading
    aesthetic tone tones mood atmosphere throughout entire whole every all scene scenes sequence sequences episode
    use using used keep keeping kept make made render rendered rendering capture captured captures slow slowly
    slight slightly gentle gently subtle subtly soft softly steady steadily smooth smoothly very quite bit little
    left right up down in out back forward forwards around away toward towards drifting drifts drift moving moves
    move glides gliding creeping creeps sweeping sweeps floating floats lingers lingering holds holding hold stays
    staying angle angles view side sides like reminiscent inspired by of with on at as and or but the a an is are
    be being through to into onto from for its it this that these those throughout high low wide close medium
    degree degrees mm millimetre millimeter format ratio aspect tight everything everywhere takes take cuts cut
    beat beats music sound silence no unhurried brisk grainy blue red green gold golden amber teal orange grey gray
    purple violet pink white black yellow contrast bright dark deep rich heavy muted hint touch mostly mainly
    frame-rate fps look-and-feel per each second seconds than more less under over short long quick fast"""
    .split()
)
_EN_CAMERA_SUBJECT = re.compile(
    r"^(?:(?:and|then|while|as)\s+)?(?:the\s+|our\s+|a\s+)?(?:handheld\s+|steadicam\s+|drone\s+)?"
    r"(?:camera|lens|shot|frame|we)\b",
    re.IGNORECASE,
)
# "as he runs", "while the fox hides": what the camera watches is narration.
_EN_WATCHED = re.compile(r"\b(?:as|while|when|until|and)\s+(?=\w)", re.IGNORECASE)
_EN_INLINE_CAMERA = re.compile(
    r",?\s*\b(?:as|while)\s+the\s+camera\b[^,.;]*|,\s*(?:the\s+)?camera\s+\w+ing\b[^,.;]*", re.IGNORECASE
)
_EN_FRAMING_OF = re.compile(
    r"^(?:an?\s+|the\s+)?(?:(?:extreme\s+)?(?:close[- ]?up|wide|medium|long|full|establishing|tracking|aerial|overhead|"
    r"low[- ]angle|high[- ]angle|bird'?s[- ]eye|over[- ]the[- ]shoulder|two|static|handheld)\s*(?:shot|view)?)\s+"
    r"(?:of|on)\s+",
    re.IGNORECASE,
)
_EN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+")

_ZH_DIRECTION_CHARS = set("节奏舒缓紧凑多用长为主式手绘明亮柔和冷峻灰蓝紫青红绿黄金白黑浓郁淡比例每个不超过秒度帧抽略带慢快门灯彩调感性强烈弱高低对十六九四三二一五的地得着了以为用采呈现整体偏带有是在中感营造效果拍摄使画面镜头风格色调光线质感基调机位缓慢慢轻轻稍略一个种全片所有场景始终保持")
_ZH_DIRECTION_WORDS = ("镜头", "画面", "风格", "色调", "光线", "机位", "整体", "全片", "拍摄", "采用", "使用", "呈现", "营造",
                       "整部片子", "整部影片", "整部电影", "整个片子", "片子", "影片", "全剧", "本片", "毫米")
_ZH_CAMERA_SUBJECT = re.compile(r"^(?:镜头|摄影机|机位|画面)")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ZH_CLAUSE = re.compile(r"([^，,；;：:]+)([，,；;：:]*)")
_EN_CLAUSE = re.compile(r"([^,;:]+)([,;:]*)")


@dataclass(frozen=True)
class Direction:
    """One direction as the user wrote it, and what it sets."""

    text: str
    camera: str | None = None
    shot_size: str | None = None
    angle: str | None = None
    mood: str | None = None
    looks: tuple[tuple[str, str], ...] = ()  # (facet, words) of the look it states
    time_of_day: str | None = None  # a scene heading: "Night.", "EXT. DOCKS - DAWN"
    weather: str | None = None
    place: str | None = None  # a screenplay slugline's: "interior of the lighthouse", "outdoors at the docks"

    @property
    def is_heading(self) -> bool:
        return bool(self.time_of_day or self.weather or self.place) and not (
            self.camera or self.shot_size or self.angle or self.looks
        )


@dataclass
class Reading:
    """A sentence split into narration (spoken, subtitled, drawn) and directions."""

    narration: str
    directions: list[Direction] = field(default_factory=list)

    @property
    def only_directions(self) -> bool:
        return not self.narration.strip()


def camera_in(text: str, tables: KeywordTables) -> str | None:
    """The camera move `text` names; a bare "pan" turns left when the text says left (左)."""
    camera = tables.find(text, "camera")
    if camera != "pan":
        return camera
    return "pan_left" if ("left" in text.lower() or "左" in text) else "pan_right"


def _direction(text: str, tables: KeywordTables) -> Direction:
    camera = camera_in(text, tables)
    looks = tuple((facet, words) for words, facet in tables.find_all(text, "look"))
    shot_size, angle = tables.find(text, "shot_size"), tables.find(text, "angle")
    if not (looks or camera or shot_size or angle) and (_ZH_LOOK_NOUNS.search(text) or _EN_LOOK_NOUNS.search(text)):
        looks = (("tone", text.strip(" ,;:，；：。.!?")),)  # 画面留白, "felt and paper textures": the look, in their words
    return Direction(
        text=text.strip(" ,;:，；：。.!?"),
        camera=camera,
        shot_size=shot_size,
        angle=angle,
        mood=tables.find(text, "mood") if tables.find(text, "look") == "tone" else None,
        looks=looks,
        time_of_day=tables.find(text, "time_of_day"),
        weather=tables.find(text, "weather"),
    )


def _covered(text: str, tables: KeywordTables) -> str:
    """`text` with every direction keyword blanked out."""
    lowered = text.lower()
    if tables.language == "zh":
        # Every occurrence, overlapping ones too: in 缓慢推进 both 慢推 and 推进 are camera words,
        # and a left-to-right scan would take 慢推 and leave 进 as if it were content.
        covered = list(lowered)
        for table in ("look", "camera", "shot_size", "angle"):
            for word in tables.lookup[table]:
                start = lowered.find(word)
                while start >= 0:
                    covered[start : start + len(word)] = " " * len(word)
                    start = lowered.find(word, start + 1)
        return "".join(covered)
    for table in ("look", "camera", "shot_size", "angle"):
        lowered = tables.patterns[table].sub(" ", lowered)
    return lowered


def _en_rest(clause: str, tables: KeywordTables) -> list[str]:
    """The content words of a clause once direction words and filler are out."""
    return [w for w in _EN_WORD.findall(_covered(clause, tables)) if w not in _EN_DIRECTION_WORDS and not w.isdigit()]


def _names_direction(text: str, tables: KeywordTables) -> bool:
    return any(tables.find(text, t) for t in ("look", "camera", "shot_size", "angle"))


def _is_en_direction(clause: str, tables: KeywordTables) -> bool:
    return _names_direction(clause, tables) and not _en_rest(clause, tables)


def _zh_rest(clause: str, tables: KeywordTables) -> list[str]:
    covered = _covered(clause, tables)
    for word in _ZH_DIRECTION_WORDS:
        covered = covered.replace(word, " ")
    return [ch for ch in _CJK.findall(covered) if ch not in _ZH_DIRECTION_CHARS]


_EN_HEADING = re.compile(
    r"^(?:(?:int|ext|interior|exterior|int\./ext)\.?\s*[-–—.]?\s*)?(?:[a-z]+\s+)?(?:night|day|dawn|dusk|morning|evening|"
    r"afternoon|later|continuous|midnight|sunset|sunrise|noon)\s*[.!]?$"
    # "Heavy rain." / "Thick fog.": the weather of the scene, said alone.
    r"|^(?:heavy|light|pouring|driving|thick|dense|strong|torrential|steady|freezing|howling)?\s*"
    r"(?:rain|snow|fog|mist|storm|thunderstorm|wind|drizzle|sleet|hail|snowfall|downpour)\s*[.!]?$",
    re.IGNORECASE,
)
_ZH_HEADING = re.compile(
    r"^(?:日|夜|夜晚|深夜|黎明|清晨|黄昏|傍晚|白天|午夜|内景|外景)[。．.，、\s]*(?:日|夜|夜晚|外|内)?[。．.]?$"
    r"|^(?:大|小|暴|细|中|阵|浓|薄)?(?:雨|雪|雾|风|雷雨)(?:交加|倾盆|纷飞|弥漫|滂沱)?[。．.！!]?$"  # 大雨。浓雾。
)


def _whole_sentence_directs(sentence: str, language: str, tables: KeywordTables) -> bool:
    """Every clause is free of content and one names a direction ("Gentle, unhurried pacing."),
    or the sentence is a scene heading ("Night.", "EXT. DOCKS - NIGHT", 夜。)."""
    text = sentence.strip()
    if (_ZH_HEADING if language == "zh" else _EN_HEADING).match(text):
        return True
    clauses = [c for c in re.split(r"[,;:，；：、。.!?！？]", text) if c.strip()]
    if not clauses:
        return False
    rest = _zh_rest if language == "zh" else _en_rest
    if _names_direction(text, tables) and all(not rest(c, tables) for c in clauses):
        return True
    # "Bright primary colours, playful pacing." / "Stop-motion look, felt and paper textures.":
    # no verb, and every clause is about a look noun (colours, textures, pacing, 质感, 色调).
    nouns = _ZH_LOOK_NOUNS if language == "zh" else _EN_LOOK_NOUNS
    return all(nouns.search(c) or _names_direction(c, tables) for c in clauses) and not _has_verb(text, language)


_EN_LOOK_NOUNS = re.compile(
    r"\b(?:colou?rs?|palette|textures?|look|style|pacing|pace|tones?|lighting|grade|grading|grain|framing|aesthetic|"
    r"feel|atmosphere|mood|lens(?:es)?|shots?|cuts?|editing|score|soundtrack|music)\b",
    re.IGNORECASE,
)
_ZH_LOOK_NOUNS = re.compile(r"风格|色调|色彩|质感|节奏|画面|光线|镜头|基调|氛围|影调|画风|调色|配乐|音乐|剪辑|构图|景别")


def _zh_look_clause(clause: str, tables: KeywordTables) -> bool:
    """画面留白 / 镜头语言克制 / 色调淡雅: a look noun and a few words of how (at most four
    characters of anything else)."""
    m = _ZH_LOOK_NOUNS.search(clause)
    if not m:
        return False
    rest = [ch for ch in _CJK.findall(clause[: m.start()] + clause[m.end() :]) if ch not in _ZH_DIRECTION_CHARS]
    return len(rest) <= 4 and m.start() <= 2


def _has_verb(text: str, language: str) -> bool:
    if language == "zh":
        from prompts.segment import zh_tagged

        return any(tag.startswith("v") for _, tag in zh_tagged(text))
    from prompts.parse_en import finite_verbs

    return bool(finite_verbs(text))


def _is_zh_direction(clause: str, tables: KeywordTables) -> bool:
    return _names_direction(clause, tables) and not _zh_rest(clause, tables)


def _watched_name(head: str, tables: KeywordTables) -> str:
    """What the camera watches in "the camera tracks Mara": the words left once the
    camera, its move and filler are taken out ("" for a pronoun or nothing)."""
    words = _EN_WORD.findall(_covered(head, tables))
    rest = [w for w in words if w.lower() not in _EN_DIRECTION_WORDS and w.lower() not in {"him", "her", "them", "it", "us"}]
    return " ".join(rest)


def _read_en(sentence: str, tables: KeywordTables) -> Reading:
    directions: list[Direction] = []
    # ", the camera tracking her" / "as the camera pushes in" inside a narrative clause.
    def inline(m: re.Match[str]) -> str:
        directions.append(_direction(m.group(), tables))
        return ""

    text = _EN_INLINE_CAMERA.sub(inline, sentence.strip())
    end = re.search(r"[.!?…]+[\"')\]”’]*$", text)
    ending = end.group() if end else ""
    body = text[: end.start()] if end else text
    kept: list[str] = []
    for m in _EN_CLAUSE.finditer(body):
        clause, sep = m.group(1), m.group(2)
        if not clause.strip():
            continue
        framing = _EN_FRAMING_OF.match(clause.strip())
        if framing:
            # "A close-up of her trembling hands": the framing directs, the rest is seen.
            directions.append(_direction(framing.group(), tables))
            clause = clause.strip()[framing.end() :]
        elif _EN_CAMERA_SUBJECT.match(clause.strip()):
            watched = _EN_WATCHED.search(clause)
            head = clause[: watched.start()] if watched else clause
            directions.append(_direction(head, tables))
            if not watched:
                continue
            clause = clause[watched.end() :]
            # "The camera tracks Mara as she sprints": Mara is who "she" is.
            who = _watched_name(head, tables)
            pronoun = re.match(r"(he|she|it|they)\b", clause.strip(), re.IGNORECASE)
            if who and pronoun:
                clause = who + clause.strip()[pronoun.end() :]
        elif _is_en_direction(clause, tables):
            directions.append(_direction(clause, tables))
            continue
        kept.append(clause.strip() + sep)
    narration = " ".join(kept).strip(" ,;:")
    if narration:
        narration = narration[0].upper() + narration[1:] + (ending or ".")
    return Reading(narration=narration, directions=directions)


def _read_zh(sentence: str, tables: KeywordTables) -> Reading:
    directions: list[Direction] = []
    text = sentence.strip()
    end = re.search(r"[。！？!?…；;]+[”’」』）)\"']*$", text)
    ending = end.group() if end else ""
    body = text[: end.start()] if end else text
    kept: list[str] = []
    for m in _ZH_CLAUSE.finditer(body):
        clause, sep = m.group(1).strip(), m.group(2)
        if not clause:
            continue
        if _is_zh_direction(clause, tables) or _zh_look_clause(clause, tables):
            directions.append(_direction(clause, tables))
            continue
        if _ZH_CAMERA_SUBJECT.match(clause):
            # 镜头跟随侦探穿过人群: the camera part directs, 侦探穿过人群 is seen.
            hit = max((mm for t in ("camera", "shot_size", "angle") for mm in [tables.patterns[t].search(clause)] if mm),
                      key=lambda mm: mm.end(), default=None)
            if hit is not None:
                directions.append(_direction(clause[: hit.end()], tables))
                clause = clause[hit.end() :].lstrip("着地")
                if not clause:
                    continue
        kept.append(clause + sep)
    narration = "".join(kept).rstrip("，,；;：:")
    if narration:
        narration += ending or "。"
    return Reading(narration=narration, directions=directions)


# A screenplay slugline, "EXT. CLIFFTOP - NIGHT" / "INT. LIGHTHOUSE": where the scene is and when.
# Capitals or the abbreviation's dot, so "Interior designers arrive." stays a sentence.
_SLUGLINE = re.compile(
    r"^(?P<io>INT\.?/EXT|EXT\.?/INT|I/E|INTERIOR|EXTERIOR|INT|EXT|Int|Ext)(?:\.|(?<=R)\b)\s*"
    r"(?P<place>[^-–—.!?]+?)\s*(?:[-–—]+\s*(?P<when>[^.!?]+?)\s*)?[.!]?$"
)
# "CUT TO:", "DISSOLVE TO:", "FADE IN:": an edit, never narrated.
_TRANSITION = re.compile(
    r"^(?:(?:SMASH |MATCH |JUMP )?CUT TO|DISSOLVE TO|WIPE TO|FADE (?:IN|OUT|TO BLACK)|INTERCUT)\b\s*[:.]?\s*"
    r"|^(?:(?:smash |match |jump )?cut to|dissolve to|fade in)\s*:\s*",
    re.IGNORECASE,
)


def _slugline(sentence: str, tables: KeywordTables) -> Direction | None:
    m = _SLUGLINE.match(sentence.strip())
    if m is None or (m.group("io") in ("Int", "Ext") and not sentence.strip()[3:4] == "."):
        return None
    place = m.group("place").strip(" ,;:").lower()
    inside = m.group("io").upper().startswith(("INT", "I/E"))
    when = m.group("when") or ""
    return Direction(
        text=sentence.strip(" ,;:。.!?"),
        time_of_day=tables.find(when, "time_of_day") or tables.find(place, "time_of_day"),
        weather=tables.find(when, "weather"),
        place=f"interior of the {place}" if inside else f"outdoors at the {place}",
    )


def read_sentence(sentence: str, language: str, tables: KeywordTables) -> Reading:
    """Split one sentence into its narration and its directions (see the module doc)."""
    heading = _slugline(sentence, tables) if language == "en" else None
    if heading is not None:
        return Reading(narration="", directions=[heading])
    edit = _TRANSITION.match(sentence.strip()) if language == "en" else None
    if edit is not None:
        cut = Direction(text=edit.group().strip(" :."), looks=(("pacing", edit.group().strip(" :.")),))
        rest = read_sentence(sentence.strip()[edit.end():], language, tables) if sentence.strip()[edit.end():].strip() else Reading("")
        return Reading(narration=rest.narration, directions=[cut, *rest.directions])
    if _whole_sentence_directs(sentence, language, tables):
        # One direction a clause, so the look's words become the style and the camera's do not.
        clauses = [c for c in re.split(r"[,;:，；：]", sentence) if c.strip(" .。!！?？")]
        return Reading(narration="", directions=[_direction(c, tables) for c in clauses])
    return _read_zh(sentence, tables) if language == "zh" else _read_en(sentence, tables)


# "整部片子用电影感的写实风格" directs; the style is "电影感的写实风格".
_ZH_STYLE_FILLER = re.compile(r"^(?:整部片子|整部影片|整部电影|全片|整体|画面|本片|片子)?(?:都|统一)?(?:用|采用|使用|呈现|以|为)?")


def merge_style(directions: list[Direction], preset_style: str, tables: KeywordTables) -> str:
    """The shot's style: the user's look directions first, the preset filling what they leave open.

    A preset part whose facet (medium, film, lens, light, colour, aspect, pacing, tone) the
    user stated is dropped; when the user states a medium, every preset part without a facet
    of its own goes too (those describe the preset's medium: "figures outlined by stars").
    A film stock or a lens states the medium (photographed). tables: the English library
    (preset styles are written in English).
    """
    user_parts = [_ZH_STYLE_FILLER.sub("", d.text) or d.text for d in directions if d.looks]
    stated = {facet for d in directions for facet, _ in d.looks}
    if stated & {"film", "lens"}:
        stated.add("medium")  # a film stock or a lens means photographed, not illustrated
    lowered = preset_style.lower()
    if any(words.lower() in lowered for d in directions for facet, words in d.looks if facet == "medium"):
        stated.discard("medium")  # "水墨画风格" with the ink-wash preset: the user agrees; keep its detail
    if not stated:
        return preset_style
    kept = []
    for part in (p.strip() for p in preset_style.split(",")):
        if not part:
            continue
        facets = {facet for _, facet in tables.find_all(part, "look")}
        if facets & stated or (not facets and "medium" in stated):
            continue
        kept.append(part)
    return ", ".join(dict.fromkeys([*user_parts, *kept]))
