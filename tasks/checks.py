"""Stage 4-5 tasks: frame safety and quality scoring of a generated shot."""

from __future__ import annotations

from pathlib import Path

from prefect.artifacts import create_markdown_artifact

from quality.score import QualityReport, score_video
from reelgate.records import GeneratedShot
from reelgate.settings import QualitySettings, SafetySettings
from safety.check import check_video
from safety.report import SafetyReport
from tasks.common import artifact_key, stage_task


@stage_task("check_safety", ("safety",))
def check_shot_safety(shot: GeneratedShot, settings: SafetySettings, episode_id: str) -> SafetyReport:
    sheet = shot.path.with_name(shot.path.stem + "_safety.png")
    report = check_video(shot.path, settings, shot_index=shot.index, contact_sheet=sheet)
    create_markdown_artifact(
        f"### Shot {shot.index + 1}, attempt {shot.attempt + 1}: safety **{report.action.value}**\n\n"
        + report.to_markdown(),
        key=artifact_key(episode_id, "safety", f"shot{shot.index + 1}"),
        description="Frame-level safety findings",
    )
    return report


@stage_task("score_quality", ("quality",))
def score_shot_quality(
    shot: GeneratedShot, wants_motion: bool, settings: QualitySettings, episode_id: str
) -> QualityReport:
    report = score_video(
        shot.path, settings, wants_motion=wants_motion, shot_index=shot.index, attempt=shot.attempt
    )
    create_markdown_artifact(
        f"### Shot {shot.index + 1}, attempt {shot.attempt + 1}: quality "
        f"**{'pass' if report.passed else 'fail'}** ({report.score:.2f})\n\n" + report.to_markdown(),
        key=artifact_key(episode_id, "quality", f"shot{shot.index + 1}"),
        description="Automatic quality scores",
    )
    return report
