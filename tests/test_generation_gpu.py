"""The diffusers backends on CUDA, with the tiny pipelines: run where a GPU is lent, skipped elsewhere.

    python -m pytest tests/test_generation_gpu.py -q -s

They check what only a GPU can show: bf16 by default with the VAE kept in float32, the
pipeline parked in CPU memory between shots (so queued runs sharing the GPU do not hold
its memory while idle), each memory saver actually placing the weights, CUDA peak memory
in the record, and the same seed giving the same frames on the GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelgate.media import read_frames
from reelgate.records import ShotSpec
from reelgate.settings import GenerationSettings

pytestmark = pytest.mark.gpu

SHOT = ShotSpec(
    index=0, text="a fox", subject="fox", action="walks", environment="snowy forest", camera="push",
    time_of_day="dawn", mood="calm", prompt="a small fox walks through a snowy forest at dawn",
    duration_s=1.0, seed=1,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    from generation.tiny_models import build_tiny_wan

    root = tmp_path_factory.mktemp("gpu-models")
    return {"t2v": build_tiny_wan(root / "t2v"), "a14b": build_tiny_wan(root / "a14b", "a14b")}


def frames(path: Path) -> np.ndarray:
    return np.stack(list(read_frames(path)))


def settings(model: Path, **update) -> GenerationSettings:
    return GenerationSettings(backend="wan", model=str(model), width=96, height=64, fps=8, steps=4, **update)


def test_bf16_on_the_gpu_with_a_float32_vae_and_parking_between_shots(models, tmp_path):
    import torch

    from generation.wan import WanGenerator

    gen = WanGenerator(settings(models["t2v"]))
    assert gen.device == "cuda" and gen.parks
    assert gen.pipe.transformer.dtype == torch.bfloat16 and gen.pipe.vae.dtype == torch.float32
    a = gen.generate(SHOT, seed=1, attempt=0, out_path=tmp_path / "a.mp4")
    assert a.device == "cuda" and a.peak_memory_mb > 0 and a.memory_savers == []
    # Parked: between shots the weights wait in CPU memory.
    assert gen.pipe.transformer.device.type == "cpu"
    b = gen.generate(SHOT, seed=1, attempt=0, out_path=tmp_path / "b.mp4")
    assert np.array_equal(frames(a.path), frames(b.path))
    print(f"\ntiny Wan on CUDA: {a.seconds_taken:.2f} s, peak {a.peak_memory_mb:.0f} MiB")


@pytest.mark.parametrize("option", [{"cpu_offload": True}, {"group_offload": "block_level"},
                                    {"group_offload": "leaf_level"}, {"vae_tiling": True}, {"cache": "first_block"}])
def test_each_memory_option_runs_on_the_gpu(models, tmp_path, option):
    from generation.wan import WanGenerator

    gen = WanGenerator(settings(models["t2v"], **option))
    record = gen.generate(SHOT, seed=1, attempt=0, out_path=tmp_path / "shot.mp4")
    assert record.frames == 9 and record.device == "cuda"
    if "cpu_offload" in option or "group_offload" in option:
        assert not gen.parks and record.memory_savers
    print(f"\n{option}: {record.seconds_taken:.2f} s, peak {record.peak_memory_mb:.0f} MiB, {record.memory_savers}")


def test_the_two_expert_wan_runs_on_the_gpu(models, tmp_path):
    from generation.wan import WanGenerator

    gen = WanGenerator(settings(models["a14b"], guidance_2=3.0))
    record = gen.generate(SHOT, seed=1, attempt=0, out_path=tmp_path / "a14b.mp4")
    assert record.frames == 9 and gen.pipe.transformer_2 is not None
