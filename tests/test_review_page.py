"""The review page (editorial.web) over a fake desk: sign-in, escaping, the player, decisions, files."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from editorial.manifest import (
    AttemptRecord, Decision, EpisodeVersion, Manifest, NarrationRecord, ReviewDecision, ReviewRecord, ShotRecord,
    Status, load_manifest, save_manifest,
)
from editorial.review import QueueItem, check_decision, format_age
from editorial.reviewers import OWNER, add_reviewer, remove_reviewer
from editorial.web import COOKIE, create_app
from reelgate.errors import ConfigError, InputError
from reelgate.records import EpisodeRequest, GeneratedShot, ShotPlan, ShotSpec, Verdict

TOKEN = "owner-token-0123456789-abcdef"  # at least MIN_TOKEN_CHARS
SCRIPT = "<script>alert(1)</script>"
NOTES_HTML = '<img src=x onerror="alert(2)">'
BASE = "http://127.0.0.1:8765"


class FakeDesk:
    """The queue from a list, episodes from manifests on disk, decisions checked by the gate's own rules."""

    def __init__(self, root: Path, items: list[QueueItem], decided: list[QueueItem]) -> None:
        self.root, self.items, self.decided = root, items, decided
        self.decisions: list[tuple[str, ReviewDecision, str]] = []

    def waiting(self) -> list[QueueItem]:
        return list(self.items)

    def recently_decided(self) -> list[QueueItem]:
        return list(self.decided)

    def episode(self, episode_id: str) -> Manifest:
        return load_manifest(self.root / episode_id)

    def decide(self, episode_id: str, decision: ReviewDecision, reviewer: str) -> None:
        # Prefect's sync API misbehaves on an event loop (resume_flow_run returns an unawaited coroutine).
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()
        check_decision(self.episode(episode_id), decision, reviewer, max_rounds=5)  # StaleDecision, NotAllowed
        self.decisions.append((episode_id, decision, reviewer))


def _spec(index: int, text: str) -> ShotSpec:
    return ShotSpec(index=index, text=text, subject="fox", action="runs", environment="hills",
                    prompt=f"{text}, storybook", duration_s=2.0, seed=10 + index)


def _attempt(index: int, quality: dict) -> AttemptRecord:
    shot = GeneratedShot(index=index, path=Path(f"shot{index:02d}.mp4"), backend="animatic", seed=10 + index,
                         width=320, height=180, fps=12.0, frames=24)
    return AttemptRecord(shot=shot, quality=quality)


def _version(episode_id: str) -> EpisodeVersion:
    return EpisodeVersion(id=f"r1-{episode_id}", flow_run_id="0123456789abcdef", round=1, video_sha256="ab" * 32)


def make_manifest(episode_id: str, prompt: str, title: str, status: Status = Status.AWAITING_REVIEW,
              reviewers: list[str] | None = None) -> Manifest:
    specs = [_spec(0, "A fox runs."), _spec(1, prompt)]
    shots = [
        # shot 1: 24 frames at 12 fps = 2 s, narration 2.5 s: the flow's slot is 0.25 + 2.5 + 0.35 = 3.1 s,
        # so it recorded shot 2 as starting at 3.1 s. Its kept attempt has a quality flag at 1.25 s.
        ShotRecord(index=0, text=specs[0].text, start_s=0.0,
                   narration=NarrationRecord(path="narration00.wav", duration_s=2.5, voice="test"),
                   attempts=[_attempt(0, {"failing": ["jump"], "flagged_times": [1.25]})]),
        ShotRecord(index=1, text=specs[1].text, start_s=3.1,
                   narration=NarrationRecord(path="narration01.wav", duration_s=1.0, voice="test"),
                   attempts=[_attempt(1, {"flagged_times": []})],
                   safety={"findings": [
                       {"time_s": 0.5, "check": "concept", "label": "violence", "score": 0.31, "action": "review"},
                       {"time_s": 1.0, "check": "face", "label": "face", "score": 0.99, "action": "allow"},
                   ]}),
    ]
    return Manifest(
        episode_id=episode_id, status=status,
        request=EpisodeRequest(prompt=prompt, episode_id=episode_id, title=title, series="myths",
                               reviewers=reviewers or []),
        plan=ShotPlan(episode_id=episode_id, language="en", style="storybook", seed=1, shots=specs,
                      directions=["Shot on 35 mm film", "<b>warm</b> light"]),
        shots=shots, verdict=Verdict(action="review", reasons=[f"prompt: {SCRIPT}"]),
        outputs={"video": "episode.mp4", "contact_sheet": "contact_sheet.png", "subtitles_vtt": "subtitles.vtt"},
        version=_version(episode_id), review_round=1,
    )


