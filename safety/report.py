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
    score: float = Field(description="The detector's confidence, 0..1.")
    action: Action
    box: tuple[int, int, int, int] | None = Field(None, description="(x1, y1, x2, y2) in the sampled frame's pixels.")

    def reason(self) -> str:
        return f"{self.check}: {self.label} {self.score:.2f} at {self.time_s:.2f} s"


class SafetyReport(BaseModel):
    """The frame-level safety result for one video (a shot or a whole episode)."""

    shot_index: int | None = None
    action: Action = Action.ALLOW
    reasons: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    unavailable: list[str] = Field(
        default_factory=list, description="Checks that could not run, each with why ('nudity: ...')."
    )
    frames_checked: int = 0
    faces: int = Field(0, description="Face detections summed over the sampled frames.")
    contact_sheet: Path | None = None
    seconds_taken: float = 0.0

    def verdict(self) -> Verdict:
        return Verdict(action=self.action, reasons=list(self.reasons))

    def to_markdown(self) -> str:
        """A compact summary for a Prefect artifact or a review page."""
        title = "Safety" if self.shot_index is None else f"Safety, shot {self.shot_index}"
        lines = [
            f"### {title}: **{self.action.value.upper()}**",
            "",
            f"{self.frames_checked} frames checked, {self.faces} face detections, {self.seconds_taken:.1f} s.",
        ]
        if self.reasons:
            lines += ["", "Reasons:", *[f"- {r}" for r in self.reasons]]
        if self.unavailable:
            lines += ["", "Checks that could not run:", *[f"- {u}" for u in self.unavailable]]
        if self.findings:
            lines += ["", "| time (s) | check | label | score | action |", "|---:|---|---|---:|---|"]
            lines += [
                f"| {f.time_s:.2f} | {f.check} | {f.label} | {f.score:.2f} | {f.action.value} |"
                for f in self.findings
            ]
        if self.contact_sheet is not None:
            lines += ["", f"Contact sheet: `{self.contact_sheet}`"]
        return "\n".join(lines) + "\n"
