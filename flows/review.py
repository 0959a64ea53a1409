"""Waiting at the review gate and resuming it, on Prefect. The rules themselves are `editorial.review`'s.

Import `flows.environment.configure_prefect` and call it before importing this module.

Two sides of one gate:
- the episode flow calls `wait_for_decision`: the run is suspended (no process, worker or
  GPU held) with a form whose `version` field accepts only the version at the gate, and
  every decision that comes back is checked again here, because Prefect's API can resume a
  run without passing through the page or the CLI;
- the page and the CLI call `decide`: one decision at a time (a lock), checked against the
  manifest on disk and the bytes of the video, signed, then sent as the run's resume input.
  A refused decision records only its refusal, in the audit log.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import PrefectException
from prefect.flow_runs import resume_flow_run, suspend_flow_run
from pydantic import Field, create_model

from editorial.audit import append_audit, locked
from editorial.notify import notify_episode
from editorial.manifest import MANIFEST_NAME, EpisodeVersion, Manifest, ReviewDecision, Status, load_manifest
from editorial.review import (
    PREFECT_UI, QueueItem, check_decision, decision_key, file_sha256, may_decide, read_manifests, recently_decided,
    refusal_event, sign_decision, signed_by_desk, waiting_queue,
)
from editorial.variants import SWEEP_FILE, Sweep, TakeState, load_sweep, mark_on_page, sweep_dir
from flows.runs import (
    deployment_served, episode_deployment_id, episode_dir_of, execute_run, read_run, start_episode, waiting_runs,
)
from reelgate.errors import InputError, NotAllowed, StaleDecision
from reelgate.records import EpisodeRequest
from reelgate.settings import RunOptions, Settings
from reelgate.storage import pull, pull_all, push

if TYPE_CHECKING:
    from editorial.web import Started

REVIEW_KEY = "gate"  # gate n, decision k suspends with key gate-n-k
MANIFEST_ONLY = frozenset({MANIFEST_NAME})  # what the queue needs of each episode in a shared store
MAX_REFUSED = 20  # refused decisions at one gate before the run gives up (the review then expires)


def decision_form(version: EpisodeVersion) -> type[ReviewDecision]:
    """The gate's input form: the decision, with `version` fixed to the one at the gate.

    The Prefect server checks a resume's input against this schema, so a decision on another
    version is refused there already and the run stays suspended.
    """
    return create_model(
        "ReviewDecision", __base__=ReviewDecision,
        version=(Literal[version.id], Field(  # type: ignore[valid-type]
            version.id, description=f"The version you watched: {version.id} (review round {version.round}, "
            f"video sha256 {version.video_sha256[:16]}…). Only this version can be decided here."
        )),
    )


def wait_for_decision(
    manifest: Manifest, gate: int, timeout_s: int, data_dir, on_refused
) -> tuple[ReviewDecision, bool]:
    """Suspend at gate `gate` until an acceptable decision comes; return it and whether it was signed.

    A decision that fails the gate's rules (another version, a reviewer outside the series'
    list, a forged signature) is handed to `on_refused(decision, reason, k)` (the flow records
    it once, in the audit log) and the run suspends again for the next one. Each try has its
    own key, so a run replaying after a resume meets the same decisions in the same order.
    """
    version = manifest.version
    form = decision_form(version)
    key = decision_key(data_dir)
    for k in range(1, MAX_REFUSED + 1):
        given = suspend_flow_run(wait_for_input=form, timeout=timeout_s, key=f"{REVIEW_KEY}-{gate}-{k}")
        decision = ReviewDecision.model_validate(given.model_dump(exclude={"metadata"}))
        signed = signed_by_desk(decision, manifest.episode_id, key)
        reviewer = decision.reviewer if signed else PREFECT_UI
        reason = None
        if decision.signature and not signed:
            reason = "the decision's signature does not match it (changed after the page or the CLI signed it)"
        elif decision.version != version.id:
            reason = f"decided on version {decision.version}, but the gate holds {version.id}"
        elif not may_decide(manifest, reviewer):
            reason = f"{reviewer} is not among the reviewers who decide this episode ({', '.join(manifest.request.reviewers)})"
        if reason is None:
            return decision.model_copy(update={"reviewer": reviewer}), signed
        on_refused(decision.model_copy(update={"reviewer": reviewer}), reason, k)
    raise InputError(f"{MAX_REFUSED} refused decisions at review gate {gate}; the episode waits no longer")


# ---- deciding: the page and the CLI ---------------------------------------------------------

def decide(settings: Settings, episode_id: str, decision: ReviewDecision, reviewer: str, via: str) -> FlowRun:
    """Carry out one reviewer's decision on an episode at the gate; return its (resumed) run.

    reviewer: the authenticated name (the page's session, the CLI's token), never a typed one.
    via: "page" or "cli", for the audit log.
    Raises StaleDecision, NotAllowed or InputError, after writing the refusal to the audit log.
    """
    folder = settings.episodes_dir / episode_id
    audit = settings.data_dir / "audit.jsonl"
    decision = decision.model_copy(update={"reviewer": reviewer, "signature": ""})
    # The bytes checked below are the worker's, as pushed (a live worker's unpushed files here are kept).
    pull(settings.storage_url, settings.data_dir, folder, keep_local_changes=True)
    # One decision at a time across processes: of two concurrent approvals, the second finds the run resumed.
    with locked(settings.data_dir / ".review.lock"):
        manifest = load_manifest(folder)
        try:
            check_decision(manifest, decision, reviewer, settings.max_review_rounds)
            _check_bytes(manifest, folder)
            run = read_run(uuid.UUID(manifest.flow_run_id))
            if not run.state or run.state.type != StateType.PAUSED:
                raise StaleDecision(
                    f"episode {episode_id} is no longer waiting (its run is {run.state_name}): someone decided "
                    f"version {manifest.version.id} a moment ago. Nothing was recorded; reload to see the outcome"
                )
            signed = sign_decision(decision, episode_id, decision_key(settings.data_dir))
            try:
                resume_flow_run(run.id, run_input=signed.model_dump(mode="json"))
            except (RuntimeError, PrefectException) as exc:  # the server refused the input or the state change
                raise StaleDecision(f"the review gate of {episode_id} refused the decision: {exc}; reload") from None
        except (StaleDecision, NotAllowed, InputError) as exc:
            append_audit(audit, refusal_event(manifest, decision, reviewer, str(exc), via))
            raise
    return run


def _check_bytes(manifest: Manifest, folder) -> None:
    """The files on disk are still the version's: a decision is about the bytes the reviewer watched."""
    version = manifest.version
    video = folder / manifest.outputs.get("video", "")
    if not video.is_file() or file_sha256(video) != version.video_sha256:
        raise StaleDecision(
            f"the video of episode {manifest.episode_id} changed on disk after version {version.id} was made; "
            "it cannot be decided as is. Regenerate it or produce it again"
        )


