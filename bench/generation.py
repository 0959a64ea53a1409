"""Benchmark: what reelgate's generation wrapper costs over a bare diffusers call, and its peak memory.

    python bench/generation.py [--rounds 5] [--steps 30]

The issue's figure: the wrapper (`WanGenerator.generate`: settings, seed, progress
callback, memory measurement, frames to uint8, streaming them into an H.264 MP4, the
record) adds under 2% to a bare `WanPipeline(...)` call on the same loaded tiny pipeline
with the same arguments, returning frames as numpy.

Both run in this process on the same pipeline object, interleaved round by round (bare,
wrapper, bare, wrapper...) so that noise from the shared machine falls on both; the figure
is the median of the per-round differences over the median bare time. The tiny
random-weight Wan pipeline is built in code (generation.tiny_models). Its denoising is far
cheaper than a real model's, so this is a pessimistic bound on the overhead: on a GPU a
real Wan shot denoises for minutes while the wrapper's work stays the same. Two workloads
are measured: 192x192 with 25 frames (the headline), and 128x128 with 17 frames, where the
wrapper's fixed ~20-30 ms (finishing the MP4) is largest against a call of about a second.

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
# (width, height, frames): the headline workload, then a small one where the wrapper's
# fixed costs (starting ffmpeg, finishing the MP4) weigh most against a ~1 s call.
WORKLOADS = [(192, 192, 25), (128, 128, 17)]


def measure(model: Path, tmp_path: Path, width: int, height: int, frames: int, steps: int, rounds: int) -> dict:
    """Interleaved bare and wrapped generations of one workload; medians, overhead and peak memory."""
    import torch

    from generation.memory import _rss_bytes
    from generation.wan import WanGenerator
    from reelgate.records import ShotSpec
    from reelgate.settings import GenerationSettings

    settings = GenerationSettings(
        backend="wan", model=str(model), width=width, height=height, fps=16, num_frames=frames, steps=steps
    )
    generator = WanGenerator(settings)
    pipe = generator.pipe
    shot = ShotSpec(
        index=0, text="a fox", subject="fox", action="walks", environment="snowy forest", camera="push",
        time_of_day="dawn", mood="calm", prompt="a small fox walks through a snowy forest at dawn",
        duration_s=frames / 16, seed=1,
    )

    def bare() -> float:
        started = time.perf_counter()
        pipe(
            prompt=shot.prompt, negative_prompt=settings.negative_prompt, height=height, width=width,
            num_frames=frames, num_inference_steps=steps, guidance_scale=settings.guidance,
            generator=torch.Generator(device="cpu").manual_seed(1), output_type="np",
        )
        return time.perf_counter() - started

    def wrapped(n: int) -> float:
        started = time.perf_counter()
        generator.generate(shot, seed=1, attempt=0, out_path=tmp_path / f"shot{n}.mp4", progress=lambda d, t: None)
        return time.perf_counter() - started

    bare(), wrapped(-1)  # warm-up: first-call allocations and ffmpeg's page cache
    bare_s, wrapped_s = [], []
    for n in range(rounds):
        bare_s.append(bare())
        wrapped_s.append(wrapped(n))
        print(f"  {width}x{height}x{frames} round {n + 1}: bare {bare_s[-1]:.3f} s, wrapper {wrapped_s[-1]:.3f} s",
              flush=True)
    before = _rss_bytes() / 2**20
    record = generator.generate(shot, seed=1, attempt=0, out_path=tmp_path / "memory.mp4")
    base = statistics.median(bare_s)
    return {
        "label": f"tiny Wan {width}x{height}, {frames} frames, {steps} steps",
        "bare": base,
        "wrapped": statistics.median(wrapped_s),
        "overhead": statistics.median(w - b for b, w in zip(bare_s, wrapped_s)) / base,
        "peak": record.peak_memory_mb,
        "before": before,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30, help="denoising steps (default: the settings default)")
    args = parser.parse_args()

    import torch

    from generation.tiny_models import build_tiny_wan

    with tempfile.TemporaryDirectory(prefix="bench-generation-") as tmp:
        tmp_path = Path(tmp)
        model = build_tiny_wan(tmp_path / "tiny-wan")
        results = [measure(model, tmp_path, w, h, f, args.steps, args.rounds) for w, h, f in WORKLOADS]

    print(f"\n{torch.get_num_threads()} torch threads, CPU; medians of {args.rounds} interleaved rounds")
    for (w, h, f), r in zip(WORKLOADS, results):
        what = "headline" if (w, h, f) == WORKLOADS[0] else "fixed-cost worst case"
        print(f"{r['label']} ({what}):")
        print(f"  bare diffusers call (baseline) {r['bare']:.3f} s; reelgate wrapper {r['wrapped']:.3f} s "
              f"(ratio to baseline {r['wrapped'] / r['bare']:.3f})")
        print(f"  wrapper overhead {r['overhead'] * 100:+.2f}% (target under {TARGET_OVERHEAD * 100:.0f}%: "
              f"{'met' if r['overhead'] < TARGET_OVERHEAD else 'NOT met'})")
        print(f"  peak memory of one generation: {r['peak']:.0f} MiB process RSS "
              f"({r['peak'] - r['before']:+.0f} MiB above the {r['before']:.0f} MiB before it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
