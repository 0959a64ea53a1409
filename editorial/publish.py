"""Publishing: the only way files reach the publish folder, and only with an approval."""

from __future__ import annotations

import shutil
from pathlib import Path

from editorial.feed import rebuild_feeds
from editorial.manifest import Decision, Status, load_manifest, now_utc, save_manifest
from reelgate.errors import PublishRefused


def publish_episode(episode_dir: Path, publish_dir: Path, base_url: str | None = None) -> Path:
    """Copy an approved episode's outputs to `publish_dir/<episode_id>/`, update the feeds; return that folder.

    Refuses (PublishRefused) unless the manifest on disk records a human approval.
    The folder appears whole or not at all (copied aside, then renamed into place), and the
    feeds are rebuilt from the published folders, so publishing again repairs them.
    base_url: where publish_dir is served, for the feeds' links (default: file:// URLs).
    """
    manifest = load_manifest(episode_dir)
    review = manifest.review
    if review is None or review.decision != Decision.APPROVE or not review.reviewer:
        raise PublishRefused(
            f"episode {manifest.episode_id} has no recorded approval "
            f"(status {manifest.status.value}); approve it first: reelgate review approve {manifest.episode_id}"
        )
    if manifest.status in (Status.EXPIRED, Status.REJECTED, Status.BLOCKED):
        raise PublishRefused(f"episode {manifest.episode_id} is {manifest.status.value}; it is never published")
    if not manifest.outputs.get("video"):
        raise PublishRefused(f"episode {manifest.episode_id} has no final video to publish")

    target = Path(publish_dir) / manifest.episode_id
    staging = Path(publish_dir) / f".{manifest.episode_id}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in manifest.outputs.values():
        source = Path(episode_dir) / name
        if source.is_file():
            shutil.copy2(source, staging / source.name)
    manifest.status = Status.PUBLISHED
    manifest.published_to = str(target)
    manifest.published_at = manifest.published_at or now_utc()
    (staging / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    save_manifest(episode_dir, manifest)
    rebuild_feeds(publish_dir, base_url)
    return target
