"""Chinese: subject, action and setting of one narrated sentence, as whole words.

Words and tags come from jieba (prompts/segment.py), with the user dictionary of myth
names and creatures. The sentence is read clause by clause:
1. Clauses before the first clause with a verb set the scene: a clause whose head is a
   time (大雨滂沱的夜晚) is left to time of day and weather; others are the setting.
2. In the main clause, openers (突然, 然后) are skipped; the subject is the words before
   the first preposition of place (在, 从, 于, 沿着...) or verb.
3. The setting is the preposition's phrase through its last locative, following 的
   chains: 在大雾中的石桥上 gives 大雾中的石桥上, never a cut at 中.
4. A clause that opens with a place (芦苇丛中冒出一只螃蟹, 远处传来...) has its subject
   after the verb.
5. The action is the verb to the end of the clause, with the clauses after it.
"""

from __future__ import annotations

import re

from prompts.segment import zh_tagged

_PLACE_PREPOSITIONS = {"在", "从", "于", "沿着", "沿", "朝着", "朝", "向着", "往", "自", "穿过", "越过", "来到"}
_LOCATIVE_CHARS = set("里上中下边旁前后外内间底顶端畔侧心")
_NOUN_TAGS = ("n", "nr", "ns", "nt", "nz", "r", "s", "nrt", "nrfg", "vn", "an", "ng", "j")
_SKIP_TAGS = {"d", "ad", "c", "t", "tg", "x", "y", "e", "o", "dg"}
_OPENERS = {"突然", "忽然", "然后", "接着", "于是", "随后", "后来", "最后", "终于", "这时", "此时", "顿时", "只见", "就在这时"}
_PLACE_CHARS = set("面道顶田站角场岸山林河海湖城村路街桥院屋宫殿洞谷原野园坡滩港口巷台")
_TIME_ENDINGS = ("时", "时分", "时候", "以前", "之前", "以后", "之后", "那天", "这天")
_CLAUSE = re.compile(r"[，,；;：:、]")
_SPOKEN = re.compile(r"[“”\"「」『』]")


def _is_verb(tag: str) -> bool:
    return tag.startswith("v") or tag in {"z"}


def _is_idiom(tag: str) -> bool:
    """Idioms (i) and set phrases (l) act too (慌不择路, 腾空而起), or set the scene (大雪纷飞)."""
    return tag in {"i", "l"}