@pytest.fixture()
def page(tmp_path):
    root = tmp_path / "episodes"
    episodes = (("ep1", Status.AWAITING_REVIEW, None), ("decided", Status.REJECTED, None),
                ("guarded", Status.AWAITING_REVIEW, ["ana"]))
    for episode_id, status, reviewers in episodes:
        folder = root / episode_id
        folder.mkdir(parents=True)
        manifest = make_manifest(episode_id, f"The fox sings {SCRIPT} at night.", f"Fox <b>{episode_id}</b>", status,
                             reviewers)
        if status == Status.REJECTED:
            manifest.review = ReviewRecord(decision=Decision.REJECT, notes=NOTES_HTML, reviewer="ana")
        save_manifest(folder, manifest)
        (folder / "episode.mp4").write_bytes(bytes(range(256)) * 40)
        (folder / "contact_sheet.png").write_bytes(b"\x89PNG fake")
        (folder / "subtitles.vtt").write_text("WEBVTT\n", encoding="utf-8")
    (root / "other").mkdir()
    (root / "other" / "secret.mp4").write_bytes(b"not yours")
    (root / "ep1" / "link.mp4").symlink_to(root / "other" / "secret.mp4")
    # Ages are relative to the fixture's now, not the module's import: the suite may run for minutes.
    now = datetime.now(timezone.utc)
    items = [
        QueueItem("old", "myths", "Old one", now - timedelta(hours=5)),
        QueueItem("ep1", "myths", f"Fox {SCRIPT}", now - timedelta(minutes=3)),
        QueueItem("mid", None, "Middle", now - timedelta(hours=1)),
    ]
    decided = [QueueItem("decided", "myths", f"Fox {SCRIPT}", now - timedelta(hours=3), status="rejected",
                         decided_at=datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc), decision="reject",
                         reviewer="ana")]
    desk = FakeDesk(root, items, decided)
    client = TestClient(create_app(desk, TOKEN, root, tmp_path), base_url=BASE)
    client.headers["X-Review-Token"] = TOKEN
    return client, desk


def signed_in(client: TestClient, token: str) -> TestClient:
    """A browser that opened the page with `token` in its URL (and so holds a session cookie)."""
    browser = TestClient(client.app, base_url=BASE)
    assert browser.get(f"/?token={token}").status_code == 200
    return browser


