"""A new episode started from the review page runs on Prefect (integration tier).

The page's start endpoint over the real desk (flows.review.PrefectDesk) and the session's
Prefect server: a clean story reaches the review gate as `reelgate episode` would take it
there, with the preset as its only run option; the same id with another story answers
the CLI's conflict and replaces nothing; a blocked story creates no run and no folder.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from editorial.manifest import load_manifest
from editorial.web import create_app

pytestmark = pytest.mark.integration

TOKEN = "owner-token-0123456789-abcdef"
BASE = "http://127.0.0.1:8765"
STORY = "A paper lantern floats over the river at dusk. A child waves from the bridge."


def test_a_page_started_episode_reaches_the_gate_and_its_id_cannot_be_taken_over(prefect_server):
    from cli.common import import_flows
    from flows.review import PrefectDesk

    settings = prefect_server
    _, runs, deployments = import_flows(settings)
    deployments.ensure_deployment()  # `reelgate up` (or any `reelgate episode`) applies it
    desk = PrefectDesk(settings)
    client = TestClient(create_app(desk, TOKEN, settings.episodes_dir, settings.data_dir, settings), base_url=BASE)
    client.headers["X-Review-Token"] = TOKEN

    started = client.post("/new/start", json={"story": STORY, "id": "page-new", "title": "Lantern",
                                              "preset": "ink-wash", "language": "en"})
    assert started.status_code == 200, started.text
    assert started.json()["attached"] is False and started.json()["url"] == "/episodes/page-new"
    desk.join()
    folder = settings.episodes_dir / "page-new"
    manifest = load_manifest(folder)
    assert manifest.status.value == "awaiting_review" and manifest.request.title == "Lantern"
    run = runs.read_run(uuid.UUID(started.json()["flow_run_id"]))
    assert run.name == "page-new" and run.parameters["options"] == {"preset": "ink-wash"}

    again = client.post("/new/start", json={"story": "A crow steals a ring.", "id": "page-new"})
    assert again.status_code == 409 and "episode page-new already holds another request" in again.json()["error"]
    assert load_manifest(folder).request.prompt == STORY and not (folder / "versions").exists()
    assert [r.id for r in runs.episode_runs("page-new")] == [run.id]  # no second run

    blocked = client.post("/new/start", json={"story": "The knight beheads the king.", "id": "page-gore"})
    assert blocked.status_code == 400 and blocked.json()["blocked"]
    assert runs.episode_runs("page-gore") == [] and not (settings.episodes_dir / "page-gore").exists()

    # Leave nothing waiting for the session's other tests.
    decided = client.post("/episodes/page-new/decision",
                          json={"decision": "reject", "notes": "test episode", "version": manifest.version.id})
    assert decided.status_code == 200
    desk.join()
    assert load_manifest(folder).status.value == "rejected"
