"""The review gate's decisions: regenerate with notes, expiry, publishing with feeds, the audit.

The fast tests use plain functions on manifests in tmp_path; the integration ones run the
real flow through the `reelgate` CLI against the session's Prefect server (see conftest.py).
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from editorial.audit import read_audit
from editorial.feed import FEED_JSON, FEED_XML, JSON_FEED_VERSION, rebuild_feeds
from editorial.manifest import (
    Decision, Manifest, ReviewDecision, ReviewRecord, Status, load_manifest, mark_expired, now_utc, save_manifest,
)
from editorial.publish import publish_episode
from reelgate.errors import PublishRefused
from reelgate.records import EpisodeRequest

STORY_EN = (
    "At dusk a fox runs across the snowy hills. "
    "The fox stops under a tall pine and looks up at the first stars. "
    "Then the moon rises slowly over the quiet valley."
)
TRICKY_TITLE = 'Fox & <Moon> "night" </title><script>alert(1)</script>'


def _episode(tmp_path: Path, episode_id: str, title: str = "Fox", approved: bool = True, minutes_ago: int = 0) -> Path:
    """An episode folder with a (fake) final video, as the flow leaves it at the gate."""
    folder = tmp_path / "episodes" / episode_id
    folder.mkdir(parents=True)
    (folder / "episode.mp4").write_bytes(b"\x00" * 1234)
    (folder / "subtitles.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n", encoding="utf-8")
    manifest = Manifest(
        episode_id=episode_id, status=Status.AWAITING_REVIEW, language="en",
        request=EpisodeRequest(prompt=STORY_EN + " & <b>more</b>", episode_id=episode_id, title=title, series="Myths"),
        outputs={"video": "episode.mp4", "subtitles": "subtitles.srt"},
        ai_label={"Label": "1", "ContentProducer": "reelgate", "ProduceID": episode_id},
    )
    if approved:
        manifest.review = ReviewRecord(decision=Decision.APPROVE, reviewer="ana",
                                       decided_at=now_utc() - timedelta(minutes=minutes_ago))
        manifest.status = Status.APPROVED
    save_manifest(folder, manifest)
    return folder


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


# ---- publishing and the feeds ------------------------------------------------------------

def test_publish_without_an_approval_raises_and_writes_nothing(tmp_path):
    folder = _episode(tmp_path, "ep-unapproved", approved=False)
    with pytest.raises(PublishRefused, match="no recorded approval"):
        publish_episode(folder, tmp_path / "publish")
    assert not (tmp_path / "publish").exists()

    manifest = load_manifest(folder)  # a regenerate is not an approval either
    manifest.review = ReviewRecord(decision=Decision.REGENERATE, notes="redder", shots=[1])
    save_manifest(folder, manifest)
    with pytest.raises(PublishRefused):
        publish_episode(folder, tmp_path / "publish")


def test_an_expired_episode_is_never_published(tmp_path):
    folder = _episode(tmp_path, "ep-late", approved=False)
    expired = mark_expired(folder)
    assert expired is not None and expired.status == Status.EXPIRED and expired.expired_at
    assert mark_expired(folder) is None  # once only
    manifest = load_manifest(folder)
    manifest.review = ReviewRecord(decision=Decision.APPROVE, reviewer="late")  # a forged late approval
    save_manifest(folder, manifest)
    with pytest.raises(PublishRefused, match="expired"):
        publish_episode(folder, tmp_path / "publish")
    assert not (tmp_path / "publish" / "ep-late").exists()


def test_feeds_list_published_episodes_newest_first_with_escaped_text(tmp_path):
    publish = tmp_path / "publish"
    publish_episode(_episode(tmp_path, "ep-old", title="Old one", minutes_ago=60), publish)
    target = publish_episode(_episode(tmp_path, "ep-new", title=TRICKY_TITLE), publish)
    assert (target / "episode.mp4").read_bytes() == b"\x00" * 1234
    assert load_manifest(tmp_path / "episodes" / "ep-new").status == Status.PUBLISHED

    feed = json.loads((publish / FEED_JSON).read_text(encoding="utf-8"))
    assert feed["version"] == JSON_FEED_VERSION
    assert [i["id"] for i in feed["items"]] == ["ep-new", "ep-old"]
    item = feed["items"][0]
    assert item["title"] == TRICKY_TITLE and item["language"] == "en"
    assert item["url"].endswith("/ep-new/episode.mp4") and item["attachments"][0]["size_in_bytes"] == 1234
    assert item["summary"].startswith("At dusk a fox") and item["date_published"]
    assert item["_reelgate"]["series"] == "Myths" and item["_reelgate"]["ai_label"]["Label"] == "1"
    assert "AIGC" in item["content_text"]

    raw = (publish / FEED_XML).read_text(encoding="utf-8")
    assert "<script>" not in raw and "&lt;script&gt;" in raw and "&amp;" in raw
    channel = ET.fromstring(raw).find("channel")
    items = channel.findall("item")
    assert [i.findtext("guid") for i in items] == ["ep-new", "ep-old"]
    assert items[0].findtext("title") == TRICKY_TITLE
    enclosure = items[0].find("enclosure")
    assert enclosure.get("type") == "video/mp4" and enclosure.get("length") == "1234"
    assert enclosure.get("url").endswith("/ep-new/episode.mp4")
    assert items[0].findtext("category") == "Myths" and "AIGC" in items[0].findtext("description")


def test_feeds_are_rebuilt_from_the_folder_and_skip_what_was_not_approved(tmp_path):
    publish = tmp_path / "publish"
    publish_episode(_episode(tmp_path, "ep-a"), publish)
    (publish / FEED_JSON).write_text("{ half a fe", encoding="utf-8")  # as if a crash had cut it
    stray = publish / "ep-stray"  # something copied in by hand, never approved
    stray.mkdir()
    (stray / "manifest.json").write_text(
        Manifest(episode_id="ep-stray", request=EpisodeRequest(prompt="x", episode_id="ep-stray")).model_dump_json()
    )
    rebuild_feeds(publish, base_url="https://example.org/videos/")
    feed = json.loads((publish / FEED_JSON).read_text(encoding="utf-8"))
    assert [i["id"] for i in feed["items"]] == ["ep-a"]
    assert feed["items"][0]["url"] == "https://example.org/videos/ep-a/episode.mp4"
    assert not list(publish.glob(".*.partial*"))  # no temporary file left behind


# ---- the real flow -----------------------------------------------------------------------

def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


@pytest.mark.integration
def test_regenerate_remakes_only_the_chosen_shot_then_approve_publishes_to_the_feed(
    prefect_server, tmp_path, monkeypatch, capsys
):
    from reelgate.cli import main

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
    original_video = (episode / "episode.mp4").read_bytes()

    # A note with a blocked term is refused: nothing is made, the episode stays at the gate.
    code = main(["review", "regenerate", "rg-regen", "--shots", "2", "--notes", "show a bloody beheading"])
    out = capsys.readouterr().out
    assert code == 1 and "regenerate refused" in out and "blocked" in out
    refused = load_manifest(episode)
    assert refused.status == Status.AWAITING_REVIEW and refused.review_round == 2
    assert refused.review.decision == Decision.REGENERATE and "blocked" in refused.review.refused
    assert len(_lines(calls)) == 3, "a blocked note reached the generator"

    # Shot 2 is made again with the notes; shots 1 and 3 are not.
    notes = "make the fox bright red"
    started = time.monotonic()
    assert main(["review", "regenerate", "rg-regen", "--shots", "2", "--notes", notes, "--reviewer", "ana"]) == 0
    regenerated_s = time.monotonic() - started
    lines = _lines(calls)
    assert len(lines) == 4 and lines[3].startswith("shot1 "), lines
    manifest = load_manifest(episode)
    assert manifest.status == Status.AWAITING_REVIEW and manifest.review_round == 3
    assert [len(s.attempts) for s in manifest.shots] == [1, 2, 1]
    new = manifest.shots[1].attempts[manifest.shots[1].kept_attempt]
    assert new["review_round"] == 3 and notes in new["prompt"]
    assert new["shot"]["seed"] != manifest.shots[1].attempts[0]["shot"]["seed"]
    assert (episode / "episode.mp4").read_bytes() != original_video  # the episode was rebuilt
    assert [(r.decision.value, r.round, r.shots) for r in manifest.reviews] == [("regenerate", 1, [2]), ("regenerate", 2, [2])]

    assert main(["review", "approve", "rg-regen", "--reviewer", "bo"]) == 0
    final = load_manifest(episode)
    assert final.status == Status.PUBLISHED and final.review.round == 3
    assert (settings.publish_dir / "rg-regen" / "episode.mp4").read_bytes() == (episode / "episode.mp4").read_bytes()
    feed = json.loads((settings.publish_dir / FEED_JSON).read_text(encoding="utf-8"))
    assert feed["items"][0]["id"] == "rg-regen" and feed["items"][0]["title"] == "Fox & <Moon>"
    rss = ET.parse(settings.publish_dir / FEED_XML).getroot()
    assert rss.find("channel/item/title").text == "Fox & <Moon>"
    assert len(_lines(calls)) == 4  # approving generated nothing

    events = [e for e in read_audit(settings.data_dir / "audit.jsonl") if e["episode_id"] == "rg-regen"]
    assert [(e["what"], e["round"], e["who"]) for e in events] == [
        ("regenerate", 1, "editor"), ("regenerate", 2, "ana"), ("approve", 3, "bo")]
    assert "blocked" in events[0]["refused"] and events[1]["refused"] is None
    assert events[1]["shots"] == [2] and events[1]["notes"] == notes
    assert all(e["flow_run_id"] == final.flow_run_id and e["when"] for e in events)
    print(f"\nproduce {produced_s:.1f} s, regenerate one shot {regenerated_s:.1f} s")


@pytest.mark.integration
def test_an_undecided_review_expires_visibly_and_is_never_published(prefect_server, monkeypatch, capsys):
    from flows.runtime import EXPIRED_STATE, find_run
    from reelgate.cli import main

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
    from reelgate.cli import main

    settings = prefect_server
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("REELGATE_TEST_CALLS", str(calls))
    monkeypatch.setenv("REELGATE_GENERATION__BACKEND", "tests.fakes:CountingAnimatic")
    monkeypatch.setenv("REELGATE_MAX_REVIEW_ROUNDS", "1")
    assert main(["episode", "The fox runs across the snowy hills.", "--id", "rg-last"]) == 0
    made = len(_lines(calls))
    capsys.readouterr()
    code = main(["review", "regenerate", "rg-last", "--shots", "1", "--notes", "brighter moon"])
    err = capsys.readouterr().err
    assert code == 2 and "the last one allowed" in err and "approve or reject" in err
    assert len(_lines(calls)) == made  # nothing was generated
    manifest = load_manifest(settings.episodes_dir / "rg-last")
    assert manifest.status == Status.AWAITING_REVIEW and manifest.review_round == 1
