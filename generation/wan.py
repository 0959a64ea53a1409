"""Wan 2.x text-to-video through diffusers' `WanPipeline`.

Three shapes of model, one pipeline class:
- Wan2.1 T2V-1.3B / 14B: one transformer, 8x VAE, sizes tile by 16 (832x480 native).
- Wan2.2 T2V-A14B: two experts. `transformer` denoises the high-noise steps, `transformer_2`
  the rest; diffusers switches at `boundary_ratio * num_train_timesteps` (0.875 for A14B),
  and `guidance_2` is the low-noise expert's guidance.
- Wan2.2 TI2V-5B: one transformer on a 16x VAE (`expand_timesteps`), sizes tile by 32
  (1280x704 native).
The size rule is read from each folder's VAE and transformer configs, so the check before
loading tells the nearest valid size for the model actually configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from generation.diffusers_video import DiffusersGenerator
from reelgate.errors import ConfigError
from reelgate.settings import GenerationSettings


def is_two_expert(folder: Path) -> bool:
    """Whether a Wan folder holds the two experts of Wan2.2 A14B."""
    return (folder / "transformer_2").is_dir()


class WanGenerator(DiffusersGenerator):
    """Generates shots with a Wan 2.x `WanPipeline` loaded from `settings.model`."""

    name: ClassVar[str] = "wan"
    pipeline_class: ClassVar[str | None] = "WanPipeline"

    @classmethod
    def check_pipeline(cls, folder: Path, class_name: str, settings: GenerationSettings) -> None:
        super().check_pipeline(folder, class_name, settings)
        expert_settings = [f for f in ("boundary_ratio", "guidance_2") if getattr(settings, f) is not None]
        if expert_settings and not is_two_expert(folder):
            raise ConfigError(
                f"generation.{' and generation.'.join(expert_settings)} apply to two-expert Wan2.2 A14B models; "
                f"{settings.model} has one transformer. Unset REELGATE_GENERATION__"
                + " and REELGATE_GENERATION__".join(f.upper() for f in expert_settings)
            )

    def load_dtype(self, settings: GenerationSettings) -> Any:
        import torch

        dtype = self.torch_dtype(settings)
        # Wan's VAE is kept in float32, as diffusers' examples do: it decodes badly in half precision.
        return dtype if dtype == torch.float32 else {"default": dtype, "vae": torch.float32}

    def configure(self, pipe: Any, settings: GenerationSettings) -> None:
        if settings.boundary_ratio is not None:
            pipe.register_to_config(boundary_ratio=settings.boundary_ratio)

    def call_kwargs(self, settings: GenerationSettings) -> dict[str, Any]:
        # Unset, diffusers gives the low-noise expert the same guidance as the high-noise one.
        return {} if settings.guidance_2 is None else {"guidance_scale_2": settings.guidance_2}
