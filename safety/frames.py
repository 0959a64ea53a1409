"""Sampling the frames every safety check looks at, from one streaming decode.

Frames are decoded once, streaming (`iter_sampled_frames`): memory does not grow with the
video's length, and decoding has a time budget. A frame is kept when it is
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
import time
from collections.abc import Iterator
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


class SamplingTimeout(TimeoutError):
    """Decoding and sampling used up their time budget; `checked_s` of the video were sampled."""

    def __init__(self, budget_s: float, checked_s: float) -> None:
        self.budget_s, self.checked_s = budget_s, checked_s
        super().__init__(
            f"decoding did not finish in {budget_s:g} s (safety.check_timeout_s); only the first "
            f"{checked_s:.1f} s of the video were sampled"
        )


def check_video_limits(
    video: Path, max_video_s: float | None = None, max_pixels: int | None = None
) -> tuple[int, int, float, float]:
    """(width, height, fps, duration_s) of `video`, refused at once when over a limit.

    max_video_s: longest video accepted, seconds (settings safety.max_video_s), judged by
        the duration the container states (decoding checks it again frame by frame).
    max_pixels: largest frame accepted, width x height (settings safety.max_image_pixels).
    Raises MediaError naming the limit and the setting.
    """
    video = Path(video)
    if video.is_file() and video.stat().st_size == 0:
        raise MediaError(f"{video} is an empty file (0 bytes); regenerate or re-export the video")
    width, height, fps, duration = video_info(video)
    if max_video_s is not None and duration > max_video_s:
        raise MediaError(
            f"{video} is {_length(duration)} long; the frame checks take videos of at most {_length(max_video_s)} "
            "(safety.max_video_s, REELGATE_SAFETY__MAX_VIDEO_S): cut it into parts, or raise the limit"
        )
    if max_pixels is not None and width * height > max_pixels:
        raise MediaError(
            f"{video} has {width}x{height} frames ({width * height:,} pixels); the frame checks take at most "
            f"{max_pixels:,} pixels a frame (safety.max_image_pixels, REELGATE_SAFETY__MAX_IMAGE_PIXELS): "
            "scale it down first, or raise the limit"
        )
    return width, height, fps, duration


def _length(seconds: float) -> str:
    return f"{seconds:g} s ({seconds / 3600:.1f} h)" if seconds >= 3600 else f"{seconds:g} s"


def iter_sampled_frames(
    video: Path,
    sample_fps: float,
    max_side: int | None = None,
    *,
    max_video_s: float | None = None,
    max_pixels: int | None = None,
    budget_s: float | None = None,
) -> Iterator[SampledFrame]:
    """Decode `video` once, streaming, and yield the frames the safety checks look at (see module doc).

    Memory does not grow with the video: one decoded frame and the previous one's thumbnail
    are held; what the caller keeps of the yielded frames is its own business.
    max_side: shrink kept frames so their longer side is at most this many pixels.
    max_video_s, max_pixels: refuse a longer or larger video at once (see check_video_limits);
        a video whose frames run past max_video_s despite its header stops with MediaError.
    budget_s: seconds of decoding and sampling allowed (time spent by the caller between
        frames does not count); past it SamplingTimeout is raised and ffmpeg is stopped.
    Raises MediaError when the file is missing, unreadable, not a video or has no frames.
    """
    if sample_fps <= 0:
        raise ValueError(f"sample_fps must be positive, got {sample_fps}")
    video = Path(video)
    spent = 0.0
    resumed = time.perf_counter()
    width, height, fps, _ = check_video_limits(video, max_video_s, max_pixels)
    # ffmpeg shrinks while decoding: a quarter of the bytes through the pipe for 720p, and
    # no per-frame resize in Python.
    size = _shrunk_size(width, height, max_side)
    if fps <= 0:
        # ffmpeg lists no rate only for odd streams; times are then approximate.
        fps = 25.0

    def over_budget(time_s: float) -> None:
        nonlocal spent, resumed
        now = time.perf_counter()
        spent, resumed = spent + now - resumed, now
        if budget_s is not None and spent > budget_s:
            raise SamplingTimeout(budget_s, time_s)

    scene_frames = 0
    prev_thumb = None
    last: tuple[int, np.ndarray] | None = None
    last_kept = -1
    decoded = read_frames(video, size=size)
    try:
        for i, frame in enumerate(decoded):
            time_s = i / fps
            if max_video_s is not None and time_s > max_video_s:
                raise MediaError(
                    f"{video} runs past {_length(max_video_s)} (safety.max_video_s, REELGATE_SAFETY__MAX_VIDEO_S) "
                    "although its header says it is shorter; cut it into parts, or raise the limit"
                )
            thumb = _thumb(frame)
            # Frame i is the first one at or past rate tick k when floor(i * rate / fps) moves.
            on_tick = i == 0 or math.floor(i * sample_fps / fps + 1e-9) != math.floor((i - 1) * sample_fps / fps + 1e-9)
            cut = prev_thumb is not None and _is_cut(prev_thumb, thumb)
            prev_thumb = thumb
            last = (i, frame)
            over_budget(time_s)
            if on_tick or (cut and scene_frames < MAX_SCENE_FRAMES):
                reason = "first" if i == 0 else "rate" if on_tick else "scene"
                scene_frames += reason == "scene"
                last_kept = i
                sampled = SampledFrame(time_s=time_s, index=i, image=_shrink(frame, max_side), reason=reason)
                yield sampled
                resumed = time.perf_counter()  # the caller's time is not sampling time
    except SamplingTimeout:
        raise  # a TimeoutError, so an OSError: not a decoding fault
    except (RuntimeError, OSError) as exc:
        raise MediaError(f"cannot decode video {video}: {exc}") from exc
    finally:
        decoded.close()  # stops ffmpeg when the caller stops early

    if last is None:
        raise MediaError(f"{video} has a video stream but no decodable frames")
    i, frame = last
    if last_kept != i:
        yield SampledFrame(time_s=i / fps, index=i, image=_shrink(frame, max_side), reason="last")


def sample_frames(
    video: Path, sample_fps: float, max_side: int | None = None, *, max_video_s: float | None = None,
) -> list[SampledFrame]:
    """The sampled frames of a short video as a list (see iter_sampled_frames; check_video streams instead).

    Raises MediaError when the file is missing, unreadable, not a video or has no frames.
    """
    return list(iter_sampled_frames(video, sample_fps, max_side, max_video_s=max_video_s))
