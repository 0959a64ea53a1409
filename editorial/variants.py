"""Variants of one shot: a sweep over a few knobs, its takes, and the director's choice.

Previs practice: make a dozen takes of a shot, changing one knob at a time (camera, time of
day, a keyword's strength, the seed), look at them side by side, mark each rejected, maybe
or selected, and carry the selected one into the episode.

A sweep lives in `data_dir/variants/<sweep_id>/`: `sweep.json` (this module's `Sweep`), the
takes' videos and thumbnails under `takes/`, and the comparison grid (a contact sheet and one
side-by-side video). Plain Python: the flow that makes the takes is `flows.variants`.

Two origins:
- a plan file (`reelgate variants PLAN.yaml --shot 2 --sweep camera=push,track`): selecting
  a take writes its fields and seed back into that plan file;
- an episode waiting for review ("try variants of shot N" on the review page): selecting a
  take becomes a regenerate decision on the version the sweep was opened from, and the
  episode's next round uses that take.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, Field

from reelgate.errors import InputError
from reelgate.files import file_sha256, write_text
from reelgate.records import Action, ShotSpec

SWEEPS_DIR = "variants"  # under the data folder
SWEEP_FILE = "sweep.json"
SWEEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TAKE_ID = re.compile(r"^t[0-9]{2,3}$")


class TakeState(str, Enum):
    """The director's mark on a take."""

    UNMARKED = "unmarked"
    REJECTED = "rejected"
    MAYBE = "maybe"
    SELECTED = "selected"


class SweepStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"  # every take made (or failed with its reason); the comparison is built
    FAILED = "failed"
    CHOSEN = "chosen"  # a take was selected and carried into the plan or the episode


class Take(BaseModel):
    """One take of the swept shot: what it was asked to be, what came out, what the checks said."""

    id: str = Field(description="t01, t02... in order of likely choice: the user's original is t01.")
    knobs: dict[str, str] = Field(description="The knob values of this take, e.g. {'camera': 'push', 'seed': '2'}.")
    original: bool = Field(False, description="The plan's own values and seed: the take the user started from.")
    spec: ShotSpec = Field(description="The shot as this take makes it: fields, prompt and seed.")
    video: str | None = Field(None, description="The take's (enhanced) video, relative to the sweep folder.")
    video_sha256: str = ""
    thumbnail: str | None = Field(None, description="Middle-frame image, blurred when the take is blocked.")
    safety_action: Action | None = Field(None, description="allow, review or block; None until checked. "
                                         "A block is never shown unblurred.")
    safety_reasons: list[str] = Field(default_factory=list)
    quality_score: float | None = None
    quality_passed: bool | None = None
    quality_reasons: list[str] = Field(default_factory=list)
    error: str | None = Field(None, description="Why the take could not be made (generation or checks failed).")
    state: TakeState = TakeState.UNMARKED
    marked_by: str | None = None
    marked_at: datetime | None = None

    @property
    def blocked(self) -> bool:
        """Blocked, or never checked: either way it is shown only blurred and can never be selected."""
        return self.safety_action in (None, Action.BLOCK) or self.error is not None


class Sweep(BaseModel):
    """A sweep of one shot and its takes."""

    sweep_id: str
    created_at: datetime
    created_by: str = Field("owner", description="Who opened it (the CLI's user or the signed-in reviewer).")
    shot: int = Field(ge=1, description="The swept shot, numbered from 1.")
    knobs: dict[str, list[str]] = Field(description="Each swept knob and its values, in the order given.")
    seeds: int = Field(1, ge=1, description="Seeds per combination of knob values.")
    plan_file: str | None = Field(None, description="Plan-file sweeps: the plan to write the choice back to.")
    episode_id: str | None = Field(None, description="Episode sweeps: the episode under review.")
    episode_version: str | None = Field(None, description="Episode sweeps: the version at the gate when opened.")
    flow_run_id: str | None = None
    status: SweepStatus = SweepStatus.QUEUED
    takes: list[Take] = Field(default_factory=list)
    contact_sheet: str | None = Field(None, description="The grid of takes as one image, relative to the sweep folder.")
    comparison: str | None = Field(None, description="The takes side by side as one video (ffmpeg xstack).")
    chosen: str | None = Field(None, description="The take carried into the plan or the episode.")

    def take(self, take_id: str) -> Take:
        for take in self.takes:
            if take.id == take_id:
                return take
        raise InputError(f"sweep {self.sweep_id} has no take {take_id!r}; its takes are "
                         f"{', '.join(t.id for t in self.takes) or 'not made yet'}")


def sweeps_dir(data_dir: Path) -> Path:
    return Path(data_dir) / SWEEPS_DIR


