"""Text-to-video with any diffusers video pipeline: CogVideoX, LTX-Video, HunyuanVideo, Wan...

The pipeline class is the one the model folder's `model_index.json` names. Frame sizes and
frame counts are checked against the family's rules before anything is loaded (read from
the folder's configs), and again against the loaded pipeline. The pipeline is loaded once
per process (see `generation.base.get_generator`) and reused across shots. Wan 2.x has its
own subclass in `generation.wan`.

Memory options (CUDA): model CPU offload, group offloading, VAE tiling, and an opt-in cache
accelerator. An out-of-memory error is retried once with every saver on, then fails with a
message that says what to lower.

Weights (a keyword's strength: `ShotSpec.weights`, or "(storm:1.5)" in a written prompt):
diffusers video pipelines read no weight syntax (their text encoders, T5 and the like, would
see the brackets as words), so the pipeline receives `ShotSpec.model_prompt()`: the syntax
removed ("storm"), then each weight away from 1 as plain emphasis words ("strong storm",
"a faint hint of rain", "slow motion"). A weight of exactly 1 adds nothing.
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from generation.base import (
    ProgressFn,
    check_frame_count,
    check_size,
    find_local_model,
    frames_for,
    snapshot_revision,
)
from generation.memory import PeakMemory
from reelgate.errors import ConfigError, ModelNotFoundError, OutOfMemory
from reelgate.media import VideoWriter
from reelgate.records import GeneratedShot, ShotSpec
from reelgate.settings import GenerationSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Family:
    """What a pipeline family accepts."""

    size_multiple: int
    """Width and height must tile by this: the VAE's spatial downsampling times the patch size."""
    frame_step: int
    """Frame counts are k * frame_step + 1: the VAE's temporal compression."""


# Used when a folder's configs do not say; the loaded pipeline is checked again.
FAMILIES: dict[str, Family] = {
    "WanPipeline": Family(16, 4),
    "CogVideoXPipeline": Family(16, 4),
    "LTXPipeline": Family(32, 8),
    "HunyuanVideoPipeline": Family(16, 4),
    "MochiPipeline": Family(16, 6),
}
DEFAULT_FAMILY = Family(16, 4)

HOW_TO_PROVIDE = (
    "set REELGATE_GENERATION__MODEL to a local diffusers folder (one with model_index.json, e.g. a "
    "downloaded Wan2.1-T2V-1.3B-Diffusers), or pre-download the model id into the Hugging Face cache "
    "(`hf download <id>`) on a machine with hub access, or allow downloads with "
    "REELGATE_GENERATION__ALLOW_DOWNLOAD=true where the hub is reachable"
)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _spatial_patch(patch: Any) -> int:
    """The spatial part of a transformer's patch size: (t, h, w) for Wan, an int for most."""
    if isinstance(patch, (list, tuple)):
        return int(patch[-1])
    return int(patch or 1)


def folder_family(folder: Path, class_name: str) -> Family:
    """The family rules of a pipeline folder, refined by its VAE and transformer configs."""
    base = FAMILIES.get(class_name, DEFAULT_FAMILY)
    vae = _read_json(folder / "vae" / "config.json")
    transformer = _read_json(folder / "transformer" / "config.json")
    spatial = vae.get("scale_factor_spatial")
    temporal = vae.get("scale_factor_temporal")
    patch = transformer.get("patch_size")
    size_multiple = int(spatial) * _spatial_patch(patch) if spatial and patch is not None else base.size_multiple
    return Family(size_multiple, int(temporal) if temporal else base.frame_step)


def pipeline_family(pipe: Any) -> Family | None:
    """The family rules read off a loaded pipeline, where it exposes them."""
    spatial = getattr(pipe, "vae_scale_factor_spatial", None) or getattr(pipe, "vae_spatial_compression_ratio", None)
    temporal = getattr(pipe, "vae_scale_factor_temporal", None) or getattr(pipe, "vae_temporal_compression_ratio", None)
    transformer = getattr(pipe, "transformer", None) or getattr(pipe, "transformer_2", None)
    patch = getattr(getattr(transformer, "config", None), "patch_size", None)
    if not spatial or not temporal or patch is None:
        return None
    return Family(int(spatial) * _spatial_patch(patch), int(temporal))


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def with_memory_savers(settings: GenerationSettings, cuda: bool) -> GenerationSettings:
    """The settings with the next memory savers on: VAE tiling, then model offload (or finer offload)."""
    update: dict[str, Any] = {"vae_tiling": True}
    if cuda and settings.group_offload == "off":
        if settings.cpu_offload:
            update["group_offload"] = "leaf_level"
        else:
            update["cpu_offload"] = True
    return settings.model_copy(update=update)


