"""Shared data in object storage: episode folders and Prefect results behind one fsspec URL.

Without REELGATE_STORAGE_URL every worker must see the same data folder (a shared mount).
With it (`s3://bucket/reelgate`, `gs://bucket/reelgate`, `file:///mnt/shared/reelgate`), each
worker keeps its own local data folder as a working copy, at the same path on every worker
(the cache keys and the persisted results name absolute paths): a run pulls its episode folder
from the store before it works on it and pushes what each stage made back, so a run that
crashed on one worker resumes on another without redoing finished work.

A pushed folder is written file by file, then its index (`.reelgate-index.json`: each file's
size and sha256) last. A pull reads only what the index names and checks every file's sha256
before it moves it into place: a file half-written by a push that crashed, or changed in the
store since, is not used (its work is done again). Credentials come from the environment and
fsspec's own configuration (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, ~/.config/fsspec), never
from the URL and never from a run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import posixpath
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reelgate.errors import BackendUnavailable, ConfigError
from reelgate.files import file_sha256, write_text

INDEX = ".reelgate-index.json"  # in each pushed folder of the store: what a pull may take
SYNCED = ".reelgate-synced.json"  # in a local folder: each file's sha256 as this machine last pushed or pulled it
MARK = ".reelgate-store-id"  # at the store's root: which store this is (flows.workers compares it)
KEY_CHECK = ".reelgate-key-check-{}"  # at the store's root, per worker key: hmac(key, fixed text), never the key
PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}


@dataclass(frozen=True)
class Store:
    """One storage URL, opened: its fsspec filesystem and the root path inside it."""

    url: str
    fs: Any  # fsspec.AbstractFileSystem
    root: str

    def path(self, rel: str) -> str:
        """The store path of `rel` (a '/'-separated path under the root; never absolute, never '..')."""
        parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts or ".." in parts or rel.startswith("/"):
            raise ConfigError(f"{rel!r} is not a path inside the store {self.url}")
        return posixpath.join(self.root, *parts)

    def _fail(self, doing: str, exc: BaseException) -> BackendUnavailable:
        reason = str(exc) or type(exc).__name__
        return BackendUnavailable(f"the store {self.url} could not {doing}: {type(exc).__name__}: {reason}; check "
                                  "the URL, that the bucket or folder exists, and this machine's credentials and "
                                  "endpoint (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, fsspec's config)")

    def read_bytes(self, rel: str) -> bytes | None:
        """The bytes at `rel`, or None when there is nothing there; BackendUnavailable if the store fails."""
        target = self.path(rel)
        try:
            return self.fs.cat_file(target)
        except FileNotFoundError:
            return None
        except Exception as exc:  # fsspec backends raise their own errors (botocore, aiohttp, OSError)
            raise self._fail(f"read {rel}", exc) from None

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write `data` at `rel` so that a reader sees the old bytes or the new, never a part."""
        self._write(rel, lambda target: self.fs.pipe_file(target, data))

    def upload(self, local: Path, rel: str) -> None:
        """Copy the local file `local` to `rel`, as write_bytes writes."""
        self._write(rel, lambda target: self.fs.put_file(str(local), target))

    def _write(self, rel: str, put: Callable[[str], object]) -> None:
        target = self.path(rel)
        try:
            if _is_folder(self.fs):
                # A plain folder: write beside, then rename (one object PUT is already all-or-nothing).
                self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
                tmp = f"{posixpath.dirname(target)}/.{posixpath.basename(target)}.{secrets.token_hex(4)}.partial"
                put(tmp)
                self.fs.mv(tmp, target)
            else:
                put(target)
        except Exception as exc:
            raise self._fail(f"write {rel}", exc) from None

    def download(self, rel: str, local: Path) -> bool:
        """Copy `rel` to a temporary file beside `local`; False when the store has nothing there."""
        try:
            self.fs.get_file(self.path(rel), str(local))
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise self._fail(f"read {rel}", exc) from None
        return True

    def remove(self, rel: str) -> None:
        try:
            self.fs.rm_file(self.path(rel))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._fail(f"delete {rel}", exc) from None


