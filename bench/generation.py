"""Benchmark: what reelgate's generation wrapper costs over a bare diffusers call, and its peak memory.

    python bench/generation.py [--rounds 7] [--size 128x128] [--frames 17] [--steps 30]

The issue's figure: the wrapper (`WanGenerator.generate`: settings, seed, progress
callback, memory measurement, frames to uint8, streaming them into an H.264 MP4, the
record) adds under 2% to a bare `WanPipeline(...)` call on the same loaded tiny pipeline
with the same arguments, returning frames as numpy.

Both run in this process on the same pipeline object, interleaved round by round (bare,
wrapper, bare, wrapper...) so that noise from the shared machine falls on both; the figure
is the median of the per-round differences over the median bare time. The tiny
random-weight Wan pipeline is built in code (generation.tiny_models). Its denoising is far
cheaper than a real model's, so this is a pessimistic bound on the overhead: on a GPU a
real Wan shot denoises for minutes while the wrapper's work stays the same.

Peak memory: the generation record's figure (process RSS on a CPU, sampled during the
call; CUDA memory allocated on a GPU) and how much it rose above the RSS before the call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_OVERHEAD = 0.02


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--size", default="128x128", help="WIDTHxHEIGHT, multiples of 16")
    parser.add_argument("--frames", type=int, default=17, help="4k+1")
    parser.add_argument("--steps", type=int, default=30, help="denoising steps (default: the settings default)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    import torch

    from generation.memory import PeakMemory, _rss_bytes
    from generation.tiny_models import build_tiny_wan
    from generation.wan import WanGenerator
    from reelgate.records import ShotSpec
    from reelgate.settings import GenerationSettings

    with tempfile.TemporaryDirectory(prefix="bench-generation-") as tmp:
        tmp_path = Path(tmp)
        model = build_tiny_wan(tmp_path / "tiny-wan")
        settings = GenerationSettings(
            backend="wan", model=str(model), width=width, height=height, fps=16,
            num_frames=args.frames, steps=args.steps,
        )
        generator = WanGenerator(settings)
        pipe = generator.pipe
        shot = ShotSpec(
            index=0, text="a fox", subject="fox", action="walks", environment="snowy forest", camera="push",
            time_of_day="dawn", mood="calm", prompt="a small fox walks through a snowy forest at dawn",
            duration_s=args.frames / 16, seed=1,
        )

        def bare() -> float:
            started = time.perf_counter()
            pipe(
                prompt=shot.prompt, negative_prompt=settings.negative_prompt, height=height, width=width,
                num_frames=args.frames, num_inference_steps=args.steps, guidance_scale=settings.guidance,
                generator=torch.Generator(device="cpu").manual_seed(1), output_type="np",
            )
            return time.perf_counter() - started

        def wrapped(n: int) -> float:
            started = time.perf_counter()
            generator.generate(shot, seed=1, attempt=0, out_path=tmp_path / f"shot{n}.mp4", progress=lambda d, t: None)
            return time.perf_counter() - started

        bare(), wrapped(-1)  # warm-up: first-call allocations and ffmpeg's page cache
        bare_s, wrapped_s = [], []
        for n in range(args.rounds):
            bare_s.append(bare())
            wrapped_s.append(wrapped(n))
            print(f"round {n + 1}: bare {bare_s[-1]:.3f} s, wrapper {wrapped_s[-1]:.3f} s", flush=True)

        before = _rss_bytes() / 2**20
        record = generator.generate(shot, seed=1, attempt=0, out_path=tmp_path / "memory.mp4")
        with PeakMemory(cuda=False) as bare_memory:
            bare()

    base = statistics.median(bare_s)
    overhead = statistics.median(w - b for b, w in zip(bare_s, wrapped_s)) / base
    print()
    print(f"workload: tiny Wan {width}x{height}, {args.frames} frames, {args.steps} steps, "
          f"{torch.get_num_threads()} torch threads, {generator.device}")
    print(f"bare diffusers call (baseline): {base:.3f} s median of {args.rounds}")
    print(f"reelgate wrapper:               {statistics.median(wrapped_s):.3f} s median "
          f"(ratio to baseline {statistics.median(wrapped_s) / base:.3f})")
    print(f"wrapper overhead: {overhead * 100:+.2f}% (target under {TARGET_OVERHEAD * 100:.0f}%: "
          f"{'met' if overhead < TARGET_OVERHEAD else 'NOT met'})")
    print(f"peak memory of one generation: {record.peak_memory_mb:.0f} MiB process RSS "
          f"({record.peak_memory_mb - before:+.0f} MiB above the {before:.0f} MiB before it); "
          f"bare call peak {bare_memory.peak_mb:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
