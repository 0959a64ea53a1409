"""A story cut into sentences and, where a sentence runs long, into clauses.

Chinese splits after 。！？；… and at line breaks, English after . ! ? (not after Mr. Dr.).
Each piece becomes at most one shot; a piece too short for a shot joins a neighbour.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Literal, TypeVar

MAX_SHOT_S = 8.0
ZH_CHARS_PER_S = 4.5
EN_WORDS_PER_S = 2.6

T = TypeVar("T")

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def detect_language(text: str) -> Literal["zh", "en"]:
    """"zh" when CJK characters are at least as many as Latin words, else "en"."""
    cjk = len(_CJK.findall(text))
    words = len(_LATIN_WORD.findall(text))
    return "zh" if cjk and cjk >= words else "en"


_ZH_SPLIT = re.compile(r"[^。！？；!?;…\n]+(?:[。！？；!?;…]+[”’」』）)\"']*)?|\n")
_EN_ABBREV = {"mr", "mrs", "ms", "dr", "st", "prof", "sr", "jr", "vs", "etc", "e.g", "i.e", "mt", "int", "ext", "int./ext", "i/e"}


def is_short(piece: str, language: str) -> bool:
    """Too short for a shot of its own: under 6 CJK characters (Chinese) or 4 words."""
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


def split_pieces(text: str, language: str) -> list[str]:
    """The story's sentences as written, stripped, none empty (no merging of short ones)."""
    pieces = [m.group() for m in _ZH_SPLIT.finditer(text)] if language == "zh" else _split_en(text)
    return [p.strip() for p in pieces if p.strip()]


def merge_short(
    pieces: list[T],
    language: str,
    *,
    short: Callable[[T], bool] | None = None,
    join: Callable[[T, T], T] | None = None,
) -> list[T]:
    """Join pieces too short for a shot to a neighbour.

    A piece with fewer than 6 CJK characters (Chinese) or 4 words (English) joins the
    previous piece, or the next one when it comes first. Never returns empty strings.
    short, join: for pieces that are not plain text (the planner's pieces carry their
    directions): whether one is too short, and how two become one.
    """
    joiner = "" if language == "zh" else " "
    short = short or (lambda p: is_short(p, language))  # type: ignore[arg-type]
    join = join or (lambda a, b: a + joiner + b)  # type: ignore[operator]
    merged: list[T] = []
    pending: T | None = None
    for piece in pieces:
        if pending is not None:
            piece, pending = join(pending, piece), None
        if short(piece):
            if merged:
                merged[-1] = join(merged[-1], piece)
            else:
                pending = piece
            continue
        merged.append(piece)
    if pending is not None:
        merged.append(pending)  # the whole text is one short piece
    return merged


def split_sentences(text: str, language: str) -> list[str]:
    """Split a story into sentences (split_pieces); fragments too short for a shot join a
    neighbour (merge_short)."""
    return merge_short(split_pieces(text, language), language)


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
