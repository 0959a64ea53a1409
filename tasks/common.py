"""What every reelgate task shares: caching on inputs and code, retries on transient faults."""

from __future__ import annotations

import hashlib
import importlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy

from reelgate.errors import is_retryable


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


def retry_transient(task_obj: Any, task_run: Any, state: Any) -> bool:
    """Retry only faults that may pass (TransientError); bad input and content decisions never."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as err:  # the failed state's own exception
        exc = err
    return isinstance(exc, BaseException) and is_retryable(exc)


def stage_task(name: str, packages: tuple[str, ...], retries: int = 2, **kwargs: Any):
    """A reelgate stage task: persisted, cached on inputs + code, retried on transient faults."""
    return task(
        name=name,
        cache_policy=INPUTS + TASK_SOURCE + StageCode(packages=packages),
        persist_result=True,
        retries=retries,
        retry_delay_seconds=[2, 10, 30][:retries] if retries else 0,
        retry_condition_fn=retry_transient,
        **kwargs,
    )


def artifact_key(*parts: object) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    raw = "-".join(str(p) for p in parts).lower()
    return re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")[:120]
