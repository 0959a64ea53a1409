"""The review page (editorial.web) over a fake desk: the token, escaping, the player, decisions, files."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from editorial.manifest import (
    Decision, Manifest, ReviewDecision, ReviewRecord, ShotRecord, Status, save_manifest,
)
from editorial.web import QueueItem, create_app, format_age
from reelgate.errors import InputError
from reelgate.records import EpisodeRequest, ShotPlan, ShotSpec, Verdict

TOKEN = "s3cret-token"
SCRIPT = "<script>alert(1)</script>"
NOTES_HTML = '<img src=x onerror="alert(2)">'


class FakeDesk:
    def __init__(self, root: Path, items: list[QueueItem]) -> None:
        self.root, self.items, self.decisions = root, items, []

    def waiting(self) -> list[QueueItem]:
        return list(self.items)

    def episode(self, episode_id: str) -> Manifest:
        from editorial.manifest import load_manifest

        return load_manifest(self.root / episode_id)

    def decide(self, episode_id: str, decision: ReviewDecision) -> None:
        # Prefect's sync API misbehaves on an event loop (resume_flow_run returns an unawaited coroutine).
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()
        if episode_id == "decided":
            raise InputError("episode decided is not waiting for review")
        self.decisions.append((episode_id, decision))


def _spec(index: int, text: str) -> ShotSpec:
    return ShotSpec(index=index, text=text, subject="fox", action="runs", environment="hills",
                    prompt=f"{text}, storybook", duration_s=2.0, seed=10 + index)


def _manifest(episode_id: str, prompt: str, title: str, status: Status = Status.AWAITING_REVIEW) -> Manifest:
    specs = [_spec(0, "A fox runs."), _spec(1, prompt)]
    shots = [
        # shot 1: 24 frames at 12 fps = 2 s, narration 2.5 s: the flow's slot is 0.25 + 2.5 + 0.35 = 3.1 s,
        # so it recorded shot 2 as starting at 3.1 s
        ShotRecord(index=0, text=specs[0].text, narration={"duration_s": 2.5}, start_s=0.0,
                   attempts=[{"shot": {"frames": 24, "fps": 12.0},
                              "quality": {"failing": ["jump"], "flagged_times": [1.25]}}]),
        ShotRecord(index=1, text=specs[1].text, narration={"duration_s": 1.0}, start_s=3.1,
                   attempts=[{"shot": {"frames": 24, "fps": 12.0}, "quality": {"flagged_times": []}}],
                   safety={"findings": [
                       {"time_s": 0.5, "check": "concept", "label": "violence", "score": 0.31, "action": "review"},
                       {"time_s": 1.0, "check": "face", "label": "face", "score": 0.99, "action": "allow"},
                   ]}),
    ]
    return Manifest(
        episode_id=episode_id, status=status,
        request=EpisodeRequest(prompt=prompt, episode_id=episode_id, title=title, series="myths"),
        plan=ShotPlan(episode_id=episode_id, language="en", style="storybook", seed=1, shots=specs),
        shots=shots, verdict=Verdict(action="review", reasons=[f"prompt: {SCRIPT}"]),
        outputs={"video": "episode.mp4", "contact_sheet": "contact_sheet.png", "subtitles_vtt": "subtitles.vtt"},
    )


@pytest.fixture()
def page(tmp_path):
    root = tmp_path / "episodes"
    for episode_id, status in (("ep1", Status.AWAITING_REVIEW), ("decided", Status.REJECTED)):
        folder = root / episode_id
        folder.mkdir(parents=True)
        manifest = _manifest(episode_id, f"The fox sings {SCRIPT} at night.", f"Fox <b>{episode_id}</b>", status)
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
    desk = FakeDesk(root, items)
    client = TestClient(create_app(desk, TOKEN, root), base_url="http://127.0.0.1:8765")
    client.headers["X-Review-Token"] = TOKEN
    return client, desk


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
    anonymous = TestClient(client.app, base_url="http://127.0.0.1:8765")
    missing = anonymous.get(path)
    wrong = anonymous.get(path, headers={"X-Review-Token": "guess"})
    guessing = TestClient(client.app, base_url="http://127.0.0.1:8765", cookies={"reelgate_review": "guess"})
    wrong_cookie = guessing.get(path)
    assert missing.status_code == 401 and wrong.status_code == 403 and wrong_cookie.status_code == 403
    for response in (missing, wrong, wrong_cookie):
        assert "fox" not in response.text.lower() and "ep1" not in response.text and len(response.content) < 200
    assert anonymous.post("/episodes/ep1/decision", json={"decision": "approve"}).status_code == 401


def test_the_token_in_the_url_becomes_a_cookie_and_leaves_the_address(page):
    client, _ = page
    browser = TestClient(client.app, base_url="http://127.0.0.1:8765")
    first = browser.get(f"/episodes/ep1?token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/episodes/ep1"
    assert "httponly" in first.headers["set-cookie"].lower() and "samesite=strict" in first.headers["set-cookie"].lower()
    after = browser.get("/episodes/ep1")  # the cookie alone now
    assert after.status_code == 200 and "ep1" in after.text
    bearer = TestClient(client.app).get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200


def test_queue_is_newest_first_with_series_and_age(page):
    client, _ = page
    response = client.get("/")
    assert response.status_code == 200
    rows = [a["data-episode"] for a in Elements(response.text).find("tr") if "data-episode" in a]
    assert rows == ["ep1", "mid", "old"]
    assert "myths" in response.text and "3 min" in response.text and "5 h 0 min" in response.text
    assert SCRIPT not in response.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert format_age(timedelta(days=2, hours=3)) == "2 d 3 h"


def test_prompt_title_reasons_and_notes_with_html_show_as_text(page):
    client, _ = page
    for episode_id in ("ep1", "decided"):
        html = client.get(f"/episodes/{episode_id}").text
        assert SCRIPT not in html and "<b>" not in html and NOTES_HTML not in html
        assert "The fox sings &lt;script&gt;alert(1)&lt;/script&gt; at night." in html  # as written and structured
        assert "Fox &lt;b&gt;" in html
        scripts = Elements(html).find("script")
        assert scripts == [{"src": "/static/review.js"}]  # the only script is ours
    decided = client.get("/episodes/decided")
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in decided.text and "by ana" in decided.text
    assert "script-src 'self'" in decided.headers["content-security-policy"]  # no inline script would run anyway
    js = client.get("/static/review.js").text
    assert "innerHTML" not in js and "textContent" in js


def test_episode_page_has_the_player_sheet_findings_plan_and_three_decisions(page):
    client, _ = page
    html = client.get("/episodes/ep1").text
    doc = Elements(html)
    (video,) = doc.find("video", id="player")
    assert video["src"] == "/episodes/ep1/files/episode.mp4" and video["preload"] == "metadata"
    assert doc.find("track", src="/episodes/ep1/files/subtitles.vtt")
    assert doc.find("img", src="/episodes/ep1/files/contact_sheet.png")
    # Findings in episode time: shot 2 starts after shot 1's 3.1 s slot; allowed findings are not listed.
    findings = [a["data-time"] for a in doc.find("button") if "finding" in (a.get("class") or "")]
    assert findings == ["1.25", "3.60"]
    assert "shot 2 · safety · concept: violence 0.31" in html and "shot 1 · quality · jump" in html
    shot_starts = [a["data-time"] for a in doc.find("button", **{"class": "seek"})]
    assert shot_starts == ["0.00", "3.10"]
    assert [a["value"] for a in doc.find("button", type="submit")] == ["approve", "reject", "regenerate"]
    assert [a["value"] for a in doc.find("input", type="checkbox", name="shots")] == ["1", "2"]
    assert doc.find("textarea", name="notes")
    assert "A fox runs., storybook" in html  # the structured prompt sent to the model
    assert "<form" not in client.get("/episodes/decided").text  # a decided episode cannot be decided again


def test_posting_a_decision_calls_the_desk_with_the_parsed_decision(page):
    client, desk = page
    response = client.post("/episodes/ep1/decision", json={"decision": "approve", "notes": "lovely", "reviewer": "ana"})
    assert response.status_code == 200
    assert response.json() == {"episode_id": "ep1", "decision": "approve", "status": "awaiting_review"}
    assert desk.decisions == [("ep1", ReviewDecision(decision=Decision.APPROVE, notes="lovely", reviewer="ana"))]

    # A plain form post (no script) works too, and lands back on the episode page.
    form = client.post("/episodes/ep1/decision", data={"decision": "reject", "notes": NOTES_HTML, "reviewer": ""},
                       follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/episodes/ep1?decided=reject"
    assert desk.decisions[-1] == ("ep1", ReviewDecision(decision=Decision.REJECT, notes=NOTES_HTML, reviewer="editor"))


def test_bad_decisions_are_refused_with_a_reason_and_never_reach_the_desk(page):
    client, desk = page
    no_notes = client.post("/episodes/ep1/decision", json={"decision": "reject", "notes": "  "})
    assert no_notes.status_code == 400 and "needs notes" in no_notes.json()["error"]
    unknown = client.post("/episodes/ep1/decision", json={"decision": "publish-anyway"})
    assert unknown.status_code == 400 and "decision" in unknown.json()["error"]
    not_waiting = client.post("/episodes/decided/decision", json={"decision": "approve"})
    assert not_waiting.status_code == 409 and "not waiting" in not_waiting.json()["error"]
    missing = client.post("/episodes/nope/decision", json={"decision": "approve"})
    assert missing.status_code == 404
    cross_site = client.post("/episodes/ep1/decision", json={"decision": "approve"},
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


def test_start_review_page_listens_on_a_free_port_behind_a_token(tmp_path, monkeypatch):
    import httpx

    from flows.desk import review_link, start_review_page
    from reelgate.settings import Settings

    settings = Settings(data_dir=tmp_path, review_port=0)
    started = start_review_page(settings)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{20,}", started.url)
        assert httpx.get(started.base_url + "/").status_code == 401
        assert httpx.get(started.base_url + "/episodes/x", headers={"X-Review-Token": started.token}).status_code == 404
        assert review_link(settings, "ep-1") == f"{started.base_url}/episodes/ep-1"
        assert "review_token" not in Settings(data_dir=tmp_path, review_token="abc").model_dump()
    finally:
        started.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(started.base_url + "/", timeout=2)
    assert review_link(settings, "ep-1") == "http://127.0.0.1:8765/episodes/ep-1"  # settings once it stopped


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
