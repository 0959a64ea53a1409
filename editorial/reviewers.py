"""Named reviewers and their personal tokens (stored hashed under the data folder).

Reviewers are people: each has a name and a token of their own, so a decision records who
made it and one person's access can be withdrawn without touching anyone else's. Only the
sha256 of a token is kept (`data_dir/reviewers.json`, mode 0600); the token itself is shown
once, when the reviewer is added. The owner's token (REELGATE_REVIEW_TOKEN, or the one made
at each start) authenticates as OWNER.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from reelgate.errors import InputError
from reelgate.settings import MIN_TOKEN_CHARS

OWNER = "owner"  # who the shared review token (REELGATE_REVIEW_TOKEN or the one made at start) decides as
REVIEWERS_FILE = "reviewers.json"  # in data_dir, mode 0600
# Names the records already give a meaning: the owner, the flow itself, Prefect's own form (editorial.review).
RESERVED = frozenset({OWNER, "system", "prefect-ui"})
NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class Reviewer:
    """A named reviewer, as listed (the token hash stays in the file)."""

    name: str
    added_at: datetime


def reviewers_file(data_dir: Path) -> Path:
    return Path(data_dir) / REVIEWERS_FILE


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _read(data_dir: Path) -> list[dict[str, str]]:
    path = reviewers_file(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the reviewers file {path}: {exc}; fix or remove it "
                         "(removing it withdraws every named reviewer's token)") from exc
    entries = data.get("reviewers") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and {"name", "token_sha256", "added_at"} <= e.keys() for e in entries
    ):
        raise InputError(f"the reviewers file {path} is not one reelgate wrote (expected {{\"reviewers\": [...]}} "
                         "with name, token_sha256 and added_at); fix or remove it")
    return entries


def _write(data_dir: Path, entries: list[dict[str, str]]) -> None:
    """Replace the file atomically, private from the first byte.

    reelgate.files.atomic_path makes files world-readable (published files must be), so the
    temporary file is made here: mkstemp creates it 0600 and it keeps that mode when moved.
    """
    path = reviewers_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"reviewers": entries}, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def check_name(name: str) -> str:
    """The name, if a reviewer may have it; InputError saying what is wrong otherwise."""
    if not NAME.fullmatch(name):
        raise InputError(f"reviewer name {name!r} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-'")
    if name.lower() in RESERVED:
        raise InputError(f"reviewer name {name!r} is reserved ({', '.join(sorted(RESERVED))} already mean "
                         "something in the records); choose another")
    return name


def add_reviewer(data_dir: Path, name: str) -> str:
    """Add a reviewer and return their new token (shown once: only its hash is kept)."""
    check_name(name)
    entries = _read(data_dir)
    if any(e["name"] == name for e in entries):
        raise InputError(f"reviewer {name} exists already; `reelgate reviewers remove {name}` first "
                         "to give them a new token")
    token = secrets.token_urlsafe(32)
    entries.append({"name": name, "token_sha256": _token_hash(token),
                    "added_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    _write(data_dir, entries)
    return token


def remove_reviewer(data_dir: Path, name: str) -> bool:
    """Withdraw a reviewer's token; False if there was no such reviewer."""
    entries = _read(data_dir)
    kept = [e for e in entries if e["name"] != name]
    if len(kept) == len(entries):
        return False
    _write(data_dir, kept)
    return True


def list_reviewers(data_dir: Path) -> list[Reviewer]:
    """The named reviewers, in the order they were added."""
    return [Reviewer(e["name"], datetime.fromisoformat(e["added_at"])) for e in _read(data_dir)]


def authenticate(data_dir: Path, token: str, owner_token: str | None) -> str | None:
    """The name a token belongs to (OWNER for the owner's token), or None.

    Every comparison is constant-time and every entry is compared, so timing tells nothing
    about which tokens exist. Tokens shorter than MIN_TOKEN_CHARS never authenticate.
    """
    if not token or len(token) < MIN_TOKEN_CHARS:
        return None
    given = token.encode("utf-8")
    found: str | None = None
    if owner_token and len(owner_token) >= MIN_TOKEN_CHARS and hmac.compare_digest(given, owner_token.encode("utf-8")):
        found = OWNER
    digest = _token_hash(token).encode()
    for entry in _read(data_dir):
        if hmac.compare_digest(digest, str(entry["token_sha256"]).encode()) and found is None:
            found = entry["name"]
    return found


def is_reviewer(data_dir: Path, name: str) -> bool:
    """Whether `name` can still sign in: the owner always, a named reviewer until removed."""
    return name == OWNER or any(e["name"] == name for e in _read(data_dir))
