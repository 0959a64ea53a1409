"""Atomic file writes (a reader sees the old file or the new one, never half of one), and content hashes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; published files must be readable by others
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: Path, data: Any) -> Path:
    if isinstance(data, BaseModel):
        text = data.model_dump_json(indent=2)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return write_text(path, text + "\n")


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def copy_if_changed(source: Path, target: Path) -> Path:
    """Copy `source` to `target` atomically, unless `target` already holds the same bytes (a rerun)."""
    source, target = Path(source), Path(target)
    if not (target.is_file() and target.stat().st_size == source.stat().st_size
            and file_sha256(target) == file_sha256(source)):
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
    return target


def secret_file(path: Path, make: Callable[[], str]) -> str:
    """The contents of a secret file, made once by `make()` with mode 0600 if it is not there yet.

    Two first callers at once: the one that creates the file wins, the other reads its secret.
    """
    path = Path(path)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(make() + "\n")
    except FileExistsError:
        pass
    return path.read_text().strip()
