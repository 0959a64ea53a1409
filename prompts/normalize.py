"""Fold a prompt into a canonical form for term matching, keeping a map back to the original.

`normalize` undoes the usual ways people dodge a word filter while remembering, for every
character it outputs, which character of the original text it came from, so a match can
report the span the user actually wrote. `fold` computes the same text without the map, at
C speed (str.translate and regular expressions): the screen folds every prompt and builds
the map only for the few that hold a candidate match. Steps, in order:

1. Per character, through one translation table (`fold_table`): NFKC (full-width ->
   half-width, superscripts, circled letters), casefold, drop invisible characters
   (zero-width, bidi controls, other format and control characters, lone surrogates,
   Hangul fillers) and combining marks (U+20DD in 屠⃝杀), strip accents from
   Latin/Greek/Cyrillic letters, map look-alike Cyrillic/Greek letters to Latin and
   look-alike kana to the Chinese characters they imitate (暴カ -> 暴力), traditional ->
   simplified Chinese (per character, from OpenCC's table), and fold number variants to
   ASCII digits (① ⑴ ⒈ ⓿ ➃ ❶ ㈠ ㊀ 一 壹 二 貳 肆 -> 1 1 1 0 4 1 1 1 1 1 2 2 4).
2. Leetspeak: a run of 0 1 3 4 5 7 @ $ with a Latin letter on both sides becomes letters
   (b1ood -> blood, s3x -> sex, h@te -> hate). "1" is ambiguous (l or i): `one_as` picks;
   the screen runs both readings. A lone @ or $ between two lone letters stays: n@u@d@e is
   spaced-out letters, which the screen joins, not the word "naudae".
3. Runs of one character repeated 3+ times collapse: to one for CJK and symbols (血血血腥 ->
   血腥), to two for Latin letters because English spells with doubled letters
   (bloooood -> blood, not blod); digit runs are kept (1000 stays 1000), and so are dot
   runs (… folds to "...", which the screen reads as a clause break).

Chinese numerals fold to digits so that 六四, 陆肆, ⑥④ and 64 read alike; the folded text
is only ever matched against terms folded the same way, never shown as prose.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Look-alike letters after casefold. Screening text only: Russian or Greek prose turns into
# nonsense here, which is harmless because the result is only ever matched against terms.
_LOOKALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "і": "i", "ї": "i", "ј": "j",
        "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y",
        "х": "x", "ѕ": "s", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ү": "y",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w",
        # Latin oddities NFKC keeps
        "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ʀ": "r", "ɪ": "i", "ᴏ": "o",
        # Kana and radicals that pass for Chinese characters (暴カ for 暴力, 口 written ロ)
        "カ": "力", "ロ": "口", "エ": "工", "ニ": "二", "ト": "卜", "タ": "夕", "ハ": "八",
        "ー": "一", "〇": "零", "メ": "乂", "ヒ": "匕", "ム": "厶", "サ": "艹",
    }
)

_UPPER_LOOKALIKES = str.maketrans(
    {
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
        "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
        "Т": "T", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J",
    }
)

# Chinese numerals, plain and financial (traditional forms fold to these first).
_CHINESE_DIGITS = {
    **dict.fromkeys("零〇", "0"), "一": "1", "壹": "1", "二": "2", "贰": "2", "两": "2",
    "三": "3", "叁": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6",
    "七": "7", "柒": "7", "八": "8", "捌": "8", "九": "9", "玖": "9",
}

# Invisible characters that are not category Cf (which is dropped wholesale).
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")
_DROPPED_CATEGORIES = frozenset(("Mn", "Me", "Mc", "Cf", "Cc", "Cs", "Co", "Cn"))

# Planes beyond the BMP worth folding: math alphanumerics (𝐛𝐥𝐨𝐨𝐝), enclosed alphanumerics
# (🅑), CJK compatibility ideographs, tags and musical format characters (invisible).
_EXTRA_RANGES = ((0x1D173, 0x1D17B), (0x1D400, 0x1D800), (0x1F100, 0x1F200), (0x2F800, 0x2FA20), (0xE0000, 0xE1000))

_LEET = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
# A letter, then the leet run (the letter is put back): cheaper to scan than a look-behind.
_LEET_RUN = re.compile(r"[a-z][013457@$]+(?=[a-z])")
_REPEAT_RUN = re.compile(r"(.)\1\1+", re.DOTALL)
# A letter and a leet character: what any leet run starts with, and a cheaper scan.
_LEET_START = re.compile(r"[a-z][013457@$]")


@dataclass(frozen=True)
class Normalized:
    """Normalized text; origin[i] is the index in the original text of character i."""

    text: str
    origin: list[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original-text span (end exclusive) of the normalized span [start, end)."""
        return self.origin[start], self.origin[end - 1] + 1


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2FA1F or 0xF900 <= o <= 0xFAFF


