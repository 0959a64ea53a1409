"""Pronouns and ellipsis: a shot whose subject is he/she/it/they (他/她/它), "Its wings", or
missing takes its subject from the nearest earlier shot whose subject fits.

Fit is by person and number: she/她 wants a woman or an unknown person (a name), he/他 a
man or an unknown person, it/它 a creature or thing, they/他们 anything plural or any.
A possessive binds to its owner: "Its wings glow" after the fox becomes "the fox's wings",
她的眼泪 after 织女 becomes 织女的眼泪.
"""

from __future__ import annotations

import re

_EN_FEMALE = set("""she her hers girl woman women goddess queen princess mother sister daughter maiden witch heroine
    lady wife bride nymph mermaid empress priestess huntress grandmother aunt widow nun""".split())
_EN_MALE = set("""he him his boy man men god king prince father brother son hero hunter knight wizard centaur
    emperor lord monk priest sailor shepherd farmer youth old man grandfather uncle husband warrior soldier""".split())
_EN_PEOPLE = _EN_FEMALE | _EN_MALE | set("""child children people person detective officer villager traveller traveler
    stranger guard thief pilot driver twins brothers sisters friends family astronaut musician rider guide striker
    painter doctor nurse teacher student captain crew couple fisherman sailor soldier thieves policeman""".split())
_EN_PRONOUN = {"he": "male", "him": "male", "his": "male", "she": "female", "her": "female", "it": "thing",
               "its": "thing", "they": "plural", "them": "plural", "their": "plural"}
_EN_FILLERS = {"then", "and", "but", "so", "both", "all", "too", "also", "now", "soon", "later", "together"}
_EN_DETERMINERS = {"a", "an", "the"}

# 它们 are creatures or things, one or many: 小蝌蚪 is plural in Chinese without 们.
_ZH_PRONOUN = {"他": "male", "她": "female", "它": "thing", "他们": "plural", "她们": "plural", "它们": "thing",
               "他俩": "plural", "她俩": "plural", "它俩": "thing"}
_ZH_FEMALE = set("女娘妃姬妻母姐妹婆嫂娥")
_ZH_MALE = set("男郎父兄弟翁夫帝爷叔伯羿")
_ZH_CREATURE = set("狐羊牛龙蟹鸟鹰狮狼鱼兔马虎蛇怪兽鹊鹤龟猴猫狗熊鹿豹蝎蜂蝶雀鸦鸡鸭鹅蛙")
_ZH_LEADING = ("然后", "接着", "于是", "随后", "后来", "最后", "终于", "忽然", "突然", "这时", "又", "也", "便", "就", "还", "再", "才")
_ZH_TRAILING = ("一起", "一同", "都", "也", "又", "便", "就", "还", "再", "才")


_ZH_PERSON_ENDINGS = set("人者家生子手客兵将王神仙妈爸爷奶婆姐妹哥弟叔姨师员长官侠民姓童娃郎夫妇导匠医军帅后主")


def _zh_is_name(word: str) -> bool:
    """jieba tags the word, or a part of it, as a person's name (nr, nrt, nrfg)."""
    from prompts.segment import zh_tagged

    return any(tag in {"nr", "nrt", "nrfg"} for _, tag in zh_tagged(word))


_EN_INANIMATE = set("""rain snow wind storm thunder lightning fog mist haze sun moon stars star sky clouds cloud
    whistle train door window car van boat ship sea ocean river lake water waves wave earth ground world fire smoke
    dust sand light darkness night day dawn dusk silence music bell clock city town street road bridge house
    crowd headlights lights flames mirror""".split())


def _animate(subject: str, language: str) -> bool:
    """Someone he or she can be: a person, or a creature (fables call the fox "he"); never
    the weather or a thing (大雾, 镜子, "the whistle")."""
    kinds = _kinds(subject, language)
    if kinds & {"male", "female"}:
        return True
    if language == "zh":
        return any(ch in _ZH_CREATURE for ch in _zh_core(subject))
    words = [w.lower() for w in re.findall(r"[A-Za-z']+", subject)]
    return bool(words) and words[-1] not in _EN_INANIMATE


def _zh_core(subject: str) -> str:
    core, changed = subject.strip(), True
    while changed:
        changed = False
        for word in _ZH_LEADING:
            if core.startswith(word) and len(core) > len(word):
                core, changed = core[len(word) :], True
        for word in _ZH_TRAILING:
            if core.endswith(word) and len(core) > len(word):
                core, changed = core[: -len(word)], True
    return core


def pronoun_of(subject: str, language: str) -> tuple[str, str] | None:
    """(kind, rest) when the subject is a pronoun ("", "") or opens with a possessive ("wings"); else None.

    kind: male, female, thing or plural. A missing subject is ("any", "").
    """
    if language == "zh":
        core = _zh_core(subject)
        if not core:
            return "any", ""
        for pronoun in sorted(_ZH_PRONOUN, key=len, reverse=True):
            if core == pronoun:
                return _ZH_PRONOUN[pronoun], ""
            if core.startswith(pronoun + "的"):
                return _ZH_PRONOUN[pronoun], core[len(pronoun) + 1 :]
        return None
    words = [w for w in re.findall(r"[A-Za-z']+", subject) if w.lower() not in _EN_FILLERS]
    if not words:
        return "any", ""
    first = words[0].lower()
    if len(words) == 1 and first in _EN_PRONOUN:
        return _EN_PRONOUN[first], ""
    if first in {"its", "his", "her", "their"} and len(words) > 1:
        return _EN_PRONOUN[first], " ".join(words[1:])
    return None


