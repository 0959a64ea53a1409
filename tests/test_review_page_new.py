"""A new episode from the review page: the start endpoint's own checks, over a fake desk.

The page's script screens and plans as the editor types, but the endpoint is what counts:
these tests post straight to it, as a script-less client or another site would, and prove
that nothing blocked, invalid, oversized or outside the known fields reaches the desk.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from editorial.manifest import load_manifest, manifest_path, save_manifest
from editorial.reviewers import add_reviewer
from editorial.web import Started, create_app
from reelgate.records import EpisodeRequest
from reelgate.settings import RunOptions, Settings
from tests.test_review_page import BASE, TOKEN, FakeDesk, make_manifest, signed_in

STORY = "A small fox runs across the hills. The moon rises over the lake."
GORE = "A knight beheads the king in the hall."


class StartingDesk(FakeDesk):
    """The fake desk, also recording every episode it was asked to start."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, [], [])
        self.started: list[tuple[EpisodeRequest, RunOptions | None, str, str]] = []

    def start(self, request: EpisodeRequest, options: RunOptions | None, reviewer: str,
              priority: str = "high") -> Started:
        self.started.append((request, options, reviewer, priority))
        return Started(episode_id=request.episode_id, flow_run_id="run-1")


def _page(tmp_path: Path, settings: Settings) -> tuple[TestClient, StartingDesk, Path]:
    root = tmp_path / "episodes"
    root.mkdir()
    taken = make_manifest("taken", "An old story about a heron.", "Old")
    (root / "taken").mkdir()
    save_manifest(root / "taken", taken)
    desk = StartingDesk(root)
    client = TestClient(create_app(desk, TOKEN, root, tmp_path, settings), base_url=BASE)
    client.headers["X-Review-Token"] = TOKEN
    return client, desk, root


@pytest.fixture()
def new(tmp_path):
    """The page screening with the shipped lists: the semantic model is the integration tier's (below)."""
    return _page(tmp_path, Settings(data_dir=tmp_path, screening={"semantic": False}))


def _nothing_started(desk: StartingDesk, root: Path) -> None:
    assert desk.started == []
    assert sorted(p.name for p in root.iterdir()) == ["taken"]  # no folder, no manifest written


def test_a_clean_story_starts_through_the_desk_with_high_priority_and_the_preset_only(new):
    client, desk, _ = new
    response = client.post("/new/start", json={"story": STORY, "title": "Fox", "language": "en",
                                               "preset": "ink-wash", "series": "myths", "id": "fox-1"})
    assert response.status_code == 200, response.text
    assert response.json() == {"episode_id": "fox-1", "flow_run_id": "run-1", "attached": False,
                               "url": "/episodes/fox-1"}
    ((request, options, reviewer, priority),) = desk.started
    assert (request.episode_id, request.prompt, request.title, request.series, request.language) == (
        "fox-1", STORY, "Fox", "myths", "en")
    assert options == RunOptions(preset="ink-wash") and reviewer == "owner" and priority == "high"


def test_without_an_id_the_episode_gets_one_as_the_cli_makes_it(new):
    client, desk, _ = new
    assert client.post("/new/start", json={"story": STORY}).status_code == 200
    ((request, options, _, _),) = desk.started
    assert request.episode_id.startswith("ep-") and len(request.episode_id) == len("ep-20260101-000000-abcdef")
    assert options is None  # no preset chosen: the worker's own


def test_a_blocked_story_is_refused_with_its_reasons_and_nothing_starts(new):
    client, desk, root = new
    response = client.post("/new/start", json={"story": GORE, "id": "gore"})
    assert response.status_code == 400
    body = response.json()
    assert body["blocked"] is True and any("behead" in r for r in body["reasons"])
    blocked_title = client.post("/new/start", json={"story": STORY, "title": "血腥 night", "id": "gore-title"})
    assert blocked_title.status_code == 400 and blocked_title.json()["blocked"]
    _nothing_started(desk, root)


