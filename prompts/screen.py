"""Screen text against a blocklist: obfuscation-aware term matching with spans.

The text is normalized first (`prompts.normalize`). Every prompt goes through a *gate*
built from C-speed pieces (str.translate, regular expressions, one Aho-Corasick pass, set
intersection) that answers "could anything match?"; only a text that passes the gate gets
the exact, span-keeping search below. The gate is looser than the search (it joins across
every separator and checks only what needs no context), never stricter:
tests/test_screen_properties.py holds it to that.

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
  Layer "exact" when nothing was skipped inside the match, else "separated". A term that
  begins or ends with a Latin letter or digit (av女优, 3k党) must begin or end there on a
  word edge: "java 女优" holds no "av女优".
  Straddled words: a match of a blocking term that jieba's segmentation
  (`prompts.segment`, the planner's segmenter) reads as the end of one word and the start
  of the next, as 自杀 in 各自|杀出重围 or 色情 in 景色|情调, is layer "straddled" and
  capped at review. It straddles when a word boundary falls strictly inside the match and
  the match starts or ends strictly inside a word, unless the part of that word inside the
  match is itself a word of two or more characters (校园枪击 in 校园|枪击案 still blocks:
  枪击 is a word). A term that is a word, or a run of whole words, blocks as listed (他想|自杀).
  jieba runs only for such a match with Chinese text next to it, never on the fast path.

English terms match tokens (runs of a-z and 0-9) of the normalized text:
  - a single word matches a whole token or a simple inflection of it: +s, +es, +ed, +ing,
    +er, +ers, with e-dropping (rape -> raping), y -> ies/ied/ier after a consonant
    (orgy -> orgies) and a doubled final consonant (stab -> stabbing). So "kill",
    "killing" match and "skill", "therapist" do not. Layer "exact" or "inflection".
  - elongated letters: a token that is a form with one of its letters written two or
    three times (kiill, kiiill, kkill; normalize keeps at most two) matches, unless the
    token is itself an English word (rapped is not raped, rapper not raper: TextBlob's
    word lists). Layer "elongated".
  - a phrase matches consecutive tokens, each word with its inflections, separated by a
    skippable junk run (the rule above); its words written together match too
    ("elonmusk", layer "joined").
  - joined pieces: letter tokens separated by skippable junk are read together when at
    least one of each two neighbours is a single letter (s e x, s.ex, k-i-ll, nud e); a
    form made of two or more whole pieces matches (layer "separated"). Two neighbours of
    two or more letters are two English words and are never joined ("nu de", "grapes,
    expo", "the class assessment"); neither is a contraction's tail ("it's ex" is it's +
    ex), nor "a" or "i" with no single letter beside it and an English word across a
    space ("shot a deer" holds no "shota", "lol i know" no "loli"; vagin-a and i ncest
    join), and a match must start and end on piece edges ("a skill" holds no "kill").
A leet "1" between letters is read as both l and i (b1ood, k1ll): both readings are screened.

Optional layers for Chinese terms (`Layers`):
  - pinyin: the term's toneless pinyin (血腥 -> xuexing; each character's first two
    readings) written as one token or as consecutive tokens split anywhere (xue xing,
    XueXing, xuè xīng). The match must start and end on token edges, so pinyin inside an
    English word is not a match, and a single token that is an English word ("lake" for
    拉客) is English. Keeps the term's action.
  - initials: the first letters of the pinyin (血腥 -> xx) as a whole token. An
    abbreviation is a guess: the action is capped at review. Off by default.
  - homophones: the compact text read as sounds (each character's first toneless
    reading), so 血醒 (xue xing) reads as 血腥. A two-character term needs one content
    character in common (雪星 is not 血腥; 罩着 is not 找着: 着 is a particle). A written
    form that is a dictionary word (pypinyin's phrases and jieba's dictionary) is that
    word, not a disguise. A guess: capped at review.
The optional semantic layer (`prompts.semantic`) adds English paraphrases of listed
concepts, capped at review by that module.

Allow-list entries are found in the text, compact and joined-piece readings; a match
lying fully inside an allow-list occurrence (in original-text coordinates) is dropped.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, product
from pathlib import Path
from typing import Protocol

import ahocorasick_rs
from pydantic import BaseModel, ConfigDict, Field

from prompts.blocklist import Blocklist, Term, list_files
from prompts.normalize import Normalized, fold, is_cjk, normalize_with_flags
from prompts.semantic import SemanticHit
from reelgate.records import Action, Verdict
from reelgate.settings import ScreeningSettings

MAX_SKIP = 3
_BOUNDARY = frozenset(",!?;:。、，！？；：｡､\n")
# A dot ends a sentence when doubled (.. from …) or followed by a space; n.u.d.e is junk.
_SENTENCE_DOT = re.compile(r"\.(?:\.|\s)")
_TOKEN = re.compile(r"[a-z0-9]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# What the gate deletes to join a disguised Chinese term: every non-content character but
# clause punctuation (as folded), which no match may span. The gate deletes it with a
# translate table (`_gate_tables`) for characters below _TABLE_END and falls back to this
# expression for a text holding any character beyond (rare: planes 3-16).
_GATE_JUNK = re.compile(r"[^\w,!?;:。、\n]+|_+")
_TABLE_END = 0x30000
_BEYOND_TABLE = re.compile("[\U00030000-\U0010ffff]")
# Apostrophes that attach a contraction's tail to its word (it's, don't, he'll).
_APOSTROPHES = frozenset("'’‘ʼ′`´")
_CONTRACTION_TAILS = frozenset(("s", "t", "d", "m", "ll", "re", "ve"))
_LAYER_ORDER = {
    "exact": 0, "inflection": 1, "elongated": 2, "joined": 3, "separated": 4, "straddled": 5,
    "pinyin": 6, "homophone": 7, "initials": 8, "semantic": 9,
}  # fmt: skip
GUESSING_LAYERS = frozenset(("initials", "homophone", "semantic"))
# Capped at review: the guesses, and a Chinese term read across two words.
CAPPED_LAYERS = GUESSING_LAYERS | {"straddled"}
# Grammatical particles: a homophone sharing only one of these with a term shares nothing.
_PARTICLES = frozenset("的地得了着过吗呢吧啊呀么们之")
# How many characters of Chinese context either side of a match jieba reads.
_STRADDLE_CONTEXT = 12


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
        description="How it was found: exact, inflection, elongated, joined, separated, straddled (a Chinese "
        "term across two words, capped at review), pinyin, initials, homophone or semantic."
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

    def find(self, text: str) -> list[SemanticHit]: ...


# ---------------------------------------------------------------- sounds and words

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
    """47k common Chinese words (pypinyin's phrase table): a homophone inside a real word
    is that word, not a disguise."""
    from pypinyin.phrases_dict import phrases_dict

    return frozenset(phrases_dict)


@lru_cache(maxsize=1)
def _jieba_words() -> frozenset[str]:
    """The 349k words of jieba's dictionary (read from the wheel's dict.txt, no tokenizer):
    a homophone written as one of them (升上 for 圣上) is that word."""
    import importlib.util

    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        return frozenset()
    with open(Path(spec.origin).parent / "dict.txt", encoding="utf-8") as lines:
        return frozenset(line.split(" ", 1)[0] for line in lines)


@lru_cache(maxsize=2)
def _gate_tables(sounds: bool) -> list:
    """A str.translate table (a list, the fastest kind) for the gate's Chinese reading:
    junk deleted as _GATE_JUNK does, and with `sounds` each CJK character sent to the
    representative of its sound (`homophone_table`). Unchanged characters map to their code."""
    every = "".join(map(chr, range(_TABLE_END)))
    table: list = list(range(_TABLE_END))
    for ch in _GATE_JUNK.findall(every):
        for c in ch:
            table[ord(c)] = ""
    if sounds:
        for code, representative in homophone_table().items():
            if code < _TABLE_END:
                table[code] = representative
    return table


def _is_chinese_word(written: str) -> bool:
    return written in _dictionary_words() or written in _jieba_words()


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """~52k lowercase English words: TextBlob's Pattern lexicon (its lowercase entries, so
    no names) and its spelling-corrector word list. An elongated or pinyin reading that is
    one of these is English, not a disguise."""
    import importlib.util

    spec = importlib.util.find_spec("textblob")
    if spec is None or spec.origin is None:
        return frozenset()
    folder = Path(spec.origin).parent / "en"
    words: set[str] = set()
    for name in ("en-lexicon.txt", "en-spelling.txt"):
        with open(folder / name, encoding="utf-8") as lines:
            for line in lines:
                word = line.split(" ", 1)[0]
                if word.isalpha() and word.isascii() and word.islower():
                    words.add(word)
    return frozenset(words)


def is_english(word: str, inflected: bool = True) -> bool:
    """Whether `word` is in `_english_words`, or (with `inflected`) an inflection of one by
    `_word_forms` (rapper is rap with its p doubled before -er, which the lists leave out)."""
    words = _english_words()
    if word in words or not inflected:
        return word in words
    for suffix in ("s", "es", "d", "ed", "ing", "r", "er", "rs", "ers", "ies", "ied", "ier", "iers"):
        stem = word[: -len(suffix)]
        if not word.endswith(suffix) or len(stem) < 2:
            continue
        bases = {stem, stem + "e", stem + "y", stem[:-1] if stem[-1] == stem[-2] else stem}
        if any(base in words and word in _word_forms(base) for base in bases):
            return True
    return False


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
    final y after a consonant turns to i before -es/-ed/-er (orgy -> orgies); a short word
    doubles its last consonant before a vowel suffix (stab -> stabbing)."""
    forms = {word: False}
    if not word.isalpha() or len(word) < 2:
        return forms
    suffixes = ["s", "ed", "ing", "er", "ers"]
    if word.endswith(("s", "x", "z", "ch", "sh")):
        suffixes.append("es")  # English adds -es only after a hiss; heroin+es would read "heroines"
    if word.endswith("e"):
        suffixes = ["s", "d", "r", "rs"]
        forms.setdefault(word[:-1] + "ing", True)
    elif word.endswith("y") and word[-2] not in "aeiou":
        for suffix in ("ies", "ied", "ier", "iers"):
            forms.setdefault(word[:-1] + suffix, True)
    elif word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and len(word) <= 5:
        for suffix in ("ed", "ing", "er", "ers"):
            forms.setdefault(word + word[-1] + suffix, True)
    for suffix in suffixes:
        forms.setdefault(word + suffix, True)
    return forms


