"""Domain records shared between stages: small, typed, JSON-serialisable.

Stages pass these (and file paths) between each other, never frames or tensors.
Stage-specific reports live beside their stage (e.g. `safety.report`).
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, Field, field_validator


class Action(str, Enum):
    """What a check decided, ordered from mildest to strictest."""

    ALLOW = "allow"
    WARN = "warn"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @staticmethod
    def strictest(actions: "list[Action]") -> "Action":
        return max(actions, key=lambda a: a.rank, default=Action.ALLOW)


_RANK = {Action.ALLOW: 0, Action.WARN: 1, Action.REVIEW: 2, Action.BLOCK: 3}


class Verdict(BaseModel):
    """A content decision with its reasons. A result, never an exception."""

    action: Action = Action.ALLOW
    reasons: list[str] = Field(default_factory=list)

    @classmethod
    def combine(cls, verdicts: "list[Verdict]") -> "Verdict":
        return cls(
            action=Action.strictest([v.action for v in verdicts]),
            # The same reason from several shots (a check unavailable everywhere) is said once.
            reasons=list(dict.fromkeys(r for v in verdicts for r in v.reasons)),
        )


# The planner's vocabulary (prompts/ reads it from text; generation/ and quality/ draw and
# check it). Values are stable identifiers: plan files, the rewriter and the gold set use them.
CameraMove = Literal[
    "static", "push", "pull", "pan_left", "pan_right", "tilt_up", "tilt_down",
    "track", "handheld", "orbit", "crane_up", "crane_down", "zoom_in", "zoom_out",
]
ShotSize = Literal["extreme_wide", "wide", "medium", "close_up", "extreme_close_up"]
Angle = Literal["eye_level", "low", "high", "birds_eye"]
Weather = Literal["clear", "rain", "snow", "fog", "storm", "wind"]
TimeOfDay = Literal["dawn", "day", "dusk", "night"]
Mood = Literal["calm", "joyful", "mysterious", "tense", "sad", "epic"]

CAMERA_MOVES: tuple[str, ...] = get_args(CameraMove)
SHOT_SIZES: tuple[str, ...] = get_args(ShotSize)
ANGLES: tuple[str, ...] = get_args(Angle)
WEATHERS: tuple[str, ...] = get_args(Weather)
TIMES_OF_DAY: tuple[str, ...] = get_args(TimeOfDay)
MOODS: tuple[str, ...] = get_args(Mood)


# A keyword's strength: how strongly a word of the shot weighs. 1 is neutral; 0 leaves the
# thing out where a renderer can (no rain at all); 3 is the most any renderer is asked for.
WEIGHT_MIN, WEIGHT_MAX = 0.0, 3.0
WEIGHT_WORD = re.compile(r"^[^\W\d_][\w-]{0,39}$")
# The common prompt syntax for a weight: "(storm:1.5)". The word is one word (letters,
# digits, '-', '_'; CJK too); anything else in parentheses is left as written.
PROMPT_WEIGHT = re.compile(r"\((?P<word>[^\W\d_][\w-]{0,39}):(?P<weight>[+-]?[0-9]*\.?[0-9]+)\)")
# Words the offline animatic honours: the weather's intensity, and the speed of subject and camera.
WEATHER_WEIGHT_WORDS = ("rain", "snow", "storm", "fog", "wind")
MOTION_WEIGHT_WORDS = ("speed", "motion")


def weight_problem(word: str, weight: float) -> str | None:
    """Why (word, weight) is not a usable weight, or None."""
    if not WEIGHT_WORD.match(word or ""):
        return f"{word!r} is not a single word (letters, digits, '-' or '_', at most 40)"
    if not WEIGHT_MIN <= weight <= WEIGHT_MAX:  # also refuses nan
        return (f"the weight of {word!r} is {weight:g}; a weight is between {WEIGHT_MIN:g} and {WEIGHT_MAX:g} "
                "(1 is neutral, 0 leaves it out, 3 the strongest)")
    return None


def prompt_weights(prompt: str) -> dict[str, float]:
    """The weights written in a prompt as "(word:1.5)", by lower-case word (the last one wins)."""
    return {m["word"].lower(): float(m["weight"]) for m in PROMPT_WEIGHT.finditer(prompt)}


def plain_prompt(prompt: str) -> str:
    """The prompt with the weight syntax removed: "(storm:1.5)" reads "storm"."""
    return PROMPT_WEIGHT.sub(lambda m: m["word"], prompt)


def emphasis_words(word: str, weight: float) -> str:
    """A weight as plain words for a model that reads no weight syntax ("" when about neutral)."""
    if word in MOTION_WEIGHT_WORDS:
        return ("very slow motion" if weight < 0.5 else "slow motion" if weight < 0.8
                else "" if weight <= 1.25 else "fast motion" if weight <= 2 else "very fast motion")
    if weight == 0:
        return f"no {word}"
    return (f"a faint hint of {word}" if weight < 0.5 else f"light {word}" if weight < 0.8
            else "" if weight <= 1.25 else f"strong {word}" if weight <= 2 else f"overwhelming {word}, intense {word}")


class Expansion(BaseModel):
    """A keyword-library description added to a shot's prompt, and the word that asked for it."""

    trigger: str = Field(description="The word of the shot's text that chose this description.")
    text: str = Field(description="The description added to the prompt.")


