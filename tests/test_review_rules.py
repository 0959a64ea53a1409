"""The review gate's rules (editorial.review) and the caches that key on file contents (tasks.common).

Fast tier: plain functions on manifests and files in tmp_path; no Prefect server.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest

from editorial.audit import read_audit
from editorial.manifest import (
    Decision, Manifest, ReviewDecision, ReviewRecord, ShotRecord, Status, load_manifest, now_utc, save_manifest,
)
from editorial.review import (
    VERSIONS_DIR, check_decision, check_same_request, decision_key, format_age, make_version, recently_decided,
    regenerate_problem, sign_decision, signed_by_desk, supersede, superseded_lines, waiting_queue,
)
from reelgate.errors import EpisodeConflict, InputError, NotAllowed, StaleDecision
from reelgate.records import EpisodeRequest, GeneratedShot

STORY_A = "At dusk a fox runs across the snowy hills. The moon rises."
STORY_B = "A lighthouse keeper climbs the stairs at dawn."


def _waiting(tmp_path: Path, episode_id: str = "ep", reviewers: list[str] | None = None, shots: int = 2) -> Path:
    """An episode folder at review gate 1, with its version made from real bytes."""
    folder = tmp_path / "episodes" / episode_id
    (folder / "round1").mkdir(parents=True)
    (folder / "round1" / "episode.mp4").write_bytes(b"video of round 1")
    (folder / "round1" / "subtitles.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n", encoding="utf-8")
    manifest = Manifest(
        episode_id=episode_id, status=Status.AWAITING_REVIEW, review_round=1, flow_run_id="run-1",
        request=EpisodeRequest(prompt=STORY_A, episode_id=episode_id, reviewers=reviewers or []),
        shots=[ShotRecord(index=i, text=f"shot {i}") for i in range(shots)],
        outputs={"video": "round1/episode.mp4", "subtitles": "round1/subtitles.srt"},
        waiting_since=now_utc(),
    )
    manifest.version = make_version("run-1", 1, folder / "round1" / "episode.mp4", folder / "round1" / "subtitles.srt")
    save_manifest(folder, manifest)
    return folder


# ---- versions ---------------------------------------------------------------------------

def test_a_version_names_run_round_and_bytes(tmp_path):
    video, subs = tmp_path / "v.mp4", tmp_path / "s.srt"
    video.write_bytes(b"frames")
    subs.write_text("cue")
    v = make_version("run-1", 1, video, subs)
    assert v.id.startswith("r1-") and v.round == 1 and v.flow_run_id == "run-1"
    assert v.video_sha256 == hashlib.sha256(b"frames").hexdigest()
    assert v.subtitles_sha256 == hashlib.sha256(b"cue").hexdigest()
    assert make_version("run-1", 1, video, subs) == v  # the same bytes at the same gate: the same version
    assert make_version("run-2", 1, video, subs).id != v.id  # another run (a replaced request)
    assert make_version("run-1", 2, video, subs).id != v.id  # another round
    subs.write_text("another cue")
    assert make_version("run-1", 1, video, subs).id != v.id  # other subtitles
    video.write_bytes(b"other frames")
    assert make_version("run-1", 1, video, subs).video_sha256 != v.video_sha256


# ---- decisions ----------------------------------------------------------------------------

def test_a_decision_on_the_current_version_passes(tmp_path):
    manifest = load_manifest(_waiting(tmp_path))
    check_decision(manifest, ReviewDecision(decision="approve", version=manifest.version.id), "owner", 5)


@pytest.mark.parametrize("version", ["", "r1-000000000000", "r2-whatever"])
def test_a_decision_on_another_or_no_version_is_stale_and_says_what_is_there_now(tmp_path, version):
    manifest = load_manifest(_waiting(tmp_path))
    with pytest.raises(StaleDecision) as caught:
        check_decision(manifest, ReviewDecision(decision="approve", version=version), "owner", 5)
    assert manifest.version.id in str(caught.value)  # the message names the version to watch


@pytest.mark.parametrize("status", [Status.REGENERATING, Status.PUBLISHED, Status.EXPIRED, Status.SUPERSEDED])
def test_an_episode_not_at_the_gate_takes_no_decision(tmp_path, status):
    manifest = load_manifest(_waiting(tmp_path))
    manifest.status = status
    with pytest.raises(StaleDecision, match=f"is {status.value}, not waiting"):
        check_decision(manifest, ReviewDecision(decision="approve", version=manifest.version.id), "owner", 5)


def test_a_series_reviewer_list_lets_others_view_but_not_decide(tmp_path):
    manifest = load_manifest(_waiting(tmp_path, reviewers=["ana"]))
    decision = ReviewDecision(decision="approve", version=manifest.version.id)
    check_decision(manifest, decision, "ana", 5)
    for other in ("bo", "owner"):
        with pytest.raises(NotAllowed, match="only ana decide"):
            check_decision(manifest, decision, other, 5)


def test_regenerate_limits_are_one_rule_for_every_caller(tmp_path):
    assert regenerate_problem([2], 3, 1, 5) is None
    assert "no shot 4" in regenerate_problem([4], 3, 1, 5)
    assert "the last one allowed" in regenerate_problem([1], 3, 5, 5)
    manifest = load_manifest(_waiting(tmp_path, shots=2))
    with pytest.raises(InputError, match="no shot 3"):
        check_decision(manifest, ReviewDecision(decision="regenerate", version=manifest.version.id, notes="x",
                                                shots=[3]), "owner", 5)


def test_a_signature_proves_every_field_and_the_episode(tmp_path):
    key = decision_key(tmp_path)
    assert (tmp_path / "review.key").stat().st_mode & 0o777 == 0o600
    assert decision_key(tmp_path) == key  # made once
    signed = sign_decision(ReviewDecision(decision="approve", version="r1-abc", reviewer="ana"), "ep", key)
    assert signed_by_desk(signed, "ep", key)
    assert not signed_by_desk(signed, "other-episode", key)
    assert not signed_by_desk(signed.model_copy(update={"reviewer": "mallory"}), "ep", key)
    assert not signed_by_desk(signed.model_copy(update={"version": "r2-abc"}), "ep", key)
    assert not signed_by_desk(signed.model_copy(update={"signature": ""}), "ep", key)
    assert not signed_by_desk(signed, "ep", b"another key")


# ---- one episode id, one line of work ----------------------------------------------------------

def test_another_request_under_an_id_is_refused_naming_both(tmp_path):
    manifest = load_manifest(_waiting(tmp_path))
    check_same_request(manifest, EpisodeRequest(prompt=STORY_A, episode_id="ep", reviewers=[]))  # same: resumes
    with pytest.raises(EpisodeConflict) as caught:
        check_same_request(manifest, EpisodeRequest(prompt=STORY_B, episode_id="ep"))
    message = str(caught.value)
    assert "At dusk a fox" in message and "A lighthouse keeper" in message and "--replace" in message


def test_supersede_moves_the_whole_line_aside_and_marks_it(tmp_path):
    folder = _waiting(tmp_path)
    (folder / "shot01_try1.mp4").write_bytes(b"shot")
    line, old = supersede(folder)
    assert line == 1 and old.status == Status.SUPERSEDED and old.version is not None
    assert sorted(p.name for p in folder.iterdir()) == [VERSIONS_DIR]  # the folder starts clean
    moved = folder / VERSIONS_DIR / "1"
    assert (moved / "shot01_try1.mp4").read_bytes() == b"shot"
    assert load_manifest(moved).status == Status.SUPERSEDED
    (folder / "manifest.json").write_text(load_manifest(moved).model_copy(update={"status": Status.BLOCKED})
                                          .model_dump_json())
    assert supersede(folder)[0] == 2  # a second replace gets the next number
    history = superseded_lines(folder)
    assert [h["line"] for h in history] == [1, 2] and history[0]["request"].startswith("At dusk a fox")


# ---- the queue ----------------------------------------------------------------------------

def test_waiting_and_recently_decided_lists(tmp_path):
    _waiting(tmp_path, "waiting")
    decided = load_manifest(_waiting(tmp_path, "decided"))
    decided.status = Status.PUBLISHED
    decided.review = ReviewRecord(decision=Decision.APPROVE, reviewer="ana", decided_at=now_utc() - timedelta(hours=1))
    save_manifest(tmp_path / "episodes" / "decided", decided)
    manifests = [load_manifest(tmp_path / "episodes" / n) for n in ("waiting", "decided")]
    assert [i.episode_id for i in waiting_queue(manifests)] == ["waiting"]
    recent = recently_decided(manifests)
    assert [(i.episode_id, i.decision, i.reviewer) for i in recent] == [("decided", "approve", "ana")]
    assert format_age(timedelta(days=2, hours=3)) == "2 d 3 h" and format_age(timedelta(minutes=7)) == "7 min"


# ---- caches that trust contents, not paths --------------------------------------------------

def test_a_cache_key_follows_the_bytes_of_the_files_a_task_reads(tmp_path):
    from tasks.common import FileContents

    shot_file = tmp_path / "shot.mp4"
    shot_file.write_bytes(b"A")
    shot = GeneratedShot(index=0, path=shot_file, backend="animatic", seed=1, width=4, height=4, fps=1, frames=1)
    policy = FileContents(params=("shot",))
    first = policy.compute_key(None, {"shot": shot}, {})
    assert policy.compute_key(None, {"shot": shot}, {}) == first
    shot_file.write_bytes(b"B")  # same path, other bytes (another request's shot)
    os.utime(shot_file, ns=(1, 1))
    assert policy.compute_key(None, {"shot": shot}, {}) != first
    shot_file.unlink()
    assert policy.compute_key(None, {"shot": shot}, {}) != first


def test_a_cached_result_whose_file_went_or_changed_is_made_again(tmp_path):
    from tasks.common import files_intact
    from reelgate.files import file_sha256

    path = tmp_path / "shot.mp4"
    path.write_bytes(b"A")
    shot = GeneratedShot(index=0, path=path, backend="animatic", seed=1, width=4, height=4, fps=1, frames=1,
                         sha256=file_sha256(path))
    assert files_intact(shot)
    path.write_bytes(b"B")
    os.utime(path, ns=(2, 2))
    assert not files_intact(shot)
    path.unlink()
    assert not files_intact(shot) and not files_intact([tmp_path / "gone.wav"])


def test_decide_refuses_when_the_video_changed_on_disk_and_audits_only_the_refusal(tmp_path):
    from flows.review import decide
    from reelgate.settings import Settings

    settings = Settings(data_dir=tmp_path)
    folder = _waiting(tmp_path)
    manifest = load_manifest(folder)
    (folder / "round1" / "episode.mp4").write_bytes(b"swapped after the reviewer watched")
    with pytest.raises(StaleDecision, match="changed on disk"):
        decide(settings, "ep", ReviewDecision(decision="approve", version=manifest.version.id), "owner", via="cli")
    assert load_manifest(folder).review is None  # nothing recorded in the manifest
    (line,) = read_audit(tmp_path / "audit.jsonl")
    assert line["what"] == "refused-approve" and "changed on disk" in line["refused"] and line["who"] == "owner"
