"""How much an enhancement step helps or harms, against a clean source: PSNR, SSIM and halo.

For tests and bench/enhance.py, never on the pipeline's path (a generated shot has no
clean source). Frames are RGB uint8 arrays of one size; every score is the mean over the
frames of a clip.

PSNR and SSIM say how close a result is to the truth; they reward a blur as much as they
punish noise, so a sharpener that rings can still raise them. `halo` looks only where
ringing shows: in a thin band around the source's strong edges, it takes how far each pixel
goes beyond the darkest and brightest the source has around that pixel. The source itself
scores 0; noise, ringing and sharpening overshoot all raise it; a blur lowers it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

HALO_RADIUS = 3  # pixels either side of an edge that count as its band, and its neighbourhood


def psnr(reference: Sequence[np.ndarray], frames: Sequence[np.ndarray]) -> float:
    """Mean PSNR (dB) of `frames` against `reference`, frame by frame."""
    from skimage.metrics import peak_signal_noise_ratio

    _check(reference, frames)
    return float(np.mean([peak_signal_noise_ratio(r, f, data_range=255) for r, f in zip(reference, frames)]))


def ssim(reference: Sequence[np.ndarray], frames: Sequence[np.ndarray]) -> float:
    """Mean SSIM of `frames` against `reference` (colour: SSIM per channel, averaged)."""
    from skimage.metrics import structural_similarity

    _check(reference, frames)
    return float(np.mean([structural_similarity(r, f, channel_axis=2, data_range=255)
                          for r, f in zip(reference, frames)]))


def halo(reference: Sequence[np.ndarray], frames: Sequence[np.ndarray], radius: int = HALO_RADIUS) -> float:
    """Mean overshoot (grey levels, 0-255) of `frames` beyond the source's local range near strong edges.

    Edges are Canny edges of the reference's luma (OpenCV, thresholds 100/200: the edges a
    viewer sees ringing on). The band is every pixel within `radius` of one; for each, the
    source's minimum and maximum over a (2*radius+1)^2 window are the bounds, and the score
    is the mean of max(0, v - max) + max(0, min - v) over the band.
    """
    import cv2

    _check(reference, frames)
    size = 2 * radius + 1
    kernel = np.ones((size, size), np.uint8)
    scores = []
    for r, f in zip(reference, frames):
        ref = cv2.cvtColor(r, cv2.COLOR_RGB2GRAY)
        out = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.int16)
        band = cv2.dilate(cv2.Canny(ref, 100, 200), kernel) > 0
        if not band.any():
            continue
        hi = cv2.dilate(ref, kernel).astype(np.int16)
        lo = cv2.erode(ref, kernel).astype(np.int16)
        over = np.maximum(out - hi, 0) + np.maximum(lo - out, 0)
        scores.append(float(over[band].mean()))
    return float(np.mean(scores)) if scores else 0.0


def scores(reference: Sequence[np.ndarray], frames: Sequence[np.ndarray]) -> dict[str, float]:
    """PSNR, SSIM and halo of `frames` against `reference`, rounded for a table."""
    return {"psnr": round(psnr(reference, frames), 2), "ssim": round(ssim(reference, frames), 4),
            "halo": round(halo(reference, frames), 3)}


def _check(reference: Sequence[np.ndarray], frames: Sequence[np.ndarray]) -> None:
    if len(reference) != len(frames) or not len(frames):
        raise ValueError(f"need the same, non-zero number of frames; got {len(reference)} and {len(frames)}")
    if reference[0].shape != frames[0].shape:
        raise ValueError(f"frame sizes differ: {reference[0].shape} and {frames[0].shape}")


def banding(reference: Sequence[np.ndarray], frames: Sequence[np.ndarray]) -> float:
    """RMS (grey levels) of the low-passed error in the source's smooth areas: visible banding.

    Banding is an error that is flat over wide steps, so the eye sees its edges; dither
    (what a debander leaves) is fine-grained and averages out. The error against the source
    is blurred (Gaussian, sigma 2 px) before it is measured, so only the first counts.
    Smooth areas: luma range under 6 levels over a 9x9 window of the source.
    """
    import cv2

    _check(reference, frames)
    kernel = np.ones((9, 9), np.uint8)
    total, count = 0.0, 0
    for r, f in zip(reference, frames):
        ref = cv2.cvtColor(r, cv2.COLOR_RGB2GRAY)
        smooth = (cv2.dilate(ref, kernel).astype(np.int16) - cv2.erode(ref, kernel)) < 6
        err = cv2.GaussianBlur(f.astype(np.float32) - r.astype(np.float32), (0, 0), 2.0)
        total += float((err[smooth] ** 2).sum())
        count += int(smooth.sum()) * 3
    return float(np.sqrt(total / count)) if count else 0.0