class ShotSpec(BaseModel):
    """One shot of an episode's plan, as the generator receives it."""

    index: int = Field(description="0-based position in the episode.")
    text: str = Field(description="The story sentence this shot shows; also its narration and caption. Never a direction.")
    subject: str = Field("", description="Who or what the shot is about, as a phrase (a pronoun resolved to its antecedent).")
    action: str = Field("", description="What the subject does, as a phrase.")
    environment: str = Field("", description="Where it happens, as a phrase.")
    style: str = Field("", description="The look: the user's style directions first, the preset filling what they leave open.")
    camera: CameraMove = Field("static", description="Camera move: " + ", ".join(get_args(CameraMove)) + ".")
    shot_size: ShotSize = Field("wide", description="Framing: " + ", ".join(get_args(ShotSize)) + ".")
    angle: Angle = Field("eye_level", description="Camera angle: " + ", ".join(get_args(Angle)) + ".")
    time_of_day: TimeOfDay = Field("day", description="dawn, day, dusk or night: drives palette and sky.")
    weather: Weather = Field("clear", description="clear, rain, snow, fog, storm (thunder and lightning) or wind: drawn and checked.")
    mood: Mood = Field("calm", description="Mood keyword: " + ", ".join(get_args(Mood)) + ".")
    directions: list[str] = Field(
        default_factory=list,
        description="The user's directions (style, light, lens, camera, pacing) that govern this shot, in their words.",
    )
    expansions: list[Expansion] = Field(default_factory=list, description="Keyword-library descriptions in the prompt, with their triggers.")
    prompt: str = Field(description="The expanded prompt a diffusion model receives.")
    negative_prompt: str = Field("", description="Negative prompt of the shot (from the style preset); empty: the generation setting.")
    duration_s: float = Field(gt=0, description="Planned length of the shot in seconds.")
    seed: int = Field(ge=0, description="Base seed of the shot; attempt k uses a seed derived from it.")
    wants_motion: bool = Field(True, description="Whether the shot is meant to move (drives the frozen-shot check).")
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="How strongly a word of the shot weighs, word -> 0..3 (1 neutral), e.g. {'storm': 1.5}; the "
        "same meaning as '(storm:1.5)' in a written prompt, and this field wins over the prompt. The animatic "
        "scales the weather's intensity (rain, snow, storm, fog, wind) and the speed of subject and camera "
        "(speed, motion); model backends receive emphasis words (see each backend).",
    )

    @field_validator("weights")
    @classmethod
    def _bounded_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        for word, weight in weights.items():
            problem = weight_problem(word, weight)
            if problem:
                raise ValueError(problem)
        return {word.lower(): float(weight) for word, weight in weights.items()}

    def effective_weights(self) -> dict[str, float]:
        """Every weight of the shot: the prompt's "(word:w)" ones, then the weights field over them
        (prompt weights out of range are held to it: the plan file refuses them on loading)."""
        from_prompt = {w: min(max(v, WEIGHT_MIN), WEIGHT_MAX) for w, v in prompt_weights(self.prompt).items()}
        return {**from_prompt, **self.weights}

    def weight(self, *words: str) -> float:
        """The weight of the first of `words` the shot weighs (1.0, neutral, when none)."""
        weights = self.effective_weights()
        return next((weights[w] for w in words if w in weights), 1.0)

    def model_prompt(self) -> str:
        """The prompt a model that reads no weight syntax receives: the syntax removed, then each
        non-neutral weight as plain words ("strong storm", "slow motion")."""
        extra = [emphasis_words(w, v) for w, v in self.effective_weights().items()]
        return ", ".join([plain_prompt(self.prompt), *(e for e in extra if e)])


