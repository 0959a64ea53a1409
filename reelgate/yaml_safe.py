"""The one YAML loader for files a user writes: safe types only, and a budget checked while parsing.

PyYAML's safe loader builds only plain types, but an alias bomb (a few lines whose aliases
nest into billions of values) still passes it: the composer shares the aliased nodes, so
the bomb goes off later, in whatever walks the result (validation, JSON, a comparison).
So every document is composed here under a budget, and refused before anything walks it:

- at most MAX_YAML_CHARS characters of text (checked before parsing; files by their size
  before reading),
- at most MAX_YAML_ALIASES aliases (counted as the composer meets them),
- at most MAX_YAML_DEPTH levels of nesting (the composer recurses per level),
- at most MAX_YAML_NODES values once every alias is expanded (counted on the composed
  graph with each shared node counted once per use, without expanding anything), and no
  alias inside its own anchor (a document that contains itself).

A syntax error is still PyYAML's own `yaml.YAMLError` (callers report its line with
`yaml_problem`); a document over the budget raises `YamlBudgetError`, an InputError that
names the file, the line, the budget and what to change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from reelgate.errors import InputError

# Shipped and hand-written files are far below these: the largest series file a person
# would write (a year of episodes, 20,000-character stories) is a few MB and ~10,000 values.
MAX_YAML_CHARS = 8 * 1024 * 1024
MAX_YAML_ALIASES = 100
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 200_000


class YamlBudgetError(InputError):
    """A YAML document over the loader's budget (size, aliases, nesting or expanded values)."""

    def __init__(self, where: str, line: int, message: str) -> None:
        self.where, self.line, self.problem = where, line, message
        at = f" line {line}" if line else ""
        super().__init__(f"{where}:{at}: {message}")


def yaml_problem(exc: yaml.YAMLError) -> tuple[int, str]:
    """(1-based line to look at, 0 if unknown; what is wrong) of a YAML syntax error.

    An unclosed bracket or quote is reported by PyYAML where the file ends; the line that
    opened it (the "context") is where the fix goes, so that line is named first.
    """
    problem = getattr(exc, "problem", None) or str(exc)
    mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    if context is not None and mark is not None and context.line != mark.line:
        return context.line + 1, f"{problem}, at line {mark.line + 1}, {exc.context} opened at line {context.line + 1}"
    return (mark.line + 1 if mark is not None else 0), problem


try:  # libyaml's event parser: ~3x faster than PyYAML's pure-Python scanner on large files
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None


if _CParser is not None:

    class _SafeLoaderBase(_CParser, SafeConstructor, Resolver):
        """libyaml's events, PyYAML's own (Python) composer and safe constructor.

        The composer stays in Python so that it can be budgeted (see _BudgetLoader); it reads
        the events through the same check/peek/get_event methods either parser provides.
        """

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.anchors: dict = {}

        get_single_node = Composer.get_single_node
        compose_document = Composer.compose_document
        compose_node = Composer.compose_node
        compose_scalar_node = Composer.compose_scalar_node
        compose_sequence_node = Composer.compose_sequence_node
        compose_mapping_node = Composer.compose_mapping_node

else:  # pragma: no cover
    _SafeLoaderBase = yaml.SafeLoader


class _BudgetLoader(_SafeLoaderBase):
    """A safe loader whose composer counts aliases and depth, and stops at the budget."""

    def __init__(self, stream: str, where: str) -> None:
        super().__init__(stream)
        self.where = where
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise YamlBudgetError(
                    self.where, line,
                    f"more than {MAX_YAML_ALIASES} aliases (*name); reelgate refuses YAML with more, since "
                    "aliases can nest into an exponential number of values (an alias bomb): write the values out",
                )
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise YamlBudgetError(
                    self.where, line, f"nested more than {MAX_YAML_DEPTH} levels deep; flatten the structure"
                )
            return Composer.compose_node(self, parent, index)
        finally:
            self.depth -= 1


def _check_expanded(root: yaml.Node, where: str) -> None:
    """Refuse a graph that expands past MAX_YAML_NODES values, or that contains itself."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise YamlBudgetError(
                where, node.start_mark.line + 1,
                "an alias refers to the anchor it is inside (a document that contains itself); remove it",
            )
        open_.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_YAML_NODES:
                    break
        open_.discard(key)
        if total > MAX_YAML_NODES:
            raise YamlBudgetError(
                where, node.start_mark.line + 1,
                f"expands to more than {MAX_YAML_NODES:,} values once its aliases are followed (budget "
                f"{MAX_YAML_NODES:,}; an alias bomb?); write the values out or split the file",
            )
        sizes[key] = total
        return total

    try:
        size(root)
    except RecursionError:  # aliases stacking anchors inside anchors
        raise YamlBudgetError(
            where, 0, f"nested too deep once its aliases are followed (budget {MAX_YAML_DEPTH} levels); flatten it"
        ) from None


def _check_size(text: str, where: str) -> None:
    if len(text) > MAX_YAML_CHARS:
        raise YamlBudgetError(
            where, 0, f"{len(text):,} characters; reelgate reads YAML of at most {MAX_YAML_CHARS:,} (budget); split the file",
        )


def compose_yaml(text: str, where: str) -> yaml.Node | None:
    """The node graph of one YAML document (None for an empty one), within the budget.

    where: the file (or "the plan") named in errors.
    Raises yaml.YAMLError on a syntax error and YamlBudgetError over the budget.
    """
    with _budget_loader(text, where) as loader:
        return _budget_root(loader, where)


def load_yaml_nodes(text: str, where: str) -> tuple[Any, yaml.Node | None]:
    """(the document as plain Python values, its node graph), parsed once within the budget.

    The node graph keeps line numbers for error messages.
    """
    with _budget_loader(text, where) as loader:
        root = _budget_root(loader, where)
        return (None, None) if root is None else (loader.construct_document(root), root)


@contextmanager
def _budget_loader(text: str, where: str) -> Iterator[_BudgetLoader]:
    _check_size(text, where)
    loader = _BudgetLoader(text, where)
    try:
        yield loader
    finally:
        loader.dispose()


def _budget_root(loader: _BudgetLoader, where: str) -> yaml.Node | None:
    root = loader.get_single_node()
    if root is not None:
        _check_expanded(root, where)
    return root


def load_yaml(text: str, where: str) -> Any:
    """The document as plain Python values (yaml.safe_load within the budget)."""
    return load_yaml_nodes(text, where)[0]


def read_yaml_text(path: Path, what: str = "YAML file") -> str:
    """The text of a YAML file, refused by its size before it is read.

    Raises OSError / UnicodeDecodeError as reading does (callers word those), and
    YamlBudgetError for a file over the budget.
    """
    path = Path(path)
    size = path.stat().st_size
    # UTF-8 takes at most 4 bytes a character; anything larger is certainly over.
    if size > 4 * MAX_YAML_CHARS:
        raise YamlBudgetError(
            str(path), 0, f"the {what} is {size:,} bytes; reelgate reads YAML of at most {MAX_YAML_CHARS:,} "
            "characters (budget); split the file",
        )
    return path.read_text(encoding="utf-8")
