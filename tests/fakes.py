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


class RefusingGenerator(AnimaticGenerator):
    """Stands in for a cloud provider whose moderation declines every prompt."""

    def generate(self, shot, *, seed, attempt, out_path: Path, progress=None):
        from reelgate.records import Refusal

        with open(os.environ["REELGATE_TEST_CALLS"], "a", encoding="utf-8") as f:
            f.write(f"shot{shot.index} attempt{attempt} refused\n")
        return Refusal(index=shot.index, attempt=attempt, backend="fake-cloud", code="DataInspectionFailed",
                       message="Input data may contain inappropriate content.", request_id="req-1")


class FakeGpuGenerator(AnimaticGenerator):
    """The animatic, declared a GPU backend, so shots take slots of the GPU concurrency limit."""

    uses_gpu = True


class FreezingGenerator(AnimaticGenerator):
    """The animatic, but a shot's first attempt comes out frozen (its first frame held), as a
    broken model's might; with $REELGATE_TEST_ALWAYS_FROZEN set, every attempt does."""

    def generate(self, shot, *, seed, attempt, out_path: Path, progress=None):
        from reelgate.media import VideoWriter, read_frames

        result = super().generate(shot, seed=seed, attempt=attempt, out_path=out_path, progress=progress)
        if attempt == 0 or os.environ.get("REELGATE_TEST_ALWAYS_FROZEN"):
            frames = list(read_frames(result.path))
            with VideoWriter(result.path, result.width, result.height, result.fps) as writer:
                for _ in frames:
                    writer.write(frames[0])
        return result


class BrokenGenerator(AnimaticGenerator):
    """A backend that fails on every shot with an error that is not retried: the flow run fails."""

    def generate(self, shot, *, seed, attempt, out_path: Path, progress=None):
        from reelgate.errors import MediaError

        raise MediaError(f"the model wrote no frames for shot {shot.index} (secret detail that stays in the run's log)")


class SlowGpuCountingAnimatic(AnimaticGenerator):
    """The animatic as a GPU backend (it holds a slot of the GPU limit) that takes its time.

    Appends `start <episode> shot<i> pid<pid>` to $REELGATE_TEST_CALLS when a shot begins and
    `done ...` when it ends, sleeping $REELGATE_TEST_SHOT_SLEEP seconds (default 3) in between,
    so a test can kill a worker while a shot is being made and count what was made again.
    """

    uses_gpu = True

    def generate(self, shot, *, seed, attempt, out_path: Path, progress=None):
        import time

        label = f"{Path(out_path).parent.name} shot{shot.index} attempt{attempt} pid{os.getpid()}"
        with open(os.environ["REELGATE_TEST_CALLS"], "a", encoding="utf-8") as f:
            f.write(f"start {label}\n")
        time.sleep(float(os.environ.get("REELGATE_TEST_SHOT_SLEEP", "3")))
        made = super().generate(shot, seed=seed, attempt=attempt, out_path=out_path, progress=progress)
        with open(os.environ["REELGATE_TEST_CALLS"], "a", encoding="utf-8") as f:
            f.write(f"done {label}\n")
        return made
