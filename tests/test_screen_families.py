"""Issue 16's measure of the shipped lists: false blocks on a benign set, recall on the
disguise families.

tests/screening/benign.txt holds prompts a myth and fairy-tale studio writes every day and
near-misses (see its header); tests/screening/disguises.tsv holds every shipped term in
each disguise family, written by tests/screening/make_disguises.py (rerun it after editing
the lists). Both run through the screen as the pipeline runs it: default lists, default
layers (pinyin and homophones on). Run with -s to see the numbers.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from prompts.blocklist import Blocklist
from prompts.screen import screen
from reelgate.records import Action

DATA = Path(__file__).parent / "screening"
FAMILIES = ("elongated", "inflected", "joined", "lookalike", "zh_separated", "zh_traditional", "pinyin", "homophone")


@pytest.fixture(scope="module")
def defaults() -> Blocklist:
    return Blocklist.load()


def _benign() -> list[str]:
    lines = (DATA / "benign.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _disguises() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in (DATA / "disguises.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            family, term, category, text = line.split("\t")
            rows.append((family, term, category, text))
    return rows


def test_benign_set_is_blocked_at_most_one_percent(defaults: Blocklist) -> None:
    prompts = _benign()
    assert len(prompts) >= 300
    blocked, flagged = [], 0
    for text in prompts:
        result = screen(text, defaults)
        if result.action is Action.BLOCK:
            blocked.append(f"{text!r}: {[(m.term, m.layer, m.text) for m in result.matches]}")
        elif result.matches:
            flagged += 1
    rate = len(blocked) / len(prompts)
    print(f"\nbenign set: {len(prompts)} prompts, {len(blocked)} blocked ({rate:.2%}), "
          f"{flagged} flagged for review or a note")
    assert rate <= 0.01, f"false blocks {rate:.2%} of {len(prompts)} (at most 1%): {blocked}"


def test_disguise_families_are_caught_at_least_99_percent(defaults: Blocklist) -> None:
    # Caught: a match in the term's category (zelenskyyy reads as the listed "zelenskyy").
    total, caught, missed = Counter(), Counter(), []
    for family, term, category, text in _disguises():
        total[family] += 1
        if any(m.category == category for m in screen(text, defaults).matches):
            caught[family] += 1
        else:
            missed.append((family, term, text))
    overall = sum(caught.values()) / sum(total.values())
    print(f"\ndisguise recall: {sum(caught.values())}/{sum(total.values())} ({overall:.2%})")
    for family in FAMILIES:
        print(f"  {family:15s} {caught[family]:5d}/{total[family]:<5d} {caught[family] / total[family]:.2%}")
    assert overall >= 0.99, f"recall {overall:.2%} (at least 99%); missed: {missed[:40]}"
    weak = {f: f"{caught[f] / total[f]:.2%}" for f in FAMILIES if caught[f] / total[f] < 0.99}
    assert not weak, f"families under 99%: {weak}; missed: {[m for m in missed if m[0] in weak][:40]}"


def test_disguise_set_covers_every_family_and_only_listed_terms(defaults: Blocklist) -> None:
    rows = _disguises()
    listed = {(t.term, t.category) for t in defaults.terms}
    stale = sorted({(term, category) for _, term, category, _ in rows} - listed)
    assert not stale, f"terms no longer listed: {stale[:20]}; rerun tests/screening/make_disguises.py"
    counts = Counter(family for family, *_ in rows)
    assert set(counts) == set(FAMILIES) and min(counts.values()) >= 100, counts
