"""The generator interface, the backend registry, and the per-process generator cache.

A backend is a class with a `name` and `generate(shot, ...) -> GeneratedShot`, named in
`BACKENDS` as "module:Class" so that heavy imports (torch, diffusers) happen only when a
backend is actually used.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from reelgate.errors import ConfigError, ModelNotFoundError, UnknownBackendError
from reelgate.records import GeneratedShot, ShotSpec
from reelgate.settings import GenerationSettings


ProgressFn = Callable[[int, int], None]
"""Called as progress(done, total) while a shot renders."""


class Generator(Protocol):
    """Turns one planned shot into a video file."""

    name: str

    def __init__(self, settings: GenerationSettings) -> None: ...

    def generate(
        self,
        shot: ShotSpec,
        *,
        seed: int,
        attempt: int,
        out_path: Path,
        progress: ProgressFn | None = None,
    ) -> GeneratedShot:
        """Render `shot` with `seed` into an MP4 at `out_path` and describe what was made."""
        ...


BACKENDS: dict[str, str] = {
    "animatic": "generation.animatic:AnimaticGenerator",
    "wan": "generation.wan:WanGenerator",
}

# Wan's VAE downsamples by 8 and its transformer patches by 2: frames must tile by 16.
WAN_SIZE_MULTIPLE = 16

_cache: dict[str, Generator] = {}
_cache_lock = threading.Lock()


def register_backend(name: str, target: str) -> None:
    """Register (or replace) a backend: `target` is "module:Class"."""
    if ":" not in target:
        raise ConfigError(f"backend target must look like 'module:Class', got {target!r}")
    BACKENDS[name] = target


def _target(name: str) -> str:
    """"module:Class" for a registered name; a "module:Class" name is its own target."""
    if name in BACKENDS:
        return BACKENDS[name]
    if ":" in name:
        return name
    raise UnknownBackendError("generator", name, list(BACKENDS))


def _load_class(name: str) -> type:
    module_name, class_name = _target(name).split(":", 1)
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"generator backend {name!r} cannot be imported ({exc}); known: {', '.join(BACKENDS)}") from exc


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


def nearest_multiples(value: int, multiple: int) -> tuple[int, int]:
    """The multiples of `multiple` just below and just above `value` (never below `multiple`)."""
    below = value // multiple * multiple
    return max(multiple, below), below + multiple


def check_wan_size(width: int, height: int, multiple: int = WAN_SIZE_MULTIPLE) -> None:
    """Raise ConfigError if the frame size does not tile by `multiple`, naming valid values."""
    problems = []
    for field, value in (("width", width), ("height", height)):
        if value % multiple:
            lo, hi = nearest_multiples(value, multiple)
            problems.append(
                f"generation.{field}={value} is not divisible by {multiple}; "
                f"use {lo} or {hi} (REELGATE_GENERATION__{field.upper()})"
            )
    if problems:
        raise ConfigError("the wan backend needs frame sizes in multiples of %d: %s" % (multiple, "; ".join(problems)))


def find_local_model(model: str) -> Path | None:
    """The local folder holding `model`: the folder itself, or its snapshot in the Hugging Face cache."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "model_index.json")
    except Exception:  # not a valid repo id (e.g. a missing path): not in the cache either
        return None
    return Path(cached).parent if isinstance(cached, str) else None


def check_backend(settings: GenerationSettings) -> None:
    """Cheap pre-flight check of the generation settings, run before any other work.

    Raises UnknownBackendError, ModelNotFoundError or ConfigError with what to change.
    """
    _target(settings.backend)
    if settings.backend != "wan":
        return
    how = (
        "set REELGATE_GENERATION__MODEL to a local diffusers folder (e.g. a downloaded "
        "Wan2.1-T2V-1.3B-Diffusers), or pre-download the model id into the Hugging Face cache "
        "(huggingface-cli download <id>) on a machine with hub access"
    )
    if not settings.model:
        raise ModelNotFoundError(f"the wan backend needs a model and generation.model is unset; {how}")
    folder = find_local_model(settings.model)
    if folder is None:
        raise ModelNotFoundError(
            f"wan model {settings.model!r} is neither an existing local folder nor in the local "
            f"Hugging Face cache (there is no hub access here); {how}"
        )
    if not (folder / "model_index.json").is_file():
        raise ModelNotFoundError(
            f"wan model folder {folder} has no model_index.json, so it is not a diffusers pipeline; {how}"
        )
    check_wan_size(settings.width, settings.height)
