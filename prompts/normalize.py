"""Fold a prompt into a canonical form for term matching, keeping a map back to the original.

`normalize` undoes the usual ways people dodge a word filter while remembering, for every
character it outputs, which character of the original text it came from, so a match can
report the span the user actually wrote. Steps, in order:

1. Per character: NFKC (full-width -> half-width, superscripts, circled digits), casefold,
   drop invisible characters (zero-width, bidi controls, other format characters, Hangul
   fillers) and combining marks (U+20DD in 屠⃝杀), strip accents from Latin/Greek/Cyrillic
   letters, map look-alike Cyrillic/Greek letters to Latin, and fold number variants
   (① ⑴ ⒈ ⓿ ➃ ❶ -> ascii digits; ㈠ ㊀ -> 一: Chinese numerals stay Chinese numerals).
2. Traditional -> simplified Chinese with OpenCC t2s (only when the text holds a
   traditional character; whole-string so phrase rules apply, per character if the length
   would change).
3. Leetspeak: a run of 0 1 3 4 5 7 @ $ with a Latin letter on both sides becomes letters
   (b1ood -> blood, s3x -> sex, h@te -> hate). "1" is ambiguous (l or i): `one_as` picks;
   the screen runs both readings.
4. Runs of one character repeated 3+ times collapse: to one for CJK and symbols (血血血腥 ->
   血腥), to two for Latin letters because English spells with doubled letters
   (bloooood -> blood, not blod); digit runs are kept (1000 stays 1000), and so are dot
   runs (… folds to "...", which the screen reads as a clause break).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

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

# Invisible characters that are not category Cf (which is dropped wholesale).
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")

_LEET = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}


@dataclass(frozen=True)
class Normalized:
    """Normalized text; origin[i] is the index in the original text of character i."""

    text: str
    origin: list[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original-text span (end exclusive) of the normalized span [start, end)."""
        return self.origin[start], self.origin[end - 1] + 1


def _is_latin_letter(ch: str) -> bool:
    return "a" <= ch <= "z"


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2FA1F or 0xF900 <= o <= 0xFAFF


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    """Fold one character (step 1 of the module docstring); may return "" or several chars."""
    if ch.isascii():
        if ch in "\t\r":
            return " "
        if ch != "\n" and not ch.isprintable():
            return ""
        return ch.lower()
    category = unicodedata.category(ch)
    if category in ("Mn", "Me", "Mc", "Cf", "Cc", "Cs", "Co") or ch in _INVISIBLE:
        return ""
    folded = unicodedata.normalize("NFKC", ch)
    if category == "No":
        # Enclosed and decorated numbers: ⑴ -> "(1)", ⒈ -> "1.", ㈠ -> "(一)": keep the number.
        core = "".join(c for c in folded if c.isalnum())
        if core and core != ch:
            return core.casefold()
        digit = unicodedata.digit(ch, None)  # ⓿ ➃ ❶ are untouched by NFKC
        if digit is not None:
            return str(digit)
    # Capitals first: Greek Ν looks like N, while its lowercase ν looks like v.
    folded = folded.translate(_UPPER_LOOKALIKES).casefold()
    if any(0x80 <= ord(c) < 0x530 for c in folded):
        # Accented Latin/Greek/Cyrillic: strip the accents (nüde -> nude).
        stripped = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
        folded = unicodedata.normalize("NFKC", stripped)
    return folded.translate(_LOOKALIKES)


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # opencc-python-reimplemented; ~15 ms to build

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def _t2s_char(ch: str) -> str:
    converted = _t2s().convert(ch)
    return converted if len(converted) == 1 else ch


def _to_simplified(chars: list[str]) -> list[str]:
    """Traditional -> simplified, keeping one output char per input char."""
    per_char = [_t2s_char(c) if is_cjk(c) else c for c in chars]
    if per_char == chars:
        return chars  # nothing traditional: skip the slow whole-string conversion
    whole = _t2s().convert("".join(chars))
    # Whole-string conversion applies phrase rules (乾坤 stays 乾坤); use it when it keeps
    # the length, since the origin map is per character.
    return list(whole) if len(whole) == len(chars) else per_char


def _undo_leet(chars: list[str], one_as: str) -> tuple[list[str], bool]:
    """Replace leet runs bounded by Latin letters; report whether an ambiguous '1' was read."""
    out = list(chars)
    used_one = False
    i, n = 0, len(chars)
    while i < n:
        if chars[i] in _LEET or chars[i] == "1":
            j = i
            while j < n and (chars[j] in _LEET or chars[j] == "1"):
                j += 1
            if i > 0 and j < n and _is_latin_letter(chars[i - 1]) and _is_latin_letter(chars[j]):
                for k in range(i, j):
                    if chars[k] == "1":
                        out[k] = one_as
                        used_one = True
                    else:
                        out[k] = _LEET[chars[k]]
            i = j
        else:
            i += 1
    return out, used_one


def _collapse_runs(chars: list[str], origin: list[int]) -> tuple[list[str], list[int]]:
    out_c: list[str] = []
    out_o: list[int] = []
    i, n = 0, len(chars)
    while i < n:
        j = i + 1
        while j < n and chars[j] == chars[i]:
            j += 1
        run = j - i
        if run >= 3 and not chars[i].isdigit() and chars[i] != ".":
            keep = 2 if _is_latin_letter(chars[i]) else 1
        else:
            keep = run
        out_c.extend(chars[i : i + keep])
        out_o.extend(origin[i : i + keep])
        i = j
    return out_c, out_o


def normalize_with_flags(text: str, *, one_as: str = "l") -> tuple[Normalized, bool]:
    """`normalize`, also saying whether a leet '1' was read (so the other reading is worth a try)."""
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        for out in _fold_char(ch):
            chars.append(out)
            origin.append(index)
    chars = _to_simplified(chars)
    chars, used_one = _undo_leet(chars, one_as)
    chars, origin = _collapse_runs(chars, origin)
    return Normalized("".join(chars), origin), used_one


def normalize(text: str, *, one_as: str = "l") -> Normalized:
    """Fold `text` for matching (see the module docstring), keeping the map to the original.

    one_as: how a leet "1" between letters is read: "l" (b1ood -> blood) or "i"
        (k1ll -> kill). The screen tries both readings when the text has such a "1".
    """
    return normalize_with_flags(text, one_as=one_as)[0]
