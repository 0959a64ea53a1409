"""Stage 8 tasks: the contact sheet, the review decision and publishing."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from prefect.artifacts import create_markdown_artifact

from editorial.audit import append_audit
from editorial.manifest import Decision, Manifest, ReviewDecision, ReviewRecord, Status, load_manifest, save_manifest
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
def make_episode_contact_sheet(video: Path, out: Path, flags: list[tuple[float, str]], episode_id: str) -> Path:
    sheet = episode_contact_sheet(video, out, flags, title=episode_id)
    create_markdown_artifact(
        f"### Contact sheet\n\n`{sheet}`\n\n![contact sheet]({_thumbnail_data_uri(sheet)})",
        key=artifact_key(episode_id, "contact-sheet"),
        description="Evenly spaced frames of the final video; flagged frames outlined in red",
    )
    return sheet


@stage_task("record_decision", ("editorial",), retries=0)
def record_decision(episode_dir: Path, decision: ReviewDecision, flow_run_id: str, audit_log: Path) -> Manifest:
    manifest = load_manifest(episode_dir)
    manifest.review = ReviewRecord(**decision.model_dump(), flow_run_id=flow_run_id)
    manifest.status = Status.APPROVED if decision.decision == Decision.APPROVE else Status.REJECTED
    save_manifest(episode_dir, manifest)
    append_audit(
        audit_log,
        {
            "at": manifest.review.decided_at.isoformat(),
            "episode_id": manifest.episode_id,
            "flow_run_id": flow_run_id,
            "who": decision.reviewer,
            "what": decision.decision.value,
            "notes": decision.notes,
        },
    )
    return manifest


@stage_task("publish", ("editorial",))
def publish(episode_dir: Path, publish_dir: Path) -> Path:
    return publish_episode(episode_dir, publish_dir)