# Variant characters no OpenCC table folds (鎗 for 槍): added by hand as they turn up.
_EXTRA_VARIANTS = {"鎗": "枪", "衞": "卫", "粧": "妆"}


@lru_cache(maxsize=1)
def _traditional_to_simplified() -> dict[str, str]:
    """Traditional, Hong Kong/Taiwan variant and Japanese forms -> simplified Chinese.

    From OpenCC's tables: TSCharacters (first simplified candidate), then HK/TW variants
    and Japanese shinjitai read back to their standard form (僞 偽, 乱 亂) and simplified.
    """
    import opencc  # opencc-python-reimplemented ships the tables as text

    folder = Path(opencc.__file__).parent / "dictionary"

    def pairs(name: str, reverse: bool = False):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            source, _, targets = line.partition("\t")
            target = targets.split(" ")[0]
            if reverse:
                source, target = target, source
            if len(source) == 1 and len(target) == 1 and source != target:
                yield source, target

    mapping = dict(pairs("TSCharacters.txt"))
    for name, reverse in (("HKVariantsRev.txt", False), ("TWVariantsRev.txt", False), ("JPVariants.txt", True)):
        for variant, standard in pairs(name, reverse):
            simplified = mapping.get(standard, standard)
            if simplified != variant:
                mapping.setdefault(variant, simplified)
    mapping.update(_EXTRA_VARIANTS)
    return mapping


def _fold_char(ch: str) -> str:
    """Fold one character (step 1 of the module docstring); may return "" or several chars."""
    if ch.isascii():
        if ch in "\t\r":
            return " "
        if ch != "\n" and not ch.isprintable():
            return ""
        return ch.lower()
    category = unicodedata.category(ch)
    if category in _DROPPED_CATEGORIES or ch in _INVISIBLE:
        return ""
    folded = unicodedata.normalize("NFKC", ch)
    if category == "No":
        # Enclosed and decorated numbers: ⑴ -> "(1)", ⒈ -> "1.", ㈠ -> "(一)": keep the number.
        core = "".join(c for c in folded if c.isalnum())
        if core and core != ch:
            folded = core
        else:
            digit = unicodedata.digit(ch, None)  # ⓿ ➃ ❶ are untouched by NFKC
            if digit is not None:
                return str(digit)
    # Capitals first: Greek Ν looks like N, while its lowercase ν looks like v.
    folded = folded.translate(_UPPER_LOOKALIKES).casefold()
    if any(0x80 <= ord(c) < 0x530 for c in folded):
        # Accented Latin/Greek/Cyrillic: strip the accents (nüde -> nude).
        stripped = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
        folded = unicodedata.normalize("NFKC", stripped)
    folded = folded.translate(_LOOKALIKES)
    t2s = _traditional_to_simplified()
    folded = "".join(t2s.get(c, c) for c in folded)
    return "".join(_CHINESE_DIGITS.get(c, c) for c in folded)


@lru_cache(maxsize=2)
def _changing(astral: bool) -> re.Pattern:
    """A character class of every character the table changes, ASCII capitals aside (a
    lower() afterwards takes care of those): `fold` only calls back into Python for these.

    astral: include characters beyond the Basic Multilingual Plane. Without them the
    class compiles to a bitmap, about three times faster to scan than the full class (a
    list of ranges), so a text with no astral character (`_ASTRAL`) uses that one."""
    codes = sorted(c for c in fold_table() if not 0x41 <= c <= 0x5A and (astral or c < 0x10000))
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    body = "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)
    return re.compile(f"[{body}]")


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@lru_cache(maxsize=1)
def _folder():
    """(the full class's sub method, the BMP class's sub method, their replacement
    callback), bound once: `fold` runs per prompt."""
    by_char = {chr(code): out for code, out in fold_table().items()}
    return _changing(True).sub, _changing(False).sub, lambda match: by_char[match.group()]


