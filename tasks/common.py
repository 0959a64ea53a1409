"""What every reelgate task shares: caching on inputs, file contents and code; retries on transient faults.

A cache that trusts a path trusts whatever lies there now. So a task's key covers the bytes
of the files it reads (`file_inputs`), and `fresh` makes a cached result again when a file
it names is gone or no longer the one it wrote (a request replaced under the same id, a
file edited by hand).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from pydantic import BaseModel

from reelgate.errors import is_retryable
from reelgate.files import file_sha256
from reelgate.records import GeneratedShot
from tasks.results import RESULTS, SERIALIZER


@cache
def _package_source_hash(package: str) -> str:
    """Hash of every .py file in a stage package, so editing the stage invalidates its cache."""
    module = importlib.import_module(package)
    root = Path(module.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class StageCode(CachePolicy):
    """Cache key part: the source of the plain-Python stage packages a task calls into."""

    packages: tuple[str, ...] = field(default_factory=tuple)

    def compute_key(self, task_ctx: Any, inputs: Any, flow_parameters: Any, **kwargs: Any) -> str | None:
        return hashlib.sha256("".join(_package_source_hash(p) for p in self.packages).encode()).hexdigest()


def _paths_in(value: Any) -> list[Path]:
    """Every path inside a task input or result: plain, in records, lists, tuples and dicts."""
    if isinstance(value, Path):
        return [value]
    if isinstance(value, BaseModel):
        return [p for name in type(value).model_fields for p in _paths_in(getattr(value, name))]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [p for f in dataclasses.fields(value) for p in _paths_in(getattr(value, f.name))]
    if isinstance(value, (list, tuple)):
        return [p for item in value for p in _paths_in(item)]
    if isinstance(value, dict):
        return [p for item in value.values() for p in _paths_in(item)]
    return []


@cache
def _content_hash(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(Path(path))


def content_hash(path: Path) -> str:
    """sha256 of a file, computed once per (path, size, modification time) in this process."""
    stat = os.stat(path)
    return _content_hash(str(path), stat.st_size, stat.st_mtime_ns)


@dataclass
class FileContents(CachePolicy):
    """Cache key part: the bytes of the files the named inputs point at (a missing file counts as such)."""

    params: tuple[str, ...] = field(default_factory=tuple)

    def compute_key(self, task_ctx: Any, inputs: Any, flow_parameters: Any, **kwargs: Any) -> str | None:
        digest = hashlib.sha256()
        for name in self.params:
            for path in _paths_in(inputs.get(name)):
                digest.update(str(path).encode())
                digest.update(content_hash(path).encode() if path.is_file() else b"missing")
        return digest.hexdigest()


def files_intact(result: Any) -> bool:
    """Whether every file a task result names is still there, and a generated shot still holds its bytes."""
    if isinstance(result, GeneratedShot) and result.sha256:
        return result.path.is_file() and content_hash(result.path) == result.sha256
    return all(path.exists() for path in _paths_in(result))


def fresh(task_obj: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a cached task; when its cached result names a file that is gone or changed, make it again."""
    result = task_obj(*args, **kwargs)
    if files_intact(result):
        return result
    return task_obj.with_options(refresh_cache=True)(*args, **kwargs)


def retry_transient(task_obj: Any, task_run: Any, state: Any) -> bool:
    """Retry only faults that may pass (TransientError); bad input and content decisions never."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as err:  # the failed state's own exception
        exc = err
    return isinstance(exc, BaseException) and is_retryable(exc)


def stage_task(packages: tuple[str, ...], retries: int = 2, file_inputs: tuple[str, ...] = (), **kwargs: Any):
    """A reelgate stage task: persisted, cached on inputs + code, retried on transient faults.

    Named after its function, so the Prefect UI and the code use one word for a stage.
    file_inputs: the parameters naming files the task reads; their bytes join the cache key.
    """
    return task(
        cache_policy=INPUTS + TASK_SOURCE + StageCode(packages=packages) + FileContents(params=file_inputs),
        persist_result=True,
        result_storage=RESULTS,  # signed JSON: a result file someone else wrote is never decoded
        result_serializer=SERIALIZER,
        retries=retries,
        retry_delay_seconds=[2, 10, 30][:retries] if retries else 0,
        retry_condition_fn=retry_transient,
        **kwargs,
    )