def _is_folder(fs: Any) -> bool:
    """A plain folder (file://), where a write in place can be seen half done."""
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return "file" in protocols or "local" in protocols


def check_url(url: str) -> str:
    """A storage URL as the settings take it: a protocol and a place, no credentials in it."""
    url = url.strip()
    parts = urlsplit(url)
    if not parts.scheme or "://" not in url:
        raise ValueError(f"storage_url {url!r} must be an fsspec URL with a protocol, e.g. s3://bucket/reelgate, "
                         "gs://bucket/reelgate or file:///mnt/shared/reelgate")
    if parts.username or parts.password:
        raise ValueError(f"storage_url {parts.scheme}://…@{parts.hostname} carries credentials: keep them out of "
                         "the URL (it is logged and recorded on the server) and give them through the "
                         "environment (AWS_ACCESS_KEY_ID…, GOOGLE_APPLICATION_CREDENTIALS) or fsspec's config")
    if parts.query or parts.fragment:
        raise ValueError(f"storage_url {url!r} has a query or fragment; options go in fsspec's config or the "
                         "environment (e.g. AWS_ENDPOINT_URL)")
    return url.rstrip("/")


@cache
def open_store(url: str) -> Store:
    """The store behind `url` (cached per process); ConfigError naming the package when its protocol needs one."""
    import fsspec
    from fsspec.core import url_to_fs

    protocol = urlsplit(url).scheme
    try:
        fs, root = url_to_fs(url, skip_instance_cache=True)  # its own client, made with the environment of now
    except ImportError as exc:
        package = PACKAGES.get(protocol, "the package fsspec names")
        how = "pip install 'reelgate[s3]'" if package == "s3fs" else f"pip install {package}=={fsspec.__version__}"
        raise ConfigError(f"REELGATE_STORAGE_URL={url}: the {protocol}:// protocol needs {package}, which is not "
                          f"installed ({exc}); install it: {how}") from None
    except ValueError as exc:
        known = ", ".join(sorted(p for p in fsspec.available_protocols() if len(p) > 1)[:40])
        raise ConfigError(f"REELGATE_STORAGE_URL={url}: {exc}; fsspec knows {known}") from None
    return Store(url=url, fs=fs, root=root.rstrip("/") or root)


def store_mark(store: Store) -> str:
    """The store's mark, made once at its root: workers of one pool must see the same one."""
    mark = store.read_bytes(MARK)
    if mark is None:
        store.write_bytes(MARK, (secrets.token_hex(16) + "\n").encode())
        mark = store.read_bytes(MARK) or b""
    return mark.decode().strip()


def check_store(store: Store) -> None:
    """The store answers, and this process can write, read back and delete in it; else the URL and the reason."""
    probe = f".reelgate-write-check-{os.getpid()}-{secrets.token_hex(4)}"
    payload = secrets.token_bytes(16)
    store.write_bytes(probe, payload)
    back = store.read_bytes(probe)
    store.remove(probe)
    if back != payload:
        raise BackendUnavailable(f"the store {store.url} did not give back what this worker wrote to {probe}")


def key_check(key: bytes) -> str:
    """What the store may hold of a key: enough to tell two keys apart, nothing to sign with."""
    return hmac.new(key, b"reelgate key check v1", hashlib.sha256).hexdigest()


