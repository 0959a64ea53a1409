"""What editors look at first: the episode's contact sheet and a one-page summary."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from editorial.manifest import ShotRecord
from reelgate.contact_sheet import make_contact_sheet
from reelgate.media import read_frames, video_info
from reelgate.records import Action


def episode_contact_sheet(
    video: Path, out: Path, flags: list[tuple[float, str]], *, frames: int = 12, title: str | None = None
) -> Path:
    """A grid of `frames` evenly spaced frames of `video`; frames near a flagged time are marked.

    flags: (time in the episode in seconds, short label) for findings reviewers must see.
    """
    _, _, _, duration = video_info(video)
    step = max(duration / frames, 1e-3)
    picked = [(i * step, frame) for i, frame in enumerate(read_frames(video, fps=1.0 / step)) if i < frames]
    marks: dict[int, str] = {}
    for t, label in flags:
        nearest = min(range(len(picked)), key=lambda i: abs(picked[i][0] - t), default=None)
        if nearest is not None:
            marks[nearest] = (marks[nearest] + "; " if nearest in marks else "") + label
    return make_contact_sheet(picked, out, marks=marks, columns=4, thumb_width=320, title=title)


def _generation_cell(shot: dict) -> str:
    """backend, seed, size, time and peak memory of one generated attempt."""
    if not shot:
        return "-"
    memory = f", {shot['peak_memory_mb']:.0f} MiB" if shot.get("peak_memory_mb") else ""
    return (
        f"{shot['backend']} seed {shot['seed']}, {shot['width']}x{shot['height']}x{shot['frames']}, "
        f"{shot['seconds_taken']:.1f} s{memory}"
    )


@dataclass(frozen=True)
class EpisodeFlag:
    """A safety finding that needs a look, or a quality flag, of a kept shot, in episode time."""

    time_s: float
    shot: int  # 1-based, as editors count
    kind: str  # safety or quality
    what: str  # safety: "check: label"; quality: the failing metrics
    score: float | None  # the safety finding's score; None for quality flags
    action: str


def episode_flags(shots: list[ShotRecord]) -> list[EpisodeFlag]:
    """Flags of the kept attempts, moved from shot time to episode time by each shot's start_s.

    A shot without a start (a manifest written before assembly) is placed at 0 s.
    """
    flags: list[EpisodeFlag] = []
    for record in shots:
        start = record.start_s or 0.0
        for f in (record.safety or {}).get("findings", []):
            if f.get("action") in (Action.REVIEW.value, Action.BLOCK.value):
                flags.append(EpisodeFlag(start + float(f["time_s"]), record.index + 1, "safety",
                                         f"{f.get('check', '')}: {f.get('label', '')}", float(f.get("score", 0.0)),
                                         f["action"]))
        quality = record.attempts[record.kept_attempt].quality if record.attempts else {}
        for t in quality.get("flagged_times", []):
            flags.append(EpisodeFlag(start + float(t), record.index + 1, "quality",
                                     "; ".join(quality.get("failing", [])), None, Action.REVIEW.value))
    return sorted(flags, key=lambda f: f.time_s)


def _md_text(text: str) -> str:
    """User text shown as text in Markdown: HTML escaped, and no Markdown links or tables made of it."""
    escaped = html.escape(text, quote=False)
    return re.sub(r"([\\`*_\[\]|<>#])", r"\\\1", escaped).replace("\n", " ")


def summary_markdown(manifest_dict: dict, review_url: str | None = None) -> str:
    """The run's summary artifact: status, verdict, where the files are, and the review page link."""
    lines = [
        f"## Episode `{manifest_dict['episode_id']}`: {manifest_dict['status']}",
        "",
        f"**Prompt:** {_md_text(manifest_dict['request']['prompt'][:500])}",
        "",
    ]
    if review_url:
        lines += [f"**Review:** [open this episode on the review page]({review_url})", ""]
    version = manifest_dict.get("version")
    if version:
        lines += [f"**Version at the gate:** `{version['id']}` (review round {version['round']}, video sha256 "
                  f"`{version['video_sha256'][:16]}`); a decision names it, any other version is refused.", ""]
    lines += [f"**Verdict:** {manifest_dict['verdict']['action']}"]
    lines += [f"- {_md_text(r)}" for r in manifest_dict["verdict"]["reasons"]]
    lines += ["", "| shot | attempts | kept | generation | quality | safety |", "|---|---|---|---|---|---|"]
    for shot in manifest_dict.get("shots", []):
        kept = shot["attempts"][shot["kept_attempt"]] if shot["attempts"] else {}
        quality = kept.get("quality", {})
        safety = shot.get("safety") or {}
        lines.append(
            f"| {shot['index'] + 1} | {len(shot['attempts'])} | {shot['kept_attempt'] + 1} "
            f"| {_generation_cell(kept.get('shot') or {})} "
            f"| {'pass' if quality.get('passed') else 'FAIL'} {quality.get('score', 0):.2f} "
            f"| {safety.get('action', '?')} |"
        )
    return "\n".join(lines)
