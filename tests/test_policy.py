"""Safety policy: the shipped file, decisions at thresholds, fail-closed defaults, refusals naming file:line."""

from __future__ import annotations

import pytest

from reelgate.errors import ConfigError
from reelgate.records import Action
from safety.policy import CATEGORIES, NUDITY_LABEL_CATEGORY, SHIPPED_POLICY, Policy, Rule, load_policy

GOOD = {c: ("review", 0.5) for c in CATEGORIES}


def write_policy(path, rules=GOOD, extra=""):
    text = "".join(f"{c}:\n  action: {a}\n  threshold: {t}\n" for c, (a, t) in rules.items()) + extra
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path, needle):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_shipped_policy_covers_every_category_strictly():
    policy = load_policy(None)
    assert policy.source == SHIPPED_POLICY
    assert set(policy.rules) == set(CATEGORIES)
    assert policy.rules["nudity_exposed"].action == Action.BLOCK
    assert policy.rules["unavailable"].action in (Action.REVIEW, Action.BLOCK)
    # Nothing the checks emit is ignored by default.
    assert all(r.action != Action.ALLOW for r in policy.rules.values())
    # Concept thresholds sit in the range raw CLIP similarities take.
    for c in ("violence", "gore", "weapon_at_person", "self_harm", "disturbing"):
        assert 0.15 <= policy.rules[c].threshold <= 0.35


def test_exposed_intimate_parts_block_and_covered_ones_go_to_review():
    policy = load_policy(None)
    exposed = {label for label, c in NUDITY_LABEL_CATEGORY.items() if c == "nudity_exposed"}
    assert exposed == {"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED",
                       "BUTTOCKS_EXPOSED", "ANUS_EXPOSED"}
    assert all(c in ("nudity_exposed", "nudity_covered") for c in NUDITY_LABEL_CATEGORY.values())
    assert policy.decide("nudity_exposed", 0.9) == Action.BLOCK and policy.decide("nudity_covered", 0.9) == Action.REVIEW
    # Faces, feet, bellies, armpits and bare male chests are not nudity here.
    assert not {"FACE_FEMALE", "FEET_EXPOSED", "BELLY_EXPOSED", "ARMPITS_EXPOSED", "MALE_BREAST_EXPOSED"} & set(NUDITY_LABEL_CATEGORY)


def test_decide_acts_at_and_above_threshold_and_allows_below():
    policy = load_policy(None)
    t = policy.rules["nudity_exposed"].threshold
    assert policy.decide("nudity_exposed", t) == Action.BLOCK
    assert policy.decide("nudity_exposed", t + 0.1) == Action.BLOCK
    assert policy.decide("nudity_exposed", t - 0.01) == Action.ALLOW
    assert policy.decide("gore", 0.5) == Action.REVIEW
    assert policy.decide("gore", 0.0) == Action.ALLOW
    assert policy.decide("unavailable", 1.0) == Action.REVIEW


def test_unknown_category_at_decision_time_goes_to_review_never_allow():
    policy = Policy(rules={"gore": Rule(Action.ALLOW, 0.0)})
    assert policy.decide("no_such_category", 0.0) == Action.REVIEW
    assert policy.decide("no_such_category", -1.0) == Action.REVIEW
    assert policy.missing(["gore", "smoking", "arson"]) == ["arson", "smoking"]


def test_a_valid_user_policy_loads_with_its_values(tmp_path):
    rules = dict(GOOD, violence=("allow", 0.3), gore=("block", 0.27))
    policy = load_policy(write_policy(tmp_path / "p.yaml", rules))
    assert policy.decide("violence", 0.9) == Action.ALLOW
    assert policy.decide("gore", 0.27) == Action.BLOCK
    assert policy.decide("gore", 0.26) == Action.ALLOW


def test_unavailable_allow_is_refused(tmp_path):
    path = write_policy(tmp_path / "p.yaml", dict(GOOD, unavailable=("allow", 0.0)))
    with pytest.raises(ConfigError, match="'unavailable' cannot be allow") as err:
        load_policy(path)
    assert f"{path}:{line_of(path, 'action: allow')}" in str(err.value)


@pytest.mark.parametrize(
    "rules, needle, message",
    [
        (dict(GOOD, voilence=("review", 0.3)), "voilence:", "unknown safety category 'voilence'"),
        (dict(GOOD, gore=("delete", 0.3)), "action: delete", "unknown action 'delete'"),
        (dict(GOOD, gore=("review", 1.5)), "threshold: 1.5", "must be a number in 0..1"),
        (dict(GOOD, gore=("review", -0.1)), "threshold: -0.1", "must be a number in 0..1"),
        (dict(GOOD, gore=("review", "high")), "threshold: high", "must be a number in 0..1"),
    ],
)
def test_bad_values_are_refused_naming_file_and_line(tmp_path, rules, needle, message):
    path = write_policy(tmp_path / "p.yaml", rules)
    with pytest.raises(ConfigError, match=message) as err:
        load_policy(path)
    assert f"{path}:{line_of(path, needle)}:" in str(err.value)


def test_bad_yaml_and_missing_categories_are_refused(tmp_path):
    path = write_policy(tmp_path / "p.yaml", extra="gore: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as err:
        load_policy(path)
    assert f"{path}:" in str(err.value)

    path = write_policy(tmp_path / "q.yaml", {c: v for c, v in GOOD.items() if c != "self_harm"})
    with pytest.raises(ConfigError, match="no rule for self_harm"):
        load_policy(path)

    with pytest.raises(ConfigError, match="POLICY_FILE"):
        load_policy(tmp_path / "missing.yaml")


def test_extra_categories_of_user_concepts_may_be_listed(tmp_path):
    path = write_policy(tmp_path / "p.yaml", dict(GOOD, smoking=("review", 0.26)))
    with pytest.raises(ConfigError, match="unknown safety category 'smoking'"):
        load_policy(path)
    assert load_policy(path, extra_categories=["smoking"]).decide("smoking", 0.3) == Action.REVIEW
