"""Test-wide set-up: every test talks to its own Prefect server and data folder.

The environment is set here, at import, because Prefect reads it when first imported.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_DATA = Path(tempfile.mkdtemp(prefix="reelgate-test-"))
# Removed at exit, after the session's server has stopped: each run left ~100 MB of episodes behind.
atexit.register(shutil.rmtree, _DATA, ignore_errors=True)
os.environ.update(
    {
        "REELGATE_DATA_DIR": str(_DATA),
        "REELGATE_SERVER_PORT": str(_free_port()),
        # Small frames keep the integration tier fast; the stages are size-independent.
        "REELGATE_GENERATION__WIDTH": "320",
        "REELGATE_GENERATION__HEIGHT": "180",
        "REELGATE_GENERATION__FPS": "12",
    }
)
os.environ.pop("PREFECT_API_URL", None)

from flows.environment import configure_prefect  # noqa: E402
from reelgate.settings import Settings  # noqa: E402

configure_prefect(Settings())


@functools.cache
def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_runtest_setup(item):
    # Asked at the first GPU test, not at collection: importing torch costs the fast tier seconds.
    if "gpu" in item.keywords and not _cuda():
        pytest.skip("needs CUDA")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _DATA


@pytest.fixture(scope="session")
def prefect_server():
    """A real local Prefect server for the session (the same code path as `reelgate`)."""
    from flows import server

    settings = Settings()
    server.ensure_server(settings)
    yield settings
    server.stop_server(settings)


def pytest_terminal_summary(terminalreporter):
    """Tables tests left behind: quality calibration (tests/quality_clips.py), the gold set (tests/test_gold.py)."""
    import sys

    clips = sys.modules.get("tests.quality_clips")
    if clips is not None and clips.CALIBRATION:
        terminalreporter.write_sep("-", "quality calibration: detection and false alarms")
        for line in clips.calibration_table():
            terminalreporter.write_line(line)
    # The shot planner's gold-set table (tests/test_gold.py), when those tests ran.
    gold = sys.modules.get("tests.test_gold")
    if gold is not None and gold.REPORT:
        terminalreporter.write_sep("-", "gold set: shot planner accuracy (issue 16)")
        for line in gold.REPORT:
            terminalreporter.write_line(line)
