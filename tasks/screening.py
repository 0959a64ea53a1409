"""Stage 1-2 tasks: screen the prompt, then structure it into shots."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact

from prompts.blocklist import Blocklist
from prompts.screen import ScreenResult, screen
from prompts.structure import plan_shots
from reelgate.records import EpisodeRequest, ShotPlan
from reelgate.settings import PlanningSettings, ScreeningSettings
from tasks.common import artifact_key, stage_task


@stage_task("screen_prompt", ("prompts",), retries=0)
def screen_prompt(prompt: str, episode_id: str, settings: ScreeningSettings) -> ScreenResult:
    result = screen(prompt, Blocklist.load(settings.extra_lists, use_defaults=settings.use_default_lists))
    reasons = "\n".join(f"- {r}" for r in result.verdict().reasons) or "- no listed terms"
    create_markdown_artifact(
        f"### Prompt screening: **{result.action.value}**\n\n{reasons}",
        key=artifact_key(episode_id, "screening"),
        description="Keyword screening of the prompt",
    )
    return result


@stage_task("plan_shots", ("prompts",), retries=0)
def plan_episode(request: EpisodeRequest, settings: PlanningSettings) -> ShotPlan:
    return plan_shots(
        request.prompt, request.episode_id, settings, language=request.language, seed=request.seed
    )
