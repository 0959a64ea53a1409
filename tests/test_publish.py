"""Publishing: only the approved bytes are published, with a public manifest that reveals nothing private.

Fast tier: plain functions on episode folders in tmp_path, laid out as the flow leaves them
at the gate (outputs in `round1/`, a version whose hashes are those of the files). One test
writes a real tiny MP4 so the published duration is read from a real video.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from editorial.feed import FEED_JSON, FEED_XML, JSON_FEED_VERSION, REELGATE_NS, published_manifests, rebuild_feeds
from editorial.manifest import (
    Decision, EpisodeVersion, Manifest, ReviewRecord, ShotRecord, Status, load_manifest, mark_expired, now_utc,
    save_manifest,
)
from editorial.publish import PublicManifest, publish_episode
from reelgate.errors import PublishRefused
from reelgate.files import file_sha256
from reelgate.media import VideoWriter
from reelgate.records import EpisodeRequest

STORY_EN = (
    "At dusk a fox runs across the snowy hills. "
    "The fox stops under a tall pine and looks up at the first stars. "
    "Then the moon rises slowly over the quiet valley."
)
TRICKY_TITLE = 'Fox & <Moon> "night" </title><script>alert(1)</script>'
REVIEWER = "ana-the-reviewer"
NOTES = "private note: the second shot looks a bit like someone"
PROTECTED_PERSON = "Jane Q. Protected"
SCREENING_SPAN = "flagged-span-text"
FLOW_RUN = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
SHOT_TEXTS = [
    "At dusk a fox runs across the snowy hills, leaving small tracks that the wind soon fills.",
    "The moon rises.",
]


@pytest.fixture(scope="module")
def real_mp4(tmp_path_factory) -> Path:
    """A 2-second 64x64 H.264 video, written once for the module."""
    path = tmp_path_factory.mktemp("media") / "episode.mp4"
    with VideoWriter(path, 64, 64, 12) as writer:
        for f in range(24):
            frame = np.zeros((64, 64, 3), np.uint8)
            frame[:, (f * 2) % 60:(f * 2) % 60 + 4] = 255
            writer.write(frame)
    return path


def _version(folder: Path, flow_run: str = FLOW_RUN, review_round: int = 1) -> EpisodeVersion:
    video, srt = folder / "round1" / "episode.mp4", folder / "round1" / "subtitles.srt"
    return EpisodeVersion(
        id=f"r{review_round}-{file_sha256(video)[:12]}", flow_run_id=flow_run, round=review_round,
        video_sha256=file_sha256(video), subtitles_sha256=file_sha256(srt),
    )


def _episode(
    tmp_path: Path, episode_id: str, title: str = "Fox", approved: bool = True, video: Path | None = None,
) -> Path:
    """An episode folder as the flow leaves it at the gate: outputs in round1/, the version of those bytes,
    and (approved) a signed-off approval of that version, with every private detail a manifest holds."""
    folder = tmp_path / "episodes" / episode_id
    files = folder / "round1"
    files.mkdir(parents=True)
    if video is None:
        (files / "episode.mp4").write_bytes(b"\x00" * 1234)
    else:
        shutil.copyfile(video, files / "episode.mp4")
    (files / "subtitles.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n", encoding="utf-8")
    (files / "subtitles.vtt").write_text("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhi\n", encoding="utf-8")
    (files / "contact_sheet.png").write_bytes(b"\x89PNG internal")
    (files / "soundtrack.m4a").write_bytes(b"internal mix")
    manifest = Manifest(
        episode_id=episode_id, status=Status.AWAITING_REVIEW, language="en",
        request=EpisodeRequest(prompt=STORY_EN + " & <b>more</b>", episode_id=episode_id, title=title, series="Myths"),
        screening={"action": "allow", "spans": [{"start": 3, "end": 20, "text": SCREENING_SPAN, "category": "x"}]},
        shots=[
            ShotRecord(index=1, text=SHOT_TEXTS[0], start_s=0.0, safety={
                "findings": [{"check": "likeness", "label": PROTECTED_PERSON, "score": 0.61, "time_s": 0.5}],
            }),
            ShotRecord(index=2, text=SHOT_TEXTS[1], start_s=1.25),
        ],
        outputs={
            "video": "round1/episode.mp4", "subtitles": "round1/subtitles.srt", "subtitles_vtt": "round1/subtitles.vtt",
            "contact_sheet": "round1/contact_sheet.png", "soundtrack": "round1/soundtrack.m4a",
        },
        ai_label={"Label": "1", "ContentProducer": "reelgate", "ProduceID": episode_id},
        flow_run_id=FLOW_RUN,
        review_round=1,
    )
    manifest.version = _version(folder)
    if approved:
        manifest.review = ReviewRecord(
            decision=Decision.APPROVE, reviewer=REVIEWER, notes=NOTES, version=manifest.version.id,
            decided_on=manifest.version, flow_run_id=FLOW_RUN, authenticated=True,
        )
        manifest.reviews = [manifest.review]
        manifest.status = Status.APPROVED
    save_manifest(folder, manifest)
    return folder


def _nothing_published(publish: Path) -> bool:
    return not publish.exists() or not any(publish.iterdir())


# ---- refusals --------------------------------------------------------------------------------

def test_publish_without_an_approval_raises_and_writes_nothing(tmp_path):
    folder = _episode(tmp_path, "ep-unapproved", approved=False)
    with pytest.raises(PublishRefused, match="no recorded approval"):
        publish_episode(folder, tmp_path / "publish")
    assert _nothing_published(tmp_path / "publish")

    manifest = load_manifest(folder)  # a regenerate is not an approval either
    manifest.review = ReviewRecord(decision=Decision.REGENERATE, notes="redder", shots=[1], decided_on=manifest.version)
    save_manifest(folder, manifest)
    with pytest.raises(PublishRefused, match="no recorded approval"):
        publish_episode(folder, tmp_path / "publish")
    assert _nothing_published(tmp_path / "publish")


def test_an_expired_episode_is_never_published(tmp_path):
    folder = _episode(tmp_path, "ep-late", approved=False)
    expired = mark_expired(folder)
    assert expired is not None and expired.status == Status.EXPIRED and expired.expired_at
    assert mark_expired(folder) is None  # once only
    manifest = load_manifest(folder)
    manifest.review = ReviewRecord(decision=Decision.APPROVE, reviewer="late", decided_on=manifest.version)  # forged
    save_manifest(folder, manifest)
    with pytest.raises(PublishRefused, match="expired"):
        publish_episode(folder, tmp_path / "publish")
    assert _nothing_published(tmp_path / "publish")


@pytest.mark.parametrize("status", [Status.REJECTED, Status.BLOCKED, Status.SUPERSEDED])
def test_an_ended_episode_is_never_published_even_with_an_approval_on_record(tmp_path, status):
    folder = _episode(tmp_path, "ep-ended")
    manifest = load_manifest(folder)
    manifest.status = status
    save_manifest(folder, manifest)
    with pytest.raises(PublishRefused, match=f"is {status.value}; it is never published"):
        publish_episode(folder, tmp_path / "publish")
    assert _nothing_published(tmp_path / "publish")


@pytest.mark.parametrize(("output", "published_name"), [
    ("round1/episode.mp4", "episode.mp4"), ("round1/subtitles.srt", "subtitles.srt"),
])
def test_a_file_changed_after_approval_is_refused_and_nothing_is_published(tmp_path, output, published_name):
    folder = _episode(tmp_path, "ep-tampered")
    changed = folder / output
    changed.write_bytes(changed.read_bytes() + b"one more byte")
    private_before = (folder / "manifest.json").read_bytes()
    approved = load_manifest(folder).review.decided_on
    expected = approved.video_sha256 if published_name == "episode.mp4" else approved.subtitles_sha256

    with pytest.raises(PublishRefused) as refused:
        publish_episode(folder, tmp_path / "publish")
    message = str(refused.value)
    assert published_name in message and "changed after approval" in message and "reviewed again" in message
    assert expected[:12] in message and file_sha256(changed)[:12] in message
    assert _nothing_published(tmp_path / "publish")  # no episode folder, no staging left, no feed
    assert (folder / "manifest.json").read_bytes() == private_before  # still approved, not published


def test_an_approval_of_another_version_does_not_publish_the_current_one(tmp_path):
    folder = _episode(tmp_path, "ep-rounds")
    manifest = load_manifest(folder)
    # The approval was taken on round 1; the manifest now holds round 2 (same bytes, a later gate).
    manifest.version = _version(folder, review_round=2)
    save_manifest(folder, manifest)
    with pytest.raises(PublishRefused, match=f"approval .* is for version {manifest.review.decided_on.id}.*"
                                             f"now in its manifest is {manifest.version.id}"):
        publish_episode(folder, tmp_path / "publish")
    assert _nothing_published(tmp_path / "publish")

    manifest.review.decided_on = None  # an approval that names no version vouches for no bytes
    save_manifest(folder, manifest)
    with pytest.raises(PublishRefused, match="does not name the version"):
        publish_episode(folder, tmp_path / "publish")
    assert _nothing_published(tmp_path / "publish")


# ---- what is published -----------------------------------------------------------------------

def test_the_public_manifest_tells_viewers_what_they_need_and_nothing_private(tmp_path, real_mp4):
    folder = _episode(tmp_path, "ep-public", title="The fox and the moon", video=real_mp4)
    target = publish_episode(folder, tmp_path / "publish")

    # Only what viewers get: the approved video and its subtitles, under fixed names.
    published = sorted(p.name for p in target.iterdir())
    assert published == ["episode.mp4", "manifest.json", "subtitles.srt", "subtitles.vtt"]
    assert (target / "episode.mp4").read_bytes() == real_mp4.read_bytes()

    raw = (target / "manifest.json").read_text(encoding="utf-8")
    for private in (REVIEWER, NOTES, str(tmp_path), SCREENING_SPAN, PROTECTED_PERSON, FLOW_RUN, "round1",
                    "contact_sheet", "soundtrack", "reviewer", "screening", "safety", "/tmp"):
        assert private not in raw, f"the public manifest reveals {private!r}"

    public = PublicManifest.model_validate_json(raw)
    private = load_manifest(folder)
    assert public.episode_id == "ep-public" and public.title == "The fox and the moon"
    assert public.description.startswith("At dusk a fox") and public.language == "en" and public.series == "Myths"
    assert public.duration_s == pytest.approx(2.0, abs=0.1)  # read from the real video
    assert [(c.start_s, c.title) for c in public.chapters] == [(0.0, SHOT_TEXTS[0][:60]), (1.25, SHOT_TEXTS[1])]
    assert len(public.chapters[0].title) == 60
    assert public.ai_label == {"Label": "1", "ContentProducer": "reelgate", "ProduceID": "ep-public"}
    assert public.version.id == private.version.id
    assert public.version.video_sha256 == file_sha256(target / "episode.mp4") == file_sha256(real_mp4)
    assert public.files["episode.mp4"].bytes == real_mp4.stat().st_size
    assert public.files["subtitles.srt"].sha256 == private.version.subtitles_sha256
    assert set(public.files) == {"episode.mp4", "subtitles.srt", "subtitles.vtt"}
    assert public.published_at == private.published_at

    # The private manifest stays in the episode folder and records the publication.
    assert private.status == Status.PUBLISHED and private.published_to == str(target)
    assert private.review.reviewer == REVIEWER


def test_publishing_again_repairs_the_folder_and_keeps_the_publication_time(tmp_path):
    folder = _episode(tmp_path, "ep-again")
    publish = tmp_path / "publish"
    target = publish_episode(folder, publish)
    first = load_manifest(folder).published_at
    (target / "episode.mp4").unlink()  # a damaged publish folder
    (publish / FEED_JSON).unlink()
    assert publish_episode(folder, publish) == target
    assert (target / "episode.mp4").read_bytes() == b"\x00" * 1234
    assert load_manifest(folder).published_at == first
    assert PublicManifest.model_validate_json((target / "manifest.json").read_text()).published_at == first
    assert [i["id"] for i in json.loads((publish / FEED_JSON).read_text())["items"]] == ["ep-again"]


# ---- the feeds -------------------------------------------------------------------------------

def test_feeds_list_published_episodes_newest_first_with_escaped_text_and_the_hash(tmp_path):
    publish = tmp_path / "publish"
    publish_episode(_episode(tmp_path, "ep-old", title="Old one"), publish)
    target = publish_episode(_episode(tmp_path, "ep-new", title=TRICKY_TITLE), publish)
    assert (target / "episode.mp4").read_bytes() == b"\x00" * 1234
    assert load_manifest(tmp_path / "episodes" / "ep-new").status == Status.PUBLISHED
    video_sha = file_sha256(target / "episode.mp4")
    version = load_manifest(tmp_path / "episodes" / "ep-new").version.id

    feed = json.loads((publish / FEED_JSON).read_text(encoding="utf-8"))
    assert feed["version"] == JSON_FEED_VERSION
    assert [i["id"] for i in feed["items"]] == ["ep-new", "ep-old"]
    item = feed["items"][0]
    assert item["title"] == TRICKY_TITLE and item["language"] == "en"
    assert item["url"].endswith("/ep-new/episode.mp4") and item["attachments"][0]["size_in_bytes"] == 1234
    assert item["summary"].startswith("At dusk a fox") and item["date_published"]
    assert item["_reelgate"]["series"] == "Myths" and item["_reelgate"]["ai_label"]["Label"] == "1"
    assert item["_reelgate"]["sha256"] == video_sha and item["_reelgate"]["version"] == version
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
    assert items[0].findtext(f"{{{REELGATE_NS}}}sha256") == video_sha
    assert items[0].findtext(f"{{{REELGATE_NS}}}language") == "en"


def test_feeds_are_rebuilt_from_the_folder_and_skip_what_was_not_published(tmp_path):
    publish = tmp_path / "publish"
    target = publish_episode(_episode(tmp_path, "ep-a"), publish)
    (publish / FEED_JSON).write_text("{ half a fe", encoding="utf-8")  # as if a crash had cut it

    # Folders copied in by hand, never through publish_episode: a private manifest claiming to be
    # published and approved, a copy of a real public manifest under another name, and a staging folder.
    stray = publish / "ep-stray"
    stray.mkdir()
    (stray / "episode.mp4").write_bytes(b"\x00" * 10)
    forged = Manifest(
        episode_id="ep-stray", status=Status.PUBLISHED, request=EpisodeRequest(prompt="x", episode_id="ep-stray"),
        review=ReviewRecord(decision=Decision.APPROVE, reviewer="me"), published_at=now_utc(),
    )
    (stray / "manifest.json").write_text(forged.model_dump_json(), encoding="utf-8")
    shutil.copytree(target, publish / "ep-copy")
    shutil.copytree(target, publish / ".ep-a.staging")
    (publish / "notes").mkdir()
    (publish / "notes" / "manifest.json").write_text("not json", encoding="utf-8")

    rebuild_feeds(publish, base_url="https://example.org/videos/")
    assert [m.episode_id for m in published_manifests(publish)] == ["ep-a"]
    feed = json.loads((publish / FEED_JSON).read_text(encoding="utf-8"))
    assert [i["id"] for i in feed["items"]] == ["ep-a"]
    assert feed["items"][0]["url"] == "https://example.org/videos/ep-a/episode.mp4"
    guids = [i.findtext("guid") for i in ET.fromstring((publish / FEED_XML).read_text()).iter("item")]
    assert guids == ["ep-a"]
    assert not list(publish.glob(".*.partial*"))  # no temporary file left behind


def test_a_published_folder_whose_video_was_swapped_leaves_the_feed(tmp_path):
    publish = tmp_path / "publish"
    target = publish_episode(_episode(tmp_path, "ep-swapped"), publish)
    (target / "episode.mp4").write_bytes(b"\x01" * 99)  # not the size the public manifest records
    rebuild_feeds(publish)
    assert json.loads((publish / FEED_JSON).read_text())["items"] == []
    assert published_manifests(publish) == []


def test_published_manifests_are_public_manifests_newest_first(tmp_path):
    publish = tmp_path / "publish"
    publish_episode(_episode(tmp_path, "ep-1"), publish)
    publish_episode(_episode(tmp_path, "ep-2"), publish)
    manifest = load_manifest(tmp_path / "episodes" / "ep-1")  # published again later: its time does not move
    manifest.published_at = now_utc() - timedelta(days=1)
    save_manifest(tmp_path / "episodes" / "ep-1", manifest)
    publish_episode(tmp_path / "episodes" / "ep-1", publish)
    found = published_manifests(publish)
    assert all(isinstance(m, PublicManifest) for m in found)
    assert [m.episode_id for m in found] == ["ep-2", "ep-1"]
