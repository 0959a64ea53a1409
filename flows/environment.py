"""Prefect's environment for reelgate. Imported BEFORE prefect: Prefect reads it at import.

Everything Prefect stores (its SQLite database, persisted task results, the server log)
lives under the reelgate data folder, and telemetry is off.
"""

from __future__ import annotations

import os

from reelgate.settings import Settings


def prefect_env(settings: Settings) -> dict[str, str]:
    """Environment variables that point Prefect at reelgate's server and storage."""
    api_url = settings.prefect_api_url or os.environ.get("PREFECT_API_URL") or settings.local_api_url
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_API_HOST": settings.server_host,
        "PREFECT_SERVER_API_PORT": str(settings.server_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOCAL_STORAGE_PATH": str(settings.data_dir / "results"),
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        # Long renders must not be mistaken for crashed runs.
        "PREFECT_RUNNER_HEARTBEAT_FREQUENCY": "30",
    }


def configure_prefect(settings: Settings) -> dict[str, str]:
    """Export `prefect_env` into this process (and so into every child it starts)."""
    env = prefect_env(settings)
    os.environ.update(env)
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    return env

