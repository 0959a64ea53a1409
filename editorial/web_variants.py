"""The review page's variants: sweeps of one shot, their takes side by side, and the director's marks.

Routes added to `editorial.web.create_app`, behind the same sign-in and origin checks:
- `/variants` lists the sweeps; `/variants/{id}` shows one: the comparison (grid image and
  side-by-side video), then one card per take with its knobs, quality and safety, and the
  marks rejected / maybe / selected;
- `/episodes/{id}/variants/new?shot=N` opens a sweep on an episode waiting for review
  ("try variants of shot N"); the desk starts it on Prefect;
- a selected take of an episode sweep is used through the episode's own decision route, as a
  regenerate of that shot naming the take: the review gate checks it again (flows.episode).

A blocked take (or one never checked, or failed) is shown only as its blurred thumbnail: its
video is never served. Marks on an episode's sweep are for the reviewers who may decide that
episode; every mark is written to the audit log.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from editorial.manifest import Manifest, Status
from editorial.review import may_decide
from editorial.variants import SWEEP_ID, TAKE_ID, Sweep, TakeState, list_sweeps, load_sweep, sweep_dir
from reelgate.errors import InputError, NotAllowed, ReelgateError
from reelgate.records import ANGLES, CAMERA_MOVES, MOODS, SHOT_SIZES, TIMES_OF_DAY, WEATHERS

# The knobs the page offers, with their values; free-text knobs and strengths are typed.
KNOB_CHOICES: dict[str, tuple[str, ...]] = {
    "camera": tuple(CAMERA_MOVES), "shot_size": tuple(SHOT_SIZES), "angle": tuple(ANGLES),
    "time_of_day": tuple(TIMES_OF_DAY), "weather": tuple(WEATHERS), "mood": tuple(MOODS),
}
SERVED = {".mp4", ".png", ".jpg", ".jpeg"}
MAX_SEEDS = 8


class SweepDesk(Protocol):
    def episode(self, episode_id: str) -> Manifest: ...

    def mark_take(self, sweep_id: str, take_id: str, state: TakeState, reviewer: str) -> Sweep:
        """Mark a take as `reviewer` (editorial.variants.mark_on_page: the rules, the plan write-back, the audit)."""
        ...

    def start_sweep(self, episode_id: str, shot: int, knobs: dict[str, list[str]], seeds: int, reviewer: str) -> Sweep:
        """Open a sweep of shot `shot` of an episode waiting for review, on the version at the gate, and start it.

        Raises InputError (bad knobs, too many takes, not waiting), NotAllowed, ReelgateError (Prefect down).
        """
        ...


def variant_routes(desk: SweepDesk, data_dir: Path, page: Callable[..., Response],
                   max_takes: Callable[[], int]) -> APIRouter:
    """The variants routes; `page(template, request, **context)` renders like the rest of the review page,
    `max_takes()` is the sweep limit (settings.variants.max_takes) the form shows."""
    from editorial.web import json_object  # the page's one body reader (JSON only, size-capped); web imports this module

    router = APIRouter()
    data_dir = Path(data_dir)

    def sweep_or_404(sweep_id: str) -> Sweep | Response:
        if not SWEEP_ID.match(sweep_id):
            return PlainTextResponse("no such sweep", status_code=404)
        try:
            return load_sweep(data_dir, sweep_id)
        except InputError:
            return PlainTextResponse("no such sweep", status_code=404)

    def episode_of(sweep: Sweep) -> Manifest | None:
        if not sweep.episode_id:
            return None
        try:
            return desk.episode(sweep.episode_id)
        except InputError:
            return None

    def may_mark(sweep: Sweep, reviewer: str) -> bool:
        """A plan-file sweep: anyone signed in; an episode's: those who may decide the episode."""
        if not sweep.episode_id:
            return True
        manifest = episode_of(sweep)
        return manifest is not None and may_decide(manifest, reviewer)

    @router.get("/variants")
    def sweeps(request: Request) -> Response:
        return page("sweeps.html", request, sweeps=list_sweeps(data_dir))

    @router.get("/variants/{sweep_id}")
    def sweep_page(sweep_id: str, request: Request) -> Response:
        sweep = sweep_or_404(sweep_id)
        if isinstance(sweep, Response):
            return sweep
        manifest = episode_of(sweep)
        reviewer = request.state.reviewer
        # The take can become the shot only while the episode waits at the version the sweep was opened on.
        usable = bool(manifest and manifest.status == Status.AWAITING_REVIEW and manifest.version
                      and manifest.version.id == sweep.episode_version and may_decide(manifest, reviewer))
        carried = bool(manifest and sweep.chosen and any(
            a.take == f"{sweep.sweep_id}/{sweep.chosen}" for shot in manifest.shots for a in shot.attempts))
        return page("sweep.html", request, s=sweep, m=manifest, usable=usable and not carried, carried=carried,
                    may_mark=may_mark(sweep, reviewer),
                    made=sum(1 for t in sweep.takes if t.finished))

    @router.get("/variants/{sweep_id}/status")
    def sweep_status(sweep_id: str) -> Response:
        sweep = sweep_or_404(sweep_id)
        if isinstance(sweep, Response):
            return sweep
        return JSONResponse({
            "sweep_id": sweep.sweep_id, "status": sweep.status.value, "chosen": sweep.chosen,
            "takes": [{"id": t.id, "state": t.state.value, "made": t.finished,
                       "blocked": t.blocked} for t in sweep.takes],
        })

    @router.get("/variants/{sweep_id}/files/{name:path}")
    def sweep_file(sweep_id: str, name: str) -> Response:
        sweep = sweep_or_404(sweep_id)
        if isinstance(sweep, Response):
            return sweep
        folder = sweep_dir(data_dir, sweep_id).resolve()
        path = (folder / name).resolve()
        hidden = {t.video for t in sweep.takes if t.blocked and t.video}  # never a blocked take's video
        if (not path.is_relative_to(folder) or path.suffix.lower() not in SERVED or not path.is_file()
                or path.relative_to(folder).as_posix() in hidden):
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream")

    @router.post("/variants/{sweep_id}/takes/{take_id}")
    async def mark(sweep_id: str, take_id: str, request: Request) -> Response:
        sweep = await run_in_threadpool(sweep_or_404, sweep_id)
        if isinstance(sweep, Response):
            return sweep
        if not TAKE_ID.match(take_id):
            return PlainTextResponse("no such take", status_code=404)
        reviewer: str = request.state.reviewer
        fields = await json_object(request)
        if isinstance(fields, Response):
            return fields
        if not await run_in_threadpool(may_mark, sweep, reviewer):
            return JSONResponse({"error": f"{reviewer} is not among the reviewers who decide episode "
                                          f"{sweep.episode_id}"}, status_code=403)
        try:
            state = TakeState(str(fields.get("state", "")))
        except ValueError:
            return JSONResponse({"error": f"state must be one of {', '.join(s.value for s in TakeState)}"},
                                status_code=400)
        try:
            marked = await run_in_threadpool(desk.mark_take, sweep_id, take_id, state, reviewer)
        except InputError as exc:  # a blocked take, no such take, a sweep still being made, a plan that no longer fits
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"sweep_id": sweep_id, "take": take_id, "state": state.value, "status": marked.status.value,
                             "chosen": marked.chosen, "written": bool(marked.plan_file and marked.chosen == take_id)})

    @router.get("/episodes/{episode_id}/variants/new")
    def new_sweep(episode_id: str, request: Request, shot: int = 1) -> Response:
        try:
            manifest = desk.episode(episode_id)
        except InputError:
            return PlainTextResponse("no such episode", status_code=404)
        count = len(manifest.plan.shots) if manifest.plan else 0
        if not 1 <= shot <= count:
            return PlainTextResponse(f"episode {episode_id} has shots 1 to {count}", status_code=404)
        return page("sweep_new.html", request, m=manifest, shot=manifest.plan.shots[shot - 1], number=shot,
                    choices=KNOB_CHOICES, max_seeds=MAX_SEEDS, max_takes=max_takes(),
                    waiting=manifest.status == Status.AWAITING_REVIEW, may_decide=may_decide(manifest, request.state.reviewer),
                    sweeps=list_sweeps(data_dir, episode_id))

    @router.post("/episodes/{episode_id}/variants")
    async def start(episode_id: str, request: Request) -> Response:
        reviewer: str = request.state.reviewer
        fields = await json_object(request)
        if isinstance(fields, Response):
            return fields
        try:
            shot, knobs, seeds = _sweep_fields(fields)
            sweep = await run_in_threadpool(desk.start_sweep, episode_id, shot, knobs, seeds, reviewer)
        except NotAllowed as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        except (InputError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except ReelgateError as exc:
            return JSONResponse({"error": str(exc)}, status_code=502)
        return JSONResponse({"sweep_id": sweep.sweep_id, "url": f"/variants/{sweep.sweep_id}",
                             "takes": len(sweep.takes)})

    return router


def _sweep_fields(fields: dict[str, Any]) -> tuple[int, dict[str, list[str]], int]:
    """(shot, knobs, seeds) from the posted sweep; the knob names and values are checked by the desk's sweep rules."""
    try:
        shot = int(fields.get("shot", 0))
        seeds = int(fields.get("seeds", 1))
    except (TypeError, ValueError):
        raise ValueError("shot and seeds are whole numbers") from None
    if not 1 <= seeds <= MAX_SEEDS:
        raise ValueError(f"seeds must be 1 to {MAX_SEEDS}")
    raw = fields.get("knobs") or {}
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise ValueError("knobs must map each knob to a list of values, e.g. {\"camera\": [\"push\", \"track\"]}")
    knobs = {str(k): [str(v).strip() for v in values if str(v).strip()] for k, values in raw.items()}
    knobs = {k: v for k, v in knobs.items() if v}
    if not knobs and seeds < 2:
        raise ValueError("choose at least one knob with values, or two seeds or more")
    return shot, knobs, seeds
