"""Peak memory of one generation: CUDA memory on a GPU, resident set size on a CPU.

`ru_maxrss` is the peak of the whole process lifetime, so a second shot would report the
first one's peak. On Linux the kernel keeps the same high-water mark (VmHWM) and lets a
process reset it (`/proc/self/clear_refs`), which measures one call exactly and costs
nothing while it runs. Elsewhere RSS is sampled by a thread (a sampling thread every 10 ms
measurably slowed denoising on two cores, through the GIL, so it samples every 50 ms).
"""

from __future__ import annotations

import os
import threading
from types import TracebackType

_PROC = "/proc/self"


def _rss_bytes() -> int:
    with open(f"{_PROC}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _high_water_bytes() -> int:
    with open(f"{_PROC}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


def _reset_high_water() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS; False where that is not possible."""
    try:
        with open(f"{_PROC}/clear_refs", "w") as f:
            f.write("5")
        _high_water_bytes()
        return True
    except OSError:
        return False


class PeakMemory:
    """Context manager; after it, `peak_mb` is the peak CUDA allocation or process RSS, MiB."""

    def __init__(self, cuda: bool, interval_s: float = 0.05) -> None:
        self.cuda = cuda
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._kernel_mark = False
        self._peak = 0

    def __enter__(self) -> "PeakMemory":
        if self.cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()
        elif _reset_high_water():
            self._kernel_mark = True
        else:
            self._peak = _rss_bytes()
            self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, _rss_bytes())

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.cuda:
            import torch

            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
        elif self._kernel_mark:
            self.peak_mb = _high_water_bytes() / 2**20
        else:
            self._stop.set()
            assert self._thread is not None
            self._thread.join()
            self.peak_mb = max(self._peak, _rss_bytes()) / 2**20