@lru_cache(maxsize=1)
def fold_table() -> dict[int, str]:
    """The per-character step as a str.translate table: every character that changes.

    Built once (~60 ms): the Basic Multilingual Plane and the few astral blocks that hold
    look-alike letters, numbers or invisible characters. Anything else folds to itself.
    """
    table: dict[int, str] = {}
    ranges = ((0, 0xD800), (0xD800, 0xE000), (0xE000, 0x10000), *_EXTRA_RANGES)
    for low, high in ranges:
        for code in range(low, high):
            ch = chr(code)
            folded = _fold_char(ch)
            if folded != ch:
                table[code] = folded
    return table


def _undo_leet(text: str, one_as: str) -> tuple[str, bool]:
    """Replace leet runs bounded by Latin letters; report whether an ambiguous '1' was read."""
    used_one = False

    def letters(match: re.Match) -> str:
        nonlocal used_one
        letter, run = match.group()[0], match.group()[1:]
        if run in ("@", "$") and _single_letters_around(match):
            return match.group()  # n@u@d@e: one-letter tokens with junk between, read as spaced letters
        used_one = used_one or "1" in run
        return letter + "".join(one_as if c == "1" else _LEET[c] for c in run)

    return _LEET_RUN.sub(letters, text), used_one


def _single_letters_around(match: re.Match) -> bool:
    """Whether the letters on both sides of a leet run stand alone (n@u, not h@te)."""
    text, start, end = match.string, match.start(), match.end()
    before = start > 0 and "a" <= text[start - 1] <= "z"
    after = end + 1 < len(text) and "a" <= text[end + 1] <= "z"
    return not before and not after


def _kept_length(ch: str, run: int) -> int:
    """How many of a run of `run` equal characters stay (step 3)."""
    if ch.isdigit() or ch == ".":
        return run
    return 2 if "a" <= ch <= "z" else 1


def _collapse(text: str) -> str:
    return _REPEAT_RUN.sub(lambda m: m.group(1) * _kept_length(m.group(1), len(m.group())), text)


def fold(text: str, *, one_as: str = "l") -> tuple[str, bool]:
    """The normalized text of `normalize` without the origin map, and whether a leet '1' was read."""
    sub_all, sub_bmp, replacement = _folder()
    folded = (sub_all if _ASTRAL.search(text) else sub_bmp)(replacement, text).lower()
    used_one = False
    if _LEET_START.search(folded):  # rare: most prompts skip the leet pass
        folded, used_one = _undo_leet(folded, one_as)
    return (_collapse(folded) if _REPEAT_RUN.search(folded) else folded), used_one


def normalize_with_flags(text: str, *, one_as: str = "l") -> tuple[Normalized, bool]:
    """`normalize`, also saying whether a leet '1' was read (so the other reading is worth a try)."""
    # Only the characters `fold` calls back for can change length; copy the runs between.
    table = fold_table()
    pieces: list[str] = []
    origin: list[int] = []
    last = 0
    for match in _changing(bool(_ASTRAL.search(text))).finditer(text):
        at = match.start()
        pieces.append(text[last:at])
        origin.extend(range(last, at))
        out = table[ord(match.group())]
        pieces.append(out)
        origin.extend([at] * len(out))
        last = at + 1
    pieces.append(text[last:])
    origin.extend(range(last, len(text)))
    folded, used_one = _undo_leet("".join(pieces).lower(), one_as)  # one character for one: origin holds
    if not _REPEAT_RUN.search(folded):
        return Normalized(folded, origin), used_one
    chars: list[str] = []
    kept: list[int] = []
    last = 0
    for match in _REPEAT_RUN.finditer(folded):
        chars.append(folded[last : match.start()])
        kept.extend(origin[last : match.start()])
        keep = _kept_length(match.group(1), len(match.group()))
        chars.append(match.group()[:keep])
        kept.extend(origin[match.start() : match.start() + keep])
        last = match.end()
    chars.append(folded[last:])
    kept.extend(origin[last:])
    return Normalized("".join(chars), kept), used_one


def normalize(text: str, *, one_as: str = "l") -> Normalized:
    """Fold `text` for matching (see the module docstring), keeping the map to the original.

    one_as: how a leet "1" between letters is read: "l" (b1ood -> blood) or "i"
        (k1ll -> kill). The screen tries both readings when the text has such a "1".
    """
    return normalize_with_flags(text, one_as=one_as)[0]