class DiffusersGenerator:
    """Generates shots with the diffusers pipeline that `settings.model` names."""

    name: ClassVar[str] = "diffusers"
    uses_gpu: ClassVar[bool] = True
    pipeline_class: ClassVar[str | None] = None
    """Set by subclasses that accept one pipeline class only (Wan: WanPipeline)."""

    # --- before loading -----------------------------------------------------------------

    @classmethod
    def locate(cls, settings: GenerationSettings) -> Path | None:
        """The local model folder; None when it is not local but downloads are allowed."""
        if not settings.model:
            raise ModelNotFoundError(f"the {cls.name} backend needs a model and generation.model is unset; {HOW_TO_PROVIDE}")
        folder = find_local_model(settings.model, settings.revision)
        if folder is None:
            if settings.allow_download:
                return None
            raise ModelNotFoundError(
                f"{cls.name} model {settings.model!r} is neither an existing local folder nor in the local "
                f"Hugging Face cache, and downloads are off; {HOW_TO_PROVIDE}"
            )
        if not (folder / "model_index.json").is_file():
            raise ModelNotFoundError(
                f"model folder {folder} has no model_index.json, so it is not a diffusers pipeline; {HOW_TO_PROVIDE}"
            )
        return folder

    @classmethod
    def preflight(cls, settings: GenerationSettings) -> None:
        """Refuse a missing model, a wrong pipeline class, or sizes it cannot take, before any work."""
        folder = cls.locate(settings)
        if folder is None:
            return  # checked once the download has happened, before the first shot
        class_name = _read_json(folder / "model_index.json").get("_class_name", "")
        cls.check_pipeline(folder, class_name, settings)
        cls.check_shape(folder_family(folder, class_name), settings, f"{class_name} ({settings.model})")

    @classmethod
    def check_pipeline(cls, folder: Path, class_name: str, settings: GenerationSettings) -> None:
        if cls.pipeline_class and class_name != cls.pipeline_class:
            raise ConfigError(
                f"model {settings.model!r} is a {class_name or 'pipeline of unknown class'}, not a "
                f"{cls.pipeline_class}; use REELGATE_GENERATION__BACKEND=diffusers for other pipelines"
            )

    @staticmethod
    def check_shape(family: Family, settings: GenerationSettings, who: str) -> None:
        check_size(settings.width, settings.height, family.size_multiple, who)
        if settings.num_frames is not None:
            check_frame_count(settings.num_frames, family.frame_step, who)

    # --- loading ------------------------------------------------------------------------

    def __init__(self, settings: GenerationSettings) -> None:
        import torch

        self.cuda = torch.cuda.is_available()
        self.device = "cuda" if self.cuda else "cpu"
        self.folder = type(self).locate(settings)
        # Shots from parallel task threads would interleave on one pipeline: run them in turn.
        self._lock = threading.Lock()
        self.settings = settings
        self.pipe = self._load(settings)

    def torch_dtype(self, settings: GenerationSettings):
        import torch

        if settings.dtype == "auto":
            return torch.bfloat16 if self.cuda else torch.float32
        return getattr(torch, settings.dtype)

    def load_dtype(self, settings: GenerationSettings) -> Any:
        """The `dtype` argument of from_pretrained (Wan keeps its VAE in float32)."""
        return self.torch_dtype(settings)

    def _load(self, settings: GenerationSettings) -> Any:
        import diffusers
        import torch

        source = str(self.folder) if self.folder is not None else settings.model
        class_name = _read_json(self.folder / "model_index.json").get("_class_name", "") if self.folder else ""
        pipeline_cls = getattr(diffusers, class_name, None) if class_name else diffusers.DiffusionPipeline
        if pipeline_cls is None:
            raise ConfigError(
                f"model {settings.model!r} names pipeline {class_name!r}, which diffusers {diffusers.__version__} "
                "does not have; upgrade diffusers or use a supported model"
            )
        started = time.perf_counter()
        try:
            pipe = pipeline_cls.from_pretrained(
                source,
                dtype=self.load_dtype(settings),
                revision=settings.revision,
                local_files_only=not settings.allow_download,
            )
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"cannot load model {settings.model!r}: {exc}; {HOW_TO_PROVIDE}") from exc
        if self.folder is None:  # downloaded just now: the rules could not be read before
            type(self).check_pipeline(Path(source), type(pipe).__name__, settings)
        for component in pipe.components.values():
            if isinstance(component, torch.nn.Module):
                component.eval()
        if "num_frames" not in inspect.signature(pipe.__call__).parameters:
            raise ConfigError(
                f"model {settings.model!r} is a {type(pipe).__name__}, which makes images, not videos; "
                "set REELGATE_GENERATION__MODEL to a text-to-video pipeline (Wan, CogVideoX, LTX-Video, HunyuanVideo...)"
            )
        family = pipeline_family(pipe)
        if family is not None:
            self.check_shape(family, settings, f"{type(pipe).__name__} ({settings.model})")
        self.family = family or FAMILIES.get(type(pipe).__name__, DEFAULT_FAMILY)
        self.configure(pipe, settings)
        self.memory_savers = self._apply_memory_options(pipe, settings)
        self._apply_cache(pipe, settings)
        pipe.set_progress_bar_config(disable=True)
        log.info(
            "loaded %s from %s in %.1f s on %s (%s)", type(pipe).__name__, source, time.perf_counter() - started,
            self.device, ", ".join(self.memory_savers) or "no memory savers",
        )
        return pipe

    def configure(self, pipe: Any, settings: GenerationSettings) -> None:
        """Family-specific set-up after loading (Wan: the expert boundary)."""

    def _apply_memory_options(self, pipe: Any, settings: GenerationSettings) -> list[str]:
        """Place the pipeline and turn on the memory savers asked for; return those in force."""
        import torch

        savers: list[str] = []
        offload_asked = settings.cpu_offload or settings.group_offload != "off"
        if offload_asked and not self.cuda:
            log.warning("generation.cpu_offload/group_offload need CUDA; there is none, so running on the CPU")
        if self.cuda and settings.group_offload != "off":
            pipe.enable_group_offload(
                onload_device=torch.device("cuda"),
                offload_device=torch.device("cpu"),
                offload_type=settings.group_offload,
                num_blocks_per_group=settings.group_offload_blocks if settings.group_offload == "block_level" else None,
                use_stream=True,
            )
            savers.append(f"group_offload:{settings.group_offload}")
        elif self.cuda and settings.cpu_offload:
            pipe.enable_model_cpu_offload()
            savers.append("cpu_offload")
        else:
            pipe.to(self.device)
        # A pipeline on the GPU without offloading waits in CPU memory between shots, so that
        # queued runs sharing the GPU (generation.gpu_slots) never hold its memory while idle.
        self.parks = self.cuda and not savers
        if settings.vae_tiling:
            vae = getattr(pipe, "vae", None)
            if vae is None or not hasattr(vae, "enable_tiling"):
                raise ConfigError(f"{type(pipe).__name__}'s VAE has no tiling; set REELGATE_GENERATION__VAE_TILING=false")
            vae.enable_tiling()
            savers.append("vae_tiling")
        return savers

    def _apply_cache(self, pipe: Any, settings: GenerationSettings) -> None:
        if settings.cache == "off":
            return
        import diffusers

        if settings.cache == "first_block":
            config = diffusers.FirstBlockCacheConfig(threshold=settings.cache_threshold)
        elif settings.cache == "pab":
            config = diffusers.PyramidAttentionBroadcastConfig(
                spatial_attention_block_skip_range=2,
                spatial_attention_timestep_skip_range=(100, 800),
                current_timestep_callback=lambda: pipe.current_timestep,
            )
        else:
            config = diffusers.TaylorSeerCacheConfig()
        experts = [m for m in (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None)) if m is not None]
        for transformer in experts:
            if not hasattr(transformer, "enable_cache"):
                raise ConfigError(
                    f"{type(transformer).__name__} does not support diffusers cache hooks; "
                    "set REELGATE_GENERATION__CACHE=off"
                )
            # Each expert gets its own config object: hooks keep per-model state.
            transformer.enable_cache(config if transformer is experts[0] else type(config)(**vars(config)))

    # --- generating ---------------------------------------------------------------------

    def call_kwargs(self, settings: GenerationSettings) -> dict[str, Any]:
        """Extra pipeline arguments of the family (Wan A14B: the low-noise expert's guidance)."""
        return {}

    def generate(
        self,
        shot: ShotSpec,
        *,
        seed: int,
        attempt: int,
        out_path: Path,
        progress: ProgressFn | None = None,
    ) -> GeneratedShot:
        """Render `shot` with `seed` into an MP4 at `out_path`."""
        with self._lock:
            started = time.perf_counter()
            with self._on_device():
                frames, peak_mb, oom_retried = self._render_retrying_oom(shot, seed, out_path, progress)
            seconds = time.perf_counter() - started

        s = self.settings
        return GeneratedShot(
            index=shot.index,
            attempt=attempt,
            path=Path(out_path),
            backend=self.name,
            model=s.model,
            revision=s.revision or (snapshot_revision(self.folder) if self.folder else None),
            pipeline=type(self.pipe).__name__,
            seed=seed,
            steps=s.steps,
            width=s.width,
            height=s.height,
            fps=s.fps,
            frames=frames,
            seconds_taken=round(seconds, 3),
            peak_memory_mb=round(peak_mb, 1),
            device=self.device,
            memory_savers=list(self.memory_savers),
            oom_retried=oom_retried,
        )

    @contextmanager
    def _on_device(self) -> Iterator[None]:
        """Bring a parked pipeline onto the GPU for one shot, and park it again after."""
        if self.parks:
            self.pipe.to(self.device)
        try:
            yield
        finally:
            if self.parks and self.pipe is not None:
                self.pipe.to("cpu")
                _free_memory(self.cuda)

    def _render_retrying_oom(
        self, shot: ShotSpec, seed: int, out_path: Path, progress: ProgressFn | None
    ) -> tuple[int, float, bool]:
        """`_render`, retried once with memory savers on after an out-of-memory error."""
        try:
            return (*self._render(shot, seed, out_path, progress), False)
        except Exception as exc:
            if not _is_out_of_memory(exc):
                raise
            retry_settings = with_memory_savers(self.settings, self.cuda)
            if not self.settings.oom_retry or retry_settings == self.settings:
                raise self._out_of_memory(shot, exc) from exc
        log.warning("shot %d ran out of memory; retrying once with memory savers on", shot.index + 1)
        self._reload(retry_settings)
        try:
            return (*self._render(shot, seed, out_path, progress), True)
        except Exception as exc:
            if _is_out_of_memory(exc):
                raise self._out_of_memory(shot, exc) from exc
            raise

    def num_frames(self, shot: ShotSpec) -> int:
        s = self.settings
        return s.num_frames or frames_for(shot.duration_s, s.fps, self.family.frame_step)

    def _render(self, shot: ShotSpec, seed: int, out_path: Path, progress: ProgressFn | None) -> tuple[int, float]:
        """One pipeline call written to `out_path`; returns (frames, peak memory MiB)."""
        import torch

        s = self.settings

        def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict) -> dict:
            if progress is not None:
                progress(step + 1, s.steps)
            return {}

        kwargs = dict(
            prompt=shot.model_prompt(),  # weights as plain words (see the module's docstring)
            negative_prompt=shot.negative_prompt or s.negative_prompt or None,
            height=s.height,
            width=s.width,
            num_frames=self.num_frames(shot),
            num_inference_steps=s.steps,
            guidance_scale=s.guidance,
            # A CPU generator gives the same noise on every device, so a seed means one video.
            generator=torch.Generator(device="cpu").manual_seed(seed),
            output_type="np",
            callback_on_step_end=on_step_end,
            **self.call_kwargs(s),
        )
        accepted = inspect.signature(self.pipe.__call__).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
            kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        # The encoder starts while the model denoises, so writing adds only the encode itself.
        with PeakMemory(self.cuda) as memory, VideoWriter(out_path, s.width, s.height, s.fps) as writer:
            with torch.inference_mode():
                result = self.pipe(**kwargs)
            video = np.asarray(result.frames[0])
            for frame in video:
                writer.write((np.clip(frame, 0.0, 1.0) * 255.0).round().astype(np.uint8))
        return len(video), memory.peak_mb

    def _reload(self, settings: GenerationSettings) -> None:
        """Load the pipeline again under new settings (hooks from the old options do not stack)."""
        self.pipe = None
        _free_memory(self.cuda)
        self.settings = settings
        self.pipe = self._load(settings)

    def _out_of_memory(self, shot: ShotSpec, exc: BaseException) -> OutOfMemory:
        s = self.settings
        where = "GPU" if self.cuda else "CPU"
        savers = ", ".join(self.memory_savers) or "none"
        return OutOfMemory(
            f"shot {shot.index + 1} ran out of {where} memory generating {s.width}x{s.height}, "
            f"{self.num_frames(shot)} frames with {s.model} (memory savers in force: {savers}; {exc}). "
            "Lower REELGATE_GENERATION__WIDTH/HEIGHT, shorten shots (REELGATE_PLANNING__SHOT_SECONDS) or set "
            "REELGATE_GENERATION__NUM_FRAMES, set REELGATE_GENERATION__GROUP_OFFLOAD=leaf_level, lower "
            "REELGATE_GENERATION__GPU_SLOTS so fewer shots share the GPU, or use a smaller model "
            "(e.g. Wan2.1-T2V-1.3B)"
        )


def _free_memory(cuda: bool) -> None:
    import gc

    gc.collect()
    if cuda:
        import torch

        torch.cuda.empty_cache()