def check_key(store: Store, key: bytes, key_file: Path) -> str:
    """The pool signs with this key (the first key of its name to meet the store is recorded); else what to do.

    Each worker holds the pool's keys as files of its data folder (results.key: Prefect results;
    review.key: decisions from the page and the CLI); the store keeps only their check values.
    """
    mine = key_check(key)
    where = KEY_CHECK.format(key_file.name)
    recorded = store.read_bytes(where)
    if recorded is None:
        store.write_bytes(where, (mine + "\n").encode())
        return f"{key_file.name} recorded in {store.url}"
    if not hmac.compare_digest(recorded.decode(errors="replace").strip(), mine):
        raise ConfigError(f"{key_file} is not the pool's {key_file.name} (the store {store.url} records another): "
                          f"copy {key_file.name} from the machine that set up the pool (`reelgate pool` or "
                          f"`reelgate up`) to {key_file} (mode 0600); with another key this worker reads every "
                          "result as tampered and refuses every signed review decision")
    return f"{key_file.name} matches {store.url}"


# ---------------------------------------------------------------- folders: push and pull


@cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(Path(path))


def _local_hash(path: Path) -> tuple[int, str]:
    stat = path.stat()
    return stat.st_size, _sha256(str(path), stat.st_size, stat.st_mtime_ns)


def _index(store: Store, rel: str) -> dict[str, dict]:
    raw = store.read_bytes(f"{rel}/{INDEX}")
    if raw is None:
        return {}
    try:
        files = json.loads(raw).get("files", {})
    except (ValueError, AttributeError):
        return {}  # unreadable: as if nothing was pushed (the work is done again)
    return files if isinstance(files, dict) else {}


