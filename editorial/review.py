"""The review gate's rules, in one place: versions, decisions, who may decide, regenerate limits, the queue.

Plain Python: the episode flow, the CLI and the review page all call these functions, so a
rule is written once and holds on every path. Waiting and resuming on Prefect live in
`flows.review`; publishing in `editorial.publish`.

A decision is a statement about specific bytes. At each gate the episode gets an
`EpisodeVersion` (flow run, round, sha256 of the video and of its subtitles); a decision
names the version it was made on and is refused (`StaleDecision`) when that is no longer
the version at the gate. Decisions made through the page or the CLI are signed with a key
kept under the data folder, so the flow can tell a proven reviewer name from one typed into
Prefect's own form.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

from editorial.audit import decision_event
from editorial.manifest import (
    MANIFEST_NAME, Decision, EpisodeVersion, Manifest, ReviewDecision, Status, now_utc, save_manifest,
)
from reelgate.errors import EpisodeConflict, InputError, NotAllowed, StaleDecision
from reelgate.files import file_sha256, secret_file
from reelgate.records import EpisodeRequest

PREFECT_UI = "prefect-ui"  # who an unsigned decision (typed into Prefect's Resume form) is recorded as
KEY_FILE = "review.key"  # in data_dir, mode 0600: signs decisions made through the page and the CLI
PAGE_FILE = "review-page.url"  # in data_dir: where the running page listens, for review_link


# ---- versions ------------------------------------------------------------------------------

def make_version(flow_run_id: str, review_round: int, video: Path, subtitles: Path | None, line: int = 1) -> EpisodeVersion:
    """The version of the episode whose final video is `video`, at gate `review_round` of run `flow_run_id`."""
    video_sha = file_sha256(video)
    subs_sha = file_sha256(subtitles) if subtitles is not None and Path(subtitles).is_file() else ""
    whole = hashlib.sha256(f"{flow_run_id}\n{review_round}\n{video_sha}\n{subs_sha}\n{line}".encode()).hexdigest()
    return EpisodeVersion(
        id=f"r{review_round}-{whole[:12]}", flow_run_id=flow_run_id, round=review_round,
        video_sha256=video_sha, subtitles_sha256=subs_sha, line=line,
    )


def describe_version(version: EpisodeVersion | None) -> str:
    if version is None:
        return "no version (the episode has not reached the review gate)"
    return (f"{version.id} (line {version.line}, review round {version.round}, run {version.flow_run_id[:8]}, "
            f"video sha256 {version.video_sha256[:16]}…)")


# ---- who decides ---------------------------------------------------------------------------

def may_decide(manifest: Manifest, reviewer: str) -> bool:
    """Whether `reviewer` may decide the episode: anyone authenticated, or only the series' reviewers."""
    allowed = manifest.request.reviewers
    return not allowed or reviewer in allowed


def decision_key(data_dir: Path) -> bytes:
    """The key that signs decisions made through the page and the CLI (made once, mode 0600)."""
    return bytes.fromhex(secret_file(Path(data_dir) / KEY_FILE, lambda: secrets.token_hex(32)))


def _signed_text(episode_id: str, decision: ReviewDecision) -> bytes:
    fields = decision.model_dump(mode="json", exclude={"signature"})
    return json.dumps({"episode_id": episode_id, **fields}, sort_keys=True, ensure_ascii=False).encode()


def sign_decision(decision: ReviewDecision, episode_id: str, key: bytes) -> ReviewDecision:
    """The decision with its signature: it proves the reviewer's name and binds every field to the episode."""
    signature = hmac.new(key, _signed_text(episode_id, decision), hashlib.sha256).hexdigest()
    return decision.model_copy(update={"signature": signature})


def signed_by_desk(decision: ReviewDecision, episode_id: str, key: bytes) -> bool:
    if not decision.signature:
        return False
    expected = hmac.new(key, _signed_text(episode_id, decision), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, decision.signature)


# ---- decisions -----------------------------------------------------------------------------

def regenerate_problem(shots: list[int], shot_count: int, review_round: int, max_rounds: int) -> str | None:
    """Why a regenerate cannot be carried out at this gate (None: it can). The notes are screened apart."""
    if review_round >= max_rounds:
        return (f"this is review round {review_round}, the last one allowed ({max_rounds}, REELGATE_MAX_REVIEW_ROUNDS); "
                "approve or reject the episode")
    missing = [n for n in shots if n > shot_count]
    if missing:
        return f"no shot {', '.join(map(str, missing))}: the episode has {shot_count} shots, numbered from 1"
    return None


