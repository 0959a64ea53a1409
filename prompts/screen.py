"""Screen a prompt against a blocklist: obfuscation-aware term matching with spans.

The text is normalized first (`prompts.normalize`). Then, per term kind:

Chinese terms (any CJK character in the term; also any other script left after
folding, e.g. kana) are found as substrings of a *compact*
text: the normalized text with short junk runs removed. Content characters are letters,
digits and CJK; everything else (spaces, symbols, emoji, most punctuation) is junk.
The rule for joining across junk:
  - a junk run of at most 3 characters (after invisible characters are dropped) between
    two content characters is skipped: 血 腥, 血@腥, 血*_*腥, 血😀腥 all read 血腥;
  - a run that holds clause punctuation (，。！？；：、 and their ascii forms , ! ? ; :),
    a line break, an ellipsis (..) or a sentence-ending dot (". ") is never skipped,
    however short: "流了血，腥味很重"
    does not hold 血腥. (So "血，腥" is let through: the price of not joining clauses.)
  - a longer run is never skipped.
  Layer "exact" when nothing was skipped inside the match, else "separated".

English terms match tokens (runs of a-z and 0-9) of the normalized text:
  - a single word matches a whole token or a simple inflection of it: +s, +es, +ed, +ing,
    +er, +ers, with e-dropping (rape -> raping) and a doubled final consonant (stab ->
    stabbing). So "kill", "killing" match and "skill", "therapist" do not. Layer "exact"
    or "inflection".
  - a phrase matches consecutive tokens, each word with its inflections, separated by a
    skippable junk run (the rule above); its words written together match too
    ("elonmusk", layer "joined").
  - spaced-out letters: a run of 3+ one-character tokens separated by skippable junk
    (n u d e, n.u.d.e) is read as one word, and a term (or inflection) anywhere in it
    matches (layer "separated"). Only one-letter tokens join, so ordinary neighbouring
    words never do ("a menu designed" is not "nude").
A leet "1" between letters is read as both l and i (b1ood, k1ll): both readings are screened.

Allow-list entries are found in the same three readings; a match lying fully inside an
allow-list occurrence (in original-text coordinates) is dropped.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from prompts.blocklist import Blocklist, Term
from prompts.normalize import Normalized, normalize_with_flags
from reelgate.records import Action, Verdict

MAX_SKIP = 3
_BOUNDARY = frozenset(",!?;:。、，！？；：｡､\n")
# A dot ends a sentence when doubled (.. from …) or followed by a space; n.u.d.e is junk.
_SENTENCE_DOT = re.compile(r"\.(?:\.|\s)")
_TOKEN = re.compile(r"[a-z0-9]+")
_LAYER_ORDER = {"exact": 0, "inflection": 1, "joined": 2, "separated": 3}


class TermMatch(BaseModel):
    """One listed term found in the text; start/end are a span of the ORIGINAL text."""

    term: str
    category: str
    action: Action
    layer: str = Field(description="exact, inflection, joined or separated: how the term was found.")
    start: int
    end: int = Field(description="End of the span in the original text, exclusive.")
    text: str = Field(description="The original text of the span, as the user wrote it.")


class ScreenResult(BaseModel):
    """The matches in a prompt and the strictest action among them (ALLOW when none)."""

    action: Action = Action.ALLOW
    matches: list[TermMatch] = Field(default_factory=list)
    normalized: str = ""

    def verdict(self) -> Verdict:
        """The result as a Verdict, one human-readable reason per match."""
        reasons = [
            f"'{m.term}' ({m.category} → {m.action.value}) at {m.start}–{m.end}: \"{m.text}\""
            for m in self.matches
        ]
        return Verdict(action=self.action, reasons=reasons)


# ---------------------------------------------------------------- precomputed index


def _word_forms(word: str) -> dict[str, bool]:
    """Forms of one English word -> whether the form is an inflection."""
    forms = {word: False}
    if not word.isalpha() or len(word) < 2:
        return forms
    stems = [word]
    if word.endswith("e"):
        stems.append(word[:-1])  # rape -> raping, raped
    elif word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and len(word) <= 5:
        stems.append(word + word[-1])  # stab -> stabbing
    for stem in stems:
        for suffix in ("s", "es", "ed", "ing", "er", "ers"):
            if suffix == "es" and not stem.endswith(("s", "x", "z", "ch", "sh")):
                continue  # English adds -es only after a hiss; heroin+es would read "heroines"
            forms.setdefault(stem + suffix, True)
    if word.endswith("e"):
        forms.setdefault(word + "s", True)
        forms.setdefault(word + "d", True)
        forms.setdefault(word + "r", True)
        forms.setdefault(word + "rs", True)
    return forms


@dataclass
class _Index:
    """Lookup structures built once per Blocklist."""

    cjk_by_first: dict[str, list[Term]] = field(default_factory=dict)
    # first-word form -> phrases: (term, per-word forms)
    phrases_by_first: dict[str, list[tuple[Term, list[dict[str, bool]]]]] = field(default_factory=dict)
    # single-token form -> [(term, layer)]
    single: dict[str, list[tuple[Term, str]]] = field(default_factory=dict)
    max_single: int = 0

    @classmethod
    def build(cls, blocklist: Blocklist) -> "_Index":
        index = cls()
        for term in blocklist.terms:
            if any(c.isalnum() and not c.isascii() for c in term.term):
                # CJK (and any other non-Latin script left after folding): substring match.
                key = "".join(c for c in term.term if c.isalnum())
                index.cjk_by_first.setdefault(key[0], []).append(Term(key, term.category, term.action, term.source))
                continue
            words = _TOKEN.findall(term.term)
            if not words:
                continue
            if len(words) == 1:
                for form, inflected in _word_forms(words[0]).items():
                    index.single.setdefault(form, []).append((term, "inflection" if inflected else "exact"))
            else:
                per_word = [_word_forms(w) for w in words]
                for form in per_word[0]:
                    index.phrases_by_first.setdefault(form, []).append((term, per_word))
                index.single.setdefault("".join(words), []).append((term, "joined"))
        index.max_single = max((len(k) for k in index.single), default=0)
        return index


_INDEXES: "weakref.WeakKeyDictionary[Blocklist, _Index]" = weakref.WeakKeyDictionary()


def _index_for(blocklist: Blocklist) -> _Index:
    index = _INDEXES.get(blocklist)
    if index is None:
        index = _INDEXES[blocklist] = _Index.build(blocklist)
    return index


# ---------------------------------------------------------------- readings of the text


def _skippable(junk: str) -> bool:
    return len(junk) <= MAX_SKIP and not (_BOUNDARY.intersection(junk) or _SENTENCE_DOT.search(junk))


def _compact(text: str) -> tuple[str, list[int]]:
    """Content characters with skippable junk removed; a hard break ("\\n") elsewhere.

    Returns the compact text and, per compact character, its index in `text`.
    """
    chars: list[str] = []
    where: list[int] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isalnum():
            chars.append(text[i])
            where.append(i)
            i += 1
            continue
        j = i
        while j < n and not text[j].isalnum():
            j += 1
        if not (chars and j < n and _skippable(text[i:j])):
            chars.append("\n")
            where.append(i)
        i = j
    return "".join(chars), where


@dataclass
class _Hit:
    term: Term
    layer: str
    start: int  # normalized-text span
    end: int


def _cjk_hits(compact: str, where: list[int], index: _Index) -> list[_Hit]:
    hits = []
    for i, ch in enumerate(compact):
        for term in index.cjk_by_first.get(ch, ()):
            if compact.startswith(term.term, i):
                first, last = where[i], where[i + len(term.term) - 1]
                layer = "exact" if last - first == len(term.term) - 1 else "separated"
                hits.append(_Hit(term, layer, first, last + 1))
    return hits


def _token_hits(text: str, tokens: list[re.Match], index: _Index) -> list[_Hit]:
    hits = []
    words = [t.group() for t in tokens]
    for i, word in enumerate(words):
        for term, layer in index.single.get(word, ()):
            hits.append(_Hit(term, layer, tokens[i].start(), tokens[i].end()))
        for term, per_word in index.phrases_by_first.get(word, ()):
            n = len(per_word)
            if i + n > len(words):
                continue
            ok = all(words[i + k] in per_word[k] for k in range(1, n)) and all(
                _skippable(text[tokens[i + k].end() : tokens[i + k + 1].start()]) for k in range(n - 1)
            )
            if ok:
                inflected = any(per_word[k][words[i + k]] for k in range(n))
                hits.append(_Hit(term, "inflection" if inflected else "exact", tokens[i].start(), tokens[i + n - 1].end()))
    return hits


def _letter_runs(text: str, tokens: list[re.Match]) -> list[list[re.Match]]:
    """Runs of 3+ one-character tokens separated by skippable junk (n u d e)."""
    runs: list[list[re.Match]] = []
    current: list[re.Match] = []
    for token in tokens:
        if len(token.group()) == 1 and (not current or _skippable(text[current[-1].end() : token.start()])):
            current.append(token)
            continue
        if len(current) >= 3:
            runs.append(current)
        current = [token] if len(token.group()) == 1 else []
    if len(current) >= 3:
        runs.append(current)
    return runs


def _spaced_hits(run: list[re.Match], index: _Index) -> list[_Hit]:
    joined = "".join(t.group() for t in run)
    hits = []
    for i in range(len(joined)):
        for j in range(i + 3, min(len(joined), i + index.max_single) + 1):
            for term, _ in index.single.get(joined[i:j], ()):
                hits.append(_Hit(term, "separated", run[i].start(), run[j - 1].end()))
    return hits


def _allow_spans(readings: list[tuple[str, list[int], str]], allow: list[str]) -> list[tuple[int, int]]:
    """Normalized-text spans of allow-list entries, found in every reading.

    readings: (reading, normalized index per reading char, whether the reading joins
        words). Only entries with CJK are looked up in the compact reading, and only
        Latin ones in spaced-letter runs: "the cats kill" compacts to "catskill", which
        must not excuse "kill" by the allow entry "skill".
    """
    spans = []
    for reading, where, kind in readings:
        for entry in allow:
            has_cjk = any(c.isalnum() and not c.isascii() for c in entry)
            if kind == "compact" and not has_cjk or kind == "letters" and has_cjk:
                continue
            key = entry if kind == "text" else "".join(c for c in entry if c.isalnum())
            start = reading.find(key) if key else -1
            while start >= 0:
                spans.append((where[start], where[start + len(key) - 1] + 1))
                start = reading.find(key, start + 1)
    return spans


def _screen_reading(norm: Normalized, index: _Index, allow: list[str]) -> list[tuple[_Hit, tuple[int, int]]]:
    text = norm.text
    compact, compact_where = _compact(text)
    tokens = list(_TOKEN.finditer(text))
    hits = _cjk_hits(compact, compact_where, index) + _token_hits(text, tokens, index)
    readings = [(text, list(range(len(text))), "text"), (compact, compact_where, "compact")]
    for run in _letter_runs(text, tokens):
        hits.extend(_spaced_hits(run, index))
        readings.append(("".join(t.group() for t in run), [t.start() for t in run], "letters"))
    if not hits:
        return []
    allowed = [norm.span(s, e) for s, e in _allow_spans(readings, allow)] if allow else []
    out = []
    for hit in hits:
        span = norm.span(hit.start, hit.end)
        if not any(a <= span[0] and span[1] <= b for a, b in allowed):
            out.append((hit, span))
    return out


# ---------------------------------------------------------------- public entry point


def screen(text: str, blocklist: Blocklist) -> ScreenResult:
    """Find the blocklist's terms in `text`, however disguised; never raises on content."""
    index = _index_for(blocklist)
    norm, used_one = normalize_with_flags(text, one_as="l")
    found = _screen_reading(norm, index, blocklist.allow)
    if used_one:  # b1ood reads as blood, k1ll as kill: screen the other reading of "1" too
        found += _screen_reading(normalize_with_flags(text, one_as="i")[0], index, blocklist.allow)

    best: dict[tuple[str, str, int, int], TermMatch] = {}
    for hit, (start, end) in found:
        key = (hit.term.term, hit.term.category, start, end)
        old = best.get(key)
        if old is None or _LAYER_ORDER[hit.layer] < _LAYER_ORDER[old.layer]:
            best[key] = TermMatch(
                term=hit.term.term,
                category=hit.term.category,
                action=hit.term.action,
                layer=hit.layer,
                start=start,
                end=end,
                text=text[start:end],
            )
    # A term found again inside a longer match of itself (spaced runs) is one finding.
    matches: list[TermMatch] = []
    reach: dict[tuple[str, str], int] = {}
    for m in sorted(best.values(), key=lambda m: (m.start, -m.end)):
        key = (m.term, m.category)
        if reach.get(key, -1) < m.end:
            matches.append(m)
            reach[key] = m.end
    matches.sort(key=lambda m: (m.start, m.end, m.term))
    return ScreenResult(
        action=Action.strictest([m.action for m in matches]),
        matches=matches,
        normalized=norm.text,
    )
