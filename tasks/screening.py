"""Stage 1-2 tasks: screen the prompt, then structure it into shots."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact

from pathlib import Path

from prompts.screen import ScreenResult, screener_for
from prompts.plan_file import render_plan_table
from prompts.plan import plan_shots, rewriter_screen
from reelgate.records import EpisodeRequest, ShotPlan
from reelgate.settings import PlanningSettings, ScreeningSettings
from tasks.artifacts import artifact_key
from tasks.common import stage_task


@stage_task(("prompts",), retries=0)
def screen_prompt(
    text: str, episode_id: str, settings: ScreeningSettings, lists_fingerprint: str, cache_dir: Path
) -> ScreenResult:
    """lists_fingerprint: prompts.screen.lists_fingerprint, so an edited list re-screens
    instead of reusing a cached verdict."""
    result = screener_for(settings, cache_dir).screen(text)
    reasons = "\n".join(f"- {r}" for r in result.verdict().reasons) or "- no listed terms"
    create_markdown_artifact(
        f"### Prompt screening: **{result.action.value}**\n\n{reasons}",
        key=artifact_key(episode_id, "screening"),
        description="Keyword screening of the prompt",
    )
    return result


@stage_task(("prompts",), retries=0)
def plan_episode(request: EpisodeRequest, settings: PlanningSettings, screening: ScreeningSettings) -> ShotPlan:
    """screening: the flow's screening settings; a language-model rewriter's fields are
    screened with them (the plan itself is screened again by the flow)."""
    if request.plan is not None:  # an editor's plan file: used as written, ids made to match
        plan = request.plan.model_copy(update={"episode_id": request.episode_id})
    else:
        plan = plan_shots(request.prompt, request.episode_id, settings, language=request.language, seed=request.seed,
                          screen=rewriter_screen(settings, screening))
    planner = f"Planned by the {plan.planned_by} rewriter." if plan.planned_by != "rules" else (
        f"Planned by the rules: the rewriter was not used ({plan.planner_note})." if plan.planner_note else ""
    )
    create_markdown_artifact(
        f"### Shot plan\n\n{planner}\n\n```\n{render_plan_table(plan)}\n```\n\nEdit it: `reelgate plan --out plan.yaml`, "
        f"then `reelgate episode --plan plan.yaml --id {request.episode_id}`.",
        key=artifact_key(request.episode_id, "plan"),
        description="The structured shots of the episode",
    )
    return plan
