"""The review page: a small web app where editors watch waiting episodes and decide.

Plain FastAPI over a `Desk` (the queue and the decisions); `flows.review.PrefectDesk` is the
one backed by Prefect runs. Every request is signed in: by a token (`?token=` once, then a
session cookie; or an `Authorization: Bearer` / `X-Review-Token` header) that
`editorial.reviewers.authenticate` resolves to a reviewer's name, the owner's included. The
cookie holds a random session id kept here, never the token. Decisions are taken in the
signed-in name and name the version shown; the desk refuses any other. Text from prompts,
notes and titles goes through Jinja2's autoescape and, in the page's script, `textContent`
only; a Content-Security-Policy forbids inline scripts as a second fence. The page's own
words come from `editorial.i18n` (English or Chinese); its script gets them as data.

A signed-in editor may also start an episode (`/new`): the story is screened as it is typed
and planned with the CLI's own functions, and the start endpoint checks everything again,
because a request can reach it without the page's script.
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

from editorial import i18n
from editorial.manifest import Manifest, ReviewDecision, Status
from editorial.report import episode_flags
from editorial.review import QueueItem, format_age, may_decide
from editorial.reviewers import authenticate, is_reviewer
from editorial.web_variants import variant_routes
from reelgate.errors import EpisodeConflict, InputError, NotAllowed, ReelgateError, StaleDecision
from reelgate.records import EpisodeRequest
from reelgate.settings import MIN_TOKEN_CHARS, RunOptions, Settings

COOKIE = "reelgate_review"
SESSION_HOURS = 12  # a browser signs in again (with its token) after this long
HERE = Path(__file__).resolve().parent
EPISODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # as EpisodeRequest.episode_id
# Only media the page shows; anything else in an episode folder stays private.
SCRIPTS = ("common", "review", "variants")  # editorial/static/<name>.js
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

    def start(self, request: EpisodeRequest, options: RunOptions | None, reviewer: str,
              priority: str = "high") -> "Started":
        """Start the episode's run (or attach to its live run with the same request), asked by `reviewer`.

        The page has already screened and checked `request`. priority: "high" lets an episode
        started by hand go before scheduled series episodes.
        Raises EpisodeConflict (the id holds another request; nothing is replaced),
        InputError, ReelgateError (Prefect down).
        """
        ...


@dataclass
class Started:
    """What `Desk.start` did: the episode's run, and whether it was already live (attached)."""

    episode_id: str
    flow_run_id: str
    attached: bool = False


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
    env.filters["when"] = lambda d: d.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if d else ""
    return env