@pytest.mark.integration  # the default screen loads the semantic sentence model
def test_a_blocked_story_is_refused_by_the_default_screen_and_nothing_starts(tmp_path):
    client, desk, root = _page(tmp_path, Settings(data_dir=tmp_path))
    response = client.post("/new/start", json={"story": GORE, "id": "gore"})
    assert response.status_code == 400
    body = response.json()
    assert body["blocked"] is True and any("behead" in r for r in body["reasons"])
    _nothing_started(desk, root)


def test_the_screen_endpoint_gives_the_verdict_and_spans_in_the_page_script_s_offsets(new):
    client, _, _ = new
    text = "🦊 fox: the knight beheads 血腥"
    data = client.post("/new/screen", json={"text": text}).json()
    assert data["action"] == "block"
    utf16 = text.encode("utf-16-le")
    marked = [utf16[2 * s["start"]:2 * s["end"]].decode("utf-16-le") for s in data["spans"]]
    assert marked == ["beheads", "血腥"]  # the fox emoji counts two units in JavaScript, as here
    assert client.post("/new/screen", json={"text": STORY}).json() == {"action": "allow", "reasons": [], "spans": []}
    assert client.post("/new/screen", json={"text": STORY, "then": "x"}).status_code == 400


def _planned(client: TestClient, **fields) -> dict:
    response = client.post("/new/plan", json={"story": STORY, "id": "fox-plan", **fields})
    assert response.status_code == 200, response.text
    return response.json()["plan"]


def test_an_edited_plan_starts_with_the_edits_and_its_prompts_rebuilt(new):
    client, desk, _ = new
    plan = _planned(client)
    assert [s["prompt"] for s in plan["shots"]] == ["auto"] * len(plan["shots"])
    plan["shots"][0]["subject"] = "a silver fox"
    plan["shots"][0]["camera"] = "orbit"
    assert client.post("/new/start", json={"story": STORY, "id": "fox-plan", "plan": plan}).status_code == 200
    ((request, _, _, _),) = desk.started
    first = request.plan.shots[0]
    assert first.subject == "a silver fox" and first.camera == "orbit" and "a silver fox" in first.prompt


@pytest.mark.parametrize("field", ["text", "subject", "action", "environment", "prompt", "negative_prompt", "style"])
def test_a_blocked_word_hidden_in_any_field_of_an_edited_plan_is_refused(new, field):
    client, desk, root = new
    plan = _planned(client)
    plan["shots"][-1][field] = "a 血腥 courtyard"
    response = client.post("/new/start", json={"story": STORY, "id": "fox-plan", "plan": plan})
    assert response.status_code == 400 and response.json()["blocked"], response.text
    assert any("血腥" in r for r in response.json()["reasons"])
    _nothing_started(desk, root)


def test_a_plan_over_the_limits_or_against_the_plan_file_rules_is_refused(new):
    client, desk, root = new
    plan = _planned(client)
    limits = Settings().planning.limits
    too_many = {**plan, "shots": [dict(plan["shots"][0]) for _ in range(limits.max_shots + 1)]}
    too_long = {**plan, "shots": [{**plan["shots"][0], "duration_s": limits.max_shot_s * 10}]}
    bad_choice = {**plan, "shots": [{**plan["shots"][0], "camera": "drone; rm -rf /"}]}
    smuggled = {**plan, "shots": [{**plan["shots"][0], "backend": "wan"}]}
    extra_top = {**plan, "output_dir": "/etc"}
    no_shots = {**plan, "shots": []}
    cases = {"max_shots": too_many, "max_shot_s": too_long, "is not one of": bad_choice, "'backend'": smuggled,
             "'output_dir'": extra_top, "at least one shot": no_shots, "plan must be an object": "shots: []"}
    for needle, edited in cases.items():
        response = client.post("/new/start", json={"story": STORY, "id": "fox-plan", "plan": edited})
        assert response.status_code == 400 and needle in response.json()["error"], (needle, response.text)
    _nothing_started(desk, root)


