"""The episode manifest: one JSON file per episode that records everything decided.

It is the source of truth for publishing: nothing is published unless the manifest
holds a recorded human approval (see `editorial.publish`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reelgate.errors import InputError
from reelgate.files import write_json
from reelgate.records import Action, EpisodeRequest, GeneratedShot, Refusal, ShotPlan, Verdict

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
    REGENERATING = "regenerating"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"  # replaced by a new request under the same id (`reelgate episode --replace`)


# An episode in one of these is done: a new run of it redoes nothing.
FINAL_STATUSES = frozenset({Status.PUBLISHED, Status.REJECTED, Status.EXPIRED, Status.SUPERSEDED})


class EpisodeVersion(BaseModel):
    """Exactly what a reviewer watches at one review gate: a decision is a statement about these bytes.

    A version is the flow run, the review round, and the sha256 of the final video and of the
    subtitles it carries. `id` is the short form people see and type (`reelgate review approve
    --version`); it is derived from all four, so two runs or rounds never share one.
    """

    id: str = Field(description="Short form shown on the page, by `reelgate review show` and in the Prefect form.")
    flow_run_id: str
    round: int = Field(ge=1)
    video_sha256: str
    subtitles_sha256: str = ""
    line: int = Field(1, ge=1, description="Which line of work under this episode id (1 + the number of --replace).")


class Decision(str, Enum):
    APPROVE = "approve"
    REJECT = "reject"
    REGENERATE = "regenerate"


# The same rules as ReviewDecision's validator, as JSON schema: the Prefect server checks
# a resume's input against it, so an incomplete form from the UI is refused there, before
# the flow could fail on it.
_NOTES_GIVEN = {"properties": {"notes": {"pattern": "\\S"}}, "required": ["notes"]}
_DECISION_RULES = {"allOf": [
    {"if": {"properties": {"decision": {"const": "reject"}}}, "then": _NOTES_GIVEN},
    {"if": {"properties": {"decision": {"const": "regenerate"}}},
     "then": {"properties": {"notes": {"pattern": "\\S"}, "shots": {"minItems": 1}}, "required": ["notes", "shots"]}},
    {"if": {"properties": {"take": {"minLength": 1}}, "required": ["take"]},
     "then": {"properties": {"decision": {"const": "regenerate"}, "shots": {"minItems": 1, "maxItems": 1}}}},
]}


class ReviewDecision(BaseModel):
    """The review gate's input form (Prefect shows it behind the Resume button)."""

    model_config = ConfigDict(json_schema_extra=_DECISION_RULES)

    decision: Decision = Field(
        description="approve publishes the episode; reject ends it unpublished; "
        "regenerate makes the chosen shots again with the notes and returns the episode to review."
    )
    notes: str = Field(
        "", max_length=5000,
        description="What the reviewer saw; required to reject, and to regenerate (it is added to the shots' prompts).",
    )
    shots: list[int] = Field(
        default_factory=list, description="For regenerate: the shots to make again, numbered from 1.",
        json_schema_extra={"items": {"type": "integer", "minimum": 1}},
    )
    version: str = Field(
        "", max_length=80,
        description="The version the decision was made on (the review page, `reelgate review show` and this form "
        "show it). A decision on any other version is refused.",
    )
    reviewer: str = Field(
        "editor", min_length=1, max_length=100,
        description="Who decided: set by the review page and the CLI from the reviewer's token.",
    )
    signature: str = Field(
        "", max_length=128,
        description="Filled in by the review page and the CLI (it proves the reviewer's name); leave empty here.",
    )
    take: str = Field(
        "", max_length=120, pattern=r"^$|^[A-Za-z0-9][A-Za-z0-9._-]{0,99}/t[0-9]{2,3}$",
        description="For regenerate of one shot: the take chosen in a variants sweep of this version, as "
        "SWEEP/tNN (the review page fills it in). The shot becomes that take instead of being made again.",
    )

    @field_validator("shots")
    @classmethod
    def _shots_numbered_from_one(cls, shots: list[int]) -> list[int]:
        if any(s < 1 for s in shots):
            raise ValueError(f"shots are numbered from 1 (the first shot is 1), got {shots}")
        return sorted(set(shots))

    @model_validator(mode="after")
    def _complete(self) -> "ReviewDecision":
        if self.decision in (Decision.REJECT, Decision.REGENERATE) and not self.notes.strip():
            what = "what is wrong, so the next version can fix it" if self.decision == Decision.REJECT else (
                "what to change in the chosen shots (the notes are added to their prompts), e.g. 'the fox is red'"
            )
            raise ValueError(f"{self.decision.value} needs notes saying {what}")
        if self.decision == Decision.REGENERATE and not self.shots:
            raise ValueError("regenerate needs the shots to make again, numbered from 1, e.g. shots [2] (--shots 2)")
        if self.decision != Decision.REGENERATE and self.shots:
            raise ValueError(f"shots are only for regenerate; {self.decision.value} applies to the whole episode")
        if self.take and (self.decision != Decision.REGENERATE or len(self.shots) != 1):
            raise ValueError("a chosen take replaces one shot: decide regenerate with exactly the swept shot")
        return self


