"""The audit log: append-only JSON lines, one per editorial decision."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def append_audit(log_path: Path, event: dict[str, Any]) -> None:
    """Append one event as a JSON line; O_APPEND keeps concurrent writers from interleaving."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(event, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_audit(log_path: Path) -> list[dict[str, Any]]:
    if not log_path.is_file():
        return []
    return [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
