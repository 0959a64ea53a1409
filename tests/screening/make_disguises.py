"""Write tests/screening/disguises.tsv: every shipped term in the disguises issue 16 names.

    python tests/screening/make_disguises.py

One line per disguised prompt: family, term (as listed, normalized), category, text. The
families, each written from the shipped lists (prompts/blocklists/*.txt) with a fixed
seed, so the file only changes when the lists or this script do:

  elongated     a letter of an English word written two or three times (kiill, kiiill)
  inflected     -s/-es, -ed, -ing, -er of English words of up to five letters
  joined        letters spaced out (s.e.x), a letter split off (s ex, nud e), a phrase
                written as one word (killmyself, KillMyself, #killmyself)
  lookalike     Cyrillic/Greek letters, full width, leetspeak
  zh_separated  junk between Chinese characters (血 腥, 血@腥, zero-width, emoji)
  zh_traditional  traditional forms (OpenCC s2t, s2tw)
  pinyin        toneless or toned pinyin, split or joined, any case (xue xing, XueXing)
  homophone     one character of a Chinese term swapped for another of the same sound,
                never a dictionary word (a homophone that is a word is that word, by
                prompts/screen.py's rule) and never a grammatical particle

Inflections and elongations that the allow list names (gored, goring) or that are English
words (rapper) are benign by the lists' intent and left out. Each disguise sits in a
plain carrier sentence of its language.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

OUT = Path(__file__).with_name("disguises.tsv")

EN_CARRIERS = ["the scene shows {} at night", "{} in the old castle", "a story about {} and the moon"]
ZH_CARRIERS = ["画面里出现了{}的镜头。", "他说：{}。", "故事讲的是{}，然后天亮了。"]
# Not " . ": a dot and a space end a sentence, which the screen never joins across.
SEPARATORS = [" ", ".", "-", "_", "*", "~", "/"]
ZH_JUNK = [" ", "@", "\u200b", "·", "😀", "*_*", "  ", "\u200d\u200b", "-"]
CYRILLIC = {"a": "а", "c": "с", "e": "е", "i": "і", "o": "о", "p": "р", "x": "х", "y": "у", "s": "ѕ"}
GREEK = {"a": "α", "o": "ο", "k": "κ", "n": "η", "t": "τ", "u": "υ", "i": "ι"}
LEET = {"o": "0", "e": "3", "a": "4", "s": "5", "i": "1", "l": "1", "t": "7"}
PARTICLES = set("的地得了着过吗呢吧啊呀么们之")


def _inflections(word: str) -> list[str]:
    """Plain English -s, -ed, -ing, -er forms (written here, independent of the screen)."""
    vowels = "aeiou"
    cvc = len(word) <= 5 and word[-1] not in vowels + "wxy" and word[-2] in vowels and word[-3:-2] not in ("", *vowels)
    if word.endswith("e"):
        return [word + "s", word + "d", word[:-1] + "ing", word + "r"]
    if word.endswith("y") and word[-2] not in vowels:
        return [word[:-1] + "ies", word[:-1] + "ied", word + "ing", word[:-1] + "ier"]
    plural = word + ("es" if word.endswith(("s", "x", "z", "ch", "sh")) else "s")
    stem = word + word[-1] if cvc else word
    return [plural, stem + "ed", stem + "ing", stem + "er"]


def _elongated(word: str, rng: random.Random) -> list[str]:
    singles = [i for i, ch in enumerate(word) if ch.isalpha() and word[i - 1 : i] != ch and word[i + 1 : i + 2] != ch]
    out = []
    for times in (2, 3):
        if singles:
            i = rng.choice(singles)
            out.append(word[:i] + word[i] * times + word[i + 1 :])
    return out


def _lookalikes(word: str, rng: random.Random) -> list[str]:
    out = []
    for table in (CYRILLIC, GREEK):
        swapped = "".join(table.get(ch, ch) if rng.random() < 0.6 else ch for ch in word)
        if swapped != word:
            out.append(swapped)
    out.append("".join(chr(ord(ch) - 0x21 + 0xFF01) if "!" <= ch <= "~" else ch for ch in word))
    out.append("".join(ch.upper() if rng.random() < 0.5 else ch for ch in word))
    inner = [i for i in range(1, len(word) - 1) if word[i] in LEET and word[i - 1].isalpha() and word[i + 1].isalpha()]
    if inner:
        i = rng.choice(inner)
        out.append(word[:i] + LEET[word[i]] + word[i + 1 :])
    return out


def _joined(words: list[str], rng: random.Random) -> list[str]:
    if len(words) > 1:
        return ["".join(words), "".join(w.capitalize() for w in words), "#" + "".join(words)]
    word = words[0]
    sep = rng.choice(SEPARATORS)
    out = [sep.join(word)]
    split = rng.choice(SEPARATORS[:3])
    out.append(word[0] + split + word[1:])
    out.append(word[:-1] + split + word[-1])
    return out


def main() -> int:
    import opencc
    from pypinyin import Style, pinyin

    from prompts.blocklist import Blocklist
    from prompts.normalize import fold, is_cjk
    from prompts.screen import _dictionary_words, _is_chinese_word, is_english, _readings

    rng = random.Random(16)
    lists = Blocklist.load()
    allowed = set(lists.allow)
    converters = [opencc.OpenCC(c) for c in ("s2t", "s2tw")]
    by_sound: dict[str, list[str]] = {}
    for ch, readings in sorted(_readings().items()):
        by_sound.setdefault(readings[0], []).append(ch)
    common = {c for word in _dictionary_words() for c in word}  # characters people write
    rows: list[tuple[str, str, str, str]] = []

    def add(family: str, term, text: str, carriers: list[str]) -> None:
        rows.append((family, term.term, term.category, rng.choice(carriers).format(text)))

    for term in lists.terms:
        if any(is_cjk(c) for c in term.term):
            key = "".join(c for c in term.term if c.isalnum())
            if len(key) < 2:
                continue
            for junk in rng.sample(ZH_JUNK, 3):
                add("zh_separated", term, junk.join(key), ZH_CARRIERS)
            for cc in converters:
                written = cc.convert(key)
                if written != key:
                    add("zh_traditional", term, written, ZH_CARRIERS)
                    break
            if not all(is_cjk(c) and c in _readings() for c in key):
                continue  # mixed keys (av女优) are left to the exact layers, as the screen does
            syllables = [s[0] for s in pinyin(key, style=Style.NORMAL, errors="ignore")]
            toned = [s[0] for s in pinyin(key, style=Style.TONE, errors="ignore")]
            if len(syllables) == len(key) and all(s.isascii() and s.isalpha() for s in syllables):
                add("pinyin", term, " ".join(syllables), EN_CARRIERS)
                if "".join(syllables) not in allowed:  # wenge, dupin: English words the lists excuse
                    add("pinyin", term, "".join(s.capitalize() for s in syllables), EN_CARRIERS)
                add("pinyin", term, rng.choice(["-", ".", "_"]).join(syllables), EN_CARRIERS)
                add("pinyin", term, " ".join(toned), EN_CARRIERS)
            for _ in range(3):
                at = rng.randrange(len(key))
                sounds_like = [
                    c for c in by_sound.get(_readings()[key[at]][0], [])
                    if c != key[at] and c not in PARTICLES and c in common and fold(c)[0] == c
                ]
                if not sounds_like:
                    continue
                written = key[:at] + rng.choice(sounds_like) + key[at + 1 :]
                if not _is_chinese_word(written):
                    add("homophone", term, written, ZH_CARRIERS)
                    break
            continue
        words = term.term.split()
        if not all(w.isascii() and w.isalpha() for w in words):
            continue
        word = words[0]
        if len(words) == 1 and len(word) >= 3:
            for written in _elongated(word, rng):
                if not is_english(fold(written)[0]):
                    add("elongated", term, written, EN_CARRIERS)
            if len(word) <= 5:
                for written in _inflections(word):
                    if written not in allowed:
                        add("inflected", term, written, EN_CARRIERS)
            for written in _lookalikes(word, rng):
                add("lookalike", term, written, EN_CARRIERS)
        if len(words) > 1 or len(word) >= 3:
            for written in _joined(words, rng):
                add("joined", term, written, EN_CARRIERS)

    with OUT.open("w", encoding="utf-8", newline="\n") as out:
        out.write("# family\tterm\tcategory\ttext  (written by tests/screening/make_disguises.py)\n")
        for row in rows:
            out.write("\t".join(row) + "\n")
    print(f"{OUT}: {len(rows)} disguised prompts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
