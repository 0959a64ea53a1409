"""Moving folders between a worker's data folder and the shared store (REELGATE_STORAGE_URL): thin tasks.

Nothing is cached or persisted here (the store is the record); a store that does not answer is
retried like any transient fault, and then fails the run with the URL and the reason.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from reelgate import storage
from tasks.common import retry_transient

_RETRIED = dict(cache_policy=NO_CACHE, persist_result=False, retries=2, retry_delay_seconds=[2, 10],
                retry_condition_fn=retry_transient)


@task(name="pull_folder", **_RETRIED)
def pull_folder(url: str, data_dir: Path, folder: Path) -> list[str]:
    """Bring `folder` up to date from the store; the files left out because their bytes did not match."""
    return storage.pull(url, data_dir, folder)


@task(name="push_folder", **_RETRIED)
def push_folder(url: str, data_dir: Path, folder: Path) -> int:
    """Send what `folder` holds that the store lacks; how many files went."""
    return storage.push(url, data_dir, folder)


@task(name="pull_published", **_RETRIED)
def pull_published(url: str, data_dir: Path, publish_dir: Path) -> None:
    """Bring every published episode into the local publish folder, so rebuilt feeds list them all."""
    storage.pull_all(url, data_dir, publish_dir)


@task(name="push_published", **_RETRIED)
def push_published(url: str, data_dir: Path, publish_dir: Path, episode_id: str) -> None:
    """Send one published episode's folder and the feeds beside it."""
    storage.push(url, data_dir, publish_dir / episode_id)
    storage.push_files(url, data_dir, [p for p in sorted(publish_dir.iterdir())
                                       if p.is_file() and not p.name.startswith(".")])