def sweep_dir(data_dir: Path, sweep_id: str) -> Path:
    if not SWEEP_ID.match(sweep_id or ""):
        raise InputError(f"{sweep_id!r} is not a sweep id (letters, digits, '.', '_' and '-')")
    return sweeps_dir(data_dir) / sweep_id


def load_sweep(data_dir: Path, sweep_id: str) -> Sweep:
    path = sweep_dir(data_dir, sweep_id) / SWEEP_FILE
    try:
        return Sweep.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no sweep {sweep_id!r}; `reelgate variants list` shows them") from None
    except ValueError as exc:
        raise InputError(f"the sweep record {path} cannot be read ({exc}); make the sweep again") from None


def save_sweep(data_dir: Path, sweep: Sweep) -> Path:
    path = sweep_dir(data_dir, sweep.sweep_id) / SWEEP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(sweep.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n")
    return path


def list_sweeps(data_dir: Path, episode_id: str | None = None) -> list[Sweep]:
    """Every readable sweep (of one episode, when given), newest first."""
    found = []
    root = sweeps_dir(data_dir)
    for path in root.glob(f"*/{SWEEP_FILE}") if root.is_dir() else []:
        try:
            sweep = Sweep.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if episode_id is None or sweep.episode_id == episode_id:
            found.append(sweep)
    return sorted(found, key=lambda s: s.created_at, reverse=True)


# ---- carrying a chosen take into the episode under review ----------------------------------

def take_for_episode(data_dir: Path, ref: str, episode_id: str, version_id: str, shot: int) -> tuple[Sweep, Take, Path]:
    """The take `ref` (SWEEP/tNN) as it may replace shot `shot` of the version at the gate, with its video.

    The decision names the take; everything else comes from the sweep record on disk and is
    checked: the sweep was opened on this episode, on this very version and on this shot; the
    take was selected there, was not blocked (nor unchecked, nor failed), and its video is still
    the bytes that were checked. Raises InputError with the reason otherwise.
    """
    sweep_id, _, take_id = ref.partition("/")
    if not SWEEP_ID.match(sweep_id) or not TAKE_ID.match(take_id):
        raise InputError(f"{ref!r} is not a take (SWEEP/tNN)")
    sweep = load_sweep(data_dir, sweep_id)
    if sweep.episode_id != episode_id:
        raise InputError(f"sweep {sweep_id} was not opened on episode {episode_id}")
    if sweep.episode_version != version_id:
        raise InputError(f"sweep {sweep_id} was opened on version {sweep.episode_version}, but the gate holds "
                         f"{version_id}; open a sweep on this version")
    if sweep.shot != shot:
        raise InputError(f"sweep {sweep_id} varies shot {sweep.shot}, not shot {shot}")
    take = sweep.take(take_id)
    if take.blocked:
        raise InputError(f"take {take_id} cannot be used: "
                         + ("; ".join(take.safety_reasons) or take.error or "it was blocked or never checked"))
    if take.state != TakeState.SELECTED:
        raise InputError(f"take {take_id} is {take.state.value}, not selected; select it first")
    folder = sweep_dir(data_dir, sweep_id).resolve()
    video = (folder / (take.video or "")).resolve()
    if not take.video or not video.is_relative_to(folder) or not video.is_file():
        raise InputError(f"the video of take {take_id} is missing; make the sweep again")
    if not take.video_sha256 or file_sha256(video) != take.video_sha256:
        raise InputError(f"the video of take {take_id} changed on disk after it was checked; make the sweep again")
    return sweep, take, video


def mark_carried(data_dir: Path, sweep_id: str, take_id: str) -> None:
    """Record that the take went into the episode (the episode flow calls this once it is in).

    A sweep removed since is no reason to stop the episode: the attempt record keeps the take.
    """
    try:
        sweep = load_sweep(data_dir, sweep_id)
    except InputError:
        return
    if sweep.chosen != take_id or sweep.status != SweepStatus.CHOSEN:
        save_sweep(data_dir, sweep.model_copy(update={"chosen": take_id, "status": SweepStatus.CHOSEN}))


class TakeCheck(BaseModel):
    """What the review gate found about a chosen take, fixed once (a resumed run replays this, not the disk)."""

    problem: str | None = Field(None, description="Why the take cannot be used; None: it can.")
    spec: ShotSpec | None = None
    video: Path | None = Field(None, description="The take's checked video in the sweep folder.")
    video_sha256: str = ""


def check_take(data_dir: Path, ref: str, episode_id: str, version_id: str, shot: int) -> TakeCheck:
    """`take_for_episode` as a result: the problem, or the take's spec and the bytes to carry in."""
    try:
        _, take, video = take_for_episode(data_dir, ref, episode_id, version_id, shot)
    except InputError as exc:
        return TakeCheck(problem=str(exc))
    return TakeCheck(spec=take.spec, video=video, video_sha256=take.video_sha256)