_TRIPLED = re.compile(r"([a-z])\1\1+")


def _as_folded(form: str) -> str:
    """A form as `fold` would write it: three or more of a letter kept as two (mass +
    shooting joined is "masshooting" in a folded text)."""
    return _TRIPLED.sub(lambda m: m.group(1) * 2, form)


def _elongations(form: str) -> set[str]:
    """`form` with one of its letters written twice (kill -> kkill, kiill). A letter already
    doubled is left: a third copy folds away (killl -> kill), so the form itself matches."""
    out = set()
    for i, ch in enumerate(form):
        if not ("a" <= ch <= "z") or (i and form[i - 1] == ch) or (i + 1 < len(form) and form[i + 1] == ch):
            continue
        out.add(form[:i] + ch + form[i:])
    return out


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

    def matches(self, text: str) -> list[tuple[int, int, int]]:
        """(item index, start, end) of every occurrence, overlaps included."""
        return [] if self._ac is None else self._ac.find_matches_as_indexes(text, overlapping=True)

    def find(self, text: str):
        """(items, start, end) of every occurrence, overlaps included."""
        if self._ac is None:
            return
        for index, start, end in self._ac.find_matches_as_indexes(text, overlapping=True):
            yield self.items[index], start, end


def _homophone_guess(written: str, key: str) -> bool:
    """Whether `written` (sounding like `key`) may be a disguise of it, by the parts of the
    rule that need no context: not the key itself, a content character in common for a
    two-character key, and not a dictionary word in its own right."""
    if written == key:
        return False  # the exact layer has it
    if len(key) == 2 and not (
        (written[0] == key[0] and key[0] not in _PARTICLES) or (written[1] == key[1] and key[1] not in _PARTICLES)
    ):
        return False
    return not _is_chinese_word(written)


