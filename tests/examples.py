"""How many examples a Hypothesis property test tries.

`make test` (what CI runs) tries each property's full count. `make test-fast` sets
REELGATE_TEST_TIER=fast and tries a fifth of it (never fewer than 25), so the quick tier stays
under a minute; the examples are derandomized, so both runs are repeatable.
"""

from __future__ import annotations

import os

FAST = os.environ.get("REELGATE_TEST_TIER") == "fast"


def examples(full: int) -> int:
    """The number of examples to try for a property whose full count is `full`."""
    return max(25, full // 5) if FAST else full
