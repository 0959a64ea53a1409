"""Test doubles that stand in for real backends inside flow runs (child processes too)."""

from __future__ import annotations

import os
from pathlib import Path

from generation.animatic import AnimaticGenerator


class CountingAnimatic(AnimaticGenerator):
    """The animatic generator, appending one line per call to $REELGATE_TEST_CALLS."""

    def generate(self, shot, *, seed, attempt, out_path: Path, progress=None):
        with open(os.environ["REELGATE_TEST_CALLS"], "a", encoding="utf-8") as f:
            f.write(f"shot{shot.index} attempt{attempt} seed{seed}\n")
        return super().generate(shot, seed=seed, attempt=attempt, out_path=out_path, progress=progress)