@dataclass
class _Index:
    """Lookup structures built once per (Blocklist, Layers)."""

    cjk: _Automaton
    # The gate's one Aho-Corasick pass over non-ASCII text: key cores (`_core`) and
    # homophone keys, both as sounds when the homophone layer runs (an exact core sounds
    # like itself), and pinyin keys. A Chinese key stands for (the cores written that way,
    # the keys a homophone of it may disguise, `_share_needs` of them all); a pinyin key
    # for None.
    gate_ac: _Automaton
    gate_sounds: bool  # whether gate_ac's Chinese keys are sounds (the homophone layer runs)
    homophones: _Automaton | None
    pinyin: _Automaton | None
    initials: dict[str, list[Term]]
    # first-word form -> phrases: (term, per-word forms)
    phrases_by_first: dict[str, list[tuple[Term, list[dict[str, bool]]]]]
    # single-token form -> [(term, layer)]
    single: dict[str, list[tuple[Term, str]]]
    # a form with one letter doubled (`_elongations`) -> the forms it elongates
    elongated: dict[str, list[str]]
    gate_tokens: frozenset[str]  # single-word forms and their elongations, joined phrases, initials
    phrase_firsts: frozenset[str]
    token_starts: frozenset[str]  # gate_tokens and phrase_firsts: a token any token match starts at
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
                    single.setdefault(_as_folded(form), []).append((term, "inflection" if inflected else "exact"))
            else:
                per_word = [{_as_folded(f): i for f, i in _word_forms(w).items()} for w in words]
                for form in per_word[0]:
                    phrases.setdefault(form, []).append((term, per_word))
                single.setdefault(_as_folded("".join(words)), []).append((term, "joined"))
        word_forms = set(single) | set(phrases)
        for _, per_word in (p for entries in phrases.values() for p in entries):
            for forms in per_word[1:]:
                word_forms.update(forms)
        elongated: dict[str, list[str]] = {}
        for form in sorted(word_forms):
            for variant in _elongations(form):
                if variant not in word_forms:
                    elongated.setdefault(variant, []).append(form)

        homophones = pinyin = None
        initials: dict[str, list[Term]] = {}
        by_sound: dict[str, list[tuple[str, Term]]] = {}
        by_pinyin: dict[str, list[tuple[str, Term]]] = {}
        if layers.homophones or layers.pinyin or layers.initials:
            sounds = homophone_table()
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
        gate_entries: dict[str, tuple[set[str], set[str]] | None] = dict.fromkeys(by_pinyin if layers.pinyin else ())
        for key in cjk:
            core = _core(key)
            sound = core.translate(homophone_table()) if layers.homophones else core
            gate_entries.setdefault(sound, (set(), set()))[0].add(core)  # a core with no letter: no clash
        if layers.homophones:
            for sound, entries in by_sound.items():
                gate_entries.setdefault(sound, (set(), set()))[1].update(key for key, _ in entries)
        gate_items = {sound: found and (*found, _share_needs(*found)) for sound, found in gate_entries.items()}
        allow: dict[str, dict[str, list]] = {"text": {}, "compact": {}, "letters": {}}
        for entry in blocklist.allow:
            key = "".join(c for c in entry if c.isalnum())
            allow["text"].setdefault(entry, []).append(entry)
            if key:
                has_cjk = any(not c.isascii() for c in key)
                allow["compact" if has_cjk else "letters"].setdefault(key, []).append(entry)
        gate_tokens = frozenset(single) | frozenset(elongated) | frozenset(initials)
        phrase_firsts = frozenset(phrases) | frozenset(v for v, forms in elongated.items() if set(forms) & phrases.keys())
        return cls(
            cjk=_Automaton(cjk),
            gate_ac=_Automaton(gate_items),
            gate_sounds=layers.homophones,
            homophones=homophones,
            pinyin=pinyin,
            initials=initials,
            phrases_by_first=phrases,
            single=single,
            elongated=elongated,
            gate_tokens=gate_tokens,
            phrase_firsts=phrase_firsts,
            token_starts=gate_tokens | phrase_firsts,
            max_single=max((len(k) for k in single), default=0) + 1,  # +1: an elongated letter
            allow={kind: _Automaton(entries) for kind, entries in allow.items()},
        )

    def word_readings(self, word: str) -> list[tuple[str, bool]]:
        """(form, elongated) readings of one token: itself, and the forms it elongates
        unless it is an English word in its own right."""
        readings = [(word, False)]
        forms = self.elongated.get(word)
        if forms and not is_english(word):
            readings.extend((form, True) for form in forms)
        return readings

    def _phrase_start(self, tokens: list[str]) -> bool:
        """Whether some phrase's first two words stand in a row (junk between not checked)."""
        for first in self.phrase_firsts.intersection(tokens):
            at = -1
            while True:
                try:
                    at = tokens.index(first, at + 1)
                except ValueError:
                    break
                if at + 1 == len(tokens):
                    break
                after = (tokens[at + 1], *self.elongated.get(tokens[at + 1], ()))
                for form in (first, *self.elongated.get(first, ())):
                    for _, per_word in self.phrases_by_first.get(form, ()):
                        if any(f in per_word[1] for f in after):
                            return True
        return False

    def _joined_start(self, tokens: list[str]) -> bool:
        """Whether letter tokens chained by a single-letter neighbour (s e x, k ill) spell a
        form from piece edge to piece edge (junk between not checked)."""
        forms, longest = self.gate_tokens, self.max_single
        lengths = list(map(len, tokens))
        last = len(tokens) - 1
        at = -1
        while True:
            try:
                at = lengths.index(1, at + 1)
            except ValueError:
                return False
            if not tokens[at].isalpha():
                continue
            lo = at  # the chain: no two neighbours both longer than one letter
            while lo > 0 and tokens[lo - 1].isalpha() and (lengths[lo - 1] == 1 or lengths[lo] == 1):
                lo -= 1
            hi = at
            while hi < last and tokens[hi + 1].isalpha() and (lengths[hi + 1] == 1 or lengths[hi] == 1):
                hi += 1
            for i in range(lo, hi):
                spelled = tokens[i]
                for j in range(i + 1, hi + 1):
                    spelled += tokens[j]
                    if len(spelled) > longest:
                        break
                    if spelled in forms:
                        return True
            at = hi

    def _pinyin_start(self, tokens: list[str]) -> bool:
        """Whether a pinyin key spans whole tokens that are not one English word."""
        ends: list[int] = []
        return any(_pinyin_fits(tokens, ends, start, end) for _, start, end in self.pinyin.find("".join(tokens)))

    def _non_ascii_start(self, folded: str, tokens: list[str]) -> bool:
        """Whether a key's core, a homophone passing the context-free checks, or a pinyin
        key on token edges is in the text joined across junk (clause punctuation kept)."""
        if _BEYOND_TABLE.search(folded):
            joined = _GATE_JUNK.sub("", folded)
            sounds = joined.translate(homophone_table()) if self.gate_sounds else joined
        else:
            sounds = folded.translate(_gate_tables(self.gate_sounds))
            joined = None if self.gate_sounds else sounds
        ends: list[int] = []
        items = self.gate_ac.items
        for index, start, end in self.gate_ac.matches(sounds):
            found = items[index]
            if found is None:  # pinyin: its place among the letters alone
                at = len(_NOT_ALNUM.sub("", sounds[:start]))
                if _pinyin_fits(tokens, ends, at, at + end - start):
                    return True
                continue
            cores, keys, needs = found
            # Most sound-alikes share no character with any key: `in` on the folded text
            # (C speed) rules them out before the joined text is worth making.
            if needs is not None and not any(map(folded.__contains__, needs)):
                continue
            if joined is None:
                joined = folded.translate(_gate_tables(False))
            written = joined[start:end]
            if written in cores or any(_homophone_guess(written, key) for key in keys):
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
        if 1 in map(len, tokens) and self._joined_start(tokens):
            return True
        if not folded.isascii():  # Chinese terms need non-ASCII text
            return bool(self.gate_ac) and self._non_ascii_start(folded, tokens)
        return bool(self.pinyin) and self._pinyin_start(tokens)


