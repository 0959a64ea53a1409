"""What a frame-level safety check found in one video: findings, decision, reasons."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from reelgate.records import Action, Verdict


class Finding(BaseModel):
    """One thing one check saw in one sampled frame."""

    time_s: float = Field(description="Time of the frame in the video, seconds.")
    check: str = Field(description="Which check saw it: nudity, face, ...")
    label: str = Field(description="What was seen, e.g. FEMALE_BREAST_EXPOSED or face.")
    score: float = Field(description="The detector's confidence or similarity.")
    action: Action
    box: tuple[int, int, int, int] | None = Field(None, description="(x1, y1, x2, y2) in the sampled frame's pixels.")
    threshold: float | None = Field(None, description="The policy threshold the score was compared with.")
    thumbnail: Path | None = Field(None, description="JPEG of the frame with the box outlined (blurred for blocked nudity).")

    def reason(self) -> str:
        against = f" (threshold {self.threshold:.2f})" if self.threshold is not None else ""
        return f"{self.check}: {self.label} {self.score:.2f}{against} at {self.time_s:.2f} s"


class SafetyReport(BaseModel):
    """The frame-level safety result for one video (a shot or a whole episode)."""

    shot_index: int | None = None
    action: Action = Action.ALLOW
    reasons: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    unavailable: list[str] = Field(
        default_factory=list, description="Checks that could not run, each with why ('nudity: ...')."
    )
    notes: list[str] = Field(default_factory=list, description="What a check could not look at and why it is fine (no gallery).")
    frames_checked: int = 0
    faces: int = Field(0, description="Face detections summed over the sampled frames.")
    contact_sheet: Path | None = None
    findings_sheet: Path | None = Field(None, description="Thumbnails of the findings that acted, captioned.")
    seconds_taken: float = 0.0

    def verdict(self) -> Verdict:
        return Verdict(action=self.action, reasons=list(self.reasons))

    def table_rows(self) -> list[dict]:
        """One row per finding, for a table artifact or a JSON report."""
        return [
            {"time_s": round(f.time_s, 2), "check": f.check, "label": f.label, "score": round(f.score, 3),
             "threshold": None if f.threshold is None else round(f.threshold, 3), "action": f.action.value,
             "thumbnail": f.thumbnail.name if f.thumbnail else ""}
            for f in self.findings
        ]

    def to_markdown(self) -> str:
        """A compact summary for a Prefect artifact or a review page."""
        title = "Safety" if self.shot_index is None else f"Safety, shot {self.shot_index + 1}"
        lines = [
            f"### {title}: **{self.action.value.upper()}**",
            "",
            f"{self.frames_checked} frames checked, {self.faces} face detections, {self.seconds_taken:.1f} s.",
        ]
        if self.reasons:
            lines += ["", "Reasons:", *[f"- {r}" for r in self.reasons]]
        if self.unavailable:
            lines += ["", "Checks that could not run:", *[f"- {u}" for u in self.unavailable]]
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        if self.findings:
            lines += ["", "| time (s) | check | label | score | threshold | action |", "|---:|---|---|---:|---:|---|"]
            lines += [
                f"| {f.time_s:.2f} | {f.check} | {f.label} | {f.score:.2f} | "
                f"{'' if f.threshold is None else f'{f.threshold:.2f}'} | {f.action.value} |"
                for f in self.findings
            ]
        if self.contact_sheet is not None:
            lines += ["", f"Contact sheet: `{self.contact_sheet}`"]
        if self.findings_sheet is not None:
            lines += [f"Findings (blocked nudity blurred): `{self.findings_sheet}`"]
        return "\n".join(lines) + "\n"
