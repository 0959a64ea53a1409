"""Stage 4-5 tasks: frame safety and quality scoring of a generated shot."""

from __future__ import annotations

from prefect.artifacts import create_image_artifact, create_markdown_artifact, create_table_artifact

from editorial.manifest import AttemptRecord
from quality.plots import metric_table, plot_scores, quality_contact_sheet
from quality.request import ShotRequest
from quality.score import QualityReport, score_video
from reelgate.records import GeneratedShot
from reelgate.settings import QualitySettings, SafetySettings
from safety.check import check_video
from safety.report import SafetyReport
from tasks.artifacts import artifact_key, image_data_url, quietly
from tasks.common import stage_task


@stage_task(("safety",), file_inputs=("shot",))
def check_shot_safety(shot: GeneratedShot, settings: SafetySettings, episode_id: str) -> SafetyReport:
    sheet = shot.path.with_name(shot.path.stem + "_safety.png")
    report = check_video(shot.path, settings, shot_index=shot.index, contact_sheet=sheet)
    what = f"shot {shot.index + 1}, attempt {shot.attempt + 1}"
    create_markdown_artifact(
        f"### Shot {shot.index + 1}, attempt {shot.attempt + 1}: safety **{report.action.value}**\n\n"
        + report.to_markdown(),
        key=artifact_key(episode_id, "safety", f"shot{shot.index + 1}"),
        description="Frame-level safety findings",
    )
    if report.findings:
        create_table_artifact(
            report.table_rows(), key=artifact_key(episode_id, "safety-table", f"shot{shot.index + 1}"),
            description=f"Safety findings, {what}: time, check, label, score, threshold, action",
        )
    picture = report.findings_sheet or report.contact_sheet
    if picture is not None:
        create_image_artifact(
            image_data_url(picture), key=artifact_key(episode_id, "safety-image", f"shot{shot.index + 1}"),
            description=f"Safety, {what}: " + ("the findings (blocked nudity blurred)" if report.findings_sheet
                                               else "the sampled frames"),
        )
    return report



@stage_task(("quality",), file_inputs=("shot",))
def score_shot_quality(
    shot: GeneratedShot, wants_motion: bool, settings: QualitySettings, episode_id: str,
    asks: dict[str, str] | None = None,
) -> QualityReport:
    """asks: what the shot asked for (quality.request.shot_request(spec).asks): rain, snow,
    fire, lightning... are judged as requested texture, not as defects."""
    report = score_video(
        shot.path, settings, wants_motion=wants_motion, shot_index=shot.index, attempt=shot.attempt,
        request=ShotRequest(asks=dict(asks)) if asks else None,
    )
    what = f"shot {shot.index + 1}, attempt {shot.attempt + 1}"
    name = f"shot{shot.index + 1}"
    verdict = "pass" if report.passed else "fail"
    quietly("quality summary", lambda: create_markdown_artifact(
        f"### Shot {shot.index + 1}, attempt {shot.attempt + 1}: quality "
        f"**{verdict}** ({report.score:.2f})\n\n" + report.to_markdown(),
        key=artifact_key(episode_id, "quality", name),
        description="Automatic quality scores",
    ))
    quietly("quality table", lambda: create_table_artifact(
        metric_table(report, settings), key=artifact_key(episode_id, "quality-table", name),
        description=f"Quality, {what}: {verdict}; metric, value, threshold, pass/fail",
    ))
    quietly("quality plot", lambda: create_image_artifact(
        image_data_url(plot_scores(report, shot.path.with_name(shot.path.stem + "_quality.png"),
                              title=f"Shot {shot.index + 1}, attempt {shot.attempt + 1}: quality {verdict} "
                                    f"(score {report.score:.2f})")),
        key=artifact_key(episode_id, "quality-plot", name),
        description=f"Quality, {what}: per-frame scores with threshold lines and flagged frames",
    ))
    quietly("quality contact sheet", lambda: create_image_artifact(
        image_data_url(quality_contact_sheet(shot.path, report, shot.path.with_name(shot.path.stem + "_quality_sheet.png"))),
        key=artifact_key(episode_id, "quality-sheet", name),
        description=f"Quality, {what}: sampled frames, flagged frames outlined in red",
    ))
    return report



def _enhanced_cell(done: dict) -> str:
    """What enhancement did to an attempt, in a few words: its steps, or why it failed."""
    if done.get("failed"):
        return f"failed, shown unenhanced: {done['failed']}"
    steps = [step.get("step", "?") for step in done.get("steps", [])]
    return ", ".join(steps) + (f" ({done['size_out']})" if steps and done.get("size_out") != done.get("size_in") else "")


def publish_attempts(episode_id: str, shot_index: int, attempts: list[AttemptRecord], kept: int) -> None:
    """A table of every generation attempt of one shot: seed, quality, safety, why it was retried.

    attempts: the manifest's ShotRecord.attempts; kept: the index of the kept one.
    """
    rows = []
    for i, entry in enumerate(attempts):
        quality = entry.quality
        rows.append({
            "attempt": i + 1,
            "seed": entry.shot.seed if entry.shot else None,
            "quality": ("pass" if quality.get("passed") else "fail") if quality else "-",
            "score": round(quality.get("score", 0.0), 3) if quality else None,
            "failing": ", ".join(quality.get("failing", [])),
            "safety": entry.safety_action.value if entry.safety_action else "-",
            "enhanced": _enhanced_cell(entry.enhance),
            "retry reason": entry.retry_reason or "",
            "kept": "yes" if i == kept else "",
        })
    quietly("attempts table", lambda: create_table_artifact(
        rows, key=artifact_key(episode_id, "attempts", f"shot{shot_index + 1}"),
        description=f"Shot {shot_index + 1}: every generation attempt, its scores and why it was retried",
    ))
