"""One YAML loader with a budget: alias bombs, deep nesting and huge files fail fast, naming the file.

Every YAML a user writes goes through reelgate.yaml_safe: series, plans, the safety policy,
the music index and style presets. An alias bomb's damage is time and memory, not a wrong
answer: the fast tests assert that the budget (named in the message) refused each file, and
the integration tier bounds the wall-clock time of every refusal (the end of this file).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from editorial.series import SeriesFileError, load_series
from postprocess.music_library import load_index
from prompts.plan_file import load_plan
from prompts.presets import get_preset
from reelgate.errors import InputError
from reelgate.yaml_safe import (
    MAX_YAML_ALIASES, MAX_YAML_CHARS, MAX_YAML_DEPTH, MAX_YAML_NODES, YamlBudgetError, compose_yaml, load_yaml,
    load_yaml_nodes,
)
from safety.policy import load_policy


def billion_laughs(key: str = "lol", levels: int = 9, width: int = 9) -> str:
    """`levels` anchors, each a list of `width` aliases of the one before: width**levels values, 72 aliases."""
    lines = [f"{key}0: &{key}0 [" + ", ".join(['"lol"'] * width) + "]"]
    for k in range(1, levels):
        lines.append(f"{key}{k}: &{key}{k} [" + ", ".join([f"*{key}{k - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def many_aliases(count: int) -> str:
    return "a: &a x\nb: [" + ", ".join(["*a"] * count) + "]\n"


def _refused(fn, *args):
    """Call fn(*args) expecting an InputError; return it."""
    with pytest.raises(InputError) as caught:
        fn(*args)
    return caught.value


def _fast(fn, *args, limit_s: float = 2.0):
    """Call fn(*args) expecting an error; return it, asserting it came within limit_s."""
    started = time.perf_counter()
    error = _refused(fn, *args)
    elapsed = time.perf_counter() - started
    assert elapsed < limit_s, f"refusal took {elapsed:.2f} s"
    return error


# ---------- the loader itself ----------

def test_plain_documents_load_as_safe_load_does() -> None:
    text = "a: 1\nb: [x, y, {c: 2.5}]\nd: &d {e: true}\nf: *d\n"
    assert load_yaml(text, "t.yaml") == yaml.safe_load(text)
    data, root = load_yaml_nodes(text, "t.yaml")
    assert data["f"] == {"e": True} and root.start_mark.line == 0
    assert load_yaml("", "empty.yaml") is None


def test_an_alias_bomb_under_the_alias_budget_is_refused_by_its_expanded_size() -> None:
    bomb = billion_laughs()  # 9**9 = 387 million values from 72 aliases
    error = _refused(load_yaml, bomb, "bomb.yaml")
    assert isinstance(error, YamlBudgetError)
    assert f"{MAX_YAML_NODES:,}" in str(error) and "bomb.yaml" in str(error) and "alias bomb" in str(error)
    assert error.line > 1  # the anchor that blows up


def test_too_many_aliases_are_refused_while_parsing() -> None:
    load_yaml(many_aliases(MAX_YAML_ALIASES), "ok.yaml")  # at the budget: fine
    error = _refused(load_yaml, many_aliases(MAX_YAML_ALIASES + 1), "aliases.yaml")
    assert f"more than {MAX_YAML_ALIASES} aliases" in str(error) and error.line == 2


def test_deep_nesting_and_self_containing_documents_are_refused() -> None:
    error = _refused(load_yaml, "[" * 5000 + "]" * 5000, "deep.yaml")
    assert f"more than {MAX_YAML_DEPTH} levels" in str(error)
    error = _refused(load_yaml, "a: &a [1, *a]\n", "loop.yaml")
    assert "contains itself" in str(error)


def test_size_budget_is_checked_before_parsing() -> None:
    error = _refused(compose_yaml, "a: " + "x" * (MAX_YAML_CHARS + 1), "huge.yaml")
    assert f"{MAX_YAML_CHARS:,}" in str(error)


def test_syntax_errors_stay_pyyaml_errors_with_their_line() -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        load_yaml("a: [1, 2\nb: 3\n", "bad.yaml")
    assert caught.value.problem_mark is not None


# ---------- every user YAML goes through it ----------

SERIES_HEAD = """\
id: demo
title: 演示
language: zh
schedule: "0 8 * * *"
style_preset: storybook
episodes:
  - id: fox
    title: 狐狸
    story: 一只小狐狸在森林里奔跑。