class ShotPlan(BaseModel):
    """An episode turned into shots sharing one style and one seed."""

    episode_id: str
    language: str
    style: str
    seed: int
    shots: list[ShotSpec]
    directions: list[str] = Field(
        default_factory=list, description="Directions that stand alone in the story and govern every shot."
    )
    planned_by: str = Field("rules", description="rules, or the rewriter kind (openai, dashscope) whose fields were used.")
    planner_note: str = Field("", description="Why the rewriter was not used, when one is set and the rules planned instead.")

    def screening_text(self) -> str:
        """Every text of the plan that reaches a model or a viewer: the style, and per shot its
        narration, structured fields, prompt and negative prompt (a model reads that too)."""
        parts = [self.style, *self.directions]
        for shot in self.shots:
            parts += [shot.text, shot.subject, shot.action, shot.environment, shot.style, shot.prompt,
                      shot.negative_prompt, *shot.directions, *(e.text for e in shot.expansions), *shot.weights]
        return "\n".join(dict.fromkeys(p for p in parts if p))  # each distinct text once


class GeneratedShot(BaseModel):
    """A video file a generator wrote, with the record of how it was made."""

    index: int
    attempt: int = 0
    path: Path
    backend: str
    model: str | None = None
    revision: str | None = Field(None, description="Model revision (hub commit) when known.")
    pipeline: str | None = Field(None, description="Pipeline class (diffusers) or provider task id (cloud).")
    seed: int
    steps: int | None = Field(None, description="Denoising steps (diffusion backends).")
    width: int
    height: int
    fps: float
    frames: int
    seconds_taken: float = Field(0.0, description="Wall time the generator spent.")
    peak_memory_mb: float | None = Field(
        None, description="Peak memory of the generation: CUDA memory allocated on GPU, process RSS on CPU."
    )
    device: str | None = Field(None, description="Where it ran: cuda, cpu, or the provider's name.")
    memory_savers: list[str] = Field(default_factory=list, description="Memory options in force (cpu_offload, vae_tiling...).")
    oom_retried: bool = Field(False, description="The first try ran out of memory and was retried with memory savers.")
    sha256: str | None = Field(None, description="sha256 of the file as written: a cached record whose file "
                               "changed or went is made again, and every check keys on it.")

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


class Refusal(BaseModel):
    """A generator declined the shot on content grounds (e.g. the cloud provider's moderation).

    A content decision, not a fault: it is recorded and never retried with another seed
    or a rewritten prompt.
    """

    index: int
    attempt: int = 0
    backend: str
    model: str | None = None
    code: str = Field(description="The provider's code, e.g. DataInspectionFailed.")
    message: str = Field("", description="The provider's message.")
    request_id: str | None = None

    def reason(self) -> str:
        return f"shot {self.index + 1}: {self.backend} refused the prompt ({self.code}: {self.message or 'no message'})"


class EpisodeRequest(BaseModel):
    """What an episode is asked to be: the prompt and the identity that seeds it."""

    prompt: str = Field(max_length=20000, description="The story or prompt, Chinese or English (at most 20000 characters).")
    episode_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description="Folder-safe id of the episode.")
    title: str = ""
    series: str | None = None
    language: str = Field("auto", description="zh, en or auto.")
    seed: int | None = Field(None, ge=0, description="Episode seed; default derived from the episode id.")
    voice: str | None = Field(None, description="The series' narration voice; default: post.voice_en / voice_zh.")
    speech_rate: float | None = Field(
        None, gt=0.3, lt=3.0, description="The series' narration speed; default: post.speech_rate."
    )
    music_mood: str | None = Field(
        None, description="The series' music mood; default: post.music_mood, else the first shot's mood."
    )
    plan: ShotPlan | None = Field(
        None, description="An edited shot plan (`reelgate plan --out`), used instead of planning from the prompt."
    )
    reviewers: list[str] = Field(
        default_factory=list, description="Who may decide at the review gate (a series' review.reviewers); "
        "empty: anyone holding a review token.",
    )

    def screening_text(self) -> str:
        """Everything a user wrote that reaches a model or a viewer: the prompt, the title, the
        series title (both go into the video's metadata and the feeds), and, with an edited
        plan, every shot's editable fields, negative prompts included. The screen reads it all."""
        parts = [self.prompt, self.title, self.series or ""]
        if self.plan is not None:
            parts.append(self.plan.screening_text())
        return "\n".join(p for p in parts if p)
