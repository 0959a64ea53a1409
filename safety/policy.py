"""The safety policy: safety category -> action (block / review / allow) and threshold.

The shipped policy is safety/policy.yaml (its comments say why each value). A policy file
is a YAML mapping of category to `{action: ..., threshold: ...}`; a check's score at or
above the threshold gets the action, below it is allowed. The loader fails loudly on
anything it cannot use (unknown category or action, a threshold outside 0..1, `allow`
for `unavailable`), naming the file and line; at decision time an unknown category goes
to review, never allow (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reelgate.errors import ConfigError
from reelgate.records import Action
from reelgate.yaml_safe import compose_yaml, read_yaml_text

SHIPPED_POLICY = Path(__file__).with_name("policy.yaml")

# Categories the checks emit. Nudity findings are grouped by what NudeNet saw (see
# NUDITY_LABEL_CATEGORY); concept categories are those of safety/concepts/*.txt.
NUDITY_CATEGORIES = ("nudity_exposed", "nudity_covered")
CONCEPT_CATEGORIES = ("violence", "gore", "weapon_at_person", "self_harm", "disturbing")
OTHER_CATEGORIES = ("likeness", "unavailable")
CATEGORIES = NUDITY_CATEGORIES + CONCEPT_CATEGORIES + OTHER_CATEGORIES

# NudeNet label -> policy category; labels not listed are not nudity (see safety/nudity.py).
NUDITY_LABEL_CATEGORY = {
    "FEMALE_GENITALIA_EXPOSED": "nudity_exposed",
    "MALE_GENITALIA_EXPOSED": "nudity_exposed",
    "FEMALE_BREAST_EXPOSED": "nudity_exposed",
    "BUTTOCKS_EXPOSED": "nudity_exposed",
    "ANUS_EXPOSED": "nudity_exposed",
    "FEMALE_GENITALIA_COVERED": "nudity_covered",
    "FEMALE_BREAST_COVERED": "nudity_covered",
    "BUTTOCKS_COVERED": "nudity_covered",
    "ANUS_COVERED": "nudity_covered",
}

# `warn` is left out on purpose: a frame-level finding either needs a person or does not.
POLICY_ACTIONS = {a.value: a for a in (Action.ALLOW, Action.REVIEW, Action.BLOCK)}


@dataclass(frozen=True)
class Rule:
    action: Action
    threshold: float


@dataclass
class Policy:
    """Category -> Rule. Build with load_policy (validated) or directly in code (tests)."""

    rules: dict[str, Rule]
    source: Path | None = None
    unknown_action: Action = field(default=Action.REVIEW)

    def decide(self, category: str, score: float) -> Action:
        """The action for `score` in `category`: the rule's action at or above its threshold, else allow.

        A category the policy does not list goes to review: nothing unplanned passes unseen.
        """
        rule = self.rules.get(category)
        if rule is None:
            return self.unknown_action
        return rule.action if score >= rule.threshold else Action.ALLOW

    def missing(self, categories: Iterable[str]) -> list[str]:
        """Categories among `categories` that this policy has no rule for, sorted."""
        return sorted(set(categories) - set(self.rules))


def _where(path: Path, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def load_policy(path: Path | None = None, extra_categories: Iterable[str] = ()) -> Policy:
    """Read and validate a policy file; None: the shipped safety/policy.yaml.

    extra_categories: category names beyond CATEGORIES that the file may list (the
    categories of user concept files); any other name is refused as a likely typo.
    Raises ConfigError naming file:line for anything the policy cannot use.
    """
    path = Path(path) if path is not None else SHIPPED_POLICY
    try:
        text = read_yaml_text(path, "safety policy")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read safety policy {path} ({exc}); fix REELGATE_SAFETY__POLICY_FILE") from exc
    try:
        root = compose_yaml(text, str(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}: a safety policy is a mapping of category -> {{action, threshold}}")

    known = set(CATEGORIES) | set(extra_categories)
    rules: dict[str, Rule] = {}
    for key, value in root.value:
        category = key.value
        if category not in known:
            raise ConfigError(
                f"{_where(path, key)}: unknown safety category {category!r}; known: {', '.join(sorted(known))}"
            )
        if category in rules:
            raise ConfigError(f"{_where(path, key)}: category {category!r} is listed twice")
        if not isinstance(value, yaml.MappingNode):
            raise ConfigError(f"{_where(path, value)}: {category} needs {{action: block|review|allow, threshold: 0..1}}")
        fields = {k.value: v for k, v in value.value}
        for name in fields.keys() - {"action", "threshold"}:
            node = next(k for k, _ in value.value if k.value == name)
            raise ConfigError(f"{_where(path, node)}: unknown field {name!r} for {category}; use action and threshold")
        for name in ("action", "threshold"):
            if name not in fields:
                raise ConfigError(f"{_where(path, value)}: {category} has no {name}")
        action_node, threshold_node = fields["action"], fields["threshold"]
        action = POLICY_ACTIONS.get(str(action_node.value).lower())
        if action is None:
            raise ConfigError(
                f"{_where(path, action_node)}: unknown action {action_node.value!r} for {category}; "
                f"use one of {', '.join(POLICY_ACTIONS)}"
            )
        if category == "unavailable" and action == Action.ALLOW:
            raise ConfigError(
                f"{_where(path, action_node)}: 'unavailable' cannot be allow: a check that could not run "
                "would pass unseen; use review or block"
            )
        try:
            threshold = float(threshold_node.value)
        except (TypeError, ValueError):
            threshold = float("nan")
        if not 0.0 <= threshold <= 1.0:  # also refuses nan and non-numbers
            raise ConfigError(
                f"{_where(path, threshold_node)}: threshold {threshold_node.value!r} for {category} must be a number in 0..1"
            )
        rules[category] = Rule(action, threshold)

    absent = [c for c in CATEGORIES if c not in rules]
    if absent:
        # Omitted categories would silently fall to review on every score; make it explicit.
        raise ConfigError(f"{path}: no rule for {', '.join(absent)}; every category needs one (allow to ignore it)")
    return Policy(rules=rules, source=path)
