"""Screen text against a blocklist: obfuscation-aware term matching with spans.

The text is normalized first (`prompts.normalize`). Every prompt goes through a *gate*
built from C-speed pieces (str.translate, regular expressions, an Aho-Corasick automaton,
set intersection) that answers "could anything match?"; only a text that passes the gate
gets the exact, span-keeping search below. The gate is looser than the search (it joins
across every separator), never stricter: tests/test_screen_properties.py holds it to that.

Matching, per term kind and layer:

Chinese terms (any CJK character in the term; also any other script left after
folding, e.g. kana) are found as substrings of a *compact* text: the normalized text with
short junk runs removed. Content characters are letters, digits and CJK; everything else
(spaces, symbols, emoji, most punctuation) is junk. The rule for joining across junk:
  - a junk run of at most 3 characters (after invisible characters are dropped) between
    two content characters is skipped: 血 腥, 血@腥, 血*_*腥, 血😀腥 all read 血腥;
  - a run that holds clause punctuation (，。！？；：、 and their ascii forms , ! ? ; :),
    a line break, an ellipsis (..) or a sentence-ending dot (". ") is never skipped,
    however short: "流了血，腥味很重" does not hold 血腥. (So "血，腥" is let through:
    the price of not joining clauses.)
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
  - spaced-out letters: a run of 3+ one-letter tokens separated by skippable junk
    (n u d e, n.u.d.e) is read as one word, and a term (or inflection) anywhere in it
    matches (layer "separated"). Only one-letter tokens join, so ordinary neighbouring
    words never do ("a menu designed" is not "nude").
A leet "1" between letters is read as both l and i (b1ood, k1ll): both readings are screened.

Optional layers for Chinese terms (`Layers`):
  - pinyin: the term's toneless pinyin (血腥 -> xuexing; each character's first two
    readings) written as one token or as consecutive tokens split anywhere (xue xing,
    XueXing, xuè xīng). The match must start and end on token edges, so pinyin inside an
    English word is not a match. Keeps the term's action.
  - initials: the first letters of the pinyin (血腥 -> xx) as a whole token. An
    abbreviation is a guess: the action is capped at review. Off by default.
  - homophones: the compact text read as sounds (each character's first toneless
    reading), so 血醒 (xue xing) reads as 血腥. A two-character term needs one character
    in common (雪星 is not 血腥). A guess: capped at review.
The optional semantic layer (`prompts.semantic`) adds English paraphrases of listed
concepts, capped at review by that module.

Allow-list entries are found in the text, compact and spaced-letter readings; a match
lying fully inside an allow-list occurrence (in original-text coordinates) is dropped.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Protocol

import ahocorasick_rs
from pydantic import BaseModel, ConfigDict, Field

from prompts.blocklist import Blocklist, Term, list_files
from prompts.normalize import Normalized, fold, is_cjk, normalize_with_flags
from reelgate.records import Action, Verdict
from reelgate.settings import ScreeningSettings

MAX_SKIP = 3
_BOUNDARY = frozenset(",!?;:。、，！？；：｡､\n")
# A dot ends a sentence when doubled (.. from …) or followed by a space; n.u.d.e is junk.
_SENTENCE_DOT = re.compile(r"\.(?:\.|\s)")
_TOKEN = re.compile(r"[a-z0-9]+")
# What the gate deletes to join a disguised Chinese term: every non-content character but
# clause punctuation (as folded), which no match may span.
_GATE_JUNK = re.compile(r"[^\w,!?;:。、\n]+|_+")
# A non-ASCII character or digit, up to three junk characters, another: the only place a
# key's core (`_core`) can be split.
_CJK_JUNK_CJK = re.compile(r"[^\W\x00-\x2f\x3a-\x7f](?:[^\w,!?;:。、\n]|_){1,3}[^\W\x00-\x2f\x3a-\x7f]")
_NOT_LETTER = re.compile(r"[^a-z]+")
_LAYER_ORDER = {"exact": 0, "inflection": 1, "joined": 2, "separated": 3, "pinyin": 4, "homophone": 5, "initials": 6, "semantic": 7}
GUESSING_LAYERS = frozenset(("initials", "homophone", "semantic"))


@dataclass(frozen=True)
class Layers:
    """Which optional layers run. Normalization and the exact/inflection/separated
    matching always run; the semantic layer is an object passed to `screen`."""

    pinyin: bool = True
    initials: bool = False
    homophones: bool = True


class TermMatch(BaseModel):
    """One listed term found in the text; start/end are a span of the ORIGINAL text."""

    term: str
    category: str
    action: Action
    layer: str = Field(
        description="How it was found: exact, inflection, joined, separated, pinyin, initials, homophone or semantic."
    )
    start: int
    end: int = Field(description="End of the span in the original text, exclusive.")
    text: str = Field(description="The original text of the span, as the user wrote it.")
    source: str = Field("", description="Where the term is listed, as file:line.")
    score: float | None = Field(None, description="Similarity score, for the semantic layer.")


class ScreenResult(BaseModel):
    """The matches in a prompt and the strictest action among them (ALLOW when none)."""

    model_config = ConfigDict(frozen=True)

    action: Action = Action.ALLOW
    matches: tuple[TermMatch, ...] = ()

    def verdict(self) -> Verdict:
        """The result as a Verdict, one human-readable reason per match."""
        reasons = [
            f"'{m.term}' ({m.category} → {m.action.value}, {m.layer}) at {m.start}–{m.end}: \"{m.text}\""
            for m in self.matches
        ]
        return Verdict(action=self.action, reasons=reasons)


PASS = ScreenResult()  # frozen, so every clean prompt can share it


class SemanticFinder(Protocol):
    """What `screen` needs of a semantic layer (prompts.semantic.SemanticLayer)."""

    def find(self, text: str) -> list: ...


# ---------------------------------------------------------------- sounds of characters

_TONE_MARKS = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")


@lru_cache(maxsize=1)
def _readings() -> dict[str, tuple[str, ...]]:
    """CJK character -> its toneless pinyin readings, most common first (pypinyin's table)."""
    from pypinyin.pinyin_dict import pinyin_dict

    out = {}
    for code, readings in pinyin_dict.items():
        ch = chr(code)
        if is_cjk(ch):
            toneless = tuple(dict.fromkeys(r.translate(_TONE_MARKS) for r in readings.split(",")))
            out[ch] = toneless
    return out


@lru_cache(maxsize=1)
def homophone_table() -> dict[int, str]:
    """A translate table sending each CJK character to one representative of its sound."""
    first_of: dict[str, str] = {}
    table: dict[int, str] = {}
    for ch, readings in sorted(_readings().items()):
        representative = first_of.setdefault(readings[0], ch)
        if representative != ch:
            table[ord(ch)] = representative
    return table


@lru_cache(maxsize=1)
def _dictionary_words() -> frozenset[str]:
    """47k common Chinese words (pypinyin's phrase table): a homophone that is a real word
    is that word, not a disguise."""
    from pypinyin.phrases_dict import phrases_dict

    return frozenset(phrases_dict)


def _pinyin_keys(key: str, limit: int = 4) -> list[str]:
    """Toneless pinyin spellings of a CJK key (first two readings per character, at most
    `limit` spellings); [] when a character has no reading. ü is written both u and v."""
    readings = _readings()
    options = []
    for ch in key:
        if ch not in readings:
            return []
        options.append(readings[ch][:2])
    spellings = []
    for combo in product(*options):
        spelled = "".join(combo)
        spellings.extend([spelled.replace("v", "u"), spelled] if "v" in spelled else [spelled])
        if len(spellings) >= limit:
            break
    return list(dict.fromkeys(spellings))[:limit]


# ---------------------------------------------------------------- precomputed index


def _word_forms(word: str) -> dict[str, bool]:
    """Forms of one English word -> whether the form is an inflection.

    +s/+es/+ed/+ing/+er/+ers; a final e drops before -ing (rape -> raping, not "raps"); a
    short word doubles its last consonant before a vowel suffix (stab -> stabbing)."""
    forms = {word: False}
    if not word.isalpha() or len(word) < 2:
        return forms
    suffixes = ["s", "ed", "ing", "er", "ers"]
    if word.endswith(("s", "x", "z", "ch", "sh")):
        suffixes.append("es")  # English adds -es only after a hiss; heroin+es would read "heroines"
    if word.endswith("e"):
        suffixes = ["s", "d", "r", "rs"]
        forms.setdefault(word[:-1] + "ing", True)
    elif word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and len(word) <= 5:
        for suffix in ("ed", "ing", "er", "ers"):
            forms.setdefault(word + word[-1] + suffix, True)
    for suffix in suffixes:
        forms.setdefault(word + suffix, True)
    return forms


def _core(key: str) -> str:
    """The longest stretch of non-ASCII characters and digits in a key (av女优 -> 女优; a tie
    goes to one with a non-ASCII character: 3k党 -> 党). The gate looks for the core alone,
    so it only needs to join the text across junk lying between two such characters."""
    stretches = re.findall(r"[^\x00-\x2f\x3a-\x7f]+", key)
    return max(stretches, key=lambda s: (len(s), not s.isascii()))


class _Automaton:
    """Aho-Corasick over keys, each key standing for one or more items."""

    def __init__(self, entries: dict[str, list]) -> None:
        self.keys = list(entries)
        self.items = [entries[k] for k in self.keys]
        self._ac = ahocorasick_rs.AhoCorasick(self.keys) if self.keys else None

    def __bool__(self) -> bool:
        return self._ac is not None

    def any_in(self, text: str) -> bool:
        return self._ac is not None and bool(self._ac.find_matches_as_indexes(text))

    def find(self, text: str):
        """(items, start, end) of every occurrence, overlaps included."""
        if self._ac is None:
            return
        for index, start, end in self._ac.find_matches_as_indexes(text, overlapping=True):
            yield self.items[index], start, end


@dataclass
class _Index:
    """Lookup structures built once per (Blocklist, Layers)."""

    cjk: _Automaton
    cjk_gate: _Automaton  # the keys' cores (`_core`), for the gate
    homophones: _Automaton | None
    pinyin: _Automaton | None
    initials: dict[str, list[Term]]
    # first-word form -> phrases: (term, per-word forms)
    phrases_by_first: dict[str, list[tuple[Term, list[dict[str, bool]]]]]
    # single-token form -> [(term, layer)]
    single: dict[str, list[tuple[Term, str]]]
    gate_tokens: frozenset[str]  # single-word forms, joined phrases, initials
    phrase_firsts: frozenset[str]
    max_single: int
    allow: dict[str, _Automaton]  # per reading kind: text, compact, letters

    @classmethod
    def build(cls, blocklist: Blocklist, layers: Layers) -> "_Index":
        cjk: dict[str, list[Term]] = {}
        single: dict[str, list[tuple[Term, str]]] = {}
        phrases: dict[str, list[tuple[Term, list[dict[str, bool]]]]] = {}
        for term in blocklist.terms:
            if any(c.isalnum() and not c.isascii() for c in term.term):
                # CJK (and any other non-Latin script left after folding): substring match.
                key = "".join(c for c in term.term if c.isalnum())
                cjk.setdefault(key, []).append(term)
                continue
            words = _TOKEN.findall(term.term)
            if not words:
                continue
            if len(words) == 1:
                for form, inflected in _word_forms(words[0]).items():
                    single.setdefault(form, []).append((term, "inflection" if inflected else "exact"))
            else:
                per_word = [_word_forms(w) for w in words]
                for form in per_word[0]:
                    phrases.setdefault(form, []).append((term, per_word))
                single.setdefault("".join(words), []).append((term, "joined"))

        homophones = pinyin = None
        initials: dict[str, list[Term]] = {}
        if layers.homophones or layers.pinyin or layers.initials:
            sounds = homophone_table()
            by_sound: dict[str, list[tuple[str, Term]]] = {}
            by_pinyin: dict[str, list[tuple[str, Term]]] = {}
            for key, terms in cjk.items():
                if not all(c in _readings() for c in key):
                    continue  # mixed keys (1夜情) and rare characters are left to the exact layers
                if len(key) < 2:
                    continue  # one character's sound or spelling is far too common to screen for
                for term in terms:
                    by_sound.setdefault(key.translate(sounds), []).append((key, term))
                    for spelled in _pinyin_keys(key):
                        by_pinyin.setdefault(spelled, []).append((key, term))
                    if layers.initials:
                        initials.setdefault("".join(_readings()[c][0][0] for c in key), []).append(term)
            homophones = _Automaton(by_sound) if layers.homophones else None
            pinyin = _Automaton(by_pinyin) if layers.pinyin else None
        allow: dict[str, dict[str, list]] = {"text": {}, "compact": {}, "letters": {}}
        for entry in blocklist.allow:
            key = "".join(c for c in entry if c.isalnum())
            allow["text"].setdefault(entry, []).append(entry)
            if key:
                has_cjk = any(not c.isascii() for c in key)
                allow["compact" if has_cjk else "letters"].setdefault(key, []).append(entry)
        return cls(
            cjk=_Automaton(cjk),
            cjk_gate=_Automaton({_core(key): [] for key in cjk}),
            homophones=homophones,
            pinyin=pinyin,
            initials=initials,
            phrases_by_first=phrases,
            single=single,
            gate_tokens=frozenset(single) | frozenset(initials),
            phrase_firsts=frozenset(phrases),
            max_single=max((len(k) for k in single), default=0),
            allow={kind: _Automaton(entries) for kind, entries in allow.items()},
        )

    def _phrase_start(self, tokens: list[str]) -> bool:
        """Whether some phrase's first two words stand in a row (junk between not checked)."""
        for i in range(len(tokens) - 1):
            for _, per_word in self.phrases_by_first.get(tokens[i], ()):
                if tokens[i + 1] in per_word[1]:
                    return True
        return False

    def gate(self, folded: str) -> bool:
        """Whether `folded` (normalized text) could hold a match. Never False when the
        exact search would find one; often True when it would not (it joins everything)."""
        tokens = _TOKEN.findall(folded)
        if not self.gate_tokens.isdisjoint(tokens):
            return True
        if not self.phrase_firsts.isdisjoint(tokens) and self._phrase_start(tokens):
            return True
        run = 0  # three one-letter tokens in a row may spell a word (n u d e)
        for token in tokens:
            run = run + 1 if len(token) == 1 and token.isalpha() else 0
            if run == 3:
                return True
        if not folded.isascii():  # Chinese terms need non-ASCII text
            # Junk between two non-ASCII characters (or digits) is what could hide a key's core;
            # without any, the text as it stands is enough.
            joined = _GATE_JUNK.sub("", folded) if _CJK_JUNK_CJK.search(folded) else folded
            if self.cjk_gate.any_in(joined):
                return True
            if self.homophones and self.homophones.any_in(joined.translate(homophone_table())):
                return True
        return bool(self.pinyin) and self.pinyin.any_in(_NOT_LETTER.sub("", folded))


def _index_for(blocklist: Blocklist, layers: Layers) -> _Index:
    """The blocklist's index for these layers, built on first use and kept on the blocklist."""
    index = blocklist.indexes.get(layers)
    if index is None:
        index = blocklist.indexes[layers] = _Index.build(blocklist, layers)
    return index


# ---------------------------------------------------------------- readings of the text


def _skippable(junk: str) -> bool:
    return len(junk) <= MAX_SKIP and not (_BOUNDARY.intersection(junk) or _SENTENCE_DOT.search(junk))


_NOT_CONTENT = re.compile(r"[\W_]+")


def _compact(text: str) -> tuple[str, list[int]]:
    """Content characters with skippable junk removed; a hard break ("\\n") elsewhere.

    Returns the compact text and, per compact character, its index in `text`.
    """
    pieces: list[str] = []
    where: list[int] = []
    last = 0
    for junk in _NOT_CONTENT.finditer(text):
        start, end = junk.span()
        pieces.append(text[last:start])
        where.extend(range(last, start))
        if not (where and end < len(text) and _skippable(junk.group())):
            pieces.append("\n")
            where.append(start)
        last = end
    pieces.append(text[last:])
    where.extend(range(last, len(text)))
    return "".join(pieces), where


@dataclass
class _Hit:
    term: Term
    layer: str
    start: int  # normalized-text span
    end: int


def _cjk_hits(compact: str, where: list[int], index: _Index) -> list[_Hit]:
    hits = []
    for terms, start, end in index.cjk.find(compact):
        first, last = where[start], where[end - 1]
        layer = "exact" if last - first == end - start - 1 else "separated"
        hits.extend(_Hit(term, layer, first, last + 1) for term in terms)
    return hits


def _homophone_hits(compact: str, where: list[int], index: _Index) -> list[_Hit]:
    hits = []
    for entries, start, end in index.homophones.find(compact.translate(homophone_table())):
        written = compact[start:end]
        for key, term in entries:
            same = sum(a == b for a, b in zip(written, key))
            if same == len(key) or (len(key) == 2 and same == 0) or _inside_a_word(compact, start, end):
                continue  # the exact layer has it; nothing in common with a short term; or real words
            hits.append(_Hit(term, "homophone", where[start], where[end - 1] + 1))
    return hits


def _inside_a_word(compact: str, start: int, end: int, longest: int = 5) -> bool:
    """Whether compact[start:end] is, or lies inside, a dictionary word of up to `longest`
    characters: 制度 is not 制毒, and 传家宝 holds no 家暴."""
    words = _dictionary_words()
    for a in range(max(0, end - longest), start + 1):
        for b in range(end, min(len(compact), a + longest) + 1):
            if compact[a:b] in words:
                return True
    return False


def _token_hits(text: str, tokens: list[re.Match], index: _Index) -> list[_Hit]:
    hits = []
    words = [t.group() for t in tokens]
    for i, word in enumerate(words):
        for term, layer in index.single.get(word, ()):
            hits.append(_Hit(term, layer, tokens[i].start(), tokens[i].end()))
        for term in index.initials.get(word, ()):
            hits.append(_Hit(term, "initials", tokens[i].start(), tokens[i].end()))
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


def _token_runs(text: str, tokens: list[re.Match], *, letters_only: bool) -> list[list[re.Match]]:
    """Runs of consecutive letter tokens separated by skippable junk; with letters_only,
    runs of 3+ one-letter tokens (n u d e). A digit ends a run: 一 folds to 1, and Chinese
    text is full of them."""
    runs: list[list[re.Match]] = []
    current: list[re.Match] = []
    for token in tokens:
        fits = token.group().isalpha() and (len(token.group()) == 1 or not letters_only)
        if fits and (not current or _skippable(text[current[-1].end() : token.start()])):
            current.append(token)
            continue
        if len(current) >= (3 if letters_only else 1):
            runs.append(current)
        current = [token] if fits else []
    if len(current) >= (3 if letters_only else 1):
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


def _pinyin_hits(run: list[re.Match], index: _Index) -> list[_Hit]:
    """Pinyin keys in a run of letter tokens, starting and ending on token edges."""
    joined = "".join(t.group() for t in run)
    starts, ends = {}, {}
    offset = 0
    for k, token in enumerate(run):
        starts[offset] = k
        offset += len(token.group())
        ends[offset] = k
    hits = []
    for entries, start, end in index.pinyin.find(joined):
        if start in starts and end in ends:
            first, last = run[starts[start]], run[ends[end]]
            hits.extend(_Hit(term, "pinyin", first.start(), last.end()) for _, term in entries)
    return hits


def _allow_spans(readings: list[tuple[str, list[int], str]], index: "_Index") -> list[tuple[int, int]]:
    """Normalized-text spans of allow-list entries, found in every reading.

    readings: (reading, normalized index per reading char, kind). Only entries with CJK
        are looked up in the compact reading, and only Latin ones in spaced-letter runs:
        "the cats kill" compacts to "catskill", which must not excuse "kill" by the allow
        entry "skill".
    """
    spans = []
    for reading, where, kind in readings:
        for _, start, end in index.allow[kind].find(reading):
            spans.append((where[start], where[end - 1] + 1))
    return spans


def _screen_reading(norm: Normalized, index: _Index) -> list[tuple[_Hit, tuple[int, int]]]:
    text = norm.text
    compact, compact_where = _compact(text)
    tokens = list(_TOKEN.finditer(text))
    hits = _cjk_hits(compact, compact_where, index) + _token_hits(text, tokens, index)
    if index.homophones:
        hits += _homophone_hits(compact, compact_where, index)
    if index.pinyin:
        for run in _token_runs(text, tokens, letters_only=False):
            hits += _pinyin_hits(run, index)
    readings = [(text, list(range(len(text))), "text"), (compact, compact_where, "compact")]
    for run in _token_runs(text, tokens, letters_only=True):
        hits.extend(_spaced_hits(run, index))
        readings.append(("".join(t.group() for t in run), [t.start() for t in run], "letters"))
    if not hits:
        return []
    allowed = [norm.span(s, e) for s, e in _allow_spans(readings, index)]
    out = []
    for hit in hits:
        span = norm.span(hit.start, hit.end)
        if not any(a <= span[0] and span[1] <= b for a, b in allowed):
            out.append((hit, span))
    return out


# ---------------------------------------------------------------- public entry points


def _capped(action: Action, layer: str) -> Action:
    return Action.REVIEW if layer in GUESSING_LAYERS and action.rank > Action.REVIEW.rank else action


def screen(
    text: str,
    blocklist: Blocklist,
    layers: Layers = Layers(),
    semantic: SemanticFinder | None = None,
) -> ScreenResult:
    """Find the blocklist's terms in `text`, however disguised; never raises on content.

    layers: the optional Chinese layers to run (pinyin, initials, homophones).
    semantic: an English paraphrase finder (prompts.semantic.SemanticLayer), or None.
    """
    index = _index_for(blocklist, layers)
    folded, used_one = fold(text, one_as="l")
    candidate = index.gate(folded)
    if not (candidate or used_one) and semantic is None:
        return PASS  # the common case, kept short: every prompt, script and note passes here
    found = []
    if candidate:
        found += _screen_reading(normalize_with_flags(text, one_as="l")[0], index)
    # b1ood reads as blood, k1ll as kill: screen the other reading of "1" too.
    if used_one and index.gate(fold(text, one_as="i")[0]):
        found += _screen_reading(normalize_with_flags(text, one_as="i")[0], index)

    best: dict[tuple[str, str, int, int], TermMatch] = {}
    for hit, (start, end) in found:
        key = (hit.term.term, hit.term.category, start, end)
        old = best.get(key)
        if old is None or _LAYER_ORDER[hit.layer] < _LAYER_ORDER[old.layer]:
            best[key] = TermMatch(
                term=hit.term.term,
                category=hit.term.category,
                action=_capped(hit.term.action, hit.layer),
                layer=hit.layer,
                start=start,
                end=end,
                text=text[start:end],
                source=hit.term.source,
            )
    if semantic is not None:
        for s in semantic.find(text):
            key = (s.concept, s.category, s.start, s.end)
            best.setdefault(key, TermMatch(
                term=s.concept, category=s.category, action=_capped(s.action, "semantic"), layer="semantic",
                start=s.start, end=s.end, text=s.text, source=getattr(s, "source", ""), score=round(s.score, 3),
            ))
    # A term found again inside a longer match of itself (spaced runs) is one finding.
    matches: list[TermMatch] = []
    reach: dict[tuple[str, str], int] = {}
    for m in sorted(best.values(), key=lambda m: (m.start, -m.end, _LAYER_ORDER[m.layer])):
        key = (m.term, m.category)
        if reach.get(key, -1) < m.end:
            matches.append(m)
            reach[key] = m.end
    matches.sort(key=lambda m: (m.start, m.end, m.term))
    return ScreenResult(action=Action.strictest([m.action for m in matches]), matches=tuple(matches))


class Screener:
    """A blocklist that reloads when its files change, with the layers to run.

    paths: extra list files or folders; use_defaults: also the shipped lists.
    check_every_s: how often (at most) to look at the files' modification times; 0 looks
        on every call. A list that fails to load keeps the previous one in force and
        raises ConfigError once per change, so a bad edit never opens the gate.
    """

    def __init__(
        self,
        paths: list[Path] | tuple[Path, ...] = (),
        *,
        use_defaults: bool = True,
        layers: Layers = Layers(),
        semantic: SemanticFinder | None = None,
        check_every_s: float = 1.0,
    ) -> None:
        self.paths = tuple(Path(p) for p in paths)
        self.use_defaults = use_defaults
        self.layers = layers
        self.semantic = semantic
        self.check_every_s = check_every_s
        self._signature = self._files_signature()
        self.blocklist = Blocklist.load(self.paths, use_defaults=use_defaults)
        _index_for(self.blocklist, layers)
        self._checked_at = time.monotonic()

    def _files_signature(self) -> tuple:
        files = list_files(self.paths, self.use_defaults)
        signature = []
        for file in files:
            try:
                stat = file.stat()
                signature.append((str(file), stat.st_mtime_ns, stat.st_size))
            except OSError:
                signature.append((str(file), None, None))
        return tuple(signature)

    def reload_if_changed(self) -> bool:
        """Reload the lists if any file changed, appeared or vanished; True if reloaded."""
        self._checked_at = time.monotonic()
        signature = self._files_signature()
        if signature == self._signature:
            return False
        self._signature = signature  # a failing file raises once, not on every prompt
        blocklist = Blocklist.load(self.paths, use_defaults=self.use_defaults)
        _index_for(blocklist, self.layers)
        self.blocklist = blocklist
        return True

    def screen(self, text: str) -> ScreenResult:
        if time.monotonic() - self._checked_at >= self.check_every_s:
            self.reload_if_changed()
        return screen(text, self.blocklist, self.layers, self.semantic)

    @classmethod
    def from_settings(cls, settings: ScreeningSettings, cache_dir: Path | None = None) -> "Screener":
        """A screener as the settings describe it; cache_dir keeps concept embeddings.

        The semantic layer fails closed: asked for but unavailable, it raises ConfigError
        rather than screening without it."""
        semantic = None
        if settings.semantic:
            from prompts.semantic import SemanticLayer

            semantic = SemanticLayer.load(
                settings.concept_files, threshold=settings.semantic_threshold, cache_dir=cache_dir
            )
        return cls(
            settings.extra_lists,
            use_defaults=settings.use_default_lists,
            layers=Layers(pinyin=settings.pinyin, initials=settings.initials, homophones=settings.homophones),
            semantic=semantic,
            check_every_s=settings.reload_check_s,
        )


def lists_fingerprint(settings: ScreeningSettings) -> str:
    """A hash of every list and concept file the settings screen with (and the settings):
    changes whenever a verdict could."""
    import hashlib

    digest = hashlib.sha256(settings.model_dump_json().encode())
    files = list_files(settings.extra_lists, settings.use_default_lists)
    if settings.semantic:
        from prompts.semantic import DEFAULT_DIR as CONCEPTS_DIR

        files += list_files(settings.concept_files, False) + sorted(CONCEPTS_DIR.glob("*.txt"))
    for file in files:
        digest.update(str(file).encode())
        digest.update(file.read_bytes() if file.is_file() else b"<missing>")
    return digest.hexdigest()[:16]


_SCREENERS: dict[str, Screener] = {}


def screener_for(settings: ScreeningSettings, cache_dir: Path | None = None) -> Screener:
    """One Screener per distinct settings in this process: the lists (and the semantic model)
    load once, and the lists still reload when their files change."""
    key = settings.model_dump_json()
    if key not in _SCREENERS:
        _SCREENERS[key] = Screener.from_settings(settings, cache_dir)
    return _SCREENERS[key]
