"""The review page: a small web app where editors watch waiting episodes and decide.

Plain FastAPI over a `Desk` (the queue and the decisions); `flows.review.PrefectDesk` is the
one backed by Prefect runs. Every request is signed in: by a token (`?token=` once, then a
session cookie; or an `Authorization: Bearer` / `X-Review-Token` header) that
`editorial.reviewers.authenticate` resolves to a reviewer's name, the owner's included. The
cookie holds a random session id kept here, never the token. Decisions are taken in the
signed-in name and name the version shown; the desk refuses any other. Text from prompts,
notes and titles goes through Jinja2's autoescape and, in the page's script, `textContent`
only; a Content-Security-Policy forbids inline scripts as a second fence.
"""

from __future__ import annotations

import json
import mimetypes
import re
import secrets
import threading
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
from editorial.review import QueueItem, describe_version, format_age, may_decide
from editorial.reviewers import authenticate, is_reviewer
from reelgate.errors import InputError, NotAllowed, ReelgateError, StaleDecision
from reelgate.settings import MIN_TOKEN_CHARS

COOKIE = "reelgate_review"
SESSION_HOURS = 12  # a browser signs in again (with its token) after this long
HERE = Path(__file__).resolve().parent
EPISODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # as EpisodeRequest.episode_id
# Only media the page shows; anything else in an episode folder stays private.
SERVED_SUFFIXES = {".mp4", ".png", ".jpg", ".jpeg", ".vtt", ".srt", ".wav", ".m4a"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "media-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SIGN_IN = "401: this page needs its token; open the URL that `reelgate up` or `reelgate page` printed"


class Desk(Protocol):
    """Where the queue comes from and where decisions go."""

    def waiting(self) -> list[QueueItem]:
        """Episodes waiting at the review gate, newest first."""
        ...

    def recently_decided(self) -> list[QueueItem]:
        """Episodes decided or expired most recently, newest first, at most 20."""
        ...

    def episode(self, episode_id: str) -> Manifest:
        """The episode's manifest (editorial.manifest.load_manifest); InputError if there is none."""
        ...

    def decide(self, episode_id: str, decision: ReviewDecision, reviewer: str) -> None:
        """Sign the decision as `reviewer` (already authenticated) and resume the episode's review gate.

        Raises StaleDecision (not the version at the gate, or not waiting), NotAllowed (not
        among the series' reviewers), InputError (other bad input), ReelgateError (Prefect down).
        """
        ...


class Sessions:
    """Signed-in browsers: a random id (the cookie) -> the reviewer's name and when it ends."""

    def __init__(self, hours: float = SESSION_HOURS) -> None:
        self.length = timedelta(hours=hours)
        self._open: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()  # routes run in the threadpool as well as on the loop

    def start(self, name: str) -> str:
        now = datetime.now(timezone.utc)
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._open = {k: v for k, v in self._open.items() if v[1] > now}
            self._open[session_id] = (name, now + self.length)
        return session_id

    def name(self, session_id: str | None) -> str | None:
        """The signed-in name, or None for an unknown or expired session."""
        if not session_id:
            return None
        with self._lock:
            found = self._open.get(session_id)
            if found is None or found[1] <= datetime.now(timezone.utc):
                self._open.pop(session_id, None)
                return None
            return found[0]


@dataclass
class PageFinding:
    """A finding placed on the episode's timeline, for the player to seek to."""

    time_s: float
    shot: int  # 1-based, as editors count
    kind: str  # safety or quality
    label: str
    action: str


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
    """The token a request presents itself: a header, or `?token=` (the cookie is a session, not a token)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-review-token") or request.query_params.get("token")


def create_app(desk: Desk, owner_token: str, media_root: Path, data_dir: Path) -> FastAPI:
    """The review page over `desk`.

    Args:
        owner_token: the owner's token (at least MIN_TOKEN_CHARS); named reviewers' tokens
            (editorial.reviewers, under `data_dir`) sign in too, each as its reviewer.
        media_root: the folder holding one folder per episode (settings.episodes_dir).
        data_dir: the data folder holding reviewers.json.
    """
    if len(owner_token or "") < MIN_TOKEN_CHARS:
        raise InputError(f"the review page's token must be at least {MIN_TOKEN_CHARS} characters (a short one "
                         "can be guessed); unset REELGATE_REVIEW_TOKEN for a random one")
    media_root = Path(media_root).resolve()
    data_dir = Path(data_dir)
    templates = _templates()
    sessions = Sessions()
    app = FastAPI(title="reelgate review", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next) -> Response:
        given = _token_of(request)
        new_session: str | None = None
        if given:
            name = await run_in_threadpool(authenticate, data_dir, given, owner_token)
            if name is None:
                return PlainTextResponse("403: wrong token", status_code=403)
            if request.method == "GET" and "token" in request.query_params:
                new_session = sessions.start(name)
        else:
            name = sessions.name(request.cookies.get(COOKIE))
            # A removed reviewer's open sessions end with their token.
            if name is None or not await run_in_threadpool(is_reviewer, data_dir, name):
                return PlainTextResponse(SIGN_IN, status_code=401)
        origin = request.headers.get("origin")
        if request.method == "POST" and origin and origin.split("://")[-1] != request.headers.get("host"):
            return PlainTextResponse("403: decisions are taken from this page only", status_code=403)
        request.state.reviewer = name
        if new_session:
            # Trade the token in the URL for a session, so it leaves the address bar and history.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, new_session, max_age=int(sessions.length.total_seconds()), httponly=True,
                                samesite="strict", secure=request.url.scheme == "https")
        else:
            response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store" if response.media_type != "video/mp4" else "private"
        return response

    def page(name: str, request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(name).render(reviewer=request.state.reviewer, **context)
        return HTMLResponse(html, status_code=status_code)

    def manifest_or_404(episode_id: str) -> Manifest | Response:
        if not EPISODE_ID.match(episode_id):
            return PlainTextResponse("no such episode", status_code=404)
        try:
            return desk.episode(episode_id)
        except InputError:
            return PlainTextResponse("no such episode", status_code=404)

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request) -> Response:
        items = sorted(desk.waiting(), key=lambda item: item.waiting_since, reverse=True)
        return page("queue.html", request, items=items, decided=desk.recently_decided())

    @app.get("/episodes/{episode_id}", response_class=HTMLResponse)
    def episode(episode_id: str, request: Request, decided: str | None = None) -> Response:
        manifest = manifest_or_404(episode_id)
        if isinstance(manifest, Response):
            return manifest
        folder = media_root / episode_id
        outputs = {k: v for k, v in manifest.outputs.items() if (folder / v).is_file()}
        return page(
            "episode.html", request, m=manifest, outputs=outputs, findings=episode_findings(manifest),
            starts=[r.start_s or 0.0 for r in manifest.shots], decided=decided,
            waiting=manifest.status.value == "awaiting_review", version=describe_version(manifest.version),
            may_decide=may_decide(manifest, request.state.reviewer),
        )

    @app.get("/episodes/{episode_id}/status")
    def status(episode_id: str) -> Response:
        manifest = manifest_or_404(episode_id)
        if isinstance(manifest, Response):
            return manifest
        review = manifest.review.model_dump(mode="json") if manifest.review else None
        return JSONResponse({"episode_id": episode_id, "status": manifest.status.value, "review": review,
                             "version": manifest.version.id if manifest.version else None})

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
        reviewer: str = request.state.reviewer
        wants_json = "application/json" in request.headers.get("content-type", "")
        body = await request.body()
        try:
            decision = _parse_decision(_decision_fields(body, wants_json), reviewer)
            await run_in_threadpool(desk.decide, episode_id, decision, reviewer)
        except (InputError, ValueError) as exc:
            code = 409 if isinstance(exc, StaleDecision) else 403 if isinstance(exc, NotAllowed) else 400
            return refused(request, episode_id, _message(exc), code, wants_json)
        except ReelgateError as exc:
            return refused(request, episode_id, str(exc), 502, wants_json)
        if not wants_json:
            return RedirectResponse(f"/episodes/{episode_id}?decided={decision.decision.value}", status_code=303)
        status_now = (await run_in_threadpool(desk.episode, episode_id)).status.value
        return JSONResponse({"episode_id": episode_id, "decision": decision.decision.value, "status": status_now})

    def refused(request: Request, episode_id: str, message: str, code: int, wants_json: bool) -> Response:
        """Why a decision was not recorded: JSON for the page's script, a small page for a plain form."""
        if wants_json:
            return JSONResponse({"error": message}, status_code=code)
        return page("refused.html", request, status_code=code, episode_id=episode_id, message=message)

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


def _parse_decision(fields: dict[str, Any], reviewer: str) -> ReviewDecision:
    """A ReviewDecision from the posted fields, in the signed-in reviewer's name.

    A posted `reviewer` or `signature` is ignored: the name comes from the session and the
    desk signs.
    """
    data = {k: v for k, v in fields.items() if k in ReviewDecision.model_fields and k not in ("reviewer", "signature")}
    if "shots" in data:
        shots = data["shots"] if isinstance(data["shots"], list) else [data["shots"]]
        # A box left ticked before choosing approve or reject means nothing for them.
        data["shots"] = [int(s) for s in shots if s not in ("", None)] if data.get("decision") == "regenerate" else []
    return ReviewDecision.model_validate({**data, "reviewer": reviewer})


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'decision'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
    return str(exc)
