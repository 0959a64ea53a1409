"""The generator interface, the backend registry, and the per-process generator cache.

A backend is a class with a `name`, a cheap `preflight(settings)` that refuses unusable
settings before any work, and `generate(shot, ...)`. Backends are named in
`reelgate.registry.GENERATORS` as "module:Class", one module per family, so that heavy imports
(torch, diffusers) happen only when a backend is actually used.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Protocol

from reelgate.errors import ConfigError
from reelgate.records import GeneratedShot, Refusal, ShotSpec
from reelgate.registry import GENERATORS
from reelgate.settings import GenerationSettings


ProgressFn = Callable[[int, int], None]
"""Called as progress(done, total) while a shot renders (denoising steps, or frames)."""


class Generator(Protocol):
    """Turns one planned shot into a video file."""

    name: ClassVar[str]
    uses_gpu: ClassVar[bool]
    """Whether shots hold a GPU while they render (serialised by the GPU concurrency limit)."""

    def __init__(self, settings: GenerationSettings) -> None: ...

    @classmethod
    def preflight(cls, settings: GenerationSettings) -> None:
        """Refuse settings this backend cannot use, cheaply and before any other work.

        Raises ModelNotFoundError or ConfigError saying what to change.
        """
        ...

    def generate(
        self,
        shot: ShotSpec,
        *,
        seed: int,
        attempt: int,
        out_path: Path,
        progress: ProgressFn | None = None,
    ) -> GeneratedShot | Refusal:
        """Render `shot` with `seed` into an MP4 at `out_path` and describe what was made.

        A provider that declines the content returns a Refusal (a result, never retried).
        """
        ...


BACKENDS: dict[str, str] = GENERATORS.targets
"""name -> "module:Class" of every generator (the live table of reelgate.registry.GENERATORS)."""

_cache: dict[str, Generator] = {}
_cache_lock = threading.Lock()


def register_backend(name: str, target: str) -> None:
    """Register (or replace) a backend: `target` is "module:Class"."""
    GENERATORS.register(name, target)


def _load_class(name: str) -> type:
    """The generator class `name` stands for; a "module:Class" name (worker settings only) is its own target."""
    return GENERATORS.get(name)


def get_generator(settings: GenerationSettings) -> Generator:
    """The generator for `settings`, created once per process and reused across shots."""
    key = settings.model_dump_json()
    with _cache_lock:
        if key not in _cache:
            cls = _load_class(settings.backend)
            # One pipeline in memory at a time: a second Wan would not fit beside the first.
            _release_locked()
            _cache[key] = cls(settings)
        return _cache[key]


def _release_locked() -> None:
    _cache.clear()
    if "torch" in sys.modules:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def release_generators() -> None:
    """Drop cached generators and free their (GPU) memory, e.g. before waiting for review."""
    with _cache_lock:
        _release_locked()


def uses_gpu(settings: GenerationSettings) -> bool:
    """Whether the configured backend renders on a GPU (imports the backend module, not torch)."""
    return bool(getattr(_load_class(settings.backend), "uses_gpu", False))


def check_backend(settings: GenerationSettings) -> None:
    """Cheap pre-flight check of the generation settings, run before any other work.

    Raises UnknownBackendError, ModelNotFoundError or ConfigError with what to change.
    """
    cls = _load_class(settings.backend)
    preflight = getattr(cls, "preflight", None)
    if preflight is not None:
        preflight(settings)


# --- validation helpers shared by the diffusion families ---------------------------------

def nearest_multiples(value: int, multiple: int) -> tuple[int, int]:
    """The multiples of `multiple` just below and just above `value` (never below `multiple`)."""
    below = value // multiple * multiple
    return max(multiple, below), below + multiple


def check_size(width: int, height: int, multiple: int, who: str) -> None:
    """Raise ConfigError if the frame size does not tile by `multiple`, naming the nearest valid values."""
    problems = []
    for field, value in (("width", width), ("height", height)):
        if value % multiple:
            lo, hi = nearest_multiples(value, multiple)
            problems.append(
                f"generation.{field}={value} is not divisible by {multiple}; "
                f"use {lo} or {hi} (REELGATE_GENERATION__{field.upper()})"
            )
    if problems:
        raise ConfigError(f"{who} needs frame sizes in multiples of {multiple}: " + "; ".join(problems))


def frames_for(duration_s: float, fps: float, step: int) -> int:
    """The frame count nearest `duration_s * fps` of the form k*step + 1 (Wan: 4k+1), at least one step."""
    k = round((duration_s * fps - 1) / step)
    return max(step + 1, step * k + 1)


def check_frame_count(num_frames: int, step: int, who: str) -> None:
    """Raise ConfigError unless `num_frames` is k*step + 1, naming the nearest valid counts."""
    if (num_frames - 1) % step:
        lo = (num_frames - 1) // step * step + 1
        raise ConfigError(
            f"{who} needs a frame count of the form {step}k+1; generation.num_frames={num_frames} is not: "
            f"use {max(lo, step + 1)} or {lo + step} (REELGATE_GENERATION__NUM_FRAMES), or leave it unset "
            "to follow each shot's duration"
        )


def find_local_model(model: str, revision: str | None = None) -> Path | None:
    """The local folder holding `model`: the folder itself, or its snapshot in the Hugging Face cache."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "model_index.json", revision=revision)
    except Exception:  # not a valid repo id (e.g. a missing path): not in the cache either
        return None
    return Path(cached).parent if isinstance(cached, str) else None


def snapshot_revision(folder: Path) -> str | None:
    """The hub commit of a Hugging Face cache snapshot folder (…/snapshots/<commit>), if it is one."""
    return folder.name if folder.parent.name == "snapshots" and len(folder.name) == 40 else None
