"""Publishing: the only way files reach the publish folder, and only the bytes a reviewer approved.

An approval is a statement about one version of an episode (`EpisodeVersion`: the sha256 of
its video and subtitles). Publishing copies the files, hashes the copies, and refuses unless
they are exactly the approved bytes, so a file changed on disk after the decision is never
published under that decision.

A published folder holds what viewers get and nothing more: the video, its subtitles and a
public manifest (`PublicManifest`). The private manifest, with reviewers, notes, screening,
safety findings, settings, paths and run ids, stays in the episode folder.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from editorial.manifest import (
    MANIFEST_NAME, Decision, EpisodeVersion, Manifest, Status, load_manifest, now_utc, save_manifest,
)
from reelgate.errors import MediaError, PublishRefused
from reelgate.files import file_sha256, write_json
from reelgate.media import video_info

VIDEO_NAME, SRT_NAME, VTT_NAME = "episode.mp4", "subtitles.srt", "subtitles.vtt"
# Output name in the private manifest -> file name in the published folder. Nothing else is
# published: the contact sheet, the soundtrack and the shots are for reviewers only.
PUBLISHED_OUTPUTS = {"video": VIDEO_NAME, "subtitles": SRT_NAME, "subtitles_vtt": VTT_NAME}
CHAPTER_CHARS = 60  # as long as the chapter titles written into the video


class Chapter(BaseModel):
    """Where a shot starts, and its text as the chapter title."""

    model_config = ConfigDict(extra="forbid")

    start_s: float = Field(ge=0)
    title: str


class PublicVersion(BaseModel):
    """The approved version, without its flow run: enough to check the files against."""

    model_config = ConfigDict(extra="forbid")

    id: str
    video_sha256: str
    subtitles_sha256: str = ""


class PublicFile(BaseModel):
    """A published file's sha256 and size, as written."""

    model_config = ConfigDict(extra="forbid")

    sha256: str
    bytes: int = Field(ge=0)


class PublicManifest(BaseModel):
    """What `publish/<id>/manifest.json` tells the world about a published episode, and all it tells.

    Extra fields are forbidden, so a private manifest (or anything else) placed in the publish
    folder is not mistaken for a published episode by the feeds.
    """

    model_config = ConfigDict(extra="forbid")

    episode_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    title: str
    description: str = Field(description="The request's prompt, which passed screening.")
    language: str
    series: str | None = None
    duration_s: float | None = Field(None, description="Read from the published video; None if it is unreadable.")
    chapters: list[Chapter] = Field(default_factory=list)
    ai_label: dict[str, Any] = Field(default_factory=dict, description="The AIGC label the video carries.")
    version: PublicVersion
    files: dict[str, PublicFile] = Field(description="Published file name -> its sha256 and size.")
    published_at: datetime


def publish_episode(episode_dir: Path, publish_dir: Path, base_url: str | None = None) -> Path:
    """Publish an approved episode's video and subtitles to `publish_dir/<episode_id>/` and the feeds; return the folder.

    Refuses (PublishRefused) unless the manifest on disk records a human approval of the
    version now in the manifest, and the copies are byte for byte the approved files. The
    folder appears whole or not at all (copied aside, checked, then renamed into place), and
    the feeds are rebuilt from the published folders, so publishing again repairs them.
    base_url: where publish_dir is served, for the feeds' links (default: file:// URLs).
    """
    from editorial.feed import rebuild_feeds  # here, not at the top: the feed module reads PublicManifest

    episode_dir, publish_dir = Path(episode_dir), Path(publish_dir)
    manifest = load_manifest(episode_dir)
    approved = approved_version(manifest)
    target = publish_dir / manifest.episode_id
    staging = publish_dir / f".{manifest.episode_id}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    published_at = manifest.published_at or now_utc()
    try:
        _copy_outputs(manifest, episode_dir, staging)
        _check_approved_bytes(manifest.episode_id, staging, approved)
        write_json(staging / MANIFEST_NAME, public_manifest(manifest, approved, staging, published_at))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    manifest.status = Status.PUBLISHED
    manifest.published_to = str(target)
    manifest.published_at = published_at
    save_manifest(episode_dir, manifest)
    rebuild_feeds(publish_dir, base_url)
    return target


