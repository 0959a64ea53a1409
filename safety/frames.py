"""Sampling the frames every safety check looks at, from one streaming decode.

A frame is kept when it is
- the first or the last frame of the video,
- the frame nearest each tick of `sample_fps` (0, 1/sample_fps, 2/sample_fps, ... s), or
- the first frame after a scene change: a cut that rate sampling alone could step over
  (a one-second insert between two samples is never seen otherwise).

Scene changes are measured on a 64x36 grey thumbnail of each decoded frame against the
previous one: a cut is a large change in the grey-level histogram (half the L1 distance
of 32-bin normalised histograms, 0..1) or in the pixels (mean absolute difference, 0..1).
Either catches what the other misses: a cut between two scenes of the same brightness
keeps the histogram but moves the pixels; a flash moves both. Slow camera moves stay well
under both thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reelgate.errors import MediaError
from reelgate.media import read_frames, video_info

SCENE_HIST_JUMP = 0.35  # histogram distance (0..1) that counts as a cut
SCENE_PIXEL_JUMP = 0.20  # mean absolute grey difference (0..1) that counts as a cut
# A strobing video would otherwise be checked frame by frame; past this many cuts the
# video is still covered at the sampling rate.
MAX_SCENE_FRAMES = 120
_THUMB = (64, 36)


@dataclass
class SampledFrame:
    time_s: float
    index: int  # position of the frame in the decoded video, 0-based
    image: np.ndarray  # RGB uint8 (H, W, 3)
    reason: str = "rate"  # why it was kept: first, rate, scene or last


def _thumb(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    grey = cv2.cvtColor(cv2.resize(frame, _THUMB, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    hist = np.bincount(grey.ravel() >> 3, minlength=32).astype(np.float32)
    return grey.astype(np.float32) / 255.0, hist / hist.sum()


def _is_cut(prev: tuple[np.ndarray, np.ndarray], cur: tuple[np.ndarray, np.ndarray]) -> bool:
    hist_jump = 0.5 * float(np.abs(prev[1] - cur[1]).sum())
    pixel_jump = float(np.abs(prev[0] - cur[0]).mean())
    return hist_jump >= SCENE_HIST_JUMP or pixel_jump >= SCENE_PIXEL_JUMP


def _shrink(image: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image.copy()  # decoded frames are read-only views of ffmpeg's bytes
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _shrunk_size(width: int, height: int, max_side: int | None) -> tuple[int, int] | None:
    """The even size with the longer side at most `max_side`; None when already small enough."""
    if max_side is None or max(width, height) <= max_side or not width or not height:
        return None
    scale = max_side / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def sample_frames(video: Path, sample_fps: float, max_side: int | None = None) -> list[SampledFrame]:
    """Decode `video` once and keep the frames the safety checks look at (see module doc).

    max_side: shrink kept frames so their longer side is at most this many pixels.
    Raises MediaError when the file is missing, unreadable, not a video or has no frames.
    """
    if sample_fps <= 0:
        raise ValueError(f"sample_fps must be positive, got {sample_fps}")
    video = Path(video)
    if video.is_file() and video.stat().st_size == 0:
        raise MediaError(f"{video} is an empty file (0 bytes); regenerate or re-export the video")
    width, height, fps, _ = video_info(video)
    # ffmpeg shrinks while decoding: a quarter of the bytes through the pipe for 720p, and
    # no per-frame resize in Python.
    size = _shrunk_size(width, height, max_side)
    if fps <= 0:
        # ffmpeg lists no rate only for odd streams; times are then approximate.
        fps = 25.0

    kept: list[SampledFrame] = []
    scene_frames = 0
    prev_thumb = None
    last: tuple[int, np.ndarray] | None = None
    try:
        for i, frame in enumerate(read_frames(video, size=size)):
            thumb = _thumb(frame)
            # Frame i is the first one at or past rate tick k when floor(i * rate / fps) moves.
            on_tick = i == 0 or math.floor(i * sample_fps / fps + 1e-9) != math.floor((i - 1) * sample_fps / fps + 1e-9)
            cut = prev_thumb is not None and _is_cut(prev_thumb, thumb)
            if on_tick or (cut and scene_frames < MAX_SCENE_FRAMES):
                reason = "first" if i == 0 else "rate" if on_tick else "scene"
                scene_frames += reason == "scene"
                kept.append(SampledFrame(time_s=i / fps, index=i, image=_shrink(frame, max_side), reason=reason))
            prev_thumb = thumb
            last = (i, frame)
    except (RuntimeError, OSError) as exc:
        raise MediaError(f"cannot decode video {video}: {exc}") from exc

    if last is None:
        raise MediaError(f"{video} has a video stream but no decodable frames")
    i, frame = last
    if kept[-1].index != i:
        kept.append(SampledFrame(time_s=i / fps, index=i, image=_shrink(frame, max_side), reason="last"))
    return kept
