"""The review gate's decisions: the form, regenerate with notes, expiry, the audit.

The fast tests check the form's rules; the integration ones run the real flow through the
`reelgate` CLI against the session's Prefect server (see conftest.py). Publishing and the
feeds are in test_publish.py; versions and the one line of work per id in test_review_versions.py.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pydantic import ValidationError

from editorial.audit import read_audit
from editorial.feed import FEED_JSON, FEED_XML
from editorial.manifest import Decision, ReviewDecision, Status, load_manifest, now_utc

STORY_EN = (
    "At dusk a fox runs across the snowy hills. "
    "The fox stops under a tall pine and looks up at the first stars. "
    "Then the moon rises slowly over the quiet valley."
)
# ---- the form ---------------------------------------------------------------------------

@pytest.mark.parametrize(("form", "says"), [
    ({"decision": "reject"}, "reject needs notes"),
    ({"decision": "regenerate", "shots": [2]}, "regenerate needs notes"),
    ({"decision": "regenerate", "notes": "the fox is red"}, "needs the shots"),
    ({"decision": "regenerate", "notes": "x", "shots": [0]}, "numbered from 1"),
    ({"decision": "approve", "shots": [1]}, "only for regenerate"),
])
def test_an_incomplete_decision_is_refused_with_what_to_add(form, says):
    with pytest.raises(ValidationError, match=says):
        ReviewDecision(**form)


def test_regenerate_shots_are_deduplicated_and_sorted():
    assert ReviewDecision(decision="regenerate", notes="redder", shots=[3, 1, 3]).shots == [1, 3]


def test_the_prefect_form_schema_refuses_what_the_model_refuses():
    """The server checks a resume against this schema (Prefect's UI and the review page use it)."""
    from prefect.input.run_input import create_v2_schema, run_input_subclass_from_type
    from prefect.utilities.schema_tools import validate
    from prefect.utilities.schema_tools.validation import ValidationError as SchemaError

    cls = run_input_subclass_from_type(ReviewDecision)
    schema = create_v2_schema(cls.__name__, model_base=cls)
    for bad in ({"decision": "reject", "notes": "  "}, {"decision": "regenerate", "notes": "x"},
                {"decision": "regenerate", "notes": "x", "shots": [0]}):
        with pytest.raises(SchemaError):
            validate(bad, schema, raise_on_error=True)
    validate({"decision": "regenerate", "notes": "x", "shots": [2]}, schema, raise_on_error=True)


# ---- the real flow -----------------------------------------------------------------------

def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


@pytest.mark.integration
def test_regenerate_remakes_only_the_chosen_shot_then_approve_publishes_to_the_feed(
    prefect_server, tmp_path, monkeypatch, capsys
):
    from cli import main

    settings = prefect_server
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("REELGATE_TEST_CALLS", str(calls))
    monkeypatch.setenv("REELGATE_GENERATION__BACKEND", "tests.fakes:CountingAnimatic")
    started = time.monotonic()
    assert main(["episode", STORY_EN, "--id", "rg-regen", "--title", "Fox & <Moon>"]) == 0, capsys.readouterr().out
    produced_s = time.monotonic() - started
    episode = settings.episodes_dir / "rg-regen"
    first = load_manifest(episode)
    assert first.status == Status.AWAITING_REVIEW and first.review_round == 1 and first.review_due_at
    assert len(_lines(calls)) == 3
    assert first.version.round == 1 and first.outputs["video"] == "round1/episode.mp4"
    original_video = (episode / first.outputs["video"]).read_bytes()

    # A note with a blocked term is refused: nothing is made, the episode stays at the gate.
    code = main(["review", "regenerate", "rg-regen", "--version", first.version.id, "--shots", "2",
                 "--notes", "show a bloody beheading"])
    out = capsys.readouterr().out
    assert code == 1 and "regenerate refused" in out and "blocked" in out
    refused = load_manifest(episode)
    assert refused.status == Status.AWAITING_REVIEW and refused.review_round == 2
    assert refused.review.decision == Decision.REGENERATE and "blocked" in refused.review.refused
    assert len(_lines(calls)) == 3, "a blocked note reached the generator"

    # Reviewers decide as themselves: their token says who they are.
    from editorial.reviewers import add_reviewer

    tokens = {name: add_reviewer(settings.data_dir, name) for name in ("ana-rg", "bo-rg")}

    # Shot 2 is made again with the notes; shots 1 and 3 are not.
    notes = "make the fox bright red"
    started = time.monotonic()
    monkeypatch.setenv("REELGATE_REVIEWER_TOKEN", tokens["ana-rg"])
    assert main(["review", "show", "rg-regen"]) == 0  # approve/regenerate default to the version shown last
    assert refused.version.id in capsys.readouterr().err
    assert main(["review", "regenerate", "rg-regen", "--shots", "2", "--notes", notes]) == 0
    regenerated_s = time.monotonic() - started
    lines = _lines(calls)
    assert len(lines) == 4 and lines[3].startswith("shot1 "), lines
    manifest = load_manifest(episode)
    assert manifest.status == Status.AWAITING_REVIEW and manifest.review_round == 3
    assert [len(s.attempts) for s in manifest.shots] == [1, 2, 1]
    new = manifest.shots[1].attempts[manifest.shots[1].kept_attempt]
    assert new.review_round == 3 and notes in new.prompt
    assert new.shot.seed != manifest.shots[1].attempts[0].shot.seed
    # The episode was rebuilt in its own round folder: round 1's bytes are still what round 1's version names.
    assert manifest.outputs["video"] == "round3/episode.mp4"
    assert (episode / manifest.outputs["video"]).read_bytes() != original_video
    assert (episode / first.outputs["video"]).read_bytes() == original_video
    assert [(r.decision.value, r.round, r.shots) for r in manifest.reviews] == [("regenerate", 1, [2]), ("regenerate", 2, [2])]

    # An approval made on round 1's version is refused: the reviewer never watched round 3.
    monkeypatch.setenv("REELGATE_REVIEWER_TOKEN", tokens["bo-rg"])
    capsys.readouterr()
    assert main(["review", "approve", "rg-regen", "--version", first.version.id]) == 2
    assert "changed since you looked" in capsys.readouterr().err
    assert load_manifest(episode).status == Status.AWAITING_REVIEW
    # What ana looked at with `review show` is not bo's default: bo has shown nothing, so bo names nothing.
    assert main(["review", "approve", "rg-regen"]) == 2
    assert "must name the version" in capsys.readouterr().err

    assert main(["review", "approve", "rg-regen", "--version", manifest.version.id]) == 0
    final = load_manifest(episode)
    assert final.status == Status.PUBLISHED and final.review.round == 3
    assert final.review.decided_on == manifest.version and final.review.authenticated
    published = (settings.publish_dir / "rg-regen" / "episode.mp4").read_bytes()
    assert published == (episode / manifest.outputs["video"]).read_bytes()
    feed = json.loads((settings.publish_dir / FEED_JSON).read_text(encoding="utf-8"))
    assert feed["items"][0]["id"] == "rg-regen" and feed["items"][0]["title"] == "Fox & <Moon>"
    rss = ET.parse(settings.publish_dir / FEED_XML).getroot()
    assert rss.find("channel/item/title").text == "Fox & <Moon>"
    assert len(_lines(calls)) == 4  # approving generated nothing

    audit = [e for e in read_audit(settings.data_dir / "audit.jsonl") if e["episode_id"] == "rg-regen"]
    events = [e for e in audit if e["what"] in ("approve", "reject", "regenerate")]
    assert [(e["what"], e["round"], e["who"]) for e in events] == [
        ("regenerate", 1, "owner"), ("regenerate", 2, "ana-rg"), ("approve", 3, "bo-rg")]
    assert "blocked" in events[0]["refused"] and events[1]["refused"] is None
    assert events[1]["shots"] == [2] and events[1]["notes"] == notes
    assert all(e["flow_run_id"] == final.flow_run_id and e["when"] for e in events)
    assert events[0]["version"] == first.version.id and events[2]["version"] == manifest.version.id
    refusals = [e for e in audit if e["what"].startswith("refused-")]
    assert [(e["what"], e["who"], e["version"]) for e in refusals] == [
        ("refused-approve", "bo-rg", first.version.id), ("refused-approve", "bo-rg", None)]
    print(f"\nproduce {produced_s:.1f} s, regenerate one shot {regenerated_s:.1f} s")


@pytest.mark.integration
def test_an_undecided_review_expires_visibly_and_is_never_published(prefect_server, monkeypatch, capsys):
    from flows.review import EXPIRED_STATE
    from flows.runs import find_run
    from cli import main

    settings = prefect_server
    monkeypatch.setenv("REELGATE_REVIEW_TIMEOUT_HOURS", str(3 / 3600))  # three seconds
    assert main(["episode", "The fox runs across the snowy hills.", "--id", "rg-expire"]) == 0
    episode = settings.episodes_dir / "rg-expire"
    manifest = load_manifest(episode)
    assert manifest.status == Status.AWAITING_REVIEW
    time.sleep(max(0.0, (manifest.review_due_at - now_utc()).total_seconds()) + 1.0)
    capsys.readouterr()

    assert main(["review", "list"]) == 0
    out = capsys.readouterr().out
    assert "rg-expire: review expired" in out
    assert any(line.startswith("rg-expire") and "expired" in line for line in out.splitlines()[1:])
    expired = load_manifest(episode)
    assert expired.status == Status.EXPIRED and expired.expired_at
    assert any("review expired" in r for r in expired.verdict.reasons)
    run = find_run("rg-expire")
    assert run.state.name == EXPIRED_STATE and "Review expired" in run.state.message
    events = [e for e in read_audit(settings.data_dir / "audit.jsonl") if e["episode_id"] == "rg-expire"]
    assert [(e["what"], e["who"]) for e in events] == [("expire", "system")]

    assert main(["review", "list"]) == 0  # expiring again changes nothing
    assert len([e for e in read_audit(settings.data_dir / "audit.jsonl") if e["episode_id"] == "rg-expire"]) == 1
    assert main(["review", "approve", "rg-expire"]) == 2  # too late
    assert "expired" in capsys.readouterr().err
    assert not (settings.publish_dir / "rg-expire").exists()


@pytest.mark.integration
def test_regenerate_at_the_last_allowed_round_is_refused_at_once(prefect_server, monkeypatch, capsys, tmp_path):
    from cli import main

    settings = prefect_server
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("REELGATE_TEST_CALLS", str(calls))
    monkeypatch.setenv("REELGATE_GENERATION__BACKEND", "tests.fakes:CountingAnimatic")
    monkeypatch.setenv("REELGATE_MAX_REVIEW_ROUNDS", "1")
    assert main(["episode", "The fox runs across the snowy hills.", "--id", "rg-last"]) == 0
    made = len(_lines(calls))
    capsys.readouterr()
    version = load_manifest(settings.episodes_dir / "rg-last").version.id
    code = main(["review", "regenerate", "rg-last", "--version", version, "--shots", "1", "--notes", "brighter moon"])
    err = capsys.readouterr().err
    assert code == 2 and "the last one allowed" in err and "approve or reject" in err
    assert len(_lines(calls)) == made  # nothing was generated
    manifest = load_manifest(settings.episodes_dir / "rg-last")
    assert manifest.status == Status.AWAITING_REVIEW and manifest.review_round == 1