def approved_version(manifest: Manifest) -> EpisodeVersion:
    """The version the recorded approval was taken on, if it is the one in the manifest now; else PublishRefused."""
    episode = manifest.episode_id
    if manifest.status in (Status.EXPIRED, Status.REJECTED, Status.BLOCKED, Status.SUPERSEDED):
        raise PublishRefused(f"episode {episode} is {manifest.status.value}; it is never published")
    review = manifest.review
    if review is None or review.decision != Decision.APPROVE or not review.reviewer:
        raise PublishRefused(
            f"episode {episode} has no recorded approval "
            f"(status {manifest.status.value}); approve it first: reelgate review approve {episode}"
        )
    if review.decided_on is None:
        raise PublishRefused(
            f"the approval of episode {episode} does not name the version it was taken on, so it cannot vouch "
            f"for the files; review it again (reelgate review show {episode}) and approve the version shown"
        )
    current = manifest.version
    if current is None or review.decided_on.id != current.id:
        raise PublishRefused(
            f"the approval of episode {episode} is for version {review.decided_on.id}, but the version now in "
            f"its manifest is {current.id if current else 'none'}; review the current version and approve it"
        )
    if not manifest.outputs.get("video"):
        raise PublishRefused(f"episode {episode} has no final video to publish")
    return review.decided_on


def public_manifest(
    manifest: Manifest, approved: EpisodeVersion, folder: Path, published_at: datetime,
) -> PublicManifest:
    """The public manifest of the files in `folder`, built from an allow-list of the private manifest's fields."""
    files = {
        path.name: PublicFile(sha256=file_sha256(path), bytes=path.stat().st_size)
        for path in sorted(folder.iterdir()) if path.name in PUBLISHED_OUTPUTS.values()
    }
    return PublicManifest(
        episode_id=manifest.episode_id,
        title=manifest.request.title or manifest.episode_id,
        description=manifest.request.prompt,
        language=manifest.language or manifest.request.language,
        series=manifest.request.series,
        duration_s=_duration(folder / VIDEO_NAME),
        chapters=[
            Chapter(start_s=shot.start_s, title=shot.text.strip()[:CHAPTER_CHARS])
            for shot in manifest.shots if shot.start_s is not None
        ],
        ai_label=manifest.ai_label,
        version=PublicVersion(
            id=approved.id, video_sha256=approved.video_sha256, subtitles_sha256=approved.subtitles_sha256,
        ),
        files=files,
        published_at=published_at,
    )


def _copy_outputs(manifest: Manifest, episode_dir: Path, staging: Path) -> None:
    """Copy the publishable outputs (paths relative to the episode folder) under their published names."""
    for key, published_name in PUBLISHED_OUTPUTS.items():
        name = manifest.outputs.get(key)
        source = episode_dir / name if name else None
        if source is not None and source.is_file():
            shutil.copy2(source, staging / published_name)
        elif key == "video":
            raise PublishRefused(f"episode {manifest.episode_id} has no final video to publish (missing {source})")


def _check_approved_bytes(episode: str, staging: Path, approved: EpisodeVersion) -> None:
    """Refuse unless the copies are the bytes the reviewer approved (hashing the copies, not the sources,
    so a change between hashing and copying cannot slip through)."""
    expected = {VIDEO_NAME: approved.video_sha256}
    if approved.subtitles_sha256:
        expected[SRT_NAME] = approved.subtitles_sha256
    for name, want in expected.items():
        copy = staging / name
        found = file_sha256(copy) if copy.is_file() else None
        if found != want:
            raise PublishRefused(
                f"{name} of episode {episode} changed after approval (approved sha256 {want[:12]}…, found "
                f"{f'{found[:12]}…' if found else 'no file'}); nothing was published: the episode must be "
                "reviewed again before it is published"
            )


def _duration(video: Path) -> float | None:
    """The video's duration in seconds, or None if ffmpeg cannot read it: the approval, not the probe, decides."""
    try:
        return round(video_info(video)[3], 3)
    except MediaError:
        return None