class Elements(HTMLParser):
    """Start tags with their attributes, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


@pytest.mark.parametrize("path", ["/", "/episodes/ep1", "/episodes/ep1/files/episode.mp4", "/episodes/ep1/status"])
def test_without_the_token_the_page_refuses_and_shows_nothing(page, path):
    client, _ = page
    anonymous = TestClient(client.app, base_url=BASE)
    missing = anonymous.get(path)
    wrong = anonymous.get(path, headers={"X-Review-Token": "guess-" + "x" * 30})
    guessing = TestClient(client.app, base_url=BASE, cookies={COOKIE: "guess"})
    wrong_cookie = guessing.get(path)
    token_as_cookie = TestClient(client.app, base_url=BASE, cookies={COOKIE: TOKEN}).get(path)  # a cookie is no token
    assert missing.status_code == 401 and wrong.status_code == 403
    assert wrong_cookie.status_code == 401 and token_as_cookie.status_code == 401
    for response in (missing, wrong, wrong_cookie, token_as_cookie):
        assert "fox" not in response.text.lower() and "ep1" not in response.text and len(response.content) < 200
    assert anonymous.post("/episodes/ep1/decision", json={"decision": "approve"}).status_code == 401


def test_the_token_in_the_url_becomes_a_session_and_leaves_the_address(page):
    client, _ = page
    browser = TestClient(client.app, base_url=BASE)
    first = browser.get(f"/episodes/ep1?token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/episodes/ep1"
    cookie = first.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    session = first.cookies[COOKIE]
    assert TOKEN not in cookie and len(session) >= 32  # the cookie is a random session id, never the token
    after = browser.get("/episodes/ep1")  # the session alone now
    assert after.status_code == 200 and "ep1" in after.text and "signed in as owner" in after.text
    bearer = TestClient(client.app).get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200


def test_a_short_owner_token_is_refused(tmp_path):
    with pytest.raises(InputError, match="at least 24 characters"):
        create_app(FakeDesk(tmp_path, [], []), "short-token", tmp_path, tmp_path)


def test_a_named_reviewer_signs_in_with_their_own_token_and_decides_in_their_name(page, tmp_path):
    client, desk = page
    ana_token = add_reviewer(tmp_path, "ana")
    ana = signed_in(client, ana_token)
    assert "signed in as ana" in ana.get("/").text
    # A posted reviewer name is ignored: the decision is in the signed-in name.
    response = ana.post("/episodes/ep1/decision",
                        json={"decision": "approve", "notes": "ok", "version": "r1-ep1", "reviewer": "mallory"})
    assert response.status_code == 200
    (episode_id, decision, reviewer), = desk.decisions
    assert (episode_id, reviewer, decision.reviewer, decision.version) == ("ep1", "ana", "ana", "r1-ep1")
    # Removing the reviewer withdraws the token and ends the open session.
    remove_reviewer(tmp_path, "ana")
    assert ana.get("/").status_code == 401
    assert TestClient(client.app, base_url=BASE).get("/", headers={"X-Review-Token": ana_token}).status_code == 403


def test_queue_is_newest_first_with_series_and_age(page):
    client, _ = page
    response = client.get("/")
    assert response.status_code == 200
    rows = [a["data-episode"] for a in Elements(response.text).find("tr", **{"class": "item"})]
    assert rows == ["ep1", "mid", "old"]
    assert "myths" in response.text and "3 min" in response.text and "5 h 0 min" in response.text
    assert SCRIPT not in response.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert format_age(timedelta(days=2, hours=3)) == "2 d 3 h"


def test_queue_lists_the_recently_decided_with_decision_reviewer_and_time(page):
    client, _ = page
    html = client.get("/").text
    assert [a["data-episode"] for a in Elements(html).find("tr", **{"class": "decided"})] == ["decided"]
    row = re.search(r'<tr class="decided".*?</tr>', html, re.S)[0]
    assert all(text in row for text in ("reject", "ana", "2025-03-01 09:30 UTC", "rejected"))
    assert SCRIPT not in row and "&lt;script&gt;" in row


def test_prompt_title_reasons_and_notes_with_html_show_as_text(page):
    client, _ = page
    for episode_id in ("ep1", "decided"):
        html = client.get(f"/episodes/{episode_id}").text
        assert SCRIPT not in html and "<b>" not in html and NOTES_HTML not in html
        assert "The fox sings &lt;script&gt;alert(1)&lt;/script&gt; at night." in html  # as written and structured
        assert "Fox &lt;b&gt;" in html
        scripts = Elements(html).find("script")
        assert scripts == [{"src": "/static/common.js"}, {"src": "/static/review.js"}]  # the only scripts are ours
    decided = client.get("/episodes/decided")
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in decided.text and "by ana" in decided.text
    assert "script-src 'self'" in decided.headers["content-security-policy"]  # no inline script would run anyway
    for name in ("common", "review", "variants"):
        js = client.get(f"/static/{name}.js").text
        assert "innerHTML" not in js and "document.write" not in js, name
    assert "textContent" in client.get("/static/review.js").text
    # Only the page's own scripts, by name.
    for path in ("/static/../web.py", "/static/web.js", "/static/%2e%2e%2fweb.js", "/static/common.js.map"):
        assert client.get(path).status_code == 404, path


def test_episode_page_has_the_player_sheet_findings_plan_version_and_three_decisions(page):
    client, _ = page
    html = client.get("/episodes/ep1").text
    doc = Elements(html)
    (video,) = doc.find("video", id="player")
    assert video["src"] == "/episodes/ep1/files/episode.mp4" and video["preload"] == "metadata"
    assert doc.find("track", src="/episodes/ep1/files/subtitles.vtt")
    assert doc.find("img", src="/episodes/ep1/files/contact_sheet.png")
    # Findings in episode time: shot 2 starts after shot 1's 3.1 s slot; allowed findings are not listed;
    # the quality flag of shot 1's kept attempt is among them.
    findings = [a["data-time"] for a in doc.find("button") if "finding" in (a.get("class") or "")]
    assert findings == ["1.25", "3.60"]
    assert "shot 2 · safety · concept: violence 0.31" in html and "shot 1 · quality · jump" in html
    shot_starts = [a["data-time"] for a in doc.find("button", **{"class": "seek"})]
    assert shot_starts == ["0.00", "3.10"]
    # The version on screen is the one the form decides on; no name to type: it comes from the session.
    assert "r1-ep1 (line 1, review round 1, run 01234567" in html
    assert doc.find("input", type="hidden", name="version", value="r1-ep1")
    assert not doc.find("input", name="reviewer")
    assert [a["value"] for a in doc.find("button", type="submit")] == ["approve", "reject", "regenerate"]
    assert [a["value"] for a in doc.find("input", type="checkbox", name="shots")] == ["1", "2"]
    assert doc.find("textarea", name="notes")
    assert "A fox runs., storybook" in html  # the structured prompt sent to the model
    # The directions the story gave are shown apart (they are never narrated), as text.
    (directions,) = doc.find("p", id="directions")
    assert "Shot on 35 mm film" in html and "&lt;b&gt;warm&lt;/b&gt; light" in html and "<b>warm" not in html
    assert "static · wide · eye_level" in html and "day · clear · calm" in html
    assert "<form" not in client.get("/episodes/decided").text  # a decided episode cannot be decided again


def test_posting_a_decision_calls_the_desk_with_the_parsed_decision(page):
    client, desk = page
    response = client.post("/episodes/ep1/decision",
                           json={"decision": "approve", "notes": "lovely", "version": "r1-ep1"})
    assert response.status_code == 200
    assert response.json() == {"episode_id": "ep1", "decision": "approve", "status": "awaiting_review"}
    approve = ReviewDecision(decision=Decision.APPROVE, notes="lovely", version="r1-ep1", reviewer=OWNER)
    assert desk.decisions == [("ep1", approve, OWNER)]

    # A plain form post (no script) works too, and lands back on the episode page.
    form = client.post("/episodes/ep1/decision",
                       data={"decision": "reject", "notes": NOTES_HTML, "version": "r1-ep1", "reviewer": "ana"},
                       follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/episodes/ep1?decided=reject"
    reject = ReviewDecision(decision=Decision.REJECT, notes=NOTES_HTML, version="r1-ep1", reviewer=OWNER)
    assert desk.decisions[-1] == ("ep1", reject, OWNER)


def test_a_decision_on_a_stale_version_is_refused_with_409_and_records_nothing(page):
    client, desk = page
    stale = client.post("/episodes/ep1/decision", json={"decision": "approve", "version": "r1-older"})
    assert stale.status_code == 409 and "changed since you looked" in stale.json()["error"]
    unnamed = client.post("/episodes/ep1/decision", json={"decision": "approve"})
    assert unnamed.status_code == 409 and "must name the version" in unnamed.json()["error"]
    not_waiting = client.post("/episodes/decided/decision", json={"decision": "approve", "version": "r1-decided"})
    assert not_waiting.status_code == 409 and "not waiting" in not_waiting.json()["error"]
    # A plain form post gets a page saying so, with the way back to the episode.
    form = client.post("/episodes/ep1/decision", data={"decision": "approve", "version": "r1-older"})
    assert form.status_code == 409 and "changed since you looked" in form.text
    assert Elements(form.text).find("a", href="/episodes/ep1")
    assert desk.decisions == []


def test_a_reviewer_outside_the_series_list_sees_no_form_and_is_refused_with_403(page, tmp_path):
    client, desk = page
    bob = signed_in(client, add_reviewer(tmp_path, "bob"))
    html = bob.get("/episodes/guarded").text
    note = " ".join(re.search(r'<p class="note" id="not-yours">(.*?)</p>', html, re.S)[1].split())
    assert "<form" not in html and "signed in as bob" in note and "only ana may decide" in note
    assert Elements(html).find("video", id="player")  # viewing is allowed
    refused = bob.post("/episodes/guarded/decision", json={"decision": "approve", "version": "r1-guarded"})
    assert refused.status_code == 403 and "bob may view" in refused.json()["error"]
    assert desk.decisions == []
    ana = signed_in(client, add_reviewer(tmp_path, "ana"))
    assert Elements(ana.get("/episodes/guarded").text).find("form", id="decision")
    decided = ana.post("/episodes/guarded/decision", json={"decision": "approve", "version": "r1-guarded"})
    assert decided.status_code == 200
    assert [(e, r) for e, _, r in desk.decisions] == [("guarded", "ana")]


def test_bad_decisions_are_refused_with_a_reason_and_never_reach_the_desk(page):
    client, desk = page
    no_notes = client.post("/episodes/ep1/decision", json={"decision": "reject", "notes": "  ", "version": "r1-ep1"})
    assert no_notes.status_code == 400 and "needs notes" in no_notes.json()["error"]
    unknown = client.post("/episodes/ep1/decision", json={"decision": "publish-anyway", "version": "r1-ep1"})
    assert unknown.status_code == 400 and "decision" in unknown.json()["error"]
    missing = client.post("/episodes/nope/decision", json={"decision": "approve"})
    assert missing.status_code == 404
    cross_site = client.post("/episodes/ep1/decision", json={"decision": "approve", "version": "r1-ep1"},
                             headers={"Origin": "http://evil.example"})
    assert cross_site.status_code == 403
    assert desk.decisions == []


def test_video_is_served_with_ranges_so_the_player_can_seek(page):
    client, _ = page
    whole = client.get("/episodes/ep1/files/episode.mp4")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4" and len(whole.content) == 10240
    part = client.get("/episodes/ep1/files/episode.mp4", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.headers["content-range"] == "bytes 100-199/10240"
    assert part.content == whole.content[100:200]
    assert client.get("/episodes/ep1/files/subtitles.vtt").headers["content-type"].startswith("text/vtt")


@pytest.mark.parametrize("path", [
    "/episodes/ep1/files/..%2Fother%2Fsecret.mp4",
    "/episodes/ep1/files/%2E%2E/other/secret.mp4",
    "/episodes/ep1/files/link.mp4",  # a link out of the folder
    "/episodes/ep1/files/manifest.json",  # inside, but not media
    "/episodes/ep1/files/%2Fetc%2Fpasswd",
    "/episodes/..%2Fother/files/secret.mp4",
    "/episodes/ep1/files/nothing.mp4",
])
def test_only_media_inside_the_episode_folder_is_served(page, path):
    client, _ = page
    response = client.get(path)
    assert response.status_code == 404 and b"not yours" not in response.content


def test_status_reports_the_manifest(page):
    client, _ = page
    data = client.get("/episodes/decided/status").json()
    assert data["status"] == "rejected" and data["review"]["reviewer"] == "ana"


def test_a_page_open_to_the_network_needs_allow_remote(tmp_path, capsys):
    from flows.desk import start_review_page
    from reelgate.settings import Settings

    settings = Settings(data_dir=tmp_path, review_port=0)
    with pytest.raises(ConfigError, match="--allow-remote") as refused:
        start_review_page(settings, host="0.0.0.0")
    assert "TLS" in str(refused.value)
    assert not (tmp_path / "review-page.url").exists()  # refused before anything started


def test_start_review_page_listens_on_a_free_port_behind_a_token(tmp_path, monkeypatch):
    import httpx

    from editorial.review import review_link
    from flows.desk import start_review_page
    from reelgate.settings import Settings

    settings = Settings(data_dir=tmp_path, review_port=0)
    started = start_review_page(settings)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{24,}", started.url)
        assert httpx.get(started.base_url + "/").status_code == 401
        assert httpx.get(started.base_url + "/episodes/x", headers={"X-Review-Token": started.token}).status_code == 404
        assert review_link(tmp_path, "127.0.0.1", 0, "ep-1") == f"{started.base_url}/episodes/ep-1"
        assert "review_token" not in Settings(data_dir=tmp_path, review_token="t" * 24).model_dump()
    finally:
        started.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(started.base_url + "/", timeout=2)
    assert review_link(tmp_path, "127.0.0.1", 8765, "ep-1") == "http://127.0.0.1:8765/episodes/ep-1"  # once stopped


def test_prefect_summary_links_the_review_page_and_shows_prompt_html_as_text() -> None:
    from editorial.report import summary_markdown

    md = summary_markdown(
        {"episode_id": "ep-1", "status": "awaiting_review", "request": {"prompt": "<script>alert(1)</script> [x](javascript:y)"},
         "verdict": {"action": "review", "reasons": ["<img src=x onerror=alert(1)>"]}, "shots": []},
        "http://127.0.0.1:8765/episodes/ep-1",
    )
    assert "[open this episode on the review page](http://127.0.0.1:8765/episodes/ep-1)" in md
    assert "<script>" not in md and "<img" not in md
    assert "\\[x\\](javascript:y)" in md  # brackets escaped: shown as text, never a link
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md


def test_a_replaced_episode_says_what_it_replaced_as_text(page, tmp_path):
    from editorial.manifest import load_manifest

    client, _ = page
    folder = tmp_path / "episodes" / "ep1"
    manifest = load_manifest(folder)
    manifest.superseded = [{"line": 1, "folder": "versions/1", "request": f"An old {SCRIPT} story",
                            "version": "r1-aaaaaaaaaaaa", "superseded_at": "2026-12-06T10:00:00+00:00"}]
    save_manifest(folder, manifest)
    html = client.get("/episodes/ep1").text
    assert "Replaces line 1" in html and "r1-aaaaaaaaaaaa" in html and "versions/1" in html
    assert SCRIPT not in html and "&lt;script&gt;" in html  # the old request is shown as text