def _share_needs(cores: set[str], keys: set[str]) -> tuple[str, ...] | None:
    """Characters one of which a text must hold for a sound-alike of these to be one of the
    `cores` (each holds its first character) or a homophone guess of one of the `keys` (a
    two-character key shares a content character with a guess); None when some key needs
    none (a longer homophone key)."""
    needs = {core[0] for core in cores}
    for key in keys:
        if len(key) != 2:
            return None
        needs.update(c for c in key if c not in _PARTICLES)
    return tuple(sorted(needs))


def _pinyin_fits(tokens: list[str], ends: list[int], start: int, end: int) -> bool:
    """Whether letters[start:end] (letters: "".join(tokens)) starts and ends on token edges
    and is not one token that is an English word ("lake" is not 拉客).

    ends: where each token ends in letters; filled on first use."""
    if not ends:
        ends.extend(accumulate(map(len, tokens)))
    first = bisect_right(ends, start)  # the token starting at `start`, if one does
    last = bisect_left(ends, end)  # the token ending at `end`, if one does
    if last == len(ends) or ends[last] != end or (start and ends[first - 1] != start):
        return False
    return not (first == last and is_english(tokens[last], inflected=False))


def index_for(blocklist: Blocklist, layers: Layers) -> _Index:
    """The blocklist's index for these layers, built on first use and kept on the blocklist."""
    index = blocklist.indexes.get(layers)
    if index is None:
        index = blocklist.indexes[layers] = _Index.build(blocklist, layers)
    return index


