"""The episode manifest: one JSON file per episode that records everything decided.

It is the source of truth for publishing: nothing is published unless the manifest
holds a recorded human approval (see `editorial.publish`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from reelgate.errors import InputError
from reelgate.files import write_json
from reelgate.records import EpisodeRequest, ShotPlan, Verdict

MANIFEST_NAME = "manifest.json"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


class Status(str, Enum):
    PRODUCING = "producing"
    BLOCKED = "blocked"
    AWAITING_REVIEW = "awaiting_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"


class Decision(str, Enum):
    APPROVE = "approve"
    REJECT = "reject"


class ReviewDecision(BaseModel):
    """The review gate's input form (Prefect shows it behind the Resume button)."""

    decision: Decision = Field(description="approve publishes the episode; reject ends it unpublished.")
    notes: str = Field("", max_length=5000, description="What the reviewer saw; required when rejecting.")
    reviewer: str = Field("editor", min_length=1, max_length=100, description="Who decided.")


class ReviewRecord(ReviewDecision):
    decided_at: datetime = Field(default_factory=now_utc)
    flow_run_id: str | None = None


class ShotRecord(BaseModel):
    """One shot: its plan, every generation attempt with its scores, and the kept one."""

    index: int
    text: str
    attempts: list[dict[str, Any]] = Field(
        default_factory=list, description="Per attempt: generated shot record, quality report, retry reason."
    )
    kept_attempt: int = 0
    safety: dict[str, Any] | None = None
    narration: dict[str, Any] | None = None


class Manifest(BaseModel):
    episode_id: str
    status: Status = Status.PRODUCING
    request: EpisodeRequest
    language: str = ""
    screening: dict[str, Any] = Field(default_factory=dict)
    plan: ShotPlan | None = None
    backend: str = ""
    model: str | None = None
    shots: list[ShotRecord] = Field(default_factory=list)
    verdict: Verdict = Field(default_factory=Verdict, description="Everything reviewers should look at first.")
    outputs: dict[str, str] = Field(default_factory=dict, description="Name -> file name inside the episode folder.")
    soundtrack: dict[str, Any] = Field(
        default_factory=dict, description="Where the music came from and how loud the final mix measured."
    )
    ai_label: dict[str, Any] = Field(
        default_factory=dict,
        description="The implicit AI-content label written into the video's metadata (generator, model, date, producer).",
    )
    review: ReviewRecord | None = None
    published_to: str | None = None
    flow_run_id: str | None = None
    created_at: datetime = Field(default_factory=now_utc)
    updated_at: datetime = Field(default_factory=now_utc)


def manifest_path(episode_dir: Path) -> Path:
    return Path(episode_dir) / MANIFEST_NAME


def save_manifest(episode_dir: Path, manifest: Manifest) -> Path:
    manifest.updated_at = now_utc()
    return write_json(manifest_path(episode_dir), manifest)


def load_manifest(episode_dir: Path) -> Manifest:
    path = manifest_path(episode_dir)
    if not path.is_file():
        raise InputError(f"no episode at {episode_dir} (missing {MANIFEST_NAME}); check the episode id")
    return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