def _synced(local_dir: Path) -> dict[str, str]:
    try:
        record = json.loads((local_dir / SYNCED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _save_synced(local_dir: Path, record: dict[str, str]) -> None:
    write_text(local_dir / SYNCED, json.dumps(record, indent=1, sort_keys=True))


def push_folder(store: Store, local_dir: Path, rel: str, prune: bool = False) -> int:
    """Send the files of `local_dir` that the store lacks or holds other bytes of to `rel`, then its index.

    Returns how many files were sent. Partial files (`.*.partial`) are skipped.
    prune: the index lists exactly the local files (after files were moved, as `--replace` moves an
        episode's files to versions/<n>/); otherwise files the store has and this machine lacks stay listed.
    """
    local_dir = Path(local_dir)
    if not local_dir.is_dir():
        return 0
    known = _index(store, rel)
    files: dict[str, dict] = {}
    sent = 0
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        name = path.relative_to(local_dir).as_posix()
        if path.name in (INDEX, SYNCED) or (path.name.startswith(".") and ".partial" in path.name):
            continue  # bookkeeping, or another writer's file not yet in place
        size, digest = _local_hash(path)
        files[name] = {"size": size, "sha256": digest}
        if known.get(name) != files[name]:
            store.upload(path, f"{rel}/{name}")
            sent += 1
    # Files the store has and this worker lacks stay listed: a pull on this worker may not have taken them yet.
    for name, entry in ({} if prune else known).items():
        files.setdefault(name, entry)
    store.write_bytes(f"{rel}/{INDEX}", json.dumps({"files": files}, indent=1, sort_keys=True).encode())
    _save_synced(local_dir, {name: entry["sha256"] for name, entry in files.items()})
    return sent


def pull_folder(
    store: Store, rel: str, local_dir: Path, only: frozenset[str] | None = None, keep_local_changes: bool = False,
) -> list[str]:
    """Bring the files the store's index names for `rel` into `local_dir` (only those that differ).

    only: these file names alone (e.g. the manifest, to list a queue without fetching every video).
    keep_local_changes: leave a local file that changed since this machine last pushed or pulled it
        (a reader such as the review page beside a live worker on the same data folder must not put
        the worker's unpushed manifest back to the store's older one). A run that starts takes the
        store's files: what a crashed run left unpushed is not the truth; and a file this machine
        synced before that the store no longer lists (moved to versions/<n>/ by `--replace`) goes.

    Each file is checked against its sha256 before it is moved into place; one that does not match
    is left out (returned, so the caller can say so) and its work is done again.
    """
    local_dir = Path(local_dir)
    refused: list[str] = []
    synced = _synced(local_dir)
    pulled = dict(synced)
    index = _index(store, rel)
    for name, entry in sorted(index.items()):
        if (only is not None and name not in only) or Path(name).name in (INDEX, SYNCED):
            continue
        target = local_dir / name
        if not isinstance(entry, dict) or ".." in Path(name).parts or Path(name).is_absolute():
            refused.append(name)
            continue
        if target.is_file():
            size, digest = _local_hash(target)
            if (size, digest) == (entry.get("size"), entry.get("sha256")):
                pulled[name] = digest
                continue
            if keep_local_changes and synced.get(name) != digest:
                continue  # changed here since the last push: not this reader's to undo
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            if not store.download(f"{rel}/{name}", tmp) or file_sha256(tmp) != entry.get("sha256"):
                refused.append(name)
                continue
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
            pulled[name] = entry["sha256"]
        finally:
            tmp.unlink(missing_ok=True)
    if index and only is None and not keep_local_changes:
        for name in set(synced) - set(index):
            gone = local_dir / name
            if ".." not in Path(name).parts and gone.is_file() and _local_hash(gone)[1] == synced[name]:
                gone.unlink()
            pulled.pop(name, None)
    if pulled != synced and local_dir.is_dir():
        _save_synced(local_dir, pulled)
    return refused


def relative_to_data(path: Path, data_dir: Path) -> str:
    """A local path under the data folder as a store path ('episodes/fox-1')."""
    try:
        return Path(path).resolve().relative_to(Path(data_dir).resolve()).as_posix()
    except ValueError:
        raise ConfigError(f"{path} is not inside the data folder {data_dir}: only the data folder is kept in the "
                          "store") from None


def pull(
    url: str | None, data_dir: Path, local_dir: Path, only: frozenset[str] | None = None,
    keep_local_changes: bool = False,
) -> list[str]:
    """Bring a folder of the data folder up to date from the store at `url` (nothing when url is None).

    Returns the files left out because their bytes did not match the store's index.
    """
    if url is None:
        return []
    return pull_folder(open_store(url), relative_to_data(local_dir, data_dir), local_dir, only, keep_local_changes)


def push(url: str | None, data_dir: Path, local_dir: Path, prune: bool = False) -> int:
    """Send a folder of the data folder to the store at `url` (nothing when url is None); how many files went."""
    if url is None:
        return 0
    return push_folder(open_store(url), local_dir, relative_to_data(local_dir, data_dir), prune)


def folders_in(store: Store, rel: str) -> list[str]:
    """The names of the folders under `rel` in the store that hold a pushed index (e.g. each episode)."""
    try:
        entries = store.fs.ls(store.path(rel), detail=True)
    except FileNotFoundError:
        return []
    except Exception as exc:
        raise store._fail(f"list {rel}", exc) from None
    names = sorted(posixpath.basename(e["name"].rstrip("/")) for e in entries if e.get("type") == "directory")
    return [n for n in names if not n.startswith(".")]


def pull_all(
    url: str | None, data_dir: Path, local_root: Path, only: frozenset[str] | None = None,
    keep_local_changes: bool = False,
) -> dict[str, list[str]]:
    """Pull every pushed folder under a folder of the data folder (every episode, every published episode).

    Returns, per folder, the files left out because their bytes did not match the store's index.
    """
    if url is None:
        return {}
    store = open_store(url)
    rel = relative_to_data(local_root, data_dir)
    return {name: pull_folder(store, f"{rel}/{name}", Path(local_root) / name, only, keep_local_changes)
            for name in folders_in(store, rel)}


def push_files(url: str | None, data_dir: Path, files: list[Path]) -> None:
    """Send single files of the data folder (a feed beside the published folders) to the store."""
    if url is None:
        return
    store = open_store(url)
    for path in files:
        store.upload(Path(path), relative_to_data(path, data_dir))