# ---------------------------------------------------------------- readings of the text


def _skippable(junk: str) -> bool:
    return len(junk) <= MAX_SKIP and _skippable_short(junk)


@lru_cache(maxsize=4096)  # short junk runs repeat (" ", "@", ". "): worth remembering
def _skippable_short(junk: str) -> bool:
    return not (_BOUNDARY.intersection(junk) or _SENTENCE_DOT.search(junk))


_NOT_CONTENT = re.compile(r"[\W_]+")


def _skippable_junk(junk: str) -> bool:
    """Whether the text between two tokens is junk (no content character) that may be skipped."""
    return _NOT_CONTENT.fullmatch(junk) is not None and _skippable(junk)


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


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _on_word_edges(key: str, text: str, first: int, last: int) -> bool:
    """Whether a key beginning (ending) with a Latin letter or digit begins (ends) on a word
    edge of the normalized text: "java 女优" holds no av女优."""
    if _ascii_alnum(key[0]) and first > 0 and _ascii_alnum(text[first - 1]):
        return False
    return not (_ascii_alnum(key[-1]) and last + 1 < len(text) and _ascii_alnum(text[last + 1]))


class _Segmenter:
    """jieba's words around matches in one compact reading, cut once per stretch of text.

    Digits read back as the Chinese numerals they were written as (一夜情 folds to 1夜情),
    so jieba sees the words the writer wrote."""

    def __init__(self, compact: str, where: list[int], norm: Normalized, original: str | None) -> None:
        self.compact, self.where, self.norm, self.original = compact, where, norm, original
        self._cuts: dict[tuple[int, int], tuple[str, set[int]]] = {}  # window -> (its text, word edges)

    def _text(self, lo: int, hi: int) -> str:
        chars = list(self.compact[lo:hi])
        if self.original is not None:
            for i, ch in enumerate(chars):
                if ch.isdigit():
                    written = self.original[self.norm.origin[self.where[lo + i]]]
                    if is_cjk(written):
                        chars[i] = written
        return "".join(chars)

    def straddles(self, start: int, end: int) -> bool:
        """Whether compact[start:end] is the end of one word and the start of the next (the
        rule in the module docstring)."""
        compact = self.compact
        left = start > 0 and is_cjk(compact[start - 1])
        right = end < len(compact) and is_cjk(compact[end])
        if not (left or right):
            return False  # no Chinese text next to it: no word can reach into the match
        lo, hi = start, end
        while lo > 0 and start - lo < _STRADDLE_CONTEXT and compact[lo - 1] != "\n":
            lo -= 1
        while hi < len(compact) and hi - end < _STRADDLE_CONTEXT and compact[hi] != "\n":
            hi += 1
        cut = self._cuts.get((lo, hi))
        if cut is None:
            from prompts.segment import zh_word_bounds

            written = self._text(lo, hi)
            cut = self._cuts[(lo, hi)] = (written, {lo + b for b in zh_word_bounds(written)})
        written, bounds = cut
        edges = sorted(bounds)
        if not any(start < b < end for b in edges):
            return False  # one word, or inside one
        for at in (start, end):
            if at not in bounds:
                word_start = max(b for b in edges if b < at)
                word_end = min(b for b in edges if b > at)
                inside = (max(word_start, start), min(word_end, end))
                if _cut_word(written[word_start - lo : word_end - lo], written[inside[0] - lo : inside[1] - lo]):
                    return True
        return False


