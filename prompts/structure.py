"""Turn a story into a shot plan: sentences, keywords, a structured prompt per shot.

Everything here is deterministic heuristics, no model: a later stage may swap in a
language model behind `structure_sentence` without changing `plan_shots`' contract.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from reelgate.errors import InputError
from reelgate.records import ShotPlan, ShotSpec
from reelgate.settings import PlanningSettings

MAX_PROMPT_CHARS = 20_000
ZH_CHARS_PER_S = 4.5
EN_WORDS_PER_S = 2.6
MIN_SHOT_S, MAX_SHOT_S = 2.0, 8.0

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")

# ------------------------------------------------------------------ keyword library
# keyword -> value. English keywords match whole words (lowercased), Chinese ones as
# substrings. When several match, the one appearing first in the sentence wins (longest
# keyword at the same place), so "early morning" beats "morning".

CAMERA: dict[str, dict[str, str]] = {
    "en": {
        "push in": "push", "pushes in": "push", "zoom in": "push", "zooms in": "push", "dolly in": "push",
        "close-up": "push", "close up": "push", "closeup": "push",
        "pull back": "pull", "pulls back": "pull", "pull out": "pull", "zoom out": "pull", "dolly out": "pull",
        "pan left": "pan_left", "pans left": "pan_left", "pan right": "pan_right", "pans right": "pan_right",
        "pan": "pan", "pans": "pan", "panning": "pan",
        "tilt up": "tilt_up", "tilts up": "tilt_up", "low angle": "tilt_up",
        "tilt down": "tilt_down", "tilts down": "tilt_down", "high angle": "tilt_down", "bird's-eye": "tilt_down",
        "static shot": "static", "static camera": "static", "fixed camera": "static", "locked-off": "static",
        "still camera": "static",
    },
    "zh": {
        "推进": "push", "推近": "push", "特写": "push", "镜头拉近": "push", "拉近": "push",
        "拉远": "pull", "后拉": "pull", "镜头拉远": "pull",
        "左摇": "pan_left", "向左平移": "pan_left", "左移": "pan_left",
        "右摇": "pan_right", "向右平移": "pan_right", "右移": "pan_right",
        "平移": "pan", "横摇": "pan", "摇镜": "pan",
        "仰拍": "tilt_up", "仰视": "tilt_up", "上摇": "tilt_up",
        "俯拍": "tilt_down", "俯视": "tilt_down", "下摇": "tilt_down",
        "固定镜头": "static", "固定机位": "static", "静止镜头": "static", "固定": "static",
    },
}

# "day" and "one day" are left out on purpose: "One day, ..." opens stories set at any hour.
TIME_OF_DAY: dict[str, dict[str, str]] = {
    "en": {
        "dawn": "dawn", "sunrise": "dawn", "daybreak": "dawn", "early morning": "dawn", "first light": "dawn",
        "morning": "day", "noon": "day", "midday": "day", "afternoon": "day", "daylight": "day",
        "daytime": "day", "sunny": "day", "sunshine": "day",
        "dusk": "dusk", "sunset": "dusk", "twilight": "dusk", "evening": "dusk", "golden hour": "dusk",
        "night": "night", "midnight": "night", "tonight": "night", "moon": "night", "moonlight": "night",
        "moonlit": "night", "stars": "night", "starry": "night", "starlight": "night", "nighttime": "night",
    },
    "zh": {
        "黎明": "dawn", "清晨": "dawn", "拂晓": "dawn", "日出": "dawn", "破晓": "dawn", "早晨": "dawn",
        "白天": "day", "中午": "day", "正午": "day", "上午": "day", "下午": "day", "阳光": "day", "晴天": "day",
        "黄昏": "dusk", "傍晚": "dusk", "日落": "dusk", "夕阳": "dusk", "晚霞": "dusk",
        # Bare 月 also means "month" (五月), so only moon words count.
        "夜": "night", "星空": "night", "星星": "night", "月亮": "night", "月光": "night", "月色": "night",
        "明月": "night", "午夜": "night",
    },
}

MOOD: dict[str, dict[str, str]] = {
    "en": {
        "calm": "calm", "peaceful": "calm", "quiet": "calm", "gentle": "calm", "serene": "calm", "softly": "calm",
        "happy": "joyful", "joy": "joyful", "joyful": "joyful", "laugh": "joyful", "laughs": "joyful",
        "smile": "joyful", "smiles": "joyful", "cheerful": "joyful", "celebrate": "joyful", "dance": "joyful",
        "dances": "joyful",
        "mysterious": "mysterious", "mystery": "mysterious", "strange": "mysterious", "secret": "mysterious",
        "fog": "mysterious", "mist": "mysterious", "misty": "mysterious", "hidden": "mysterious",
        "danger": "tense", "dangerous": "tense", "afraid": "tense", "scared": "tense", "chase": "tense",
        "chases": "tense", "storm": "tense", "suddenly": "tense", "tense": "tense",
        "sad": "sad", "cry": "sad", "cries": "sad", "tears": "sad", "lonely": "sad", "alone": "sad",
        "epic": "epic", "vast": "epic", "mighty": "epic", "army": "epic", "battle": "epic", "majestic": "epic",
    },
    "zh": {
        "平静": "calm", "安静": "calm", "宁静": "calm", "温柔": "calm", "悠闲": "calm",
        "快乐": "joyful", "开心": "joyful", "高兴": "joyful", "欢笑": "joyful", "笑": "joyful", "庆祝": "joyful",
        "神秘": "mysterious", "奇怪": "mysterious", "秘密": "mysterious", "雾": "mysterious",
        "紧张": "tense", "危险": "tense", "害怕": "tense", "追": "tense", "突然": "tense", "暴风": "tense",
        "伤心": "sad", "哭": "sad", "眼泪": "sad", "孤独": "sad", "难过": "sad",
        "史诗": "epic", "壮丽": "epic", "雄伟": "epic", "宏大": "epic", "千军万马": "epic",
    },
}

# Motion words win over stillness words in the same sentence; neither means "moves".
MOTION: dict[str, dict[str, bool]] = {
    "en": {
        **dict.fromkeys(
            "run runs running ran fly flies flying flew jump jumps jumping jumped dance dances dancing "
            "swim swims swimming walk walks walking walked chase chases chasing fall falls falling "
            "flow flows flowing race races racing gallop gallops rush rushes spin spins".split(),
            True,
        ),
        **dict.fromkeys(
            ["motionless", "stands still", "stood still", "sits still", "sat still", "lies still",
             "perfectly still", "completely still", "still life", "not moving", "frozen in place"],
            False,
        ),
    },
    "zh": {
        **dict.fromkeys("跑 飞 跳 游 追 走 奔 舞 流 冲 滚 落".split(), True),
        **dict.fromkeys(["静止", "一动不动", "纹丝不动", "凝固", "定格"], False),
    },
}

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

DEFAULT_MOVES = ("push", "pan_left", "pan_right")


def _find_keyword(text: str, table: dict[str, object], language: str) -> object | None:
    """Value of the keyword appearing first in `text` (longest at a tie), or None."""
    best: tuple[int, int, object] | None = None
    lowered = text.lower()
    for keyword, value in table.items():
        if language == "en":
            m = re.search(rf"(?<![a-z]){re.escape(keyword)}(?![a-z])", lowered)
            pos = m.start() if m else -1
        else:
            pos = lowered.find(keyword)
        if pos >= 0 and (best is None or (pos, -len(keyword)) < (best[0], best[1])):
            best = (pos, -len(keyword), value)
    return None if best is None else best[2]


def _table(tables: dict[str, dict], language: str) -> dict:
    return tables["zh" if language == "zh" else "en"]


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
    "woke sang drank ate caught told said heard felt left brought began fought slept shone".split()
)
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
    text = _EN_CAMERA_TALK.sub("", sentence.strip()).rstrip(".!?").strip()
    lead = ""
    m = _EN_LEAD.match(text)
    if m and m.end() < len(text):
        # "At dawn, the sailor ..." : the opening phrase sets the scene; parse the rest.
        lead, text = m.group(1), text[m.end() :]
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
    for i, word in enumerate(before):
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


def _structure_zh(sentence: str) -> tuple[str, str, str]:
    """Chinese: (subject, action, environment).

    Leading clauses without a verb (夜晚， 清晨时分，) are skipped for subject/action. In
    the first clause with a verb: environment is 在 up to the next locative character
    (里上中下边...) without the 在; subject is the text before 在 or before the first
    verb-like character; action is the rest of that clause plus the clauses after it.
    Clauses about the camera (镜头推进) are skipped.
    """
    text = sentence.strip().rstrip("。！？；!?;…\"”")
    clauses = [c.strip() for c in _ZH_CLAUSE.split(text) if c.strip() and "镜头" not in c]
    if not clauses:
        return text, "", ""
    main_at = next((k for k, c in enumerate(clauses) if any(ch in _ZH_VERBS or ch == "在" for ch in c)), 0)
    main, later = clauses[main_at], "，".join(clauses[main_at + 1 :])
    subject, action, environment = main, "", ""
    at = main.find("在")
    end = next((k for k in range(at + 1, len(main)) if main[k] in _ZH_LOCATIVE), -1) if at >= 0 else -1
    if at >= 0 and end > at + 1:
        subject, environment, action = main[:at], main[at + 1 : end + 1], main[end + 1 :]
    else:
        verb = next((k for k, ch in enumerate(main) if ch in _ZH_VERBS and k > 0), -1)
        if verb > 0:
            subject, action = main[:verb], main[verb:]
    if later:
        action = f"{action}，{later}" if action else later
    return subject, action, environment


def structure_sentence(
    sentence: str,
    language: str,
    style: str,
    seed: int,
    *,
    default_time: str = "day",
    default_mood: str = "calm",
) -> dict:
    """Structure one sentence into the fields of a ShotSpec (without index/duration/seed).

    seed: picks the default camera move when the sentence names none.
    default_time, default_mood: used when the sentence names no time of day or mood (the
        planner passes the previous sentence's, so a night story stays night).
    Returns subject, action, environment, style, camera, time_of_day, mood, wants_motion
    and prompt ("subject, action, environment, style, lighting, mood, camera move").
    """
    language = "zh" if language == "zh" else "en"
    try:
        subject, action, environment = (_structure_zh if language == "zh" else _structure_en)(sentence)
    except Exception:  # heuristics must never stop a plan; the whole sentence still works as a prompt
        subject, action, environment = sentence.strip(), "", ""
    camera = _find_keyword(sentence, _table(CAMERA, language), language)
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
    time_of_day = _find_keyword(sentence, _table(TIME_OF_DAY, language), language) or default_time
    mood = _find_keyword(sentence, _table(MOOD, language), language) or default_mood
    wants_motion = _find_keyword(sentence, _table(MOTION, language), language)
    if wants_motion is None or (wants_motion is False and _any_motion_word(sentence, language)):
        wants_motion = True
    content = [subject, action, environment]
    if not any(content):
        content = [sentence.strip()]
    parts = [*content, style, LIGHTING[time_of_day], f"{mood} atmosphere", CAMERA_PHRASE[camera]]
    return {
        "subject": subject,
        "action": action,
        "environment": environment,
        "style": style,
        "camera": camera,
        "time_of_day": time_of_day,
        "mood": mood,
        "wants_motion": wants_motion,
        "prompt": ", ".join(p for p in parts if p),
    }


def _any_motion_word(sentence: str, language: str) -> bool:
    moving = {k: v for k, v in _table(MOTION, language).items() if v}
    return _find_keyword(sentence, moving, language) is not None


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


def _group(sentences: list[str], count: int, joiner: str) -> list[str]:
    """Join consecutive sentences into `count` groups of near-equal size."""
    n = len(sentences)
    bounds = [round(k * n / count) for k in range(count + 1)]
    return [joiner.join(sentences[bounds[k] : bounds[k + 1]]) for k in range(count)]


def plan_shots(
    text: str,
    episode_id: str,
    settings: PlanningSettings,
    language: str = "auto",
    seed: int | None = None,
) -> ShotPlan:
    """Plan one shot per sentence (at most settings.max_shots), sharing one style and seed.

    language: "zh", "en" or "auto" (detected).
    seed: the plan's seed; default derived from episode_id. Shot k gets derive_seed(seed, k).
    When there are more sentences than max_shots, consecutive sentences are grouped evenly
    (rather than piling the whole tail into the last shot, whose narration would then run
    far past its picture).
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
    plan_seed = seed if seed is not None else derive_seed(episode_id)
    sentences = split_sentences(text, language)
    if len(sentences) > settings.max_shots:
        sentences = _group(sentences, settings.max_shots, "" if language == "zh" else " ")

    shots: list[ShotSpec] = []
    time_of_day, mood = "day", "calm"
    for index, sentence in enumerate(sentences):
        shot_seed = derive_seed(plan_seed, index)
        fields = structure_sentence(
            sentence, language, settings.style, shot_seed, default_time=time_of_day, default_mood=mood
        )
        time_of_day, mood = fields["time_of_day"], fields["mood"]
        narration = estimate_narration_s(sentence, language)
        duration = min(max(narration, settings.shot_seconds, MIN_SHOT_S), MAX_SHOT_S)
        shots.append(ShotSpec(index=index, text=sentence, duration_s=round(duration, 2), seed=shot_seed, **fields))
    return ShotPlan(episode_id=episode_id, language=language, style=settings.style, seed=plan_seed, shots=shots)