@pytest.mark.parametrize("extra", [
    {"backend": "wan"}, {"model": "/models/evil"}, {"settings": {"generation": {"backend": "x:y"}}},
    {"command": "rm -rf /"}, {"url": "http://evil.example/hook"}, {"out": "/tmp/elsewhere"},
    {"data_dir": "/"}, {"seed": 5}, {"reviewers": ["mallory"]}, {"options": {"review_timeout_hours": 1}},
])
def test_settings_backends_paths_commands_and_urls_are_refused_never_ignored(new, extra):
    client, desk, root = new
    response = client.post("/new/start", json={"story": STORY, "id": "fox-x", **extra})
    assert response.status_code == 400 and "unknown field" in response.json()["error"]
    assert next(iter(extra)) in response.json()["error"]
    _nothing_started(desk, root)


@pytest.mark.parametrize("fields, needle", [
    ({"preset": "../../etc/passwd"}, "unknown preset"),
    ({"preset": "/tmp/mine.yaml"}, "unknown preset"),
    ({"language": "fr"}, "language 'fr'"),
    ({"series": "My Series!"}, "series id"),
    ({"id": "../escape"}, "id must be"),
    ({"id": "a" * 101}, "id must be"),
    ({"story": "   "}, "story is empty"),
    ({"story": 5}, "story must be text"),
    ({"title": ["x"]}, "title must be text"),
])
def test_each_field_is_checked_against_the_known_values(new, fields, needle):
    client, desk, root = new
    response = client.post("/new/start", json={"story": STORY, "id": "fox-v", **fields})
    assert response.status_code == 400 and needle in response.json()["error"], response.text
    _nothing_started(desk, root)


def test_an_id_in_use_answers_the_cli_s_conflict_and_replaces_nothing(new):
    client, desk, root = new
    before = manifest_path(root / "taken").read_bytes()
    response = client.post("/new/start", json={"story": STORY, "id": "taken"})
    assert response.status_code == 409
    assert "episode taken already holds another request" in response.json()["error"]
    assert manifest_path(root / "taken").read_bytes() == before and load_manifest(root / "taken").request.title == "Old"
    _nothing_started(desk, root)


def test_only_json_from_this_page_by_a_signed_in_reviewer_starts_anything(new, tmp_path):
    client, desk, root = new
    form = client.post("/new/start", data={"story": STORY, "id": "fox-form"})
    assert form.status_code == 415  # a cross-site <form> can post this, JSON it cannot without CORS
    text_plain = client.post("/new/start", content=b'{"story": "x"}', headers={"Content-Type": "text/plain"})
    assert text_plain.status_code == 415
    cross_site = client.post("/new/start", json={"story": STORY, "id": "fox-o"}, headers={"Origin": "http://evil.example"})
    assert cross_site.status_code == 403
    anonymous = TestClient(client.app, base_url=BASE)
    assert anonymous.post("/new/start", json={"story": STORY, "id": "fox-a"}).status_code == 401
    assert anonymous.post("/new/screen", json={"text": STORY}).status_code == 401
    assert anonymous.get("/new").status_code == 401
    assert client.post("/new/start", content=b"[1, 2]", headers={"Content-Type": "application/json"}).status_code == 400
    huge = client.post("/new/start", json={"story": "x" * 2_000_000})
    assert huge.status_code == 413
    _nothing_started(desk, root)
    # A named reviewer may start one, in their own name.
    ana = signed_in(client, add_reviewer(tmp_path, "ana"))
    assert ana.post("/new/start", json={"story": STORY, "id": "fox-ana"}).status_code == 200
    assert [(r.episode_id, who) for r, _, who, _ in desk.started] == [("fox-ana", "ana")]


def test_the_form_offers_the_known_presets_and_languages_and_the_queue_links_it(new):
    from prompts.presets import load_presets

    client, _, _ = new
    html = client.get("/new").text
    for name in load_presets():
        assert f'<option value="{name}">' in html
    for code in ("auto", "zh", "en"):
        assert f'<option value="{code}">' in html
    assert 'id="start-button" disabled' in html  # nothing to start before a screen says so
    assert '<a id="new-episode" href="/new">' in client.get("/").text


def test_a_body_without_a_length_is_cut_off_at_the_limit(new):
    client, desk, root = new

    def chunks():
        yield b'{"story": "'
        for _ in range(200):
            yield b"x" * 10_000
        yield b'"}'

    response = client.post("/new/start", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    _nothing_started(desk, root)
