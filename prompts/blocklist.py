"""Blocklists: plain text files of terms, each tagged with a category and an action.

File format (UTF-8), one term per line::

    # a comment; '#' also starts a comment after a term
    #! category=gore action=block      <- applies to the lines that follow
    血腥
    gore
    #! category=ip action=review
    mickey mouse
    #! allow                           <- the lines that follow are allow-list entries
    景色情调

A file without a directive line uses category ``custom`` and action ``block``. Actions are
warn, review or block. An allow-list entry is a benign longer word or phrase containing a
listed term (景色情调 holds 色情): a match lying inside one is dropped. Terms are stored
normalized (`prompts.normalize`), so the files may be written in any script or width.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from prompts.normalize import normalize
from reelgate.errors import ConfigError
from reelgate.records import Action

DEFAULT_DIR = Path(__file__).parent / "blocklists"

_CATEGORY = re.compile(r"^[a-z][a-z0-9_-]*$")
_TERM_ACTIONS = {a.value: a for a in (Action.WARN, Action.REVIEW, Action.BLOCK)}


@dataclass(frozen=True)
class Term:
    """One listed term, normalized, with where it came from ("file:line")."""

    term: str
    category: str
    action: Action
    source: str


class Blocklist:
    """Terms to screen for, and allow-list entries that excuse a match inside them."""

    def __init__(self, terms: list[Term], allow: list[str]) -> None:
        self.terms = terms
        self.allow = allow
        self.indexes: dict = {}  # prompts.screen keeps its lookup structures here, per layer set

    def __repr__(self) -> str:
        return f"Blocklist({len(self.terms)} terms, {len(self.allow)} allow entries)"

    @classmethod
    def load(cls, paths: list[Path] | tuple[Path, ...] = (), use_defaults: bool = True) -> "Blocklist":
        """Read the shipped lists (unless use_defaults is False) and then `paths`.

        paths: files, or folders whose *.txt files are read in name order.
        """
        files = list_files(paths, use_defaults)
        terms: list[Term] = []
        allow: list[str] = []
        seen: set[tuple[str, str]] = set()
        for file in files:
            file_terms, file_allow = _read_file(file)
            for term in file_terms:
                if (term.term, term.category) not in seen:
                    seen.add((term.term, term.category))
                    terms.append(term)
            allow.extend(a for a in file_allow if a not in allow)
        return cls(terms, allow)


def list_files(paths: list[Path] | tuple[Path, ...], use_defaults: bool = True,
               default_dir: Path = DEFAULT_DIR) -> list[Path]:
    """The list files `Blocklist.load` (or, with its default_dir, `load_concepts`) reads, in order:
    the shipped ones, then `paths` (a folder stands for its *.txt files in name order)."""
    files: list[Path] = sorted(default_dir.glob("*.txt")) if use_defaults else []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(path.glob("*.txt")))
        else:
            files.append(path)
    return files


def read_list_text(path: Path, what: str = "blocklist") -> str:
    """The text of a list file (a UTF-8 byte-order mark dropped); ConfigError naming the file, and
    the line of a byte that is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}; give a readable UTF-8 text file or folder of *.txt files") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 (byte {data[exc.start]:#04x}); save the list as UTF-8"
        ) from exc


def _read_file(path: Path) -> tuple[list[Term], list[str]]:
    text = read_list_text(path)
    category, action, allow_mode = "custom", Action.BLOCK, False
    terms: list[Term] = []
    allow: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{path}:{number}"
        line = raw.strip()
        if line.startswith("#!"):
            category, action, allow_mode = parse_directive(line[2:], where, category, action)
            continue
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        folded = " ".join(normalize(line).text.split())
        if not folded:
            raise ConfigError(f"{where}: the entry {line!r} is empty after normalization; remove it")
        if allow_mode:
            allow.append(folded)
        else:
            terms.append(Term(folded, category, action, where))
    return terms, allow


def parse_directive(body: str, where: str, category: str, action: Action,
                    allow: bool = True) -> tuple[str, Action, bool]:
    """Parse '#! ...': key=value pairs for category and action, or (where `allow`) 'allow';
    (category, action, whether the entries below are allowed)."""
    words = body.split()
    if allow and words == ["allow"]:
        return category, action, True
    also = " or '#! allow'" if allow else ""
    if not words:
        raise ConfigError(f"{where}: empty directive; write e.g. '#! category=gore action=block'{also}")
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise ConfigError(
                f"{where}: unknown directive {word!r}; write 'category=NAME', 'action=warn|review|block'"
                + (" or 'allow'" if allow else "")
            )
        if key == "category":
            if not _CATEGORY.match(value):
                raise ConfigError(f"{where}: category {value!r} must be lowercase letters, digits, '_' or '-'")
            category = value
        elif key == "action":
            if value not in _TERM_ACTIONS:
                raise ConfigError(f"{where}: unknown action {value!r}; use one of warn, review, block")
            action = _TERM_ACTIONS[value]
        else:
            raise ConfigError(f"{where}: unknown directive key {key!r}; known keys: category, action")
    return category, action, False
