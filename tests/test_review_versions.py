"""An approval covers exactly what the reviewer watched: versions, one line of work per id, the API's back door.

Integration tier: real flow runs on the session's Prefect server (see conftest.py), through
the same functions the CLI and the review page call.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from editorial.audit import read_audit
from editorial.manifest import ReviewDecision, Status, load_manifest
from reelgate.errors import StaleDecision
from reelgate.records import EpisodeRequest

STORY_A = "At dusk a fox runs across the snowy hills."
STORY_B = "A lighthouse keeper climbs the stairs at dawn."

pytestmark = pytest.mark.integration


def _audit(settings, episode_id: str) -> list[dict]:
    return [e for e in read_audit(settings.data_dir / "audit.jsonl") if e["episode_id"] == episode_id]


def test_another_request_is_refused_and_replace_supersedes_the_waiting_version(prefect_server, capsys):
    from flows import runs
    from cli import main

    settings = prefect_server
    episode = settings.episodes_dir / "rv-same"
    assert main(["episode", STORY_A, "--id", "rv-same"]) == 0
    a = load_manifest(episode)
    assert a.status == Status.AWAITING_REVIEW and a.version and a.line == 1
    capsys.readouterr()

    # Another request under the id: refused, naming both, and nothing changes.
    assert main(["episode", STORY_B, "--id", "rv-same"]) == 2
    err = capsys.readouterr().err
    assert "At dusk a fox" in err and "A lighthouse keeper" in err and "--replace" in err
    assert load_manifest(episode).version == a.version

    # The same request attaches to the waiting run: no second run, no second gate.
    assert main(["episode", STORY_A, "--id", "rv-same"]) == 0
    assert "attached to its live run" in capsys.readouterr().out
    assert len(runs.live_runs("rv-same")) == 1

    # --replace ends the waiting run, moves A aside as superseded, and starts B clean.
    assert main(["episode", STORY_B, "--id", "rv-same", "--replace"]) == 0
    b = load_manifest(episode)
    assert b.status == Status.AWAITING_REVIEW and b.request.prompt == STORY_B and b.line == 2
    assert b.superseded[0]["version"] == a.version.id and b.superseded[0]["folder"] == "versions/1"
    old = load_manifest(episode / "versions" / "1")
    assert old.status == Status.SUPERSEDED and old.version == a.version
    assert runs.read_run(uuid.UUID(a.flow_run_id)).state.name == "Superseded"
    assert [r.id for r in runs.live_runs("rv-same")] == [uuid.UUID(b.flow_run_id)]
    # The folder never mixes versions: A's files are all under versions/1.
    assert not any(p.name.startswith("round") and p.parent == episode for p in episode.iterdir() if p.name != "round1")
    assert (episode / "versions" / "1" / a.outputs["video"]).is_file()

    # An approval made on A's page is refused (409 on the page, exit 2 here); B stays waiting.
    capsys.readouterr()
    assert main(["review", "approve", "rv-same", "--version", a.version.id]) == 2
    assert "changed since you looked" in capsys.readouterr().err
    assert load_manifest(episode).status == Status.AWAITING_REVIEW and load_manifest(episode).review is None
    events = _audit(settings, "rv-same")
    assert [e["what"] for e in events] == ["supersede", "refused-approve"]
    assert events[0]["version"] == a.version.id and events[0]["moved_to"] == "versions/1"
    assert events[1]["version"] == a.version.id and events[1]["current_version"] == b.version.id


def test_two_concurrent_approvals_of_one_version_record_exactly_one(prefect_server):
    from flows import runs
    from flows.review import decide

    settings = prefect_server
    from cli import main

    assert main(["episode", STORY_A, "--id", "rv-race"]) == 0
    manifest = load_manifest(settings.episodes_dir / "rv-race")
    decision = ReviewDecision(decision="approve", version=manifest.version.id)
    barrier, outcomes = threading.Barrier(2), []

    def approve(who: str) -> None:
        barrier.wait()
        try:
            outcomes.append(("ok", decide(settings, "rv-race", decision, who, via="page")))
        except StaleDecision as exc:
            outcomes.append(("refused", exc))

    threads = [threading.Thread(target=approve, args=(who,)) for who in ("owner", "owner")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"]
    run = next(value for kind, value in outcomes if kind == "ok")
    settled = runs.drive_run(run.id, run.deployment_id, timeout_s=300)
    assert settled.state.type.value == "COMPLETED"
    final = load_manifest(settings.episodes_dir / "rv-race")
    assert final.status == Status.PUBLISHED and len(final.reviews) == 1
    whats = [e["what"] for e in _audit(settings, "rv-race")]
    assert whats.count("approve") == 1 and whats.count("refused-approve") == 1


def test_the_prefect_api_cannot_decide_past_the_gate_rules(prefect_server):
    """Resuming the run straight through Prefect's API: the server checks the version, the flow the reviewer."""
    from prefect.flow_runs import resume_flow_run

    from editorial.reviewers import add_reviewer
    from flows import deployments, runs
    from flows.review import decide

    settings = prefect_server
    add_reviewer(settings.data_dir, "ana-rv")
    request = EpisodeRequest(prompt=STORY_A, episode_id="rv-api", reviewers=["ana-rv"])
    deployment_id = deployments.ensure_deployment()
    run, _ = runs.start_episode(deployment_id, request, settings)
    run = runs.drive_run(run.id, deployment_id, timeout_s=300)
    folder = settings.episodes_dir / "rv-api"
    version = load_manifest(folder).version.id

    # Another version: the server refuses the input and the run stays suspended.
    with pytest.raises(RuntimeError):
        resume_flow_run(run.id, run_input={"decision": "approve", "version": "r1-000000000000", "reviewer": "ana-rv"})
    assert runs.read_run(run.id).state.type.value == "PAUSED"

    # The right version, but unsigned (typed into Prefect's form, or posted to its API), and a forged signature:
    # the flow records who really decided (prefect-ui), refuses both, and waits again.
    for signature in ("", "0" * 64):
        resume_flow_run(run.id, run_input={"decision": "approve", "version": version, "reviewer": "ana-rv",
                                           "signature": signature})
        settled = runs.drive_run(run.id, deployment_id, timeout_s=300)
        assert settled.state.type.value == "PAUSED"
    manifest = load_manifest(folder)
    assert manifest.status == Status.AWAITING_REVIEW and manifest.review is None
    assert not (settings.publish_dir / "rv-api").exists()
    refusals = [e for e in _audit(settings, "rv-api") if e["what"] == "refused-approve"]
    assert [e["who"] for e in refusals] == ["prefect-ui", "prefect-ui"] and "signature" in refusals[1]["refused"]

    # Someone not on the series' list, through the desk: refused, and the audit names them.
    with pytest.raises(Exception, match="not decide"):
        decide(settings, "rv-api", ReviewDecision(decision="approve", version=version), "owner", via="page")
    assert _audit(settings, "rv-api")[-1]["who"] == "owner"

    # The series' reviewer, authenticated: decided and published.
    resumed = decide(settings, "rv-api", ReviewDecision(decision="approve", version=version), "ana-rv", via="cli")
    assert runs.drive_run(resumed.id, deployment_id, timeout_s=300).state.type.value == "COMPLETED"
    final = load_manifest(folder)
    assert final.status == Status.PUBLISHED and final.review.reviewer == "ana-rv" and final.review.authenticated
    approve = [e for e in _audit(settings, "rv-api") if e["what"] == "approve"]
    assert [(e["who"], e["version"], e["authenticated"]) for e in approve] == [("ana-rv", version, True)]


