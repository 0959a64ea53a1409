"""Hard limits on one episode's plan: shot count, shot length, episode length.

Every way a plan reaches generation passes here before anything is generated: a plan file
(`plan_file.load_plan`), a story planned by `plan.plan_shots`, a series episode
(`editorial.series.load_series`), and a request that carries its own plan (the episode
flow checks `request.plan`). A plan over a limit is refused, never cut: the message
names the limit, the value, the setting and what to change.
"""

from __future__ import annotations

import math

from reelgate.errors import InputError
from reelgate.records import ShotPlan
from reelgate.settings import PlanLimits

_SETTING = {
    "max_shots": "planning.limits.max_shots (REELGATE_PLANNING__LIMITS__MAX_SHOTS)",
    "max_shot_s": "planning.limits.max_shot_s (REELGATE_PLANNING__LIMITS__MAX_SHOT_S)",
    "max_episode_s": "planning.limits.max_episode_s (REELGATE_PLANNING__LIMITS__MAX_EPISODE_S)",
}


def setting_name(limit: str) -> str:
    """'planning.limits.<limit> (REELGATE_...)': where a limit is changed."""
    return _SETTING[limit]


class PlanLimitError(InputError):
    """A plan over one of the limits in `planning.limits`; `problems` lists each, `limit` names the first."""

    def __init__(self, where: str, problems: list[tuple[str, str]]) -> None:
        self.where, self.problems = where, problems
        self.limit = problems[0][0]
        lines = "; ".join(text for _, text in problems)
        super().__init__(f"{where}: {lines}")


def check_shot_count(count: int, limits: PlanLimits, where: str = "the plan") -> None:
    """Refuse `count` shots over limits.max_shots (cheap: before the shots are built)."""
    if count > limits.max_shots:
        raise PlanLimitError(where, [("max_shots", _count_problem(count, limits))])


def _count_problem(count: int, limits: PlanLimits) -> str:
    return (f"{count} shots; the limit is {limits.max_shots} shots an episode ({setting_name('max_shots')}): "
            "split the story into several episodes, or raise the limit")


def plan_limit_problems(plan: ShotPlan, limits: PlanLimits) -> list[tuple[str, str]]:
    """(limit name, what is over it) for every limit the plan breaks; empty when it keeps them all."""
    problems: list[tuple[str, str]] = []
    if len(plan.shots) > limits.max_shots:
        problems.append(("max_shots", _count_problem(len(plan.shots), limits)))
    # `not <=` also catches inf and nan, which a YAML file can spell (.inf, .nan).
    long_shots = [(k, s.duration_s) for k, s in enumerate(plan.shots, start=1) if not s.duration_s <= limits.max_shot_s]
    if long_shots:
        number, seconds = max(long_shots, key=lambda pair: pair[1] if math.isfinite(pair[1]) else math.inf)
        more = f" (and {len(long_shots) - 1} more shot(s) over it)" if len(long_shots) > 1 else ""
        problems.append(("max_shot_s", (
            f"shot {number} is {_seconds(seconds)} long{more}; the limit is {_seconds(limits.max_shot_s)} a shot "
            f"({setting_name('max_shot_s')}): shorten its duration_s or split it into several shots"
        )))
    total = math.fsum(s.duration_s for s in plan.shots)
    if not total <= limits.max_episode_s:
        problems.append(("max_episode_s", (
            f"the shots add up to {_seconds(total)}; the limit is {_seconds(limits.max_episode_s)} an episode "
            f"({setting_name('max_episode_s')}): shorten the shots or split the story into several episodes"
        )))
    return problems


def check_plan_limits(plan: ShotPlan, limits: PlanLimits, where: str = "the plan") -> ShotPlan:
    """Return `plan` if it keeps every limit; raise PlanLimitError naming each one it breaks.

    where: what the plan is, for the message (a file path, "episode orion", "the request").
    """
    problems = plan_limit_problems(plan, limits)
    if problems:
        raise PlanLimitError(where, problems)
    return plan


def _seconds(value: float) -> str:
    if not math.isfinite(value):
        return f"{value} s"
    if value >= 3600:
        return f"{value:g} s ({value / 3600:.1f} h)"
    if value >= 120:
        return f"{value:g} s ({value / 60:.1f} min)"
    return f"{value:g} s"
