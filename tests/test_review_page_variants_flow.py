"""Variants from the review page over real Prefect runs (integration tier).

An episode waits at the gate; on its page an editor opens a sweep of shot 2, the sweep runs
(in a child process: no runner serves it here), the editor selects a take and uses it. The
episode comes back to the gate with that take as shot 2, carried in byte for byte and
checked again; nothing else is made. A reviewer outside the series' list can do none of it.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from editorial.manifest import load_manifest
from editorial.reviewers import add_reviewer
from editorial.variants import SweepStatus, load_sweep, sweep_dir
from editorial.web import create_app
from reelgate.files import file_sha256

pytestmark = pytest.mark.integration

TOKEN = "owner-token-0123456789-abcdef"
BASE = "http://127.0.0.1:8765"
STORY = "At dusk a fox runs across the snowy hills. The fox stops under a tall pine and looks up."


def test_a_sweep_opened_on_the_page_becomes_the_shot_of_the_next_round(prefect_server, capsys):
    from cli import main
    from cli.common import import_flows
    from flows.review import PrefectDesk

    settings = prefect_server
    assert main(["episode", STORY, "--id", "page-sweep", "--title", "Fox"]) == 0, capsys.readouterr().out
    _, _, deployments = import_flows(settings)
    deployments.ensure_sweep_deployment()  # `reelgate page` and `reelgate up` apply it
    desk = PrefectDesk(settings)
    client = TestClient(create_app(desk, TOKEN, settings.episodes_dir, settings.data_dir, settings), base_url=BASE)
    client.headers["X-Review-Token"] = TOKEN
    first = load_manifest(settings.episodes_dir / "page-sweep")
    assert 'href="/episodes/page-sweep/variants/new?shot=2"' in client.get("/episodes/page-sweep").text

    sweep_asked = {"shot": 2, "knobs": {"camera": ["static", "orbit"]}, "seeds": 1}
    opened = client.post("/episodes/page-sweep/variants", json=sweep_asked)
    assert opened.status_code == 200, opened.text
    sweep_id = opened.json()["sweep_id"]
    # The same sweep asked again (a double click) is the same sweep, not a second run.
    assert client.post("/episodes/page-sweep/variants", json=sweep_asked).json()["sweep_id"] == sweep_id
    desk.join()
    sweep = load_sweep(settings.data_dir, sweep_id)
    assert sweep.status == SweepStatus.READY and sweep.episode_version == first.version.id
    assert [t.knobs["camera"] for t in sweep.takes][:1] == [first.plan.shots[1].camera]  # the shot as it is first
    assert sweep.contact_sheet and sweep.comparison
    assert client.get(f"/variants/{sweep_id}/files/{sweep.contact_sheet}").status_code == 200
    shown = client.get(f"/variants/{sweep_id}").text
    assert all(f'id="take-{t.id}"' in shown for t in sweep.takes) and 'id="use-take"' in shown

    # Nobody without a token marks anything; a named reviewer may (the episode names no reviewers of its own:
    # test_review_variants_page covers one that does).
    stranger = client.post(f"/variants/{sweep_id}/takes/t02", json={"state": "selected"},
                           headers={"X-Review-Token": "not-a-token-0123456789-abcdef"})
    assert stranger.status_code == 403
    bo = add_reviewer(settings.data_dir, "bo-sweep")
    assert client.post(f"/variants/{sweep_id}/takes/{sweep.takes[-1].id}", json={"state": "maybe"},
                       headers={"X-Review-Token": bo}).status_code == 200

    take = next(t for t in sweep.takes if not t.original and not t.blocked)
    assert client.post(f"/variants/{sweep_id}/takes/{take.id}", json={"state": "selected"}).status_code == 200
    used = client.post("/episodes/page-sweep/decision", json={
        "decision": "regenerate", "shots": [2], "take": f"{sweep_id}/{take.id}",
        "notes": "the orbit", "version": first.version.id})
    assert used.status_code == 200, used.text
    desk.join()
    manifest = load_manifest(settings.episodes_dir / "page-sweep")
    assert manifest.status.value == "awaiting_review" and manifest.review_round == 2
    kept = manifest.shots[1].attempts[manifest.shots[1].kept_attempt]
    assert kept.take == f"{sweep_id}/{take.id}" and kept.shot.seed == take.spec.seed
    assert file_sha256(kept.shot.path) == take.video_sha256 == file_sha256(sweep_dir(settings.data_dir, sweep_id)
                                                                           / take.video)
    assert [len(s.attempts) for s in manifest.shots] == [1, 2]
    assert load_sweep(settings.data_dir, sweep_id).status == SweepStatus.CHOSEN
    # The takes of a version no longer at the gate can be looked at, not used.
    later = client.get(f"/variants/{sweep_id}").text
    assert 'id="use-take"' not in later

    # Leave nothing waiting for the session's other tests.
    assert client.post("/episodes/page-sweep/decision", json={
        "decision": "reject", "notes": "test episode", "version": manifest.version.id}).status_code == 200
    desk.join()