"""


def test_an_alias_bomb_series_file_fails_fast_naming_the_file_line_and_budget(tmp_path: Path) -> None:
    # Before the budget the file parsed at once (aliases share nodes) and then every walk
    # of it (duplicate keys, validation, error messages) followed 387 million values.
    path = tmp_path / "bomb.yaml"
    path.write_text(SERIES_HEAD + billion_laughs("x"), encoding="utf-8")
    error = _refused(load_series, path)
    assert isinstance(error, SeriesFileError)
    [problem] = error.problems
    # Line 15 is x5, nine aliases of x4: 9**6 values, the first anchor over the budget.
    assert problem.line == 15 and f"{MAX_YAML_NODES:,}" in problem.message
    assert str(path) in str(error)


def test_a_series_file_over_the_size_budget_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(4 * MAX_YAML_CHARS + 1)  # sparse: costs no disk
    error = _refused(load_series, path)
    assert "bytes" in str(error) and f"{MAX_YAML_CHARS:,}" in str(error)


PLAN_TAIL = ("episode_id: ep\nlanguage: en\nstyle: s\nseed: 1\n"
             "shots:\n  - {index: 0, duration_s: 3, text: *x8, prompt: auto, seed: 1}\n")


def test_an_alias_bomb_plan_fails_fast(tmp_path: Path) -> None:
    # The bomb sits in a shot's text: the old loader put its repr into the error message.
    plan = billion_laughs("x") + PLAN_TAIL
    path = tmp_path / "plan.yaml"
    path.write_text(plan, encoding="utf-8")
    error = _refused(load_plan, path)
    assert "plan.yaml" in str(error) and f"{MAX_YAML_NODES:,}" in str(error)


@pytest.mark.parametrize("kind", ["policy", "music", "preset"])
def test_policy_music_and_preset_files_have_the_same_budget(tmp_path: Path, kind: str) -> None:
    text = many_aliases(MAX_YAML_ALIASES + 1)
    if kind == "policy":
        path = tmp_path / "policy.yaml"
        path.write_text(text, encoding="utf-8")
        error = _refused(load_policy, path)
    elif kind == "music":
        path = tmp_path / "music.yaml"
        path.write_text(text, encoding="utf-8")
        error = _refused(load_index, tmp_path)
    else:
        path = tmp_path / "look.yaml"
        path.write_text(billion_laughs(), encoding="utf-8")
        error = _refused(get_preset, str(path))
    assert str(path) in str(error) and ("budget" in str(error) or f"more than {MAX_YAML_ALIASES} aliases" in str(error))


def test_series_validate_prints_the_budget_problem_and_exits_2(tmp_path: Path, capsys) -> None:
    from cli import main

    path = tmp_path / "bomb.yaml"
    path.write_text(SERIES_HEAD + many_aliases(MAX_YAML_ALIASES + 1), encoding="utf-8")
    assert main(["series", "validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert f"{path}:11:" in out and f"more than {MAX_YAML_ALIASES} aliases" in out


# ---------- wall-clock bounds (integration tier) ----------

def _bomb_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _huge_file(tmp_path: Path) -> Path:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(4 * MAX_YAML_CHARS + 1)  # sparse: costs no disk
    return path


REFUSALS = {
    "alias bomb": lambda tmp: (load_yaml, billion_laughs(), "bomb.yaml"),
    "too many aliases": lambda tmp: (load_yaml, many_aliases(MAX_YAML_ALIASES + 1), "aliases.yaml"),
    "deep nesting": lambda tmp: (load_yaml, "[" * 5000 + "]" * 5000, "deep.yaml"),
    "self-containing": lambda tmp: (load_yaml, "a: &a [1, *a]\n", "loop.yaml"),
    "size": lambda tmp: (compose_yaml, "a: " + "x" * (MAX_YAML_CHARS + 1), "huge.yaml"),
    "series bomb": lambda tmp: (load_series, _bomb_file(tmp, "bomb.yaml", SERIES_HEAD + billion_laughs("x"))),
    "huge series": lambda tmp: (load_series, _huge_file(tmp)),
    "plan bomb": lambda tmp: (load_plan, _bomb_file(tmp, "plan.yaml", billion_laughs("x") + PLAN_TAIL)),
    "preset bomb": lambda tmp: (get_preset, str(_bomb_file(tmp, "look.yaml", billion_laughs()))),
    "policy aliases": lambda tmp: (load_policy, _bomb_file(tmp, "policy.yaml", many_aliases(MAX_YAML_ALIASES + 1))),
}


@pytest.mark.integration
@pytest.mark.parametrize("case", REFUSALS)
def test_every_budget_refusal_comes_within_two_seconds(tmp_path: Path, case: str) -> None:
    fn, *args = REFUSALS[case](tmp_path)
    _fast(fn, *args)


@pytest.mark.integration
def test_series_validate_refuses_a_bomb_within_seconds(tmp_path: Path, capsys) -> None:
    from cli import main

    path = tmp_path / "bomb.yaml"
    path.write_text(SERIES_HEAD + many_aliases(MAX_YAML_ALIASES + 1), encoding="utf-8")
    started = time.perf_counter()
    assert main(["series", "validate", str(path)]) == 2
    assert time.perf_counter() - started < 5