class PrefectDesk:
    """The review page's desk: the queue from the manifests, decisions through `decide`, new episodes through
    `flows.runs.start_episode`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._executions: list[threading.Thread] = []
        self._children: list[subprocess.Popen] = []  # sweeps made in child processes

    def _pull_manifests(self) -> None:
        # With a shared store, the workers' episodes are there: their manifests make the queue.
        pull_all(self.settings.storage_url, self.settings.data_dir, self.settings.episodes_dir, MANIFEST_ONLY,
                 keep_local_changes=True)

    def waiting(self) -> list[QueueItem]:
        self._pull_manifests()
        return waiting_queue(read_manifests(self.settings.episodes_dir))

    def recently_decided(self) -> list[QueueItem]:
        self._pull_manifests()
        return recently_decided(read_manifests(self.settings.episodes_dir))

    def episode(self, episode_id: str) -> Manifest:
        folder = self.settings.episodes_dir / episode_id
        pull(self.settings.storage_url, self.settings.data_dir, folder, keep_local_changes=True)  # its video
        return load_manifest(folder)

    def decide(self, episode_id: str, decision: ReviewDecision, reviewer: str) -> None:
        run = decide(self.settings, episode_id, decision, reviewer, via="page")
        if run.deployment_id is None or not deployment_served(run.deployment_id):
            # Nobody polls the deployment: execute the resumed run here, without holding the request.
            thread = threading.Thread(
                target=execute_run, args=(run.id,), name=f"resume-{episode_id}", daemon=True
            )
            thread.start()
            self._executions.append(thread)

    def start(self, request: EpisodeRequest, options: RunOptions | None, reviewer: str,
              priority: str = "high") -> "Started":
        """Start the episode as `reelgate episode` does (flows.runs.start_episode); the page checked it first."""
        from editorial.web import Started  # the page's module (FastAPI) stays out of the episode flow's imports

        deployment_id = episode_deployment_id()
        run, attached = start_episode(deployment_id, request, self.settings, who=reviewer, options=options,
                                      priority=priority)
        if not attached and not deployment_served(deployment_id):
            # Nobody polls the deployment: execute the run here, without holding the request.
            thread = threading.Thread(target=execute_run, args=(run.id,), name=f"start-{request.episode_id}",
                                      daemon=True)
            thread.start()
            self._executions.append(thread)
        return Started(episode_id=request.episode_id, flow_run_id=str(run.id), attached=attached)

    def mark_take(self, sweep_id: str, take_id: str, state: TakeState, reviewer: str) -> Sweep:
        """Mark a take of a sweep as `reviewer`; selecting a plan-file sweep's take writes it into the plan."""
        return mark_on_page(self.settings.data_dir, sweep_id, take_id, state, reviewer, self.settings.planning)

    def start_sweep(self, episode_id: str, shot: int, knobs: dict[str, list[str]], seeds: int, reviewer: str) -> Sweep:
        """Open a sweep of shot `shot` on the version at the episode's review gate, and start it.

        The takes are made as the episode's shots are: with the run options its run was started with
        (backend, size, preset), never anything from the page. The same sweep asked twice (a double
        click) is the same sweep: its id is derived from the version, the shot, the knobs and the seeds.
        """
        from flows.runs import execute_sweep, start_sweep, sweep_deployment_id

        manifest = self.episode(episode_id)
        if manifest.status != Status.AWAITING_REVIEW or manifest.version is None or manifest.plan is None:
            raise InputError(f"episode {episode_id} is not waiting for review ({manifest.status.value}); a sweep is "
                             "opened on the version at the review gate")
        if not may_decide(manifest, reviewer):
            raise NotAllowed(f"{reviewer} is not among the reviewers who decide episode {episode_id} "
                             f"({', '.join(manifest.request.reviewers)})")
        if not 1 <= shot <= len(manifest.plan.shots):
            raise InputError(f"episode {episode_id} has shots 1 to {len(manifest.plan.shots)}, not {shot}")
        run = read_run(uuid.UUID(manifest.flow_run_id))
        options = RunOptions.model_validate(run.parameters.get("options") or {})
        asked = json.dumps([manifest.version.id, shot, knobs, seeds], sort_keys=True)
        sweep_id = f"{episode_id[:60]}-s{shot}-{hashlib.sha256(asked.encode()).hexdigest()[:10]}"
        if (sweep_dir(self.settings.data_dir, sweep_id) / SWEEP_FILE).is_file():
            return load_sweep(self.settings.data_dir, sweep_id)  # asked before: the same sweep
        flow_run, sweep_id = start_sweep(
            manifest.plan, shot, knobs, seeds, sweep_id=sweep_id, episode_id=episode_id,
            episode_version=manifest.version.id, created_by=reviewer, options=options, settings=self.settings,
            idempotency_key=f"reelgate-sweep:{sweep_id}",
        )
        if not deployment_served(sweep_deployment_id()):
            # Nobody polls the variants deployment: make the takes in a child process of this one.
            self._children.append(execute_sweep(flow_run.id, self.settings.data_dir / f"sweep-{sweep_id}.log"))
        return load_sweep(self.settings.data_dir, sweep_id)

    def join(self, timeout_s: float = 600.0) -> None:
        """Wait for runs this desk executes itself (tests, and a clean stop)."""
        deadline = time.monotonic() + timeout_s
        for thread in self._executions:
            thread.join(max(0.0, deadline - time.monotonic()))
        for child in self._children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass


