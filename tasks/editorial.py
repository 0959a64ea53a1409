"""Stage 8 tasks: the contact sheet, the review decision and publishing."""

from __future__ import annotations

from pathlib import Path

from prefect.artifacts import create_markdown_artifact

from editorial.audit import append_audit, decision_event
from editorial.manifest import EpisodeVersion, ReviewDecision, ReviewRecord, now_utc
from editorial.publish import publish_episode
from editorial.report import episode_contact_sheet
from editorial.variants import TakeCheck, check_take
from tasks.artifacts import artifact_key, image_data_url
from tasks.common import stage_task


@stage_task(("editorial", "reelgate"), file_inputs=("video",))
def make_episode_contact_sheet(video: Path, out: Path, flags: list[tuple[float, str]], episode_id: str) -> Path:
    """Evenly spaced frames of the final video, flagged frames outlined, as a file and an artifact."""
    sheet = episode_contact_sheet(video, out, flags, title=episode_id)
    create_markdown_artifact(
        f"### Contact sheet\n\n`{sheet}`\n\n![contact sheet]({image_data_url(sheet)})",
        key=artifact_key(episode_id, "contact-sheet"),
        description="Evenly spaced frames of the final video; flagged frames outlined in red",
    )
    return sheet


@stage_task(("editorial",), retries=0)
def check_chosen_take(data_dir: Path, ref: str, episode_id: str, version_id: str, shot: int, gate: int) -> TakeCheck:
    """Whether a take chosen in a variants sweep may become shot `shot` at review gate `gate`.

    Cached on its inputs: a run replaying its gates after a resume meets the same answer,
    whatever happened to the sweep's files since.
    """
    return check_take(data_dir, ref, episode_id, version_id, shot)


@stage_task(("editorial",), retries=0)
def record_decision(
    decision: ReviewDecision, version: EpisodeVersion, authenticated: bool, episode_id: str, refused: str | None,
    audit_log: Path,
) -> ReviewRecord:
    """The decision taken at a review gate on `version`, as recorded, with its audit line.

    Cached on its inputs, so a run replaying its gates after a resume returns the same
    record (same time) and writes no second audit line.
    """
    record = ReviewRecord(
        **ReviewDecision.model_validate(decision.model_dump()).model_dump(exclude={"signature"}),
        flow_run_id=version.flow_run_id, round=version.round, refused=refused, decided_on=version,
        authenticated=authenticated,
    )
    append_audit(audit_log, decision_event(
        when=record.decided_at, who=record.reviewer, what=record.decision.value, episode_id=episode_id,
        flow_run_id=version.flow_run_id, round=version.round, notes=record.notes, shots=record.shots,
        refused=refused, version=version.id, authenticated=authenticated,
    ))
    return record


@stage_task(("editorial",), retries=0)
def record_refusal(
    decision: ReviewDecision, version: EpisodeVersion, episode_id: str, reason: str, attempt: int, audit_log: Path
) -> None:
    """A decision the gate refused (another version, a reviewer not allowed): only this audit line records it.

    attempt: which input at this gate it was; cached like record_decision, so a replay writes it once.
    """
    append_audit(audit_log, decision_event(
        when=now_utc(), who=decision.reviewer, what=f"refused-{decision.decision.value}", episode_id=episode_id,
        flow_run_id=version.flow_run_id, round=version.round, shots=decision.shots, refused=reason,
        version=decision.version or None, via="prefect",
    ))


@stage_task(("editorial",), refresh_cache=True)  # idempotent; always checks the approval again
def publish(episode_dir: Path, publish_dir: Path, base_url: str | None = None) -> Path:
    return publish_episode(episode_dir, publish_dir, base_url)