def _token_of(request: Request) -> str | None:
    """The token a request presents itself: a header, or `?token=` (the cookie is a session, not a token)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-review-token") or request.query_params.get("token")


def create_app(desk: Desk, owner_token: str, media_root: Path, data_dir: Path,
               settings: Settings | None = None) -> FastAPI:
    """The review page over `desk`.

    Args:
        owner_token: the owner's token (at least MIN_TOKEN_CHARS); named reviewers' tokens
            (editorial.reviewers, under `data_dir`) sign in too, each as its reviewer.
        media_root: the folder holding one folder per episode (settings.episodes_dir).
        data_dir: the data folder holding reviewers.json.
        settings: the screening and planning settings a new episode is checked with
            (default: Settings(data_dir=data_dir), made when a new episode is first screened).
    """
    if len(owner_token or "") < MIN_TOKEN_CHARS:
        raise InputError(f"the review page's token must be at least {MIN_TOKEN_CHARS} characters (a short one "
                         "can be guessed); unset REELGATE_REVIEW_TOKEN for a random one")
    media_root = Path(media_root).resolve()
    data_dir = Path(data_dir)
    templates = _templates()
    sessions = Sessions()
    made: list[Settings] = [settings] if settings is not None else []

    def checked_with() -> Settings:
        if not made:
            made.append(Settings(data_dir=data_dir))
        return made[0]
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
        asked = request.query_params.get("lang")
        remembered = request.cookies.get(i18n.COOKIE)
        lang = i18n.choose_language(asked, remembered, request.headers.get("accept-language"))
        t = i18n.translator(lang)
        html = templates.get_template(name).render(
            reviewer=request.state.reviewer, t=t, lang=lang, html_lang=i18n.HTML_LANG[lang],
            # How long something has waited, as editorial.review words it, its units in the page's language.
            age=lambda age: " ".join(t(f"age.{w}") if w in ("d", "h", "min") else w for w in format_age(age).split()),
            languages=i18n.LANGUAGES,
            # Data for the script, in an attribute: autoescape turns its quotes and any </script> into entities.
            script_strings=json.dumps(i18n.script_strings(lang), ensure_ascii=False), **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        if asked == lang and remembered != lang:  # only ever one of i18n.LANGUAGES, never the text asked
            response.set_cookie(i18n.COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https")
        return response

    def manifest_or_404(episode_id: str) -> Manifest | Response:
        if not EPISODE_ID.match(episode_id):
            return PlainTextResponse("no such episode", status_code=404)
        try:
            return desk.episode(episode_id)
        except InputError:
            return PlainTextResponse("no such episode", status_code=404)

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request) -> Response:
        return page("queue.html", request, items=queue_order(), decided=desk.recently_decided())

    def queue_order() -> list[QueueItem]:
        """The waiting episodes as the queue lists them: newest first."""
        return sorted(desk.waiting(), key=lambda item: item.waiting_since, reverse=True)

    @app.get("/episodes/{episode_id}", response_class=HTMLResponse)
    def episode(episode_id: str, request: Request, decided: str | None = None) -> Response:
        manifest = manifest_or_404(episode_id)
        if isinstance(manifest, Response):
            return manifest
        folder = media_root / episode_id
        outputs = {k: v for k, v in manifest.outputs.items() if (folder / v).is_file()}
        order = [item.episode_id for item in queue_order()]
        here = order.index(episode_id) if episode_id in order else None
        return page(
            "episode.html", request, m=manifest, outputs=outputs, findings=episode_findings(manifest),
            starts=[r.start_s or 0.0 for r in manifest.shots], decided=decided,
            waiting=manifest.status == Status.AWAITING_REVIEW,
            may_decide=may_decide(manifest, request.state.reviewer), fps=episode_fps(manifest),
            # Next and previous follow the queue as listed; from outside it, "next" is its first episode.
            prev_id=order[here - 1] if here else None,
            next_id=(order[here + 1] if here + 1 < len(order) else None) if here is not None else (order[0] if order else None),
            position=here + 1 if here is not None else None, total=len(order),
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

    @app.get("/static/{name}.js")
    def script(name: str) -> Response:
        if name not in SCRIPTS:  # the page's own scripts, by name: never a path
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(HERE / "static" / f"{name}.js", media_type="text/javascript")

    # ---- a new episode ------------------------------------------------------------------

    @app.get("/new", response_class=HTMLResponse)
    def new_episode(request: Request) -> Response:
        from prompts.presets import load_presets

        from reelgate.records import CAMERA_MOVES, SHOT_SIZES, TIMES_OF_DAY, WEATHERS

        choices = {"camera": CAMERA_MOVES, "shot_size": SHOT_SIZES, "time_of_day": TIMES_OF_DAY, "weather": WEATHERS}
        return page("new.html", request, presets=sorted(load_presets()), languages_story=STORY_LANGUAGES,
                    choices=json.dumps({k: list(v) for k, v in choices.items()}))

    @app.post("/new/screen")
    async def screen_new(request: Request) -> Response:
        fields = await json_object(request)
        if isinstance(fields, Response):
            return fields
        text = fields.get("text")
        if not isinstance(text, str) or set(fields) - {"text"}:
            return JSONResponse({"error": "send {\"text\": \"...\"} and nothing else"}, status_code=400)
        if len(text) > MAX_STORY_CHARS:
            return JSONResponse({"error": f"the text is {len(text)} characters; the limit is {MAX_STORY_CHARS}"},
                                status_code=400)
        return JSONResponse(await run_in_threadpool(screen_for_page, text, checked_with()))

    @app.post("/new/plan")
    async def plan_new(request: Request) -> Response:
        fields = await json_object(request)
        if isinstance(fields, Response):
            return fields
        try:
            planned = await run_in_threadpool(plan_for_page, fields, checked_with())
        except Refused as exc:
            return exc.response()
        return JSONResponse(planned)

    @app.post("/new/start")
    async def start_new(request: Request) -> Response:
        fields = await json_object(request)
        if isinstance(fields, Response):
            return fields
        try:
            new, options = await run_in_threadpool(check_new_episode, fields, checked_with(), media_root)
            started = await run_in_threadpool(desk.start, new, options, request.state.reviewer)
        except Refused as exc:
            return exc.response()
        except (InputError, ValueError) as exc:
            code = 409 if isinstance(exc, EpisodeConflict) else 400
            return JSONResponse({"error": _message(exc), "reasons": [_message(exc)]}, status_code=code)
        except ReelgateError as exc:
            return JSONResponse({"error": str(exc), "reasons": [str(exc)]}, status_code=502)
        return JSONResponse({"episode_id": started.episode_id, "flow_run_id": started.flow_run_id,
                             "attached": started.attached, "url": f"/episodes/{started.episode_id}"})

    app.include_router(variant_routes(desk, data_dir, page, lambda: checked_with().variants.max_takes))
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


def episode_fps(manifest: Manifest) -> float:
    """Frames per second of the episode's kept shots, for stepping one frame (24 when none is known)."""
    for record in manifest.shots:
        if record.attempts and 0 <= record.kept_attempt < len(record.attempts):
            shot = record.attempts[record.kept_attempt].shot
            if shot is not None and shot.fps > 0:
                return shot.fps
    return 24.0