def test_a_then_b_then_a_under_one_id_never_mixes_their_files(prefect_server, tmp_path, monkeypatch):
    """Caches trust bytes, not paths: A's third line is made from A, never from B's files at the same names."""
    from cli import main
    from reelgate.files import file_sha256

    settings = prefect_server
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("REELGATE_TEST_CALLS", str(calls))
    monkeypatch.setenv("REELGATE_GENERATION__BACKEND", "tests.fakes:CountingAnimatic")
    episode = settings.episodes_dir / "rv-aba"
    made = lambda: len(calls.read_text().splitlines())  # noqa: E731
    assert main(["episode", STORY_A, "--id", "rv-aba"]) == 0
    first_a, a_calls = load_manifest(episode), made()
    assert main(["episode", STORY_B, "--id", "rv-aba", "--replace"]) == 0
    b_calls = made() - a_calls
    assert main(["episode", STORY_A, "--id", "rv-aba", "--replace"]) == 0
    third = load_manifest(episode)
    assert third.request.prompt == STORY_A and third.line == 3 and third.status == Status.AWAITING_REVIEW
    assert [line["request"][:20] for line in third.superseded] == [STORY_A[:20], STORY_B[:20]]
    # Every file the manifest names is in this line's folder, with the bytes the record says it has.
    for shot in third.shots:
        for attempt in shot.attempts:
            assert attempt.shot.path.parent == episode and file_sha256(attempt.shot.path) == attempt.shot.sha256
    for name in third.outputs.values():
        assert (episode / name).is_file()
    assert file_sha256(episode / third.outputs["video"]) == third.version.video_sha256
    assert third.version.id != first_a.version.id  # another run, another version, even from the same request
    # A's third line started clean: its shots were made again, not taken from a cache of line 1 or of B.
    assert a_calls >= 1 and b_calls >= 1 and made() == 2 * a_calls + b_calls