def check_decision(manifest: Manifest, decision: ReviewDecision, reviewer: str, max_rounds: int) -> None:
    """Refuse a decision that must not be carried out; return quietly if it may.

    Raises:
        StaleDecision: the episode is not waiting, or the decision names another version than
            the one at the gate (a new round, a replaced request, a file changed on disk).
        NotAllowed: the reviewer is not among the series' reviewers.
        InputError: a regenerate of shots that do not exist, or at the last round.
    """
    current = manifest.version
    if manifest.status != Status.AWAITING_REVIEW or current is None:
        raise StaleDecision(
            f"episode {manifest.episode_id} is {manifest.status.value}, not waiting for review"
            + ("; an expired episode is never published: produce it again under a new id"
               if manifest.status == Status.EXPIRED else "")
            + "; nothing was recorded. `reelgate review list` shows the waiting ones"
        )
    if not decision.version:
        raise StaleDecision(
            f"a decision must name the version it was made on; episode {manifest.episode_id} waits at "
            f"{describe_version(current)}. Watch it, then decide with --version {current.id}"
        )
    if decision.version != current.id:
        raise StaleDecision(
            f"episode {manifest.episode_id} changed since you looked: you decided on version {decision.version}, "
            f"but the gate now holds {describe_version(current)}. Nothing was recorded; reload the page "
            f"(or run `reelgate review show {manifest.episode_id}`), watch the new version, and decide again"
        )
    if not may_decide(manifest, reviewer):
        raise NotAllowed(
            f"{reviewer} may view episode {manifest.episode_id} but not decide it: its series lets only "
            f"{', '.join(manifest.request.reviewers)} decide (series file, review.reviewers)"
        )
    if decision.decision == Decision.REGENERATE:
        problem = regenerate_problem(decision.shots, len(manifest.shots), manifest.review_round, max_rounds)
        if problem:
            raise InputError(f"episode {manifest.episode_id}: regenerate refused: {problem}")


def refusal_event(manifest: Manifest, decision: ReviewDecision, reviewer: str, reason: str, via: str) -> dict:
    """The audit line of a refused decision (a refusal is the only thing a refused decision records)."""
    return decision_event(
        when=now_utc(), who=reviewer, what=f"refused-{decision.decision.value}", episode_id=manifest.episode_id,
        flow_run_id=manifest.flow_run_id, round=manifest.review_round, shots=decision.shots, refused=reason,
        version=decision.version or None, current_version=manifest.version.id if manifest.version else None, via=via,
    )


# ---- one episode id, one line of work ------------------------------------------------------

