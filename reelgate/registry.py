"""Every pluggable kind of backend, as one small pattern: a name maps to a lazy "module:attr".

Importing this module imports nothing but the error tree: the tables are strings, and
`Registry.get` imports a backend's module only when that backend is asked for, so naming
`wan` never imports torch or diffusers until a shot is rendered with it. One file per family
(`generation/wan.py`, `postprocess/tts.py`, ...) holds the code; this module holds the names,
so that settings validators in `reelgate.settings` (which may not import the families) read
the same list the families dispatch on.

An unknown name raises `UnknownBackendError` naming the kind, the setting and every known
name, e.g. "unknown face embedder backend 'arcface' (safety.face_embedder); known face
embedder backends: dlib, facenet".

Who may choose a backend (issue 10, `reelgate.settings.WORKER_ONLY` and `RunOptions`):
- a run parameter may name a registered *generator* only (`RunOptions.backend`), never a
  "module:Class" path: that would import code the worker did not choose;
- a "module:Class" path is accepted where `allow_paths` is on (the generator only), and only
  from the worker's own environment or settings file;
- the rewriter (`planning.rewriter.kind`) and the notifiers send secrets, and the `command`
  and `http` voices run a program or send a key: their settings are worker-only.

Adding a backend: write the family's file, then add its name here, e.g.

    GENERATORS.register("ltx", "generation.ltx:LtxGenerator")   # at run time, or
    # add "ltx": "generation.ltx:LtxGenerator" to the GENERATORS table below

and `reelgate.settings` accepts the name wherever it validates that kind.
"""

from __future__ import annotations

import importlib
from typing import Any, Generic, TypeVar

from reelgate.errors import ConfigError, UnknownBackendError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names of one kind of backend, each mapped to a lazy "module:attr" target.

    kind: what a backend of this kind is, for messages ("generator", "voice").
    setting: the setting that names one ("generation.backend"), for messages.
    allow_paths: whether a "module:attr" string is accepted where a name is expected.
    """

    def __init__(self, kind: str, setting: str, targets: dict[str, str], *, allow_paths: bool = False) -> None:
        self.kind, self.setting, self.allow_paths = kind, setting, allow_paths
        self.targets: dict[str, str] = {}
        for name, target in targets.items():
            self.register(name, target)

    def register(self, name: str, target: str) -> None:
        """Add (or replace) `name`; `target` is "module:attr"."""
        if ":" not in target:
            raise ConfigError(f"a {self.kind} target must look like 'module:attr', got {target!r}")
        self.targets[name] = target

    def names(self) -> tuple[str, ...]:
        """The registered names, in the order they were registered."""
        return tuple(self.targets)

    def __contains__(self, name: object) -> bool:
        return name in self.targets

    def unknown(self, name: str) -> UnknownBackendError:
        """The error for a name that is not registered: it lists the known ones."""
        return UnknownBackendError(self.kind, name, list(self.targets), self.setting)

    def check(self, name: str) -> str:
        """`name` if it is registered (or, where allowed, a "module:attr" path); else UnknownBackendError."""
        if name in self.targets or (self.allow_paths and ":" in name):
            return name
        raise self.unknown(name)

    def target(self, name: str) -> str:
        """The "module:attr" of `name` (a path where allowed is its own target)."""
        return self.targets.get(self.check(name), name)

    def get(self, name: str) -> T:
        """Import and return what `name` stands for (a class or a function).

        Raises UnknownBackendError for an unknown name, ConfigError when its module or
        attribute cannot be imported (a missing optional dependency, a typo in a path).
        """
        module_name, attr = self.target(name).split(":", 1)
        try:
            found: Any = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"{self.kind} backend {name!r} cannot be imported ({exc}); known: {', '.join(self.targets)}"
            ) from exc
        return found


GENERATORS: Registry[Any] = Registry("generator", "generation.backend", {
    "animatic": "generation.animatic:AnimaticGenerator",
    "wan": "generation.wan:WanGenerator",
    "diffusers": "generation.diffusers_video:DiffusersGenerator",
    "dashscope": "generation.dashscope:DashScopeGenerator",
}, allow_paths=True)
"""Shot renderers (generation.base.Generator); the class is built from GenerationSettings."""

VOICES: Registry[Any] = Registry("voice", "post.voice_en / post.voice_zh", {
    "piper": "postprocess.tts:PiperVoice",
    "espeak": "postprocess.tts:EspeakVoice",
    "espeak-pinyin": "postprocess.tts:EspeakPinyinVoice",
    "command": "postprocess.tts:CommandVoice",
    "http": "postprocess.tts:HttpVoice",
})
"""Narration voices (postprocess.tts.Voice); `command` and `http` are the user's own (worker-only settings)."""

