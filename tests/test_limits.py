"""Plans have limits: shot count, shot length and episode length, refused before anything is generated.

Every way a plan reaches generation is checked: a plan file (and the CLI that reads it), the
planner, a series file, and a request carrying its own plan (prompts.limits.check_plan_limits,
which the episode flow calls). Each refusal names the limit, the value and the setting.
"""

from __future__ import annotations

import copy

import re
import time
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from editorial.series import SeriesFileError, load_series
from prompts.limits import PlanLimitError, check_plan_limits
from prompts.plan_file import dump_plan, load_plan
from prompts.plan import plan_shots
from cli import main
from reelgate.errors import InputError
from reelgate.records import EpisodeRequest
from reelgate.settings import PlanLimits, PlanningSettings, Settings

STORY = "A fox runs across the snowy hills. The fox stops under a pine. The moon rises over the valley."


def _plan_file(tmp_path: Path, edit=None, name: str = "plan.yaml") -> Path:
    """A plan written by `reelgate plan`, with `edit(data)` applied to its YAML data."""
    data = yaml.safe_load(dump_plan(plan_shots(STORY, "lim", PlanningSettings())))
    if edit is not None:
        edit(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _set_duration(seconds: float):
    def edit(data: dict) -> None:
        data["shots"][1]["duration_s"] = seconds
    return edit


def test_defaults_are_sane_and_documented() -> None:
    limits = PlanningSettings().limits
    assert (limits.max_shots, limits.max_shot_s, limits.max_episode_s) == (60, 30.0, 900.0)
    assert all(field.description for field in PlanLimits.model_fields.values())


def test_a_plan_file_with_a_24_hour_shot_is_refused_naming_limit_value_and_setting(tmp_path: Path) -> None:
    path = _plan_file(tmp_path, _set_duration(86_400))
    with pytest.raises(PlanLimitError) as caught:
        load_plan(path)
    message = str(caught.value)
    assert str(path) in message and "shot 2 is 86400 s (24.0 h) long" in message
    assert "the limit is 30 s a shot" in message and "REELGATE_PLANNING__LIMITS__MAX_SHOT_S" in message
    # The same plan adds up past the episode limit too: both are named.
    assert "REELGATE_PLANNING__LIMITS__MAX_EPISODE_S" in message and caught.value.limit == "max_shot_s"


@pytest.mark.parametrize(("spelled", "says"), [
    (".inf", "shot 1 is inf s long; the limit is 30 s a shot"),  # YAML can spell infinity: the limit holds
    (".nan", "shot 1, field 'duration_s': Input should be greater than 0 (got nan)"),
])
def test_infinite_or_nan_durations_are_refused(tmp_path: Path, spelled: str, says: str) -> None:
    path = _plan_file(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("duration_s: ", f"duration_s: {spelled} #", 1),
                    encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(says)):
        load_plan(path)


def test_too_many_shots_are_refused_before_the_shots_are_built(tmp_path: Path) -> None:
    def many(data: dict) -> None:
        data["shots"] = [copy.deepcopy(dict(data["shots"][0], duration_s=2.0)) for _ in range(1000)]
        # Building shot 1 would refuse its empty text: the count is checked before any shot is built.
        data["shots"][0]["text"] = ""

    path = _plan_file(tmp_path, many)
    with pytest.raises(PlanLimitError, match=r"1000 shots; the limit is 60 shots an episode") as caught:
        load_plan(path)
    assert "REELGATE_PLANNING__LIMITS__MAX_SHOTS" in str(caught.value)


def test_an_episode_over_the_episode_limit_is_refused(tmp_path: Path) -> None:
    def long(data: dict) -> None:
        data["shots"] = [dict(data["shots"][0], duration_s=30.0) for _ in range(31)]  # 930 s

    with pytest.raises(PlanLimitError, match=r"add up to 930 s \(15.5 min\); the limit is 900 s") as caught:
        load_plan(_plan_file(tmp_path, long))
    assert caught.value.limit == "max_episode_s"
    load_plan(_plan_file(tmp_path, lambda d: d.update(shots=d["shots"] * 10)))  # 30 short shots: fine


def test_limits_come_from_the_planning_settings(tmp_path: Path) -> None:
    path = _plan_file(tmp_path)
    strict = PlanningSettings(max_shots=2, limits=PlanLimits(max_shots=2))
    with pytest.raises(PlanLimitError, match="3 shots; the limit is 2"):
        load_plan(path, strict)
    assert len(load_plan(path, PlanningSettings()).shots) == 3


def test_the_planner_stays_under_the_shot_limit_and_refuses_an_overlong_episode() -> None:
    short_shots = PlanningSettings(limits=PlanLimits(max_shot_s=3.0))
    plan = plan_shots(STORY, "ep", short_shots)
    assert all(shot.duration_s <= 3.0 for shot in plan.shots)

    story = " ".join(f"The fox crosses hill number {k} at dusk and keeps running." for k in range(12))
    with pytest.raises(PlanLimitError, match="REELGATE_PLANNING__LIMITS__MAX_EPISODE_S") as caught:
        plan_shots(story, "ep", PlanningSettings(limits=PlanLimits(max_episode_s=20)))
    assert "the story of ep" in str(caught.value)


def test_the_planner_cannot_be_set_above_the_limit() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(planning={"max_shots": 100})
    assert "REELGATE_PLANNING__MAX_SHOTS" in str(caught.value)
    assert "REELGATE_PLANNING__LIMITS__MAX_SHOTS" in str(caught.value)
    Settings(planning={"max_shots": 100, "limits": {"max_shots": 100}})


def test_a_request_carrying_an_over_limit_plan_is_refused_by_the_flow_check(tmp_path: Path) -> None:
    plan = plan_shots(STORY, "req", PlanningSettings())
    long_shot = plan.model_copy(update={"shots": [plan.shots[0].model_copy(update={"duration_s": 86_400.0})]})
    request = EpisodeRequest(prompt=STORY, episode_id="req", plan=long_shot)  # parameters can carry anything
    with pytest.raises(PlanLimitError, match="shot 1 is 86400 s") as caught:
        check_plan_limits(request.plan, Settings().planning.limits, "the request's plan")
    assert str(caught.value).startswith("the request's plan: ")
    assert check_plan_limits(plan, PlanLimits()) is plan


def test_reelgate_episode_with_an_over_limit_plan_exits_2_before_any_work(tmp_path: Path, capsys) -> None:
    path = _plan_file(tmp_path, _set_duration(86_400))
    assert main(["episode", "--plan", str(path), "--id", "limits-24h"]) == 2
    err = capsys.readouterr().err
    assert "86400 s" in err and "REELGATE_PLANNING__LIMITS__MAX_SHOT_S" in err
    assert not (Settings().episodes_dir / "limits-24h").exists()
    assert main(["plan", "--from", str(path)]) == 2
    assert "86400 s" in capsys.readouterr().err


@pytest.mark.integration  # wall-clock bounds; the fast tests above assert the refusals themselves
def test_over_limit_plans_are_refused_within_seconds(tmp_path: Path, capsys) -> None:
    path = _plan_file(tmp_path, _set_duration(86_400))
    started = time.perf_counter()
    with pytest.raises(PlanLimitError):
        load_plan(path)
    assert time.perf_counter() - started < 1.0

    def many(data: dict) -> None:
        data["shots"] = [copy.deepcopy(dict(data["shots"][0], duration_s=2.0)) for _ in range(1000)]

    crowded = _plan_file(tmp_path, many, name="crowded.yaml")
    started = time.perf_counter()
    with pytest.raises(PlanLimitError, match=r"1000 shots"):
        load_plan(crowded)
    assert time.perf_counter() - started < 2.0

    started = time.perf_counter()
    assert main(["episode", "--plan", str(path), "--id", "limits-24h-timed"]) == 2
    assert time.perf_counter() - started < 5  # no server started, nothing planned or generated
    assert "86400 s" in capsys.readouterr().err


# ---------- series files ----------

SERIES = """\
id: demo
title: Demo
language: en
schedule: "0 8 * * *"
style_preset: storybook
episodes:
  - id: fox
    title: Fox
    story: A fox runs across the snowy hills. The fox stops under a pine. The moon rises.
  - id: owl
    title: Owl
    story: The owl wakes at dusk. It flies over the river.
    shots:
      - {shot: 1, duration_s: 25}
      - {shot: 2, duration_s: 25}
"""


def test_a_series_episode_over_a_limit_is_a_problem_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "series.yaml"
    path.write_text(SERIES, encoding="utf-8")
    load_series(path)  # within the defaults
    strict = PlanningSettings(limits=PlanLimits(max_shot_s=20, max_episode_s=40))
    with pytest.raises(SeriesFileError) as caught:
        load_series(path, strict)
    problems = {(p.where, p.line): p.message for p in caught.value.problems}
    assert set(problems) == {("episodes[2].shots", 14), ("episodes[2].story", 12)}
    assert "25 s long (and 1 more shot(s) over it); the limit is 20 s" in problems[("episodes[2].shots", 14)]
    assert "add up to 50 s; the limit is 40 s" in problems[("episodes[2].story", 12)]


def test_a_series_story_the_planner_refuses_is_a_problem_of_its_story(tmp_path: Path) -> None:
    path = tmp_path / "series.yaml"
    path.write_text(SERIES, encoding="utf-8")
    with pytest.raises(SeriesFileError) as caught:
        load_series(path, PlanningSettings(limits=PlanLimits(max_episode_s=5)))  # fox plans into 7 s
    fox = [p for p in caught.value.problems if p.where == "episodes[1].story"]
    assert fox and fox[0].line == 9 and "REELGATE_PLANNING__LIMITS__MAX_EPISODE_S" in fox[0].message
