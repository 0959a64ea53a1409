"""The audit log: append-only JSON lines, one per editorial decision.

Every line has the same fields: when, who, what (approve, reject, regenerate, expire,
supersede, or refused-<decision> for a decision the gate would not take), episode_id, notes,
shots, round, flow_run_id, version (the version decided on), and refused (why it was not
carried out, else null); some add authenticated or via (page, cli, prefect).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

SYSTEM = "system"  # who expires a review nobody decided


def append_audit(log_path: Path, event: dict[str, Any]) -> None:
    """Append one event as a JSON line; O_APPEND keeps concurrent writers from interleaving."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(event, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def decision_event(
    *,
    when: datetime,
    who: str,
    what: str,
    episode_id: str,
    flow_run_id: str | None,
    round: int,
    notes: str = "",
    shots: list[int] | None = None,
    refused: str | None = None,
    version: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One audit line; `what` is approve, reject, regenerate, expire, supersede or refused-<decision>."""
    return {
        "when": when.isoformat(), "who": who, "what": what, "episode_id": episode_id, "notes": notes,
        "shots": list(shots or []), "round": round, "flow_run_id": flow_run_id, "refused": refused,
        "version": version, **extra,
    }


def read_audit(log_path: Path) -> list[dict[str, Any]]:
    if not log_path.is_file():
        return []
    return [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock between processes (flock): one writer of a manifest or feed at a time."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
