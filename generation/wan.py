"""Text-to-video with diffusers' `WanPipeline` (Wan2.1 / Wan2.2, or a tiny test pipeline).

The pipeline is loaded once per process (see `generation.base.get_generator`) from a local
folder or the local Hugging Face cache; there is no hub access here.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from pathlib import Path

import numpy as np

from generation.base import ProgressFn, check_wan_size
from reelgate.errors import ModelNotFoundError
from reelgate.media import VideoWriter
from reelgate.records import GeneratedShot, ShotSpec
from reelgate.settings import GenerationSettings

log = logging.getLogger(__name__)


def wan_num_frames(duration_s: float, fps: float) -> int:
    """The frame count nearest `duration_s * fps` that Wan accepts (4k + 1, at least 5)."""
    k = round((duration_s * fps - 1) / 4)
    return max(5, 4 * k + 1)


def _torch_dtype(name: str, cuda: bool):
    import torch

    if name == "auto":
        return torch.bfloat16 if cuda else torch.float32
    return getattr(torch, name)


class WanGenerator:
    """Generates shots with a diffusers `WanPipeline` loaded from `settings.model`."""

    name = "wan"

    def __init__(self, settings: GenerationSettings) -> None:
        import torch
        from diffusers import WanPipeline

        if not settings.model:
            raise ModelNotFoundError("the wan backend needs generation.model (REELGATE_GENERATION__MODEL)")
        check_wan_size(settings.width, settings.height)
        self.settings = settings
        self.cuda = torch.cuda.is_available()
        self.device = "cuda" if self.cuda else "cpu"
        # Shots from parallel task threads would interleave on one pipeline: run them in turn.
        self._lock = threading.Lock()

        dtype = _torch_dtype(settings.dtype, self.cuda)
        # Wan's VAE is kept in float32 (as diffusers' examples do): it decodes badly in half precision.
        load_dtype = dtype if dtype == torch.float32 else {"default": dtype, "vae": torch.float32}
        local = Path(settings.model).expanduser()
        source = str(local) if local.is_dir() else settings.model
        local_only = os.environ.get("HF_HUB_OFFLINE") != "0"
        try:
            pipe = WanPipeline.from_pretrained(source, dtype=load_dtype, local_files_only=local_only)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"cannot load wan model {settings.model!r}: {exc}. Set REELGATE_GENERATION__MODEL to a local "
                "diffusers folder or pre-download the model into the Hugging Face cache"
            ) from exc
        for component in pipe.components.values():
            if isinstance(component, torch.nn.Module):
                component.eval()

        if settings.cpu_offload and self.cuda:
            pipe.enable_model_cpu_offload()
            # Decoding a whole clip at once is the memory peak; tiles keep it low.
            pipe.vae.enable_tiling()
        else:
            if settings.cpu_offload:
                log.warning("generation.cpu_offload is set but there is no CUDA device; running on the CPU")
            pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)

        # Wan2.2 TI2V uses a 16x VAE: check the size against what this pipeline really needs.
        transformer = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
        check_wan_size(settings.width, settings.height, pipe.vae_scale_factor_spatial * transformer.config.patch_size[1])
        self.pipe = pipe

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
        import torch

        s = self.settings
        num_frames = wan_num_frames(shot.duration_s, s.fps)

        def on_step_end(pipe, step: int, timestep, callback_kwargs: dict) -> dict:
            if progress is not None:
                progress(step + 1, s.steps)
            return {}

        with self._lock:
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            # The two-expert Wan2.2 A14B switches experts at the pipeline's configured
            # boundary_ratio by itself; nothing extra is passed for it.
            result = self.pipe(
                prompt=shot.prompt,
                negative_prompt=shot.negative_prompt or s.negative_prompt or None,
                height=s.height,
                width=s.width,
                num_frames=num_frames,
                num_inference_steps=s.steps,
                guidance_scale=s.guidance,
                generator=torch.Generator(device="cpu").manual_seed(seed),
                output_type="np",
                callback_on_step_end=on_step_end,
            )
            video = np.asarray(result.frames[0])
            frames = (np.clip(video, 0.0, 1.0) * 255.0).round().astype(np.uint8)
            with VideoWriter(out_path, s.width, s.height, s.fps) as writer:
                for frame in frames:
                    writer.write(frame)
            seconds = time.perf_counter() - started
            if self.cuda:
                peak_mb = torch.cuda.max_memory_allocated() / 2**20
            else:
                peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

        return GeneratedShot(
            index=shot.index,
            attempt=attempt,
            path=Path(out_path),
            backend=self.name,
            model=s.model,
            seed=seed,
            width=s.width,
            height=s.height,
            fps=s.fps,
            frames=len(frames),
            seconds_taken=round(seconds, 3),
            peak_memory_mb=round(peak_mb, 1),
        )