def _kinds(subject: str, language: str) -> set[str]:
    """What a subject can be referred to by."""
    if language == "zh":
        core = _zh_core(subject)
        kinds = set()
        if any(ch in _ZH_CREATURE for ch in core[-2:]):
            kinds.add("thing")
        elif any(ch in _ZH_FEMALE for ch in core):
            kinds.add("female")
        elif any(ch in _ZH_MALE for ch in core):
            kinds.add("male")
        elif core[-1:] in _ZH_PERSON_ENDINGS or _zh_is_name(core):
            kinds |= {"male", "female"}  # 书生, 向导, 赫拉克勒斯: a person
        else:
            kinds.add("thing")  # 大雾, 镜子, 暴风雨: never he or she
        if re.search(r"[们俩]|[和与跟]|[两二三四五六七八九十]+[个只位]", core):
            kinds.add("plural")
        return kinds | {"any"}
    words = [w.lower() for w in re.findall(r"[A-Za-z']+", subject)]
    nouns = [w for w in words if w not in _EN_DETERMINERS]
    head = nouns[-1] if nouns else ""
    kinds = {"any"}
    if "and" in words or (head.endswith("s") and not head.endswith("ss") and head not in _EN_PEOPLE):
        kinds.add("plural")
    if head in _EN_FEMALE:
        kinds.add("female")
    elif head in _EN_MALE:
        kinds.add("male")
    elif head in _EN_PEOPLE:
        kinds |= {"male", "female", "plural"}
    elif _is_name(subject, head):
        kinds |= _name_kinds(head)  # a name: a person (Europa, Orion), unless "Leo the lion"
        if len(nouns) > 1 and nouns[-1] not in _EN_PEOPLE:
            kinds.add("thing")
    else:
        kinds.add("thing")
    return kinds


_FEMALE_NAMES = set("""mara anna maria helen sarah emma lily mei ling europa persephone astraea andromeda helle
    athena hera aphrodite artemis demeter psyche ariadne cassiopeia callisto medusa nuwa chang'e change""".split())
_MALE_NAMES = set("""hermes hades zeus orion castor pollux hercules heracles perseus phrixus chiron ganymede pan
    typhon icarus daedalus leo jason theseus apollo poseidon eros houyi hou yi kuafu leo""".split())


def _name_kinds(name: str) -> set[str]:
    """He or she for a name: known names, then Greek-style endings (-a, -e: she; -es, -us,
    -os, -on, -or: he); any other name could be either."""
    name = name.lower()
    if name in _FEMALE_NAMES:
        return {"female"}
    if name in _MALE_NAMES:
        return {"male"}
    if name.endswith(("es", "us", "os", "on", "or", "as")):
        return {"male"}
    if name.endswith(("a", "e", "ia")):
        return {"female"}
    return {"male", "female"}


def _is_name(subject: str, head: str) -> bool:
    """The head is written with a capital mid-phrase ("the wise centaur Chiron"), or opens the
    subject without an article ("Europa"), and the lexicon does not know it as a noun."""
    originals = re.findall(r"[A-Za-z']+", subject)
    written = next((w for w in reversed(originals) if w.lower() == head), "")
    if not written[:1].isupper():
        return False
    first = originals[0].lower() if originals else ""
    return not _common_noun(head) and (len(originals) == 1 or first not in _EN_DETERMINERS or written != originals[0])


def _common_noun(word: str) -> bool:
    """A word the English lexicon knows as a common noun ("rain"), not a name ("Europa")."""
    from prompts.segment import en_lexicon_tag

    return en_lexicon_tag(word.lower()) in {"NN", "NNS"}


def resolve_subject(subject: str, earlier: list[str], language: str) -> str:
    """`subject` with a pronoun or possessive replaced by its nearest fitting antecedent.

    earlier: the subjects of the shots before, oldest first (already resolved). A subject
    that is no pronoun comes back as it is; one with no fitting antecedent too.
    """
    found = pronoun_of(subject, language)
    if found is None:
        return subject
    kind, rest = found
    for candidate in reversed(earlier):
        if candidate and pronoun_of(candidate, language) is None and kind in _kinds(candidate, language):
            if not rest:
                return candidate
            if language == "zh":
                return f"{candidate}的{rest}"
            bare = re.sub(r"^(?:a|an|the)\s+", "", candidate, flags=re.IGNORECASE)
            owner = candidate if bare == candidate and candidate[:1].isupper() else f"the {bare}"  # Orion's, the fox's
            return f"{owner}'s {rest}"
    # Nothing fits ("they" after one fisherman): the nearest subject beats a bare pronoun,
    # but he/she/他/她 only ever take a person (never "the whistle" or 大雾).
    people = {"male", "female"}
    nearest = next(
        (c for c in reversed(earlier) if c and pronoun_of(c, language) is None
         and (kind not in people or _animate(c, language))),
        "",
    )
    if nearest and not rest:
        return nearest
    return subject


def needs_subject(subject: str, language: str) -> bool:
    """True when a sentence's subject is a pronoun (it/he/she/they, 它/他/她/他们...) or missing."""
    found = pronoun_of(subject, language)
    return found is not None and not found[1]
