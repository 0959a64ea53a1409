"""Benchmark: the enhancement chain on a Wan-like shot, 832x480@16 to 1280x720@24, and what each step gains.

    python bench/enhance.py [--seconds 4]

The shot: a slow pan across scikit-image's astronaut photograph at 832x480, 16 fps,
degraded as a generator's output is (soft, banded, noisy from frame to frame,
tests/enhance_clips.degrade), with a second take drifted purple as the colour reference.

Printed, every figure in wall seconds per video second on this machine (2 cores, shared:
compare within one run):
  - the floor: decoding the shot and encoding it at 1280x720@24 with the cheapest filters
    (bilinear resize, repeated frames): what any delivery at that size and rate costs;
  - each step alone on the shot, and its ratio to the floor;
  - the default chain (clean, match, grade with the cinematic preset's look, interpolate to
    24 fps with the default flow backend, upscale to 1280x720) and its ratio to the floor,
    against issue 18's target of 3x; the same chain with the other interpolation backends
    (ffmpeg's mci, blend), since interpolation is most of the cost;
  - a quality table, each gain beside its baseline: PSNR/SSIM/halo of clean-up on degraded
    clips, PSNR/SSIM of the upscale against bilinear, adjacent-shot palette ΔE2000 of colour
    matching (and the lightness spread it keeps), PSNR of interpolated frames against the
    true frames of a pan, beside repeated and blended frames.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 3.0
SIZE_IN, FPS_IN = (832, 480), 16
SIZE_OUT, FPS_OUT = (1280, 720), 24


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the benchmark shot")
    args = parser.parse_args()

    from postprocess.enhance import measure
    from postprocess.enhance.base import StepContext, apply_filters
    from postprocess.enhance.chain import STEPS, enhance_video
    from postprocess.enhance.colour import adjacent_delta_e, lightness_spread, sample_frames
    from postprocess.enhance.interpolate import BACKENDS, measure_pan
    from reelgate.settings import EnhanceSettings
    from tests.enhance_clips import PURPLE, degrade, drifted_episode, photo_pan, read_clip, write_clip

    work = Path(tempfile.mkdtemp(prefix="reelgate-bench-enhance-"))
    frames = round(args.seconds * FPS_IN)
    clean_frames = photo_pan("astronaut", *SIZE_IN, frames)
    shot = write_clip(work / "shot.mp4", degrade(clean_frames), FPS_IN)
    import numpy as np

    reference = write_clip(work / "reference.mp4",
                           [(PURPLE(f.astype(np.float32) / 255) * 255).astype(np.uint8) for f in clean_frames], FPS_IN)
    delivery = EnhanceSettings(upscale={"size": f"{SIZE_OUT[0]}x{SIZE_OUT[1]}"}, interpolate={"fps": FPS_OUT})
    print(f"shot: {args.seconds:g} s at {SIZE_IN[0]}x{SIZE_IN[1]}@{FPS_IN} -> {SIZE_OUT[0]}x{SIZE_OUT[1]}@{FPS_OUT}; "
          "wall seconds per video second")

    floor = _timed(lambda: apply_filters(shot, work / "floor.mp4", [
        f"scale={SIZE_OUT[0]}:{SIZE_OUT[1]}:flags=bilinear", f"fps={FPS_OUT}"])) / args.seconds
    print(f"\n{'':28s}{'s/s':>8s}{'x floor':>9s}")
    print(f"{'floor (decode + encode)':28s}{floor:8.3f}{1.0:9.2f}")

    def run(name: str, settings: EnhanceSettings, only: tuple[str, ...] = STEPS, preset: str | None = "cinematic") -> float:
        seconds = _timed(lambda: enhance_video(shot, work / f"{name}.mp4", settings,
                                               StepContext(work / "w", reference=reference), only=only, preset=preset))
        per = seconds / args.seconds
        print(f"{name:28s}{per:8.3f}{per / floor:9.2f}")
        return per

    for step in STEPS:
        settings = delivery if step != "aspect" else EnhanceSettings(
            **{**delivery.model_dump(), "aspect": {"aspect": "9:16"}})
        run(f"{step} alone", settings, only=(step,))
    default = delivery.interpolate.backend
    chain = run(f"default chain ({default})", delivery)
    others = {b: run(f"chain, {b} interpolation", EnhanceSettings(
        **{**delivery.model_dump(), "interpolate": {"fps": FPS_OUT, "backend": b}}))
        for b in BACKENDS if b not in (default, "rife")}
    verdict = "PASS" if chain / floor <= TARGET_RATIO else "FAIL"
    print(f"\ndefault chain: {chain / floor:.2f}x the floor (target <= {TARGET_RATIO:g}x): {verdict}")
    for backend, per in others.items():
        print(f"  with {backend} interpolation: {per / floor:.2f}x")

    print("\nquality, each beside its baseline")
    print(f"{'measure':44s}{'baseline':>10s}{'enhanced':>10s}")
    # Clean-up on degraded pans of four photographs (320x180).
    rows = []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        source = photo_pan(name, 320, 180, 12)
        degraded = write_clip(work / f"d-{name}.mp4", degrade(source), FPS_IN)
        out = work / f"c-{name}.mp4"
        enhance_video(degraded, out, EnhanceSettings(), StepContext(work / "w"), only=("clean",))
        before, after = measure.scores(source, read_clip(degraded)), measure.scores(source, read_clip(out))
        rows.append((before, after))
    for key in ("psnr", "ssim", "halo"):
        b = sum(r[0][key] for r in rows) / len(rows)
        a = sum(r[1][key] for r in rows) / len(rows)
        print(f"{'clean-up ' + key + ' (4 photos, degraded)':44s}{b:10.3f}{a:10.3f}")
    # Upscale 160x90 -> 320x180 against bilinear.
    source = photo_pan("rocket", 320, 180, 8, sky=False)
    import cv2

    small = write_clip(work / "small.mp4", [cv2.resize(f, (160, 90), interpolation=cv2.INTER_AREA) for f in source], FPS_IN)
    apply_filters(small, work / "bilinear.mp4", ["scale=320:180:flags=bilinear"], crf=10)
    enhance_video(small, work / "up.mp4", EnhanceSettings(upscale={"size": "320x180"}), StepContext(work / "w"),
                  only=("upscale",), crf=10)
    for key, fn in (("psnr", measure.psnr), ("ssim", measure.ssim)):
        print(f"{'upscale x2 ' + key + ' (vs bilinear)':44s}"
              f"{fn(source, read_clip(work / 'bilinear.mp4')):10.3f}{fn(source, read_clip(work / 'up.mp4')):10.3f}")
    # Colour matching: three takes of one scene drifting in colour.
    takes = drifted_episode(work / "drift")
    matched = [takes[0]]
    for take in takes[1:]:
        out = take.with_name(take.stem + "-m.mp4")
        enhance_video(take, out, EnhanceSettings(), StepContext(work / "w", reference=takes[0]), only=("match",))
        matched.append(out)
    before, after = adjacent_delta_e(takes), adjacent_delta_e(matched)
    print(f"{'colour match: adjacent palette ΔE2000':44s}{sum(before) / len(before):10.2f}{sum(after) / len(after):10.2f}")
    spread = [lightness_spread(sample_frames(p)) for p in (*takes[1:], *matched[1:])]
    half = len(spread) // 2
    print(f"{'colour match: L* spread inside a shot':44s}{sum(spread[:half]) / half:10.2f}{sum(spread[half:]) / half:10.2f}")
    # Interpolation: drop every other frame of a clean pan, make them again.
    scores = {s.method: s for s in measure_pan(work / "interp", methods=("duplicate", "blend", *(
        b for b in BACKENDS if b not in ("blend", "rife"))), fps=FPS_OUT, src_fps=FPS_IN, seconds=2.0, size=SIZE_IN)}
    base = scores["duplicate"]
    for method, score in scores.items():
        if method != "duplicate":
            print(f"{'interpolate 16->24 PSNR, ' + method + ' (vs repeat)':44s}{base.psnr_db:10.2f}{score.psnr_db:10.2f}"
                  f"   {score.cpu_s_per_video_s:.2f} CPU s/s")
    print(f"\nfiles in {work}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