def _retag(words: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """jieba tags some nouns as verbs (侦探, 猎人): a "verb" right before 在/从 or another
    verb, opening its clause, is the subject."""
    out = list(words)
    for k, (word, tag) in enumerate(out):
        nxt_tag = out[k + 1][1] if k + 1 < len(out) else ""
        if not _is_verb(tag) and tag != "x" and (nxt_tag in {"uz", "ul", "ug"} or (
            tag in {"l", "i"} and word[-1] in "了着过" and len(word) > 2
        )):
            out[k] = (word, "v")  # 教导着, 抢走了: whatever jieba said, a word taking 着/了/过 acts
            continue
        nxt = out[k + 1] if k + 1 < len(out) else ("", "")
        opening = all(t in _SKIP_TAGS or w in _OPENERS for w, t in out[:k])
        if opening and _is_verb(tag) and (nxt[0] in _PLACE_PREPOSITIONS or _is_verb(nxt[1])) and len(word) > 1:
            out[k] = (word, "n")
    return out


def _is_locative(word: str, tag: str) -> bool:
    return tag == "f" or (word[-1] in _LOCATIVE_CHARS and tag in {"f", "d", "s", "n", "ns", "nr"} and len(word) <= 3)


def _place_end(words: list[tuple[str, str]], i: int) -> int:
    """End of the place phrase whose first word is at i (after the preposition)."""
    end, k = -1, i
    while k < len(words) and (not _is_verb(words[k][1]) or k + 1 < len(words) and words[k + 1][0] == "的"):
        if _is_locative(*words[k]):
            end = k + 1
            if not (k + 1 < len(words) and words[k + 1][0] == "的"):
                break
        k += 1
    if end < 0:  # 在银河边织布 without a tagged locative: up to the verb
        end = k
    return end


def _modifies(words: list[tuple[str, str]], k: int) -> bool:
    """The verb at k sits in a 的 phrase before a noun that another verb follows
    (一个撑红伞的女人走过街角): not the main verb. 她抚摸它的头 has no later verb."""
    for j in range(k + 1, min(len(words), k + 4)):
        if _is_verb(words[j][1]):
            return False
        if words[j][0] == "的":
            noun = j + 1 < len(words) and words[j + 1][1].startswith("n")
            return noun and any(_is_verb(t) for _, t in words[j + 2 :])
    return False


def _has_verb(words: list[tuple[str, str]]) -> bool:
    return any(_is_verb(t) for _, t in words)


def _text(words: list[tuple[str, str]]) -> str:
    return "".join(w for w, _ in words).strip("，,；;：:、")


_PRONOUN_WORDS = {"他", "她", "它", "他们", "她们", "它们", "他俩", "她俩", "它俩"}
_PLACE_WORDS = {"尽头", "山头", "街头", "村头", "桥头", "河畔", "岸边", "身边", "脚下", "天边", "远处", "地方"}


def _is_place_word(word: str, tag: str) -> bool:
    return tag in {"s", "ns", "f"} or _is_locative(word, tag) or word in _PLACE_WORDS or (
        tag.startswith("n") and word[-1] in _PLACE_CHARS
    )


def _nominal(words: list[tuple[str, str]]) -> bool:
    """大海与天空相接的地方: a clause that ends in 的 + nouns names a thing or a place."""
    for k in range(len(words) - 1, -1, -1):
        if words[k][0] == "的":
            # 相接的地方 (a verb before 的) names a place; 举行盛大的宴会 is a verb and its object.
            return (0 < k < len(words) - 1 and _is_verb(words[k - 1][1])
                    and all(t.startswith("n") or t in {"a", "f", "s"} for _, t in words[k + 1 :]))
    return False


def _is_main(words: list[tuple[str, str]]) -> bool:
    """Who does what: a verb that is not inside a 的 phrase, or someone before 在 (两个孩子在
    海边放风筝: jieba tags 放风筝 a noun). 在世界尽头 or a 的 phrase only sets the scene."""
    if _is_lead(words) or _nominal(words):
        return False
    content = [w for w, t in words if t not in _SKIP_TAGS and w not in _OPENERS]
    at = next((k for k, w in enumerate(content) if w in _PLACE_PREPOSITIONS), -1)
    return any(_is_verb(t) and not _modifies(words, k) for k, (_, t) in enumerate(words)) or at > 0


def _is_lead(words: list[tuple[str, str]]) -> bool:
    """飞过海峡时 / 从此每到夜晚 / 一天傍晚: when, not who."""
    text = _text(words)
    if text.endswith(_TIME_ENDINGS) or (words and words[0][0] in {"从此", "每当", "每到", "当"}):
        return True
    content = [(w, t) for w, t in words if t != "x"]
    if len(content) >= 2 and content[-1][1] in {"t", "tg"} and content[-2][0] == "的":
        return True  # 阳光明媚的上午, 台风登陆的夜晚: when
    content = [(w, t) for w, t in words if t not in {"x"}]
    return bool(content) and all(t in {"t", "tg", "m", "mq", "r", "q", "f"} for _, t in content) and any(
        t in {"t", "tg"} for _, t in content
    )


def _is_place_clause(words: list[tuple[str, str]]) -> bool:
    """在世界尽头 / 尼罗河畔 / 远处: a clause that only names a place (it opens with a
    preposition of place, or it is a place and its modifiers)."""
    content = [(w, t) for w, t in words if t not in _SKIP_TAGS and w not in _OPENERS]
    if not content:
        return False
    if content[0][0] in _PLACE_PREPOSITIONS:
        return True
    last = content[-1]
    heads = [t for _, t in content if t.startswith(("n", "r", "s", "f"))]
    place = _is_locative(*last) or last[1] in {"s", "ns"} or last[0] in _PLACE_WORDS
    # 赫拉克勒斯在… acts; 尼米亚的山谷里 (a name before 的) is a place.
    names = [k for k, (_, t) in enumerate(content[:-1]) if t in {"nr", "nrt", "r", "p"}]
    owners = all(any(w == "的" for w, _ in content[k + 1 :]) for k in names)
    return place and (len(heads) <= 2 or owners) and owners


def parse_zh(sentence: str) -> tuple[str, str, str]:
    """(subject, action, setting) of one Chinese sentence; "" where it has none."""
    text = _SPOKEN.sub("", sentence.strip()).rstrip("。！？；!?;…")
    clauses = [c for c in (c.strip() for c in _CLAUSE.split(text)) if c]
    tagged = [_retag(zh_tagged(c)) for c in clauses]
    if not tagged:
        return "", "", ""
    main_at = next((k for k, words in enumerate(tagged) if _is_main(words)), -1)
    if main_at < 0:  # only an idiom acts: 它腾空而起
        main_at = next((k for k, w in enumerate(tagged) if not _is_lead(w) and any(_is_idiom(t) for _, t in w)), -1)
        if main_at >= 0:
            tagged[main_at] = [(w, "v" if _is_idiom(t) else t) for w, t in tagged[main_at]]
    if main_at < 0:  # no verb anywhere: the first clause that is neither a time nor a place
        main_at = next(
            (k for k, w in enumerate(tagged) if not _is_lead(w) and not _is_place_clause(w) and not _nominal(w)), 0
        )
    setting: list[str] = []
    lead_subject = ""
    for words in tagged[:main_at]:
        content = [(w, t) for w, t in words if t not in _SKIP_TAGS and w not in _OPENERS]
        while content and content[0][0] in _PLACE_PREPOSITIONS:
            content = content[1:]  # 在世界尽头 -> 世界尽头
        heads = [t for w, t in content if t not in {"uj", "a", "m", "q", "i", "l"}]
        idiom = next((k for k, (_, t) in enumerate(content) if _is_idiom(t)), -1)
        if idiom > 0 and content[idiom - 1][1].startswith(("n", "r")):
            lead_subject = _text(content[:idiom])  # 嫌疑人慌不择路，拐进了…: who acts comes first
            continue
        if idiom >= 0 and not any(_is_place_word(w, t) for w, t in content):
            continue  # 大雪纷飞 / 情急之下: weather and manner, not a place
        if content and heads and not _is_lead(words):
            setting.append(_text(content))

    words = tagged[main_at]
    i = 0
    while i < len(words) and (words[i][1] in _SKIP_TAGS or words[i][0] in _OPENERS):
        i += 1
    first_verb = next((k for k in range(i, len(words)) if _is_verb(words[k][1]) and not _modifies(words, k)), -1)
    if first_verb < 0:  # no verb tagged: after the place phrase, a preposition, or the subject's noun
        at = next((k for k in range(i, len(words)) if words[k][0] in _PLACE_PREPOSITIONS), -1)
        p = next((k for k in range(i, len(words)) if words[k][1] == "p"), -1)
        noun = next((k for k in range(i, len(words)) if words[k][1].startswith(("n", "r"))
                     and not (k + 1 < len(words) and words[k + 1][0] in {"的", "们", "俩"})), -1)
        first_verb = (_place_end(words, at + 1) if at >= 0 else p if p > i else noun + 1 if noun >= 0 else len(words))
    prep = next((k for k in range(i, first_verb) if words[k][0] in _PLACE_PREPOSITIONS), -1)
    other_prep = next((k for k in range(i, first_verb) if words[k][1] == "p" and k != prep), len(words))
    subject_end = min(prep if prep >= 0 else first_verb, other_prep)
    subject_words = words[i:subject_end]
    while subject_words and not subject_words[-1][1].startswith(("n", "r")):  # 他焦急地 -> 他
        subject_words = subject_words[:-1]
    if len(subject_words) > 1 and subject_words[0][0] in _PRONOUN_WORDS and subject_words[1][0] not in {"的", "们", "俩"}:
        subject_words = subject_words[:1]  # 他夸口说: jieba takes 夸口 for a name
    action_words = words[i + len(subject_words) :] if first_verb >= len(words) else words[first_verb:]
    if prep >= 0:
        end = _place_end(words, prep + 1)
        place = _text(words[prep + 1 : end])
        if place:
            setting.insert(0, place)
        rest = words[end:]
        verb = next((k for k, (_, t) in enumerate(rest) if _is_verb(t)), 0)
        action_words = rest[verb:]
    elif subject_words and (_is_locative(*subject_words[-1]) or subject_words[-1][1] == "s"):
        # 芦苇丛中冒出一只巨大的螃蟹 / 远处传来一声狼嚎: a place, then the verb, then who.
        setting.insert(0, _text(subject_words))
        subject_words = []
    elif first_verb < len(words) and subject_end < first_verb and words[subject_end][1] == "p":
        action_words = words[subject_end:]  # 它用钳子死死夹住: the means belongs to the action
    subject = _text([(w, t) for w, t in subject_words if t not in _SKIP_TAGS]) or lead_subject
    if not subject and action_words:
        after = action_words[1:]
        k = 0
        while k < len(after) and after[k][1] in {"uz", "ul", "ug", "f"}:
            k += 1
        end = k
        while end < len(after) and not _is_verb(after[end][1]) and after[end][1] != "x":
            end += 1
        if end > k and any(t.startswith("n") for _, t in after[k:end]):
            subject = _text(after[k:end])
            action_words = [action_words[0], *after[:k], *after[end:]]  # 天上有十个太阳: "有", not "有十个太阳"
    if not setting:
        # 老人躺在病床上 / 孩子们跑到院子里 / 冲进了楼房: a place after the verb.
        for k, (w, t) in enumerate(action_words[:-1]):
            if w in {"在", "到", "进", "向", "往", "于"} or (_is_verb(t) and w[-1] in "在到进上入回" and len(w) > 1):
                j = k + 1
                while j < len(action_words) and action_words[j][1] in {"ul", "uz"}:
                    j += 1
                end = _place_end(action_words, j)
                place = _text(action_words[j:end])
                if place and any(tt.startswith(("n", "s", "f")) for _, tt in action_words[j:end]):
                    setting.append(place)
                    break
    if not setting:
        # 女娲冒着暴雨，从河里挑选五色石: a place in a later clause of the same sentence.
        for later in tagged[main_at + 1 :]:
            at = next((k for k, (w, _) in enumerate(later) if w in {"在", "从", "于", "沿着"}), -1)
            if at >= 0:
                place = _text(later[at + 1 : _place_end(later, at + 1)])
                if place:
                    setting.append(place)
                    break
    if not setting:
        # 老渔翁划过江面 / 她跃上屋顶: a place named as the verb's object is the setting.
        place = next(
            (w for w, t in action_words[1:] if t in {"s", "ns"} or (t.startswith("n") and w[-1] in _PLACE_CHARS)), ""
        )
        if place:
            setting.append(place)
    return subject, _text(action_words), "，".join(setting)
