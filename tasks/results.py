"""Persisted task results a worker can trust: JSON, signed, and refused when anyone else wrote them.

Prefect reads a result file with the serializer the file itself names, so a result file is
code: whoever can write the results folder could name `pickle` and run anything on the next
worker that looks up a cache key. Here every result is written as JSON and signed with a key
kept beside the folder (mode 0600); a file without a valid signature, or one naming another
serializer, reads as missing. Prefect then treats it as a cache miss and the task runs again;
the file is never decoded.

With REELGATE_STORAGE_URL set, the result files live in the store (`<url>/results/...`) and are
signed and checked exactly the same way. The key stays on each worker (`<data_dir>/results.key`,
copied there by whoever sets the worker up), never in the store: whoever can write the bucket
could otherwise sign what they wrote. The store keeps only a check value of the key (an HMAC of
a fixed text; reelgate.storage.check_key), so a worker with another key is refused at
start (flows.workers.check_storage).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.filesystems import LocalFileSystem

from reelgate.files import secret_file
from reelgate.storage import Store, open_store

MAGIC = b"reelgate-signed-result-v1\n"
KEY_FILE = "results.key"  # beside the results folder, mode 0600
SERIALIZER = "json"  # the only serializer a trusted result may name


class TamperedResult(ValueError):
    """A result file reelgate did not write (bad signature) or that names another serializer."""


def results_key(results_dir: Path) -> bytes:
    """The signing key of a results folder, made once beside it (mode 0600)."""
    return bytes.fromhex(secret_file(Path(results_dir).parent / KEY_FILE, lambda: secrets.token_hex(32)))


def sign(content: bytes, key: bytes) -> bytes:
    return MAGIC + hmac.new(key, content, hashlib.sha256).hexdigest().encode() + b"\n" + content


def verified(raw: bytes, key: bytes, where: str) -> bytes:
    """The content of a signed result file; TamperedResult if reelgate did not write it as JSON."""
    if not raw.startswith(MAGIC):
        raise TamperedResult(f"{where}: not a signed reelgate result; ignored (the task runs again)")
    signature, _, content = raw[len(MAGIC):].partition(b"\n")
    expected = hmac.new(key, content, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(signature, expected):
        raise TamperedResult(f"{where}: its signature does not match its content; ignored (the task runs again)")
    try:
        data = json.loads(content)  # a record, or a bare result whose metadata Prefect keeps apart
    except ValueError:
        raise TamperedResult(f"{where}: not JSON; ignored") from None
    serializer = SERIALIZER
    if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
        serializer = (data["metadata"].get("serializer") or {}).get("type")
    if serializer != SERIALIZER:
        raise TamperedResult(f"{where}: names the {serializer!r} serializer, only {SERIALIZER!r} is read; ignored")
    return content


class SignedResults(LocalFileSystem):
    """Prefect result storage under the data folder that signs what it writes and reads only that.

    The folder comes from PREFECT_LOCAL_STORAGE_PATH at each call (flows.environment sets it
    from the data folder), so the tasks can name this storage at import time.
    """

    _block_type_name = "reelgate signed results"
    _block_type_slug = "reelgate-signed-results"

    def _folder(self) -> Path:
        # A worker started with plain `prefect worker start` has no PREFECT_LOCAL_STORAGE_PATH: use its data folder.
        from reelgate.settings import Settings

        configured = self.basepath or os.environ.get("PREFECT_LOCAL_STORAGE_PATH")
        folder = Path(configured).expanduser() if configured else Settings().data_dir / "results"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder.resolve()

    def _resolve_path(self, path: str) -> Path:
        return LocalFileSystem(basepath=str(self._folder()))._resolve_path(path)

    def _store(self) -> tuple[Store, bytes] | None:
        """With a storage URL (and no folder of its own): the store and this worker's key."""
        from reelgate.settings import Settings

        settings = Settings()
        if settings.storage_url is None or self.basepath:
            return None
        return open_store(settings.storage_url), results_key(settings.data_dir / "results")

    def _in_store(self, path: str) -> str:
        # Prefect passes the key or the path _resolve_path made of it: both name the same file.
        return "results/" + self._resolve_path(path).relative_to(self._folder()).as_posix()

    async def aread_path(self, path: str) -> bytes:
        return self.read_path(path, _sync=True)

    @async_dispatch(aread_path)
    def read_path(self, path: str) -> bytes:
        if (remote := self._store()) is not None:
            store, key = remote
            where = self._in_store(path)
            raw = store.read_bytes(where)
            if raw is None:
                raise ValueError(f"Path {store.url}/{where} does not exist.")
            return verified(raw, key, f"{store.url}/{where}")
        target = self._resolve_path(path)
        if not target.is_file():
            raise ValueError(f"Path {target} does not exist.")
        return verified(target.read_bytes(), results_key(self._folder()), str(target))

    async def awrite_path(self, path: str, content: bytes) -> str:
        return self.write_path(path, content, _sync=True)

    @async_dispatch(awrite_path)
    def write_path(self, path: str, content: bytes) -> str:
        if (remote := self._store()) is not None:
            store, key = remote
            where = self._in_store(path)
            store.write_bytes(where, sign(content, key))
            return f"{store.url}/{where}"
        target = self._resolve_path(path)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(sign(content, results_key(self._folder())))
        os.replace(tmp, target)
        return str(target)


BLOCK_NAME = "reelgate-results"
RESULTS = f"{SignedResults._block_type_slug}/{BLOCK_NAME}"
"""The storage every reelgate task and flow persists its results in, by name (Prefect resolves it per run)."""


def register_result_storage() -> None:
    """Save the signed storage on the server, so runs can name it (idempotent; every server start does it)."""
    SignedResults().save(BLOCK_NAME, overwrite=True)