# ---- expiry ------------------------------------------------------------------------------

def run_link(flow_run_id: uuid.UUID | str | None) -> str:
    """The Prefect UI's page of a run for a notification; "" when it cannot be made (never raises)."""
    try:
        from flows.server import ui_url

        return ui_url(flow_run_id) if flow_run_id else ""
    except Exception:
        return ""


EXPIRED_STATE = "Expired"
_RESUMED = {StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING}


def expire_overdue(settings: Settings) -> list[str]:
    """Expire every review not decided in time; return the ids of the episodes expired by this call.

    Prefect 3.8 alone is not enough: its server's pause_expirations service (every 5 s) moves
    a suspended run past its timeout to Failed ("The flow was paused and never resumed.") and
    refuses a late resume, but no flow code runs then, so the manifest would still say
    awaiting_review. Here each such episode gets status expired, an audit line by "system",
    and its run a Cancelled state named Expired with a message and an artifact. Cheap and
    safe to call often from several processes (`reelgate review list`, `reelgate up`).
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Cancelled

    from editorial.audit import SYSTEM, decision_event
    from editorial.manifest import mark_expired, now_utc
    from tasks.artifacts import artifact_key

    now = now_utc()
    due: dict[Path, str | None] = {}  # episode folder -> flow run id
    pull_all(settings.storage_url, settings.data_dir, settings.episodes_dir, MANIFEST_ONLY, keep_local_changes=True)
    for manifest in read_manifests(settings.episodes_dir):  # one being written right now is skipped
        if manifest.status == Status.AWAITING_REVIEW and manifest.review_due_at and manifest.review_due_at <= now:
            due[settings.episodes_dir / manifest.episode_id] = manifest.flow_run_id
        elif manifest.status == Status.AWAITING_REVIEW and manifest.review_due_at and manifest.version:
            _tell_expiring(manifest, settings, now)
    for waiting in waiting_runs():  # runs whose manifest has no deadline: Prefect's timeout decides
        run = read_run(waiting.flow_run_id)
        timeout = run.state.state_details.pause_timeout if run.state else None
        folder = episode_dir_of(run)
        if timeout and timeout <= now and folder.parent == settings.episodes_dir and folder not in due:
            due[folder] = str(run.id)

    expired: list[str] = []
    for folder, run_id in due.items():
        run = None
        if run_id:
            try:
                run = read_run(uuid.UUID(run_id))
            except ObjectNotFound:
                run = None
        if run and run.state:
            if run.state.type in _RESUMED:
                continue  # a decision came in time and is being carried out
            timeout = run.state.state_details.pause_timeout
            if run.state.type == StateType.PAUSED and timeout and timeout > now:
                continue  # Prefect would still accept a decision; its deadline is the one users see
        hours = settings.review_timeout_hours
        message = f"Review expired: not decided in time (review_timeout_hours={hours:g}); the episode stays unpublished."
        if run and run.state and run.state.name != EXPIRED_STATE:
            # The run first, so that a crash here leaves the episode to be expired by the next call.
            with get_client(sync_client=True) as client:
                client.set_flow_run_state(run.id, Cancelled(name=EXPIRED_STATE, message=message), force=True)
        with locked(settings.data_dir / ".review.lock"):
            pull(settings.storage_url, settings.data_dir, folder, MANIFEST_ONLY, keep_local_changes=True)
            manifest = mark_expired(folder, now)
            if manifest is None:
                continue  # decided or expired by someone else meanwhile
            push(settings.storage_url, settings.data_dir, folder)
            append_audit(settings.data_dir / "audit.jsonl", decision_event(
                when=now, who=SYSTEM, what="expire", episode_id=manifest.episode_id, flow_run_id=run_id,
                round=max(manifest.review_round, 1), notes=message,
            ))
        expired.append(manifest.episode_id)
        notify_episode("expired", folder, settings, f"review expired after {hours:g} h; stays unpublished",
                       key=manifest.version.id if manifest.version else f"round{manifest.review_round}",
                       run_url=run_link(run_id))
        if run:
            with get_client(sync_client=True) as client:
                client.create_artifact(ArtifactCreate(
                    key=artifact_key(manifest.episode_id, "review"), type="markdown", flow_run_id=run.id,
                    description="The review decision",
                    data=f"## Episode `{manifest.episode_id}`: expired\n\n{message}\n\n"
                         f"Waiting since {manifest.waiting_since}, due {manifest.review_due_at}.",
                ))
    return expired


def _tell_expiring(manifest: Manifest, settings: Settings, now) -> None:
    """Send 'expiring' once per version when less than notify.expiring_hours (or half the wait) remain."""
    left_h = (manifest.review_due_at - now).total_seconds() / 3600
    window_h = min(settings.notify.expiring_hours, settings.review_timeout_hours / 2)
    if 0 < left_h < window_h:
        notify_episode("expiring", settings.episodes_dir / manifest.episode_id, settings,
                       f"review expires in {left_h:.1f} h", key=manifest.version.id,
                       run_url=run_link(manifest.flow_run_id))
