"""Seeds derived from names: a plan's, a shot's, each attempt's and each variant's."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: str | int) -> int:
    """A seed in [0, 2**31) from the parts; the same in every process (sha256, not hash())."""
    digest = hashlib.sha256("\x1f".join(f"{type(p).__name__}:{p}" for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % (2**31)
