"""Stage 8 tasks: the contact sheet, the review decision and publishing."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from prefect.artifacts import create_markdown_artifact

from editorial.audit import append_audit, decision_event
from editorial.manifest import ReviewDecision, ReviewRecord
from editorial.publish import publish_episode
from editorial.report import episode_contact_sheet
from tasks.common import artifact_key, stage_task


def _thumbnail_data_uri(png: Path, width: int = 960) -> str:
    from PIL import Image

    with Image.open(png) as im:
        im.thumbnail((width, width * 4))
        buf = io.BytesIO()
        im.convert("RGB").save(buf, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


@stage_task("contact_sheet", ("editorial", "reelgate"))
def make_episode_contact_sheet(
    video: Path, out: Path, flags: list[tuple[float, str]], episode_id: str, review_round: int = 1
) -> Path:
    """review_round: the video at `video` is remade in place after a regenerate; the round
    keeps the cache from handing back the previous round's sheet."""
    sheet = episode_contact_sheet(video, out, flags, title=episode_id)
    create_markdown_artifact(
        f"### Contact sheet\n\n`{sheet}`\n\n![contact sheet]({_thumbnail_data_uri(sheet)})",
        key=artifact_key(episode_id, "contact-sheet"),
        description="Evenly spaced frames of the final video; flagged frames outlined in red",
    )
    return sheet


@stage_task("record_decision", ("editorial",), retries=0)
def record_decision(
    decision: ReviewDecision, episode_id: str, flow_run_id: str, review_round: int, refused: str | None, audit_log: Path
) -> ReviewRecord:
    """The decision taken at a review gate, as recorded, with its audit line.

    Cached on its inputs, so a run replaying its gates after a resume returns the same
    record (same time) and writes no second audit line.
    """
    record = ReviewRecord(
        **ReviewDecision.model_validate(decision.model_dump()).model_dump(),
        flow_run_id=flow_run_id, round=review_round, refused=refused,
    )
    append_audit(audit_log, decision_event(
        when=record.decided_at, who=record.reviewer, what=record.decision.value, episode_id=episode_id,
        flow_run_id=flow_run_id, round=review_round, notes=record.notes, shots=record.shots, refused=refused,
    ))
    return record


@stage_task("publish", ("editorial",), refresh_cache=True)  # idempotent; always checks the approval again
def publish(episode_dir: Path, publish_dir: Path, base_url: str | None = None) -> Path:
    return publish_episode(episode_dir, publish_dir, base_url)
