"""Words and parts of speech: jieba for Chinese, TextBlob's Pattern tagger for English.

Both ship their models inside their packages (jieba its dictionary and HMM tables,
TextBlob the Pattern lexicon and context rules), so nothing is downloaded at run time.
The planner reads subjects, actions and settings from these; screening uses the Chinese
words to tell a term that straddles two words (各自|杀出重围) from a term that is a word.

The Chinese user dictionary (prompts/lexicon/zh-names.txt, jieba's "word freq tag" lines)
adds myth figures, constellations and creatures, and every word of the keyword library's
expand table is added as a noun, so 九尾狐 or 织女 come out whole.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

LEXICON_DIR = Path(__file__).parent / "lexicon"
ZH_NAMES = LEXICON_DIR / "zh-names.txt"

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _zh_tokenizers() -> tuple[object, object]:
    """(jieba Tokenizer, POSTokenizer) with the user dictionary; built once (about 1 s)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jieba imports pkg_resources
        import jieba
        import jieba.posseg
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    with _lock:
        tokenizer.initialize()
        for word, freq, tag in _user_words():
            tokenizer.add_word(word, freq, tag)
    return tokenizer, jieba.posseg.POSTokenizer(tokenizer)


def _user_words() -> Iterable[tuple[str, int, str]]:
    for number, line in enumerate(ZH_NAMES.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit():
            raise ValueError(f"{ZH_NAMES}:{number}: expected `word frequency tag`, got {line!r}")
        yield parts[0], int(parts[1]), parts[2]
    from prompts.keywords import keyword_tables  # the expand table's words are nouns too

    for word in keyword_tables("zh").expand:
        yield word, 3000, "n"


def zh_words(text: str) -> list[str]:
    """Chinese text cut into words (jieba, precise mode, HMM for unknown words)."""
    tokenizer, _ = _zh_tokenizers()
    return list(tokenizer.cut(text))


def zh_tagged(text: str) -> list[tuple[str, str]]:
    """(word, tag) pairs; tags are jieba's (ICTCLAS): n noun, nr person, ns place, v verb,
    a adjective, d adverb, p preposition, f locative, r pronoun, x punctuation, ..."""
    _, pos = _zh_tokenizers()
    return [(pair.word, pair.flag) for pair in pos.cut(text)]


def zh_word_bounds(text: str) -> set[int]:
    """Character offsets where a jieba word starts or ends (0 and len(text) included)."""
    bounds, at = {0}, 0
    for word in zh_words(text):
        at += len(word)
        bounds.add(at)
    return bounds


@lru_cache(maxsize=1)
def _en_tagger() -> object:
    from textblob.en.taggers import PatternTagger

    return PatternTagger()


_EN_TOKEN = re.compile(r"[A-Za-z]+(?:[-'][A-Za-z]+)*|\d+(?:\.\d+)?|[^\sA-Za-z\d]")


def en_tagged(text: str) -> list[tuple[str, str]]:
    """(word, Penn tag) pairs from the Pattern lexicon tagger (about 20,000 sentences/s).

    The lexicon tags a word by its commonest use, so "leaps" or "chases" after a noun come
    back as plural nouns: the planner corrects those in context (prompts/parse_en.py).
    """
    tokens = _EN_TOKEN.findall(text)
    if not tokens:
        return []
    tagged = _en_tagger().tag(" ".join(tokens), tokenize=False)
    return [(word, tag) for word, tag in tagged]


def en_lexicon_tag(word: str) -> str | None:
    """The Pattern lexicon's tag of one word, or None when the lexicon does not know it
    (a name such as Europa or Mara)."""
    _en_tagger()
    from textblob.en import lexicon

    return lexicon.get(word)