# ---- a new episode: the same checks as `reelgate episode` and `reelgate batch` --------------

STORY_LANGUAGES = ("auto", "zh", "en")
NEW_FIELDS = ("id", "story", "title", "language", "preset", "series", "plan")
MAX_STORY_CHARS = 20_000 + 2_000  # prompts.plan.MAX_PROMPT_CHARS and a batch line's allowance for its fields
MAX_NEW_BODY = 1024 * 1024  # a story, a few fields and a plan of at most planning.limits.max_shots shots


class Refused(Exception):
    """A new episode the page will not plan or start: an HTTP code and one reason per problem."""

    def __init__(self, code: int, reasons: list[str], blocked: bool = False) -> None:
        super().__init__("; ".join(reasons))
        self.code, self.reasons, self.blocked = code, reasons, blocked

    def response(self) -> JSONResponse:
        return JSONResponse({"error": str(self), "reasons": self.reasons, "blocked": self.blocked},
                            status_code=self.code)


async def json_object(request: Request) -> dict[str, Any] | Response:
    """The body as a JSON object (at most MAX_NEW_BODY bytes), or the refusal: a form post (which another
    site can make) never counts. Every POST of the page's script but the decision reads its body so."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        return JSONResponse({"error": "send JSON (Content-Type: application/json); forms are refused"},
                            status_code=415)
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_NEW_BODY:
        return JSONResponse({"error": f"the request may be at most {MAX_NEW_BODY} bytes"}, status_code=413)
    chunks, size = [], 0
    async for chunk in request.stream():  # a body sent without a length is cut off at the limit too
        size += len(chunk)
        if size > MAX_NEW_BODY:
            return JSONResponse({"error": f"the request may be at most {MAX_NEW_BODY} bytes"}, status_code=413)
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks))
    except ValueError:
        return JSONResponse({"error": "the body is not valid JSON"}, status_code=400)
    if not isinstance(data, dict):
        return JSONResponse({"error": "send a JSON object"}, status_code=400)
    return data


def _utf16(text: str, index: int) -> int:
    """A code-point offset as the page's script counts (UTF-16 units), so marks land on the same letters."""
    return len(text[:index].encode("utf-16-le")) // 2


def screen_for_page(text: str, settings: Settings) -> dict[str, Any]:
    """`reelgate screen` on `text`: the action, the reasons, and each matched span (in UTF-16 offsets)."""
    from prompts.screen import screener_for

    result = screener_for(settings.screening, settings.data_dir / "cache").screen(text)
    return {
        "action": result.action.value,
        "reasons": result.verdict().reasons,
        "spans": [{"start": _utf16(text, m.start), "end": _utf16(text, m.end), "term": m.term,
                   "category": m.category, "action": m.action.value, "layer": m.layer} for m in result.matches],
    }