def _cut_word(word: str, inside: str) -> bool:
    """Whether a match cutting `word` (`inside` being its part in the match) reads across a
    word boundary: `word` is a dictionary word, not one jieba's HMM made up for unknown
    characters (碎|尸丽), and `inside` is no word of its own (枪击 of 枪击案 is)."""
    return _is_chinese_word(word) and not (len(inside) >= 2 and _is_chinese_word(inside))


def _cjk_hits(compact: str, where: list[int], text: str, index: _Index, segmenter: _Segmenter) -> list[_Hit]:
    hits = []
    for terms, start, end in index.cjk.find(compact):
        first, last = where[start], where[end - 1]
        key = compact[start:end]
        if not _on_word_edges(key, text, first, last):
            continue
        layer = "exact" if last - first == end - start - 1 else "separated"
        if any(t.action is Action.BLOCK for t in terms) and segmenter.straddles(start, end):
            layer = "straddled"
        hits.extend(_Hit(term, layer, first, last + 1) for term in terms)
    return hits


def _homophone_hits(compact: str, where: list[int], index: _Index) -> list[_Hit]:
    hits = []
    for entries, start, end in index.homophones.find(compact.translate(homophone_table())):
        written = compact[start:end]
        for key, term in entries:
            if not _homophone_guess(written, key) or _inside_a_word(compact, start, end):
                continue  # the exact layer has it, nothing in common, or real words
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
    for i in range(len(words)):
        if words[i] not in index.token_starts:
            continue
        for form, elongated in index.word_readings(words[i]):
            for term, layer in index.single.get(form, ()):
                hits.append(_Hit(term, "elongated" if elongated else layer, tokens[i].start(), tokens[i].end()))
            for term in index.initials.get(form, ()) if not elongated else ():
                hits.append(_Hit(term, "initials", tokens[i].start(), tokens[i].end()))
            for term, per_word in index.phrases_by_first.get(form, ()):
                n = len(per_word)
                if i + n > len(words) or not all(
                    _skippable(text[tokens[i + k].end() : tokens[i + k + 1].start()]) for k in range(n - 1)
                ):
                    continue
                chosen = [(form, elongated)]
                for k in range(1, n):
                    fits = [(f, e) for f, e in index.word_readings(words[i + k]) if f in per_word[k]]
                    if not fits:
                        break
                    chosen.append(fits[0])
                else:
                    if any(e for _, e in chosen):
                        layer = "elongated"
                    else:
                        layer = "inflection" if any(per_word[k][f] for k, (f, _) in enumerate(chosen)) else "exact"
                    hits.append(_Hit(term, layer, tokens[i].start(), tokens[i + n - 1].end()))
    return hits


