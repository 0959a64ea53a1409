"""Benchmark: quality scoring speed on 720p 24 fps video, beside the time to decode it.

    python bench/quality.py [--seconds 10]

The issue's figure: scoring seconds per second of 720p 24 fps video on this machine
(2 CPU cores), faster than real time (< 1.0), next to the time to decode the same video at
full size (read_frames), the floor any analysis pays.

The video: one shot, the camera tilting slowly down scikit-image's astronaut photograph:
her face is in view for about the first half and leaves through the top edge, so both the face checks
(MTCNN at 640 px, dlib embeddings, 4 samples a second) and the optical-flow metrics
(320 px, every frame) are paid. Models are loaded before timing (once per worker process).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_REALTIME = 1.0


def make_video(path: Path, seconds: float) -> Path:
    import cv2
    import numpy as np
    from skimage import data

    from reelgate.media import VideoWriter

    fps, width, height = 24, 1280, 720
    # Astronaut at 2400 px: her face (box ~905-1340 x 290-800) is in the window until y > 800.
    scene = cv2.resize(data.astronaut(), (2400, 2400), interpolation=cv2.INTER_AREA)
    n = round(seconds * fps)
    speed = 500 / max(1, n // 2)  # px per frame: the face leaves about half-way
    with VideoWriter(path, width, height, fps) as writer:
        for i in range(n):
            y = min(2400 - height, round(300 + speed * i))
            writer.write(np.ascontiguousarray(scene[y:y + height, 500:500 + width]))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    from quality.faces import default_models
    from quality.score import score_video
    from reelgate.media import read_frames
    from reelgate.settings import QualitySettings

    settings = QualitySettings()
    default_models(settings.face_max_side, settings.face_min_size)  # load outside the timing
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        video = make_video(Path(tmp) / "clip.mp4", args.seconds)

        started = time.perf_counter()
        decoded = sum(1 for _ in read_frames(video))
        decode_s = time.perf_counter() - started

        started = time.perf_counter()
        report = score_video(video, settings)
        score_s = time.perf_counter() - started

        started = time.perf_counter()
        score_video(video, QualitySettings(face_sample_fps=2.0))
        faces_2fps_s = time.perf_counter() - started

        started = time.perf_counter()
        score_video(video, QualitySettings(faces=False))
        flow_only_s = time.perf_counter() - started

    per_s = score_s / args.seconds
    load = os.getloadavg()[0]
    m = report.metrics
    print(f"video: {args.seconds:g} s of 1280x720 at 24 fps ({decoded} frames); "
          f"{m['face_samples']:.0f} frames sampled for faces, {m['faces']:.0f} faces embedded; "
          f"verdict {'pass' if report.passed else 'FAIL: ' + ', '.join(report.failing)}")
    print(f"machine load (1 min): {load:.1f} on {os.cpu_count()} cores")
    print(f"decode (full size): {decode_s / args.seconds:.3f} s per video second")
    print(f"scoring (default):  {per_s:.3f} s per video second (target < {TARGET_REALTIME:g}: "
          f"{'met' if per_s < TARGET_REALTIME else 'NOT met'}; ratio to full decode {score_s / decode_s:.2f})")
    print(f"faces at 2 fps:     {faces_2fps_s / args.seconds:.3f} s per video second "
          f"(ratio to full decode {faces_2fps_s / decode_s:.2f})")
    print(f"scoring, no faces:  {flow_only_s / args.seconds:.3f} s per video second "
          f"(ratio to full decode {flow_only_s / decode_s:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