def _request_entry(fields: dict[str, Any], allowed: tuple[str, ...]):
    """The fields as `reelgate batch` reads a line (the same checks and messages), the id defaulted as the CLI does."""
    from editorial.requests import default_episode_id, parse_entry
    from prompts.presets import load_presets

    unknown = sorted(str(k) for k in fields if k not in allowed)
    if unknown:
        # Refused, never ignored: settings, backends, paths or commands have no place here.
        raise Refused(400, [f"unknown field(s) {', '.join(repr(k) for k in unknown)}; the fields are "
                            f"{', '.join(allowed)}"])
    row = {k: v for k, v in fields.items() if k != "plan" and v is not None}
    if not row.get("id") and isinstance(row.get("story"), str):
        row["id"] = default_episode_id(row["story"])
    entry = parse_entry(0, row, sorted(load_presets()))
    if entry.outcome:
        raise Refused(400, entry.reasons)
    return entry


def _screen_blocked(text: str, settings: Settings, what: str = "") -> None:
    from prompts.screen import screener_for
    from reelgate.records import Action

    result = screener_for(settings.screening, settings.data_dir / "cache").screen(text)
    if result.action == Action.BLOCK:
        raise Refused(400, [f"{what}{r}" for r in result.verdict().reasons], blocked=True)


def plan_for_page(fields: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """`reelgate plan` for the page: the request screened, then planned; the plan in its file's fields."""
    import yaml

    from prompts.plan import plan_shots, rewriter_screen
    from prompts.plan_file import dump_plan

    entry = _request_entry(fields, tuple(f for f in NEW_FIELDS if f != "plan"))
    request = entry.request
    _screen_blocked(request.screening_text(), settings)
    planning = settings.planning.with_preset(entry.preset)
    screen = rewriter_screen(planning, settings.screening, settings.data_dir / "cache")  # as `reelgate plan` does
    try:
        plan = plan_shots(request.prompt, request.episode_id, planning, language=request.language, screen=screen)
    except InputError as exc:
        raise Refused(400, [str(exc)]) from None
    # The plan as `reelgate plan --out` writes it: `prompt: auto` where the fields built it, so edits rebuild it.
    return {"episode_id": request.episode_id, "plan": yaml.safe_load(dump_plan(plan, planning)),
            "planner_note": plan.planner_note}


def _edited_plan(data: object, episode_id: str, planning) -> Any:
    """An edited plan from the page, read by `prompts.plan_file.load_plan` (its fields, choices and limits)."""
    from prompts.plan_file import load_plan

    if not isinstance(data, dict):
        raise Refused(400, ["plan must be an object with the fields of a plan file"])
    # JSON is YAML: the plan file's own reader checks it. Indented, so it is never taken for a file name.
    text = json.dumps({**data, "episode_id": episode_id}, ensure_ascii=False, indent=1)
    try:
        return load_plan(text, planning)
    except InputError as exc:
        raise Refused(400, [str(exc)]) from None


def check_new_episode(fields: dict[str, Any], settings: Settings, media_root: Path) -> tuple[EpisodeRequest, RunOptions | None]:
    """The request and run options to start, after every check `reelgate batch` makes; Refused otherwise.

    The fields are a batch line's (id, story, title, language, preset, series) and an
    optional edited plan. The whole request is screened (story, title, series and every
    field of the plan) and the plan held to the plan file's rules and the plan limits; an id
    that holds another request is a conflict, never replaced. Nothing is written.
    """
    from editorial.manifest import load_manifest, manifest_path
    from editorial.requests import BLOCKED, check_entry
    from editorial.review import check_same_request

    entry = _request_entry(fields, NEW_FIELDS)
    if fields.get("plan") is not None:
        plan = _edited_plan(fields["plan"], entry.request.episode_id, settings.planning.with_preset(entry.preset))
        entry.request = EpisodeRequest.model_validate({**entry.request.model_dump(), "plan": plan.model_dump()})
        _screen_blocked(entry.request.screening_text(), settings)
    else:
        check_entry(entry, settings)  # screens the request, plans it against the limits, screens the planned prompts
        if entry.outcome:
            raise Refused(400, entry.reasons, blocked=entry.outcome == BLOCKED)
    folder = media_root / entry.request.episode_id
    if manifest_path(folder).is_file():
        check_same_request(load_manifest(folder), entry.request)  # EpisodeConflict: the CLI's message
    return entry.request, entry.options