def _token_runs(text: str, tokens: list[re.Match]) -> list[list[re.Match]]:
    """Runs of consecutive letter tokens separated by skippable junk (for pinyin). A digit
    ends a run (一 folds to 1, and Chinese text is full of them), and so does a Chinese
    character: "xue 血 xing" is not xue xing."""
    runs: list[list[re.Match]] = []
    current: list[re.Match] = []
    for token in tokens:
        fits = token.group().isalpha()
        if fits and (not current or _skippable_junk(text[current[-1].end() : token.start()])):
            current.append(token)
            continue
        if current:
            runs.append(current)
        current = [token] if fits else []
    if current:
        runs.append(current)
    return runs


def _links(text: str, before: re.Match, after: re.Match) -> bool:
    """Whether two neighbouring letter tokens join into one disguised word: skippable junk
    between, and a single letter on at least one side (two longer tokens are two words)."""
    if not _skippable_junk(text[before.end() : after.start()]):
        return False
    return len(before.group()) == 1 or len(after.group()) == 1


def _contraction_tail(text: str, before: re.Match, after: re.Match) -> bool:
    """Whether `after` is the tail of a contraction of `before` (it's, don't, we're)."""
    return (
        after.start() - before.end() == 1
        and text[before.end()] in _APOSTROPHES
        and after.group() in _CONTRACTION_TAILS
    )


def _joined_runs(text: str, tokens: list[re.Match]) -> list[list[re.Match]]:
    """Runs of two or more letter tokens that `_links` joins, in order."""
    runs: list[list[re.Match]] = []
    current: list[re.Match] = []
    previous = None
    for token in tokens:
        word = token.group()
        if not word.isalpha():
            if len(current) > 1:
                runs.append(current)
            current, previous = [], None
            continue
        if previous is not None and word in _CONTRACTION_TAILS and _contraction_tail(text, previous, token):
            # it's, don't: the tail belongs to the word before and joins nothing.
            if len(current) > 1:
                runs.append(current)
            current, previous = [], token
            continue
        if current and (len(word) == 1 or len(current[-1].group()) == 1) and _links(text, current[-1], token):
            current.append(token)
        else:
            if len(current) > 1:
                runs.append(current)
            current = [token]
        previous = token
    if len(current) > 1:
        runs.append(current)
    return [piece for run in runs for piece in _without_lone_words(text, run)]


_ONE_LETTER_WORDS = frozenset("ai")


def _without_lone_words(text: str, run: list[re.Match]) -> list[list[re.Match]]:
    """`run` cut between "a" or "i" with no single letter beside it and a neighbouring
    English word across plain space: the article and the pronoun ("he shot a deer" is not
    "shota", "lol i know" not "loli"). Beside another single letter (n a k e d, k i ll), or
    joined by other junk or to a non-word (vagin-a, i ncest), they are letters."""
    cut_after = set()
    for k, token in enumerate(run):
        if token.group() not in _ONE_LETTER_WORDS:
            continue
        if (k > 0 and len(run[k - 1].group()) == 1) or (k + 1 < len(run) and len(run[k + 1].group()) == 1):
            continue
        for other, before in ((k - 1, True), (k + 1, False)):
            if 0 <= other < len(run):
                a, b = (run[other], token) if before else (token, run[other])
                if text[a.end() : b.start()].isspace() and is_english(run[other].group(), inflected=False):
                    cut_after.add(other if before else k)
    out: list[list[re.Match]] = []
    current: list[re.Match] = []
    for k, token in enumerate(run):
        current.append(token)
        if k in cut_after:
            if len(current) > 1:
                out.append(current)
            current = []
    if len(current) > 1:
        out.append(current)
    return out


