"""The review page: a small web app where editors watch waiting episodes and decide.

Plain FastAPI over a `Desk` (the queue and the decisions); `flows.desk.PrefectDesk` is the
one backed by Prefect runs. Every route asks for the token: `?token=` once (then a
cookie), or an `Authorization: Bearer` / `X-Review-Token` header. Text from prompts, notes
and titles goes through Jinja2's autoescape and, in the page's script, `textContent`
only; a Content-Security-Policy forbids inline scripts as a second fence.
"""

from __future__ import annotations

import json
import mimetypes
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from editorial.manifest import Manifest, ReviewDecision
from editorial.report import episode_flags
from reelgate.errors import InputError, ReelgateError

COOKIE = "reelgate_review"
HERE = Path(__file__).resolve().parent
EPISODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # as EpisodeRequest.episode_id
# Only media the page shows; anything else in an episode folder stays private.
SERVED_SUFFIXES = {".mp4", ".png", ".jpg", ".jpeg", ".vtt", ".srt", ".wav", ".m4a"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "media-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


@dataclass
class QueueItem:
    """One episode waiting at the review gate."""

    episode_id: str
    series: str | None
    title: str
    waiting_since: datetime
    status: str = "awaiting_review"
    expires_at: datetime | None = None

    @property
    def age(self) -> timedelta:
        return datetime.now(timezone.utc) - self.waiting_since


class Desk(Protocol):
    """Where the queue comes from and where decisions go."""

    def waiting(self) -> list[QueueItem]: ...

    def episode(self, episode_id: str) -> Manifest:
        """The episode's manifest (editorial.manifest.load_manifest); InputError if there is none."""
        ...

    def decide(self, episode_id: str, decision: ReviewDecision) -> None:
        """Resume the episode's review gate with the decision; InputError if it is not waiting."""
        ...


@dataclass
class PageFinding:
    """A finding placed on the episode's timeline, for the player to seek to."""

    time_s: float
    shot: int  # 1-based, as editors count
    kind: str  # safety or quality
    label: str
    action: str


def format_age(age: timedelta) -> str:
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def episode_findings(manifest: Manifest) -> list[PageFinding]:
    """Safety findings that need a look and quality flags of the kept attempts, in episode time."""
    return [
        PageFinding(f.time_s, f.shot, f.kind, f"{f.what} {f.score:.2f}" if f.kind == "safety" else f.what or "discontinuity",
                    f.action)
        for f in episode_flags(manifest.shots)
    ]


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.filters["age"] = format_age
    env.filters["when"] = lambda d: d.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if d else ""
    return env


def _token_of(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-review-token") or request.query_params.get("token") or request.cookies.get(COOKIE)


def create_app(desk: Desk, token: str, media_root: Path) -> FastAPI:
    """The review page over `desk`.

    Args:
        token: what every request must present (compared in constant time).
        media_root: the folder holding one folder per episode (settings.episodes_dir).
    """
    if not token:
        raise InputError("the review page needs a non-empty token")
    media_root = Path(media_root).resolve()
    templates = _templates()
    app = FastAPI(title="reelgate review", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next) -> Response:
        given = _token_of(request)
        if not given:
            return PlainTextResponse(
                "401: this page needs its token; open the URL that `reelgate up` or `reelgate page` printed",
                status_code=401,
            )
        if not secrets.compare_digest(given.encode(), token.encode()):
            return PlainTextResponse("403: wrong token", status_code=403)
        origin = request.headers.get("origin")
        if request.method == "POST" and origin and origin.split("://")[-1] != request.headers.get("host"):
            return PlainTextResponse("403: decisions are taken from this page only", status_code=403)
        if "token" in request.query_params and request.method == "GET":
            # Trade the token in the URL for a cookie, so it leaves the address bar and history.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        else:
            response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store" if response.media_type != "video/mp4" else "private"
        return response

    def page(name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context))

    def manifest_or_404(episode_id: str) -> Manifest | Response:
        if not EPISODE_ID.match(episode_id):
            return PlainTextResponse("no such episode", status_code=404)
        try:
            return desk.episode(episode_id)
        except InputError:
            return PlainTextResponse("no such episode", status_code=404)

    @app.get("/", response_class=HTMLResponse)
    def queue() -> Response:
        items = sorted(desk.waiting(), key=lambda item: item.waiting_since, reverse=True)
        return page("queue.html", items=items)

    @app.get("/episodes/{episode_id}", response_class=HTMLResponse)
    def episode(episode_id: str, decided: str | None = None) -> Response:
        manifest = manifest_or_404(episode_id)
        if isinstance(manifest, Response):
            return manifest
        folder = media_root / episode_id
        outputs = {k: v for k, v in manifest.outputs.items() if (folder / v).is_file()}
        return page(
            "episode.html", m=manifest, outputs=outputs, findings=episode_findings(manifest),
            starts=[r.start_s or 0.0 for r in manifest.shots], decided=decided,
            waiting=manifest.status.value == "awaiting_review",
        )

    @app.get("/episodes/{episode_id}/status")
    def status(episode_id: str) -> Response:
        manifest = manifest_or_404(episode_id)
        if isinstance(manifest, Response):
            return manifest
        review = manifest.review.model_dump(mode="json") if manifest.review else None
        return JSONResponse({"episode_id": episode_id, "status": manifest.status.value, "review": review})

    @app.get("/episodes/{episode_id}/files/{name:path}")
    def media(episode_id: str, name: str) -> Response:
        if not EPISODE_ID.match(episode_id):
            return PlainTextResponse("not found", status_code=404)
        folder = (media_root / episode_id).resolve()
        path = (folder / name).resolve()
        if not path.is_relative_to(folder) or path.suffix.lower() not in SERVED_SUFFIXES or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".vtt":
            media_type = "text/vtt"
        return FileResponse(path, media_type=media_type)  # answers Range requests (206), so the player can seek

    @app.post("/episodes/{episode_id}/decision")
    async def decide(episode_id: str, request: Request) -> Response:
        # The desk blocks (it talks to Prefect's sync client): keep it off the event loop.
        manifest = await run_in_threadpool(manifest_or_404, episode_id)
        if isinstance(manifest, Response):
            return manifest
        wants_json = "application/json" in request.headers.get("content-type", "")
        body = await request.body()
        try:
            fields = _decision_fields(body, wants_json)
            decision = _parse_decision(fields)
            await run_in_threadpool(desk.decide, episode_id, decision)
        except (InputError, ValueError) as exc:
            message = _message(exc)
            if wants_json:
                return JSONResponse({"error": message}, status_code=409 if isinstance(exc, InputError) else 400)
            return PlainTextResponse(message, status_code=400)
        except ReelgateError as exc:
            return JSONResponse({"error": str(exc)}, status_code=502)
        if not wants_json:
            return RedirectResponse(f"/episodes/{episode_id}?decided={decision.decision.value}", status_code=303)
        status_now = (await run_in_threadpool(desk.episode, episode_id)).status.value
        return JSONResponse({"episode_id": episode_id, "decision": decision.decision.value, "status": status_now})

    @app.get("/static/review.js")
    def script() -> Response:
        return FileResponse(HERE / "static" / "review.js", media_type="text/javascript")

    return app


def _decision_fields(body: bytes, is_json: bool) -> dict[str, Any]:
    if is_json:
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the decision must be a JSON object")
        return data
    form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    fields: dict[str, Any] = {k: v[-1] for k, v in form.items()}
    if "shots" in form:
        fields["shots"] = form["shots"]
    return fields


def _parse_decision(fields: dict[str, Any]) -> ReviewDecision:
    """A ReviewDecision from the posted fields, with the page's own rules on top of the model's."""
    known = ReviewDecision.model_fields
    data = {k: v for k, v in fields.items() if k in known}
    if "shots" in data:
        # A box left ticked before choosing approve or reject means nothing for them.
        data["shots"] = [int(s) for s in data["shots"] or []] if data.get("decision") == "regenerate" else []
    if not str(data.get("reviewer", "")).strip():
        data.pop("reviewer", None)
    decision = ReviewDecision.model_validate(data)
    value = decision.decision.value
    if value == "reject" and not decision.notes.strip():
        raise ValueError("a rejection needs notes saying what is wrong, so the next version can fix it")
    if value == "regenerate" and not getattr(decision, "shots", None):
        raise ValueError("pick the shots to regenerate")
    return decision


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'decision'}: {e['msg']}" for e in exc.errors())
    return str(exc)