def request_fingerprint(request: EpisodeRequest) -> str:
    """Identity of what an episode is asked to be: two requests with the same fingerprint are the same work."""
    text = json.dumps(request.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def first_words(request: EpisodeRequest, count: int = 8) -> str:
    words = request.prompt.split()
    if len(words) <= 1:  # Chinese: no spaces
        text = request.prompt.strip()
        return text[:24] + ("…" if len(text) > 24 else "")
    return " ".join(words[:count]) + (" …" if len(words) > count else "")


def check_same_request(existing: Manifest, request: EpisodeRequest) -> None:
    """A second request under an id must be the same request (it then resumes); else EpisodeConflict."""
    if existing.status == Status.SUPERSEDED or request_fingerprint(existing.request) == request_fingerprint(request):
        return
    raise EpisodeConflict(
        f"episode {request.episode_id} already holds another request ({existing.status.value}): "
        f"\"{first_words(existing.request)}\"; yours is \"{first_words(request)}\". "
        f"Use another --id for a new episode, run the same request again to resume it, "
        f"or add --replace to end the old one (its files move to versions/) and start over"
    )


# ---- the queue -----------------------------------------------------------------------------

def format_age(age: timedelta) -> str:
    """'3 min', '2 h 5 min', '1 d 4 h': how long something has waited, as editors read it."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@dataclass
class QueueItem:
    """One episode in the review queue or in the recently decided list."""

    episode_id: str
    series: str | None
    title: str
    waiting_since: datetime
    status: str = "awaiting_review"
    expires_at: datetime | None = None
    version: str | None = None
    decided_at: datetime | None = None
    decision: str | None = None
    reviewer: str | None = None

    @property
    def age(self) -> timedelta:
        return datetime.now(timezone.utc) - self.waiting_since


def read_manifests(episodes_dir: Path) -> list[Manifest]:
    """Every readable manifest under the episodes folder (one being written right now is skipped)."""
    found = []
    for path in sorted(Path(episodes_dir).glob(f"*/{MANIFEST_NAME}")):
        try:
            found.append(Manifest.model_validate_json(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return found


def queue_item(manifest: Manifest) -> QueueItem:
    review = manifest.review if manifest.status != Status.AWAITING_REVIEW else None
    return QueueItem(
        episode_id=manifest.episode_id, series=manifest.request.series,
        title=manifest.request.title or manifest.episode_id,
        waiting_since=manifest.waiting_since or manifest.created_at, status=manifest.status.value,
        expires_at=manifest.review_due_at if manifest.status == Status.AWAITING_REVIEW else None,
        version=manifest.version.id if manifest.version else None,
        decided_at=(review.decided_at if review else manifest.expired_at),
        decision=review.decision.value if review else ("expire" if manifest.status == Status.EXPIRED else None),
        reviewer=review.reviewer if review else None,
    )


def waiting_queue(manifests: list[Manifest]) -> list[QueueItem]:
    """Episodes waiting at the gate, newest first."""
    items = [queue_item(m) for m in manifests if m.status == Status.AWAITING_REVIEW]
    return sorted(items, key=lambda i: i.waiting_since, reverse=True)


DECIDED = {Status.APPROVED, Status.PUBLISHED, Status.REJECTED, Status.EXPIRED, Status.REGENERATING}


def recently_decided(manifests: list[Manifest], limit: int = 20) -> list[QueueItem]:
    """Episodes decided (or expired) most recently, newest first."""
    items = [queue_item(m) for m in manifests if m.status in DECIDED and (m.review or m.expired_at)]
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(items, key=lambda i: i.decided_at or epoch, reverse=True)[:limit]


# ---- links ---------------------------------------------------------------------------------

def review_link(data_dir: Path, review_host: str, review_port: int, episode_id: str) -> str:
    """The review page's URL for one episode (without a token: the editor's session carries it).

    Points at the running page when there is one (it writes where it listens to the data
    folder), else at the configured host and port.
    """
    try:
        base_url = (Path(data_dir) / PAGE_FILE).read_text().strip()
    except OSError:
        base_url = ""
    if not base_url:
        host = "127.0.0.1" if review_host in ("0.0.0.0", "", "::") else review_host
        base_url = f"http://{url_host(host)}:{review_port or 8765}"
    return f"{base_url}/episodes/{quote(episode_id)}"


def url_host(host: str) -> str:
    try:
        socket.inet_pton(socket.AF_INET6, host)
        return f"[{host}]"
    except OSError:
        return host


# ---- replacing a line of work ----------------------------------------------------------------

VERSIONS_DIR = "versions"  # in an episode folder: versions/<line>/ holds a superseded line's files


def superseded_lines(episode_dir: Path) -> list[dict]:
    """Earlier lines of work under this episode id, oldest first, as the manifest lists them."""
    lines = []
    folders = [f for f in (Path(episode_dir) / VERSIONS_DIR).glob("*") if f.name.isdigit()]
    for folder in sorted(folders, key=lambda f: int(f.name)):
        try:
            old = Manifest.model_validate_json((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            lines.append({"line": int(folder.name), "folder": f"{VERSIONS_DIR}/{folder.name}"})
            continue
        lines.append({
            "line": int(folder.name), "folder": f"{VERSIONS_DIR}/{folder.name}",
            "superseded_at": old.updated_at.isoformat(timespec="seconds"),
            "request": first_words(old.request), "version": old.version.id if old.version else None,
        })
    return lines


def supersede(episode_dir: Path) -> tuple[int, Manifest | None]:
    """Move the episode's current line of work to versions/<n>/ and mark its manifest superseded.

    Returns n and the superseded manifest (None when the folder held files but no manifest).
    The caller has stopped the line's run first, so nothing writes here meanwhile.
    """
    import shutil

    episode_dir = Path(episode_dir)
    line = len(superseded_lines(episode_dir)) + 1
    target = episode_dir / VERSIONS_DIR / str(line)
    target.mkdir(parents=True)
    manifest = None
    if (episode_dir / MANIFEST_NAME).is_file():
        try:
            manifest = Manifest.model_validate_json((episode_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        except ValueError:
            manifest = None
    for item in episode_dir.iterdir():
        if item.name != VERSIONS_DIR:
            shutil.move(str(item), target / item.name)
    if manifest is not None:
        manifest.status = Status.SUPERSEDED
        save_manifest(target, manifest)
    return line, manifest
