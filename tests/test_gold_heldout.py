"""The held-out gold set for the shot planner: tests/gold_heldout/*.yaml.

tests/gold is what the planner is tuned against, so its accuracy there says little about stories
it has never seen. These 40 stories (20 English, 20 Chinese) are labelled by the same rules
(tests/gold/README.md) and scored by the same code (tests/test_gold.py), but are NEVER used for
tuning: do not change the planner because of a miss here, and do not relabel a story after seeing
a planner's output. The gap between the two tables is the overfitting to watch.

The table is printed after the gold-set table (tests/conftest.py prints tests.test_gold.REPORT).
There are no accuracy floors here: a floor would turn the set into a tuning target.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_gold import (
    GOLD_DIR,
    REPORT,
    ROWS,
    STORY_KEYS,
    GoldScore,
    _oracle,
    label_problems,
    load_gold,
    report_lines,
    score_gold,
    split_sentences,
)

HELDOUT_DIR = Path(__file__).parent / "gold_heldout"
HEADER = "held-out set (never used for tuning):"
MIN_STORIES, MIN_PER_LANGUAGE = 40, 18

# The held-out lines, kept apart so they can be put back if tests/test_gold.py's fixture, run
# after this module (`pytest tests/test_gold_heldout.py tests/test_gold.py`), replaces REPORT.
HELDOUT_REPORT: list[str] = []


class _KeepHeldoutInReport:
    """Runs before tests/conftest.py's terminal summary prints REPORT."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self) -> None:
        if HELDOUT_REPORT and HEADER not in REPORT:
            REPORT.extend(HELDOUT_REPORT)


@pytest.fixture(scope="module")
def heldout() -> list[dict[str, Any]]:
    return load_gold(HELDOUT_DIR)


@pytest.fixture(scope="module")
def heldout_score(heldout, request) -> GoldScore:
    from reelgate.settings import PlanningSettings

    settings = PlanningSettings()
    try:
        from prompts.plan import plan_shots

        module = plan_shots.__module__
    except Exception as exc:  # a planner half-way through a rewrite: every story shows the error
        module, broken = "(import failed)", exc

        def plan_shots(text, episode_id, settings):
            raise broken
    score = score_gold(lambda text: plan_shots(text, "gold", settings), heldout)
    HELDOUT_REPORT[:] = ["", HEADER, *report_lines(score, heldout, module)]
    REPORT.extend(HELDOUT_REPORT)
    plugins = request.config.pluginmanager
    if not plugins.has_plugin("gold-heldout-report"):
        plugins.register(_KeepHeldoutInReport(), "gold-heldout-report")
    return score


def test_heldout_set_is_well_formed(heldout):
    problems: list[str] = []
    gold_ids = {s.get("id") for s in load_gold(GOLD_DIR)}
    ids = [s.get("id") for s in heldout]
    problems += [f"duplicate id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    problems += [f"id {i} is already in tests/gold" for i in sorted(set(ids) & gold_ids)]
    for story in heldout:
        sid, lang = story.get("id"), story.get("language")
        where = f"{story['_file']}:{sid}"
        if not isinstance(sid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*-(en|zh)", sid) or not sid.endswith(f"-{lang}"):
            problems.append(f"{where}: id must be lowercase words joined by - and end in -{lang}")
        if lang not in ("zh", "en"):
            problems.append(f"{where}: language {lang!r} is not zh or en")
        unknown = set(story) - STORY_KEYS - {"_file"}
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        if not isinstance(story.get("tags"), list) or not story["tags"]:
            problems.append(f"{where}: tags must be a non-empty list")
        text = story.get("text")
        shots = story.get("shots") or []
        if not isinstance(text, str) or not text.strip() or not shots:
            problems.append(f"{where}: a held-out story needs text and shots")
            continue
        problems += label_problems(story, where)
        sentences, directions = split_sentences(text), story.get("directions") or []
        if not 3 <= len(sentences) - len(directions) <= 5:
            problems.append(f"{where}: {len(sentences) - len(directions)} narrative sentences; 3 to 5")

    if len(heldout) < MIN_STORIES:
        problems.append(f"{len(heldout)} stories; the held-out set needs at least {MIN_STORIES}")
    for lang in ("en", "zh"):
        n = sum(s.get("language") == lang for s in heldout)
        if n < MIN_PER_LANGUAGE:
            problems.append(f"{n} {lang} stories; at least {MIN_PER_LANGUAGE}")
    assert not problems, "\n".join(problems)

    # The scorer finds every labelled shot: a planner answering the labels gets full marks.
    perfect = score_gold(_oracle(heldout), heldout)
    assert all(perfect.accuracy(row) == 1.0 for row in ROWS), perfect.table() + [str(m) for m in perfect.misses[:5]]


def test_heldout_report_is_printed(heldout_score):
    """Prints the held-out table after the gold-set one; asserts no accuracy on purpose."""
    assert HEADER in REPORT
    at = REPORT.index(HEADER)
    assert any(line.startswith("mood") for line in REPORT[at:])
    assert heldout_score.stories == len(load_gold(HELDOUT_DIR))