FACE_EMBEDDERS: Registry[Any] = Registry("face embedder", "safety.face_embedder", {
    "dlib": "safety.likeness:DlibEmbedder",
    "facenet": "safety.likeness:FacenetEmbedder",
})
"""Face embedders (safety.likeness.FaceEmbedder); each class has `from_settings(SafetySettings)`."""

FRAME_CLASSIFIERS: Registry[Any] = Registry("frame classifier", "", {
    "nudity": "safety.nudity:detector_from_settings",
    "concepts": "safety.concepts:concept_screen_from_settings",
    "faces": "safety.faces:detector_from_settings",
    "likeness": "safety.likeness:make_embedder",
})
"""What each frame check of safety.check runs on the sampled frames: check name -> builder(SafetySettings)."""

ENHANCERS: Registry[Any] = Registry("enhancer", "", {
    # Chain order (see postprocess/enhance/chain.py for why).
    "clean": "postprocess.enhance.clean:plan",
    "match": "postprocess.enhance.match:plan",
    "grade": "postprocess.enhance.grade:plan",
    "interpolate": "postprocess.enhance.interpolate:plan",
    "upscale": "postprocess.enhance.upscale:plan",
    "aspect": "postprocess.enhance.aspect:plan",
})
"""Enhancement steps: step name -> plan(step settings, VideoShape, StepContext) -> StepPlan | None."""

UPSCALERS: Registry[Any] = Registry("upscaler", "REELGATE_ENHANCE__UPSCALE__BACKEND", {
    "lanczos": "postprocess.enhance.upscale:plan_lanczos",
    "realesrgan": "postprocess.enhance.upscale:plan_realesrgan",
})
"""Backends of the upscale step: name -> plan(settings, shape, size) -> StepPlan."""

INTERPOLATORS: Registry[Any] = Registry("interpolation", "REELGATE_ENHANCE__INTERPOLATE__BACKEND", {
    "mci": "postprocess.enhance.interpolate:plan_mci",
    "blend": "postprocess.enhance.interpolate:plan_blend",
    "flow": "postprocess.enhance.interpolate:plan_flow",
    "rife": "postprocess.enhance.interpolate:plan_rife",
})
"""Backends of the interpolate step: name -> plan(settings, shape, out, cuts, record) -> StepPlan."""

NOTIFIERS: Registry[Any] = Registry("notifier", "notify", {
    "webhook": "editorial.notify:send_webhook",
    "apprise": "editorial.notify:send_apprise",
})
"""Notification channels: name -> send(event, settings, deadline) -> delivered. Worker-only settings."""

REWRITERS: Registry[Any] = Registry("rewriter", "planning.rewriter.kind", {
    "rules": "prompts.rewriter:rules_only",
    "openai": "prompts.rewriter:rewrite_chat",
    "dashscope": "prompts.rewriter:rewrite_chat",  # Model Studio's OpenAI-compatible mode
})
"""Story rewriters: kind -> rewrite(text, language, settings, key, limit, screen, client) -> shots.
`rules` is the rewriter that is off (the rule-based planner plans). Worker-only setting."""

KINDS: tuple[Registry[Any], ...] = (
    GENERATORS, VOICES, FACE_EMBEDDERS, FRAME_CLASSIFIERS, ENHANCERS, UPSCALERS, INTERPOLATORS, NOTIFIERS, REWRITERS,
)
"""Every registry, for tests and listings."""
