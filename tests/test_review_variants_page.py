"""The review page's variants (editorial.web_variants) over a fake desk: the takes side by side,
marks, opening a sweep on an episode, using a take, and what nobody may see or do.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from editorial.audit import read_audit
from editorial.manifest import ReviewDecision, Status, load_manifest, now_utc, save_manifest
from editorial.reviewers import add_reviewer
from editorial.variants import Sweep, SweepStatus, Take, TakeState, load_sweep, mark_on_page, save_sweep, sweep_dir
from editorial.web import create_app
from reelgate.errors import InputError
from reelgate.files import file_sha256
from reelgate.records import Action, ShotSpec
from tests.test_review_page import BASE, SCRIPT, TOKEN, FakeDesk, make_manifest

SPEC = ShotSpec(index=1, text="The fox sings.", subject="fox", prompt="a fox sings, storybook", duration_s=2.0, seed=11)


class SweepingDesk(FakeDesk):
    """FakeDesk that also opens sweeps: it writes the record the sweep flow would start from."""

    def __init__(self, root: Path, data_dir: Path) -> None:
        super().__init__(root, [], [])
        self.data_dir = data_dir
        self.started: list[tuple] = []

    def start_sweep(self, episode_id, shot, knobs, seeds, reviewer) -> Sweep:
        manifest = self.episode(episode_id)
        if manifest.status != Status.AWAITING_REVIEW:
            raise InputError(f"episode {episode_id} is not waiting for review")
        if sum(len(v) for v in knobs.values()) * seeds > 24:
            raise InputError("too many takes")
        self.started.append((episode_id, shot, knobs, seeds, reviewer))
        sweep = Sweep(sweep_id=f"{episode_id}-s{shot}-new", created_at=now_utc(), created_by=reviewer, shot=shot,
                      knobs=knobs, seeds=seeds, episode_id=episode_id, episode_version=manifest.version.id)
        save_sweep(self.data_dir, sweep)
        return sweep

    def mark_take(self, sweep_id, take_id, state, reviewer) -> Sweep:
        return mark_on_page(self.data_dir, sweep_id, take_id, state, reviewer)


def _take(folder: Path, take_id: str, action: Action | None, **fields) -> Take:
    video = folder / "takes" / f"{take_id}.mp4"
    video.write_bytes(f"video of {take_id}".encode() * 50)
    (folder / "takes" / f"{take_id}.jpg").write_bytes(b"\xff\xd8 jpeg")
    return Take(id=take_id, knobs={"camera": take_id}, spec=SPEC, video=f"takes/{take_id}.mp4",
                video_sha256=file_sha256(video), thumbnail=f"takes/{take_id}.jpg", safety_action=action,
                quality_score=0.9, quality_passed=True, **fields)


@pytest.fixture()
def page(tmp_path):
    root, data = tmp_path / "episodes", tmp_path / "data"
    for episode_id, reviewers in (("ep1", None), ("guarded", ["ana"])):
        (root / episode_id).mkdir(parents=True)
        save_manifest(root / episode_id, make_manifest(episode_id, "The fox sings.", "Fox", reviewers=reviewers))
    for sweep_id, episode_id in (("sw1", "ep1"), ("sw-guarded", "guarded")):
        folder = sweep_dir(data, sweep_id)
        (folder / "takes").mkdir(parents=True)
        (folder / "grid.png").write_bytes(b"\x89PNG grid")
        takes = [
            _take(folder, "t01", Action.ALLOW, original=True),
            _take(folder, "t02", Action.BLOCK, safety_reasons=["nudity 0.93"]),
            _take(folder, "t03", None),  # never checked: as good as blocked
            _take(folder, "t04", Action.REVIEW),
        ]
        takes[0] = takes[0].model_copy(update={"knobs": {"camera": f"track {SCRIPT}"}})
        save_sweep(data, Sweep(sweep_id=sweep_id, created_at=now_utc(), shot=2, knobs={"camera": ["track", "push"]},
                               episode_id=episode_id, episode_version=f"r1-{episode_id}", status=SweepStatus.READY,
                               takes=takes, contact_sheet="grid.png"))
    desk = SweepingDesk(root, data)
    client = TestClient(create_app(desk, TOKEN, root, data), base_url=BASE)
    client.headers["X-Review-Token"] = TOKEN
    return client, desk, data


def test_the_sweep_page_shows_every_take_with_its_checks_and_escapes_what_it_shows(page):
    client, _, _ = page
    html = client.get("/variants/sw1").text
    for take_id in ("t01", "t02", "t03", "t04"):
        assert f'id="take-{take_id}"' in html
    assert SCRIPT not in html and "&lt;script&gt;" in html  # a knob value is text, never markup
    assert "blocked: nudity 0.93" in html and "not checked yet" in html
    assert 'src="/variants/sw1/files/grid.png"' in html
    assert 'src="/variants/sw1/files/takes/t01.mp4"' in html
    # A blocked or unchecked take has no player, only its (blurred) thumbnail; it cannot be selected.
    assert "takes/t02.mp4" not in html and "takes/t03.mp4" not in html
    assert client.get("/variants").status_code == 200 and "sw1" in client.get("/variants").text


def test_a_blocked_or_unchecked_take_is_never_served_and_nothing_outside_the_sweep(page, tmp_path):
    client, _, data = page
    assert client.get("/variants/sw1/files/takes/t01.mp4").status_code == 200
    assert client.get("/variants/sw1/files/takes/t02.jpg").status_code == 200  # the blurred thumbnail
    for name in ("takes/t02.mp4", "takes/t03.mp4", "sweep.json", "../sw-guarded/takes/t01.mp4",
                 "takes/../../sw-guarded/takes/t01.mp4", "takes/%2e%2e/%2e%2e/sw-guarded/grid.png"):
        assert client.get(f"/variants/sw1/files/{name}").status_code == 404, name
    (sweep_dir(data, "sw1") / "takes" / "link.mp4").symlink_to(sweep_dir(data, "sw1") / "takes" / "t02.mp4")
    assert client.get("/variants/sw1/files/takes/link.mp4").status_code == 404
    assert client.get("/variants/..%2f..%2fetc/files/passwd").status_code == 404


def test_marks_follow_the_rules_and_are_audited(page):
    client, _, data = page
    assert client.post("/variants/sw1/takes/t04", json={"state": "maybe"}).status_code == 200
    assert client.post("/variants/sw1/takes/t01", json={"state": "selected"}).status_code == 200
    answer = client.post("/variants/sw1/takes/t04", json={"state": "selected"})
    assert answer.status_code == 200
    sweep = load_sweep(data, "sw1")
    # One selected take at a time: the one selected before goes back to maybe.
    assert [t.state for t in sweep.takes] == [TakeState.MAYBE, TakeState.UNMARKED, TakeState.UNMARKED,
                                             TakeState.SELECTED]
    assert sweep.take("t04").marked_by == "owner"
    for take_id in ("t02", "t03"):  # blocked, unchecked
        refused = client.post(f"/variants/sw1/takes/{take_id}", json={"state": "selected"})
        assert refused.status_code == 400 and refused.json()["error"]
    assert client.post("/variants/sw1/takes/t01", json={"state": "best"}).status_code == 400
    assert client.post("/variants/sw1/takes/t99", json={"state": "maybe"}).status_code == 400
    assert client.post("/variants/nope/takes/t01", json={"state": "maybe"}).status_code == 404
    events = [e for e in read_audit(data / "audit.jsonl") if e.get("what") == "mark-take"]
    assert [(e["take"], e["state"], e["who"]) for e in events] == [
        ("t04", "maybe", "owner"), ("t01", "selected", "owner"), ("t04", "selected", "owner")]


def test_marks_come_from_the_page_script_only(page):
    client, _, data = page
    form = client.post("/variants/sw1/takes/t01", data={"state": "selected"})
    assert form.status_code == 415  # as every other post of the page's script
    huge = client.post("/variants/sw1/takes/t01", content=b'{"state": "' + b"x" * (2 << 20) + b'"}',
                       headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    cross = client.post("/variants/sw1/takes/t01", json={"state": "selected"}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    anonymous = TestClient(client.app, base_url=BASE)
    assert anonymous.post("/variants/sw1/takes/t01", json={"state": "selected"}).status_code == 401
    assert anonymous.get("/variants/sw1/files/takes/t01.mp4").status_code == 401
    assert load_sweep(data, "sw1").take("t01").state == TakeState.UNMARKED


def test_only_the_episodes_reviewers_mark_its_takes(page):
    client, _, data = page
    bo = add_reviewer(data, "bo")
    refused = client.post("/variants/sw-guarded/takes/t01", json={"state": "selected"},
                          headers={"X-Review-Token": bo})
    assert refused.status_code == 403 and "bo is not among" in refused.json()["error"]
    assert load_sweep(data, "sw-guarded").take("t01").state == TakeState.UNMARKED
    html = client.get("/variants/sw-guarded", headers={"X-Review-Token": bo}).text
    assert 'class="mark"' not in html and 'id="use-take"' not in html


def test_opening_a_sweep_on_an_episode_waiting_for_review(page):
    client, desk, data = page
    html = client.get("/episodes/ep1/variants/new?shot=2").text
    assert 'id="sweep-form"' in html and 'name="camera"' in html and 'name="time_of_day"' in html
    answer = client.post("/episodes/ep1/variants",
                         json={"shot": 2, "knobs": {"camera": ["push", "track"], "strength:storm": ["0.5", "1.5"]},
                               "seeds": 2})
    assert answer.status_code == 200, answer.text
    assert desk.started == [("ep1", 2, {"camera": ["push", "track"], "strength:storm": ["0.5", "1.5"]}, 2, "owner")]
    assert answer.json()["url"] == "/variants/ep1-s2-new"
    for bad in ({"shot": 2, "knobs": {"camera": "push"}}, {"shot": 2, "knobs": {}, "seeds": 1},
                {"shot": "two", "knobs": {"camera": ["push"]}}, {"shot": 2, "knobs": {"camera": ["push"]}, "seeds": 99}):
        assert client.post("/episodes/ep1/variants", json=bad).status_code == 400, bad
    assert client.post("/episodes/ep1/variants", data={"shot": "2"}).status_code == 415  # never a plain form
    assert len(desk.started) == 1
    assert client.get("/episodes/ep1/variants/new?shot=7").status_code == 404


def test_using_the_selected_take_is_a_regenerate_naming_it_on_the_sweeps_version(page):
    client, desk, data = page
    html = client.get("/variants/sw1").text
    assert 'id="use-take"' in html and 'data-version="r1-ep1"' in html and 'data-sweep="sw1"' in html
    client.post("/variants/sw1/takes/t01", json={"state": "selected"})
    answer = client.post("/episodes/ep1/decision", json={
        "decision": "regenerate", "shots": [2], "take": "sw1/t01", "notes": "the push-in", "version": "r1-ep1"})
    assert answer.status_code == 200, answer.text
    episode_id, decision, reviewer = desk.decisions[-1]
    assert (episode_id, decision.take, decision.shots, reviewer) == ("ep1", "sw1/t01", [2], "owner")
    assert isinstance(decision, ReviewDecision)
    # Once the episode has moved on, the sweep's takes can be looked at but not used.
    manifest = load_manifest(desk.root / "ep1")
    manifest.status = Status.REGENERATING
    save_manifest(desk.root / "ep1", manifest)
    html = client.get("/variants/sw1").text
    assert 'id="use-take"' not in html and 'id="not-usable"' in html
