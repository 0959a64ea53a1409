"""Synthetic clips for the enhancement steps, made in code from scikit-image photographs.

Used by tests/test_enhance_*.py and bench/enhance.py. Each helper writes a small H.264 MP4
and returns its path. Blocks are kept per step so parallel work merges cleanly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# ==== motion (interpolate, aspect) ============================================================
# Small frames keep each ffmpeg pass well under a second; the pans are those of
# postprocess/enhance/interpolate.pan_frames, so the tests score what the bench scores.

MOTION_SIZE = (192, 112)
MOTION_FPS = 16


def motion_pan_clip(path: Path, seconds: float = 1.0, fps: int = MOTION_FPS, size: tuple[int, int] = MOTION_SIZE,
                    photo: str = "astronaut") -> Path:
    """A smooth pan over `photo` at `fps` (4 px a frame across, 1 down) into an MP4."""
    from postprocess.enhance.interpolate import pan_frames
    from reelgate.media import H264, VideoWriter

    with VideoWriter(path, size[0], size[1], fps, encoding=H264(crf=12)) as writer:
        for frame in pan_frames(round(fps * seconds), *size, speed=(4.0, 1.0), photo=photo):
            writer.write(frame)
    return path


def motion_cut_frames(n_before: int, n_after: int, size: tuple[int, int] = MOTION_SIZE,
                      speed: float = 4.0) -> list[np.ndarray]:
    """A pan (`speed` px a frame) over one photograph, then a hard cut to a pan over a very different one."""
    from postprocess.enhance.interpolate import pan_frames

    before = pan_frames(n_before, *size, speed=(speed, 0.0), photo="astronaut")
    after = pan_frames(n_after, *size, speed=(-speed, 0.0), photo="coffee")
    return before + after


def motion_cut_clip(path: Path, cut_s: float = 0.5, seconds: float = 1.0, fps: int = MOTION_FPS,
                    size: tuple[int, int] = MOTION_SIZE, film_fps: int | None = None) -> tuple[Path, list[np.ndarray]]:
    """A clip at `fps` with a hard cut at `cut_s` (on a frame boundary).

    Returns its path and the true frames at `film_fps` (a multiple of fps; default fps):
    the clip holds every (film_fps / fps)-th of them, the rest are the true in-betweens.
    """
    from reelgate.media import H264, VideoWriter

    film = film_fps or fps
    n_before = round(cut_s * film)
    frames = motion_cut_frames(n_before, round(seconds * film) - n_before, size, speed=4.0 * fps / film)
    with VideoWriter(path, size[0], size[1], fps, encoding=H264(crf=12)) as writer:
        for frame in frames[:: film // fps]:
            writer.write(frame)
    return path, frames


def motion_grid_clip(path: Path, size: tuple[int, int], fps: int = 8, seconds: float = 0.5) -> Path:
    """A still test card: a numbered 8x8 grid of distinct colours, so a crop or pad can be located."""
    from reelgate.media import VideoWriter

    w, h = size
    ys, xs = np.mgrid[0:h, 0:w]
    cell = (ys * 8 // h) * 8 + (xs * 8 // w)  # 0..63, row-major
    frame = np.stack([(cell * 37) % 256, (cell * 91) % 256, (cell * 53 + 40) % 256], axis=-1).astype(np.uint8)
    with VideoWriter(path, w, h, fps, crf=10) as writer:
        for _ in range(max(1, round(fps * seconds))):
            writer.write(frame)
    return path
