"""Stage 4-5 tasks: frame safety and quality scoring of a generated shot."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
from prefect.artifacts import create_image_artifact, create_markdown_artifact, create_table_artifact

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
            _data_url(picture), key=artifact_key(episode_id, "safety-image", f"shot{shot.index + 1}"),
            description=f"Safety, {what}: " + ("the findings (blocked nudity blurred)" if report.findings_sheet
                                               else "the sampled frames"),
        )
    return report


def _data_url(image: Path, max_width: int = 960) -> str:
    """The image as a small inline JPEG: the Prefect UI shows it with no file server."""
    picture = cv2.imread(str(image))
    h, w = picture.shape[:2]
    if w > max_width:
        picture = cv2.resize(picture, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


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