class ReviewRecord(ReviewDecision):
    """One review round as decided: the form, on which version, when, by which run, and whether it was carried out."""

    decided_at: datetime = Field(default_factory=now_utc)
    flow_run_id: str | None = None
    decided_on: EpisodeVersion | None = Field(None, description="The version the decision was taken on, whole.")
    authenticated: bool = Field(
        False, description="The reviewer's name was proven by the review page or the CLI (a signed decision); "
        "false for a decision typed into Prefect's own form."
    )
    round: int = Field(1, ge=1, description="The review gate this decision was taken at, counted from 1.")
    refused: str | None = Field(
        None, description="Why a regenerate was not carried out (notes blocked by the screen, no such shot, "
        "round limit); the episode stayed at the gate."
    )


class AttemptRecord(BaseModel):
    """One generation attempt of a shot: what was made, how it scored, and why it was retried."""

    review_round: int = Field(1, ge=1, description="The production round (1, then one more per regenerate).")
    prompt: str = ""
    shot: GeneratedShot | None = Field(
        None, description="The shot as checked and kept: enhanced when enhancement ran (None: the generator refused)."
    )
    generated: Path | None = Field(None, description="The generator's own file, before enhancement.")
    enhance: dict[str, Any] = Field(
        default_factory=dict, description="What enhancement did (steps and settings), or why it failed ('failed')."
    )
    quality: dict[str, Any] = Field(default_factory=dict, description="The quality report, without per-frame series.")
    safety_action: Action | None = None
    retry_reason: str | None = None
    refusal: Refusal | None = Field(None, description="The generator declined the shot on content grounds.")
    take: str | None = Field(None, description="The variants take carried in as this attempt (SWEEP/tNN), "
                             "checked again for safety and quality here.")


class NarrationRecord(BaseModel):
    """The narration of one shot: which file, how long, which voice spoke and which failed first."""

    path: str
    duration_s: float
    voice: str
    failed_voices: list[str] = Field(default_factory=list)
    segments: int = 0


class SoundtrackRecord(BaseModel):
    """Where the music came from and how loud the final mix measured."""

    music: str = ""
    integrated_lufs: float | None = None
    true_peak_db: float | None = None
    voice_over_music_db: float | None = None


class ShotRecord(BaseModel):
    """One shot: its plan, every generation attempt with its scores, and the kept one."""

    index: int
    text: str
    attempts: list[AttemptRecord] = Field(default_factory=list)
    kept_attempt: int = 0
    safety: dict[str, Any] | None = None
    narration: NarrationRecord | None = None
    start_s: float | None = Field(None, description="Where the shot starts in the episode, seconds (set at assembly).")


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
    soundtrack: SoundtrackRecord | None = None
    ai_label: dict[str, Any] = Field(
        default_factory=dict,
        description="The implicit AI-content label written into the video's metadata (generator, model, date, producer).",
    )
    version: EpisodeVersion | None = Field(
        None, description="The version at the review gate now (or the last one there): what a decision must name."
    )
    line: int = Field(1, ge=1, description="Which line of work under this id: 1, then one more per --replace.")
    superseded: list[dict[str, Any]] = Field(
        default_factory=list, description="Earlier lines of work under this id (--replace): line, when, their "
        "request's first words, their last version, and where their files went.",
    )
    review: ReviewRecord | None = Field(None, description="The latest decision (the final one once decided).")
    reviews: list[ReviewRecord] = Field(default_factory=list, description="Every review round, oldest first.")
    review_round: int = Field(0, ge=0, description="The review gate the episode is at or last passed, from 1.")
    waiting_since: datetime | None = Field(None, description="When the episode last reached the review gate.")
    review_due_at: datetime | None = Field(None, description="When the waiting review expires unless decided.")
    expired_at: datetime | None = None
    published_at: datetime | None = None
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


def mark_expired(episode_dir: Path, at: datetime | None = None) -> Manifest | None:
    """Mark an episode still waiting for review as expired; None if it is no longer waiting.

    Expired is final: the episode is never published (publish needs a recorded approval).
    """
    manifest = load_manifest(episode_dir)
    if manifest.status != Status.AWAITING_REVIEW:
        return None
    manifest.status, manifest.expired_at = Status.EXPIRED, at or now_utc()
    manifest.verdict = Verdict.combine([manifest.verdict, Verdict(action=manifest.verdict.action, reasons=[
        f"review expired: not decided by {manifest.review_due_at.isoformat(timespec='seconds') if manifest.review_due_at else 'its deadline'}"
    ])])
    save_manifest(episode_dir, manifest)
    return manifest
