"""Every text that reaches a model or the public is screened: negative prompts, titles, series titles.

Reviewer notes are screened by the flow before a regenerate (tests/test_review_gate.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from prompts.plan_file import dump_plan, load_plan
from prompts.screen import Screener
from prompts.plan import plan_shots
from prompts.presets import load_presets
from reelgate.records import Action, EpisodeRequest
from reelgate.settings import PlanningSettings, ScreeningSettings

STORY = "A fox runs across the snowy hills. The fox stops under a pine. The moon rises over the valley."


@pytest.fixture(scope="module")
def screener(tmp_path_factory) -> Screener:
    return Screener.from_settings(ScreeningSettings(semantic=False), tmp_path_factory.mktemp("cache"))


def _edited_plan(tmp_path: Path, negative: str):
    data = yaml.safe_load(dump_plan(plan_shots(STORY, "neg", PlanningSettings())))
    data["shots"][2]["negative_prompt"] = negative
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_negative_prompt_with_a_blocked_term_blocks_the_request(tmp_path, screener):
    plan = load_plan(_edited_plan(tmp_path, "blurry, bloody beheading"))
    request = EpisodeRequest(prompt=STORY, episode_id="neg", plan=plan)
    assert "bloody beheading" in request.screening_text()
    result = screener.screen(request.screening_text())
    assert result.action == Action.BLOCK
    assert any(m.text.lower().startswith("blood") or "behead" in m.text.lower() for m in result.matches)
    # The same plan with a harmless negative prompt passes: it was the negative prompt.
    clean = EpisodeRequest(prompt=STORY, episode_id="neg", plan=load_plan(_edited_plan(tmp_path, "blurry, text")))
    assert screener.screen(clean.screening_text()).action == Action.ALLOW


def test_the_screening_text_holds_every_model_and_public_text(tmp_path):
    plan = plan_shots(STORY, "ep", PlanningSettings(preset="ink-wash"))
    request = EpisodeRequest(prompt=STORY, episode_id="ep", title="The Fox", series="Night Tales", plan=plan)
    text = request.screening_text()
    assert "The Fox" in text and "Night Tales" in text  # title and series title go into metadata and feeds
    for shot in plan.shots:
        for field in (shot.text, shot.subject, shot.action, shot.environment, shot.style, shot.prompt,
                      shot.negative_prompt):
            assert field in text
    assert text.count(plan.shots[0].negative_prompt) == 1  # shared texts are screened once
    # A plan made by the planner carries the preset's style and negative prompt: the flow
    # screens plan.screening_text() too (see README, Limits and hostile input).
    assert plan.shots[0].negative_prompt and plan.shots[0].negative_prompt in plan.screening_text()


@pytest.mark.integration  # loads the semantic screen's sentence model
@pytest.mark.parametrize("preset", sorted(load_presets()))
def test_no_shipped_preset_trips_the_full_default_screen(preset, tmp_path):
    """A preset's words reach the model in every episode: a blocked word would block them all."""
    look = load_presets()[preset]
    screener = Screener.from_settings(ScreeningSettings(), tmp_path)
    for text in (look.style, look.negative_prompt):
        result = screener.screen(text)
        assert result.action == Action.ALLOW, (preset, text, result.matches)


@pytest.mark.integration
def test_an_edited_plan_with_a_blocked_negative_prompt_is_refused_before_generation(
    prefect_server, tmp_path, monkeypatch, capsys
):
    from editorial.manifest import load_manifest
    from cli import main

    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("REELGATE_TEST_CALLS", str(calls))
    monkeypatch.setenv("REELGATE_GENERATION__BACKEND", "tests.fakes:CountingAnimatic")
    plan = _edited_plan(tmp_path, "blurry, bloody beheading")
    assert main(["episode", "--plan", str(plan), "--id", "neg-blocked"]) == 1
    assert "blocked" in capsys.readouterr().out
    episode = prefect_server.episodes_dir / "neg-blocked"
    manifest = load_manifest(episode)
    assert manifest.status.value == "blocked" and manifest.shots == []
    assert not calls.exists() and not list(episode.rglob("*.mp4"))  # nothing was generated