def _joined_hits(run: list[re.Match], index: _Index) -> list[_Hit]:
    """Forms spelled by two or more whole pieces of a joined run."""
    hits = []
    for i in range(len(run) - 1):
        spelled = run[i].group()
        for j in range(i + 1, len(run)):
            spelled += run[j].group()
            if len(spelled) > index.max_single:
                break
            for form, _ in index.word_readings(spelled):
                for term, _ in index.single.get(form, ()):
                    hits.append(_Hit(term, "separated", run[i].start(), run[j].end()))
    return hits


def _pinyin_hits(run: list[re.Match], index: _Index) -> list[_Hit]:
    """Pinyin keys in a run of letter tokens, starting and ending on token edges; one token
    that is an English word is English."""
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
            if first is last and is_english(first.group(), inflected=False):
                continue
            hits.extend(_Hit(term, "pinyin", first.start(), last.end()) for _, term in entries)
    return hits


def _allow_spans(readings: list[tuple[str, list[int], str]], index: "_Index") -> list[tuple[int, int]]:
    """Normalized-text spans of allow-list entries, found in every reading.

    readings: (reading, normalized index per reading char, kind). Only entries with CJK
        are looked up in the compact reading, and only Latin ones in joined-piece runs:
        "the cats kill" compacts to "catskill", which must not excuse "kill" by the allow
        entry "skill". In a joined run an entry must start and end on piece edges, as a
        match must: "shows k-ill" joins to "showskill", and its "skill" excuses nothing.
    """
    spans = []
    for reading, where, kind in readings:
        for _, start, end in index.allow[kind].find(reading):
            if kind == "letters" and not (
                (start == 0 or where[start] != where[start - 1] + 1)
                and (end == len(where) or where[end] != where[end - 1] + 1)
            ):
                continue
            spans.append((where[start], where[end - 1] + 1))
    return spans


def screen_reading(
    norm: Normalized, index: _Index, original: str | None = None
) -> list[tuple[_Hit, tuple[int, int]]]:
    """Every match in one normalized reading, with its original-text span.

    original: the text as written, so that jieba reads numerals as written (optional)."""
    text = norm.text
    compact, compact_where = _compact(text)
    tokens = list(_TOKEN.finditer(text))
    segmenter = _Segmenter(compact, compact_where, norm, original)
    hits = _cjk_hits(compact, compact_where, text, index, segmenter) + _token_hits(text, tokens, index)
    if index.homophones:
        hits += _homophone_hits(compact, compact_where, index)
    if index.pinyin:
        for run in _token_runs(text, tokens):
            hits += _pinyin_hits(run, index)
    readings = [(text, list(range(len(text))), "text"), (compact, compact_where, "compact")]
    for run in _joined_runs(text, tokens) if any(t.end() - t.start() == 1 for t in tokens) else ():
        hits.extend(_joined_hits(run, index))
        readings.append(("".join(t.group() for t in run), [i for t in run for i in range(t.start(), t.end())], "letters"))
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
    return Action.REVIEW if layer in CAPPED_LAYERS and action.rank > Action.REVIEW.rank else action


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
    index = index_for(blocklist, layers)
    folded, used_one = fold(text, one_as="l")
    candidate = index.gate(folded)
    if not (candidate or used_one) and semantic is None:
        return PASS  # the common case, kept short: every prompt, script and note passes here
    found = []
    if candidate:
        found += screen_reading(normalize_with_flags(text, one_as="l")[0], index, text)
    # b1ood reads as blood, k1ll as kill: screen the other reading of "1" too.
    if used_one and index.gate(fold(text, one_as="i")[0]):
        found += screen_reading(normalize_with_flags(text, one_as="i")[0], index, text)

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
                start=s.start, end=s.end, text=s.text, source=s.source, score=round(s.score, 3),
            ))
    # A term found again inside a longer match of itself (joined runs) is one finding.
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
        index_for(self.blocklist, layers)
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
        index_for(blocklist, self.layers)
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

        files += list_files(settings.concept_files, True, CONCEPTS_DIR)  # the files load_concepts reads
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
