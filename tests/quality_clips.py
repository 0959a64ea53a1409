"""The quality calibration set: short clips made in code from scikit-image photographs.

Smooth camera moves (pans, zooms, a still) across real photos, and the same moves with one
injected defect starting at DEFECT_FRAME (1.25 s at 24 fps), and texture a shot may ask for
(rain, snow, fire, a lightning flash) drawn over the same moves. Used by tests/test_quality.py,
tests/test_quality_faces.py and bench/quality.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from reelgate.media import VideoWriter

FPS = 24
W, H = 320, 180
N = 60  # 2.5 s
DEFECT_FRAME = 30  # first frame of every injected defect: 1.25 s
FRAME_S = 1.0 / FPS

Camera = Callable[[int], tuple[float, float, float]]  # frame -> (cx, cy, zoom)
Defect = Callable[[int, np.ndarray, Camera], np.ndarray]


def photo(name: str, side: int = 768) -> np.ndarray:
    """A scikit-image photograph as RGB, resized to side x side."""
    img = getattr(data, name)()
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)


def view(photo: np.ndarray, cx: float, cy: float, zoom: float, w: int, h: int) -> np.ndarray:
    """The w x h window of `photo` centred at (cx, cy), magnified by `zoom` (sub-pixel exact)."""
    s = 1.0 / zoom
    m = np.float32([[s, 0, cx - s * w / 2], [0, s, cy - s * h / 2]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(photo, m, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT)


def pan(vx: float, vy: float = 0.0, zoom_rate: float = 0.0, n: int = N, centre: tuple[float, float] = (384, 384)) -> Camera:
    """A camera moving vx, vy photo px per frame (and zooming) through `centre` at mid-clip."""
    return lambda i: (centre[0] + vx * (i - n / 2), centre[1] + vy * (i - n / 2), 1.0 + zoom_rate * i)


def write(path: Path, photo: np.ndarray, camera: Camera, defect: Defect | None = None,
          n: int = N, size: tuple[int, int] = (W, H), fps: float = FPS) -> Path:
    """Film `photo` with `camera` for n frames into an H.264 MP4, `defect` applied per frame."""
    with VideoWriter(path, size[0], size[1], fps) as writer:
        for i in range(n):
            frame = view(photo, *camera(i), *size)
            writer.write(defect(i, frame, camera) if defect else frame)
    return path


def cut(other: np.ndarray, at: int = DEFECT_FRAME) -> Defect:
    """From frame `at` on, the same camera films `other` instead."""
    return lambda i, f, cam: view(other, *cam(i), f.shape[1], f.shape[0]) if i >= at else f


def teleport(photo: np.ndarray, px: float) -> Defect:
    """One frame (DEFECT_FRAME) shows the view shifted px to the right."""
    def defect(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
        if i != DEFECT_FRAME:
            return f
        cx, cy, z = cam(i)
        return view(photo, cx + px, cy, z, f.shape[1], f.shape[0])
    return defect


def flicker(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
    """Three frames 40 grey levels brighter."""
    if DEFECT_FRAME <= i < DEFECT_FRAME + 3:
        return np.clip(f.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    return f


# R up, B down, G nudged so that luminance (BT.601: 0.299 R + 0.587 G + 0.114 B) stays put.
_CAST = np.array([15.0, -(0.299 - 0.114) * 15.0 / 0.587, -15.0], dtype=np.float32)


def colour_flicker(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
    """Three frames with a warm colour cast (+15 R, -15 B) at the same luminance: a white-balance pump."""
    if DEFECT_FRAME <= i < DEFECT_FRAME + 3:
        return np.clip(f.astype(np.float32) + _CAST, 0, 255).round().astype(np.uint8)
    return f


def hold(photo: np.ndarray) -> Defect:
    """The picture sticks on frame 30 for 5 more frames, then the camera resumes where it was."""
    def defect(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
        if DEFECT_FRAME < i <= DEFECT_FRAME + 5:
            return view(photo, *cam(DEFECT_FRAME), f.shape[1], f.shape[0])
        return f
    return defect


def shaky(base: Camera, sigma: float, start: int = 0, seed: int = 7, n: int = N) -> Camera:
    """`base` with Gaussian hand shake (sigma photo px) from frame `start` on."""
    shake = np.random.default_rng(seed).normal(0.0, sigma, size=(n, 2))
    shake[:start] = 0.0

    def camera(i: int) -> tuple[float, float, float]:
        cx, cy, z = base(i)
        return cx + shake[i, 0], cy + shake[i, 1], z
    return camera


# Texture a shot may ask for (weather, fire). Each is deterministic (seeded per frame) and
# drawn over the filmed frame, so the camera move underneath stays the calibration pan.


def rain(density: int = 260, seed: int = 11) -> Defect:
    """Rain over every frame: thin bright streaks (1 px wide, 8-16 px long, slanted ~10 degrees),
    at fresh random places each frame as fast drops are."""
    def defect(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
        rng = np.random.default_rng(seed * 1000 + i)
        h, w = f.shape[:2]
        layer = np.zeros((h, w), np.float32)
        xs, ys = rng.uniform(0, w, density), rng.uniform(-10, h, density)
        lengths = rng.uniform(8, 16, density)
        for x, y, n in zip(xs, ys, lengths):
            cv2.line(layer, (int(x), int(y)), (int(x + 0.18 * n), int(y + n)), 1.0, 1, cv2.LINE_AA)
        out = f.astype(np.float32)
        out += layer[..., None] * (200.0 - out) * 0.55  # streaks lighten toward pale grey
        return np.clip(out, 0, 255).astype(np.uint8)
    return defect


def snow(flakes: int = 400, seed: int = 13, n: int = N) -> Defect:
    """Snow over every frame: small bright blobs (radius 1-2 px) falling ~2 px a frame with a sway and
    a flutter (+-1.5 px a frame, seeded), each flake followed from frame to frame."""
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(0, W, flakes), rng.uniform(0, H, flakes)
    fall, phase = rng.uniform(1.5, 3.0, flakes), rng.uniform(0, 2 * np.pi, flakes)
    radius = rng.choice([1, 2, 2], flakes)

    def defect(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
        h, w = f.shape[:2]
        layer = np.zeros((h, w), np.float32)
        flutter = np.random.default_rng(seed * 1000 + i).uniform(-1.5, 1.5, (2, flakes))
        xs = (x0 * w / W + 3.0 * np.sin(phase + 0.2 * i) + flutter[0]) % w
        ys = (y0 * h / H + fall * i + flutter[1]) % h
        for x, y, r in zip(xs, ys, radius):
            cv2.circle(layer, (int(x), int(y)), int(r), 1.0, -1, cv2.LINE_AA)
        out = f.astype(np.float32)
        out += layer[..., None] * (245.0 - out) * 0.85
        return np.clip(out, 0, 255).astype(np.uint8)
    return defect


def fire(seed: int = 17) -> Defect:
    """Flames along the bottom third: orange tongues whose shape boils every frame (smoothed
    noise redrawn per frame, rising), blended over the scene."""
    def defect(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
        h, w = f.shape[:2]
        rng = np.random.default_rng(seed * 1000 + i)
        noise = cv2.resize(rng.random((8, 24)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        fine = cv2.resize(rng.random((24, 64)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        height = (np.arange(h, dtype=np.float32)[:, None] - h * 0.6) / (h * 0.4)  # 0 at 60 %, 1 at the bottom
        alpha = np.clip(height + 0.6 * noise + 0.3 * fine - 0.7, 0.0, 1.0)[..., None]
        flame = np.array([255.0, 150.0, 30.0], np.float32) * (0.7 + 0.3 * fine[..., None])
        out = f.astype(np.float32) * (1 - alpha) + flame * alpha
        return np.clip(out, 0, 255).astype(np.uint8)
    return defect


def lightning(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
    """A lightning flash at DEFECT_FRAME: the frame washes toward blue-white, then decays over two frames."""
    strength = {DEFECT_FRAME: 0.6, DEFECT_FRAME + 1: 0.3, DEFECT_FRAME + 2: 0.1}.get(i, 0.0)
    if not strength:
        return f
    white = np.array([225.0, 232.0, 255.0], np.float32)
    return np.clip(f.astype(np.float32) * (1 - strength) + white * strength, 0, 255).astype(np.uint8)


def both(*defects: Defect) -> Defect:
    """Apply several per-frame layers in order."""
    def defect(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
        for d in defects:
            f = d(i, f, cam)
        return f
    return defect


# Faces. The astronaut's face in the 512-px photo: MTCNN box ~(181, 62, 268, 172).
FACE_PHOTO_SIDE = 512
FACE_CENTRE = (224.0, 118.0)  # camera centre that keeps her face in a 320x180 view
_FACE_BOX = (176, 52, 272, 180)  # generous box around the face, photo px


def _ellipse_mask(w: int, h: int) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (w // 2, h // 2 - h // 16), (int(w * 0.40), int(h * 0.42)), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(m, (0, 0), w * 0.05)[..., None]


@cache
def swapped_astronaut(lfw_index: int = 0) -> np.ndarray:
    """The astronaut photo (512 px) with her face replaced by another person's from LFW.

    skimage.data.lfw_subset() holds 25x25 grey faces; one is upscaled, given the astronaut's
    skin tone (per-channel mean and contrast), and blended in with a feathered ellipse.
    """
    base = photo("astronaut", FACE_PHOTO_SIDE)
    x1, y1, x2, y2 = 181, 62, 268, 172  # the detected face box: the pasted face fills it
    w, h = x2 - x1, y2 - y1
    grey = cv2.resize((data.lfw_subset()[lfw_index] * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    patch = base[y1:y2, x1:x2].astype(np.float32)
    g = grey.astype(np.float32)
    g = (g - g.mean()) / (g.std() + 1e-6)
    toned = patch.reshape(-1, 3).mean(0) + g[..., None] * patch.reshape(-1, 3).std(0)
    mask = _ellipse_mask(w, h)
    out = base.copy()
    out[y1:y2, x1:x2] = np.clip(mask * toned + (1 - mask) * patch, 0, 255).astype(np.uint8)
    return out


@cache
def faceless_astronaut() -> np.ndarray:
    """The astronaut photo (512 px) with her face painted out (OpenCV inpainting)."""
    base = photo("astronaut", FACE_PHOTO_SIDE)
    x1, y1, x2, y2 = _FACE_BOX
    mask = np.zeros(base.shape[:2], np.uint8)
    mask[y1:y2, x1:x2] = (_ellipse_mask(x2 - x1, y2 - y1)[..., 0] > 0.2).astype(np.uint8) * 255
    return cv2.inpaint(base, mask, 9, cv2.INPAINT_TELEA)


# Rows of the calibration table, filled by the tests and printed by tests/conftest.py's
# pytest_terminal_summary: clip -> (group, defect or "" for a clean clip, flagged correctly
# (defect) / passed (clean), failing names, score, flagged times).
CALIBRATION: dict[str, tuple[str, str, bool, str, float, str]] = {}


def record(clip: str, defect: str, ok: bool, failing: list[str], score: float, times: list[float]) -> None:
    """Add one clip's result to the calibration table (defect "" for a clip that should pass)."""
    CALIBRATION[clip] = ("defect" if defect else "clean", defect, ok, ",".join(failing), score,
                         ",".join(f"{t:.2f}" for t in times[:4]))


def calibration_table() -> list[str]:
    """The table as lines: every clip, then detection rate per defect and the false-alarm rate."""
    lines = ["| clip | expected | result | failing | score | flagged s |", "|---|---|---|---|---|---|"]
    for clip, (group, defect, ok, failing, score, times) in sorted(CALIBRATION.items(), key=lambda kv: (kv[1][0], kv[0])):
        result = ("caught" if ok else "MISSED") if group == "defect" else ("pass" if ok else "FALSE ALARM")
        lines.append(f"| {clip} | {defect or 'pass'} | {result} | {failing} | {score:.2f} | {times} |")
    per_defect: dict[str, list[bool]] = {}
    clean = [ok for group, _, ok, *_ in CALIBRATION.values() if group == "clean"]
    for group, defect, ok, *_ in CALIBRATION.values():
        if group == "defect":
            per_defect.setdefault(defect, []).append(ok)
    rates = ", ".join(f"{d} {sum(v)}/{len(v)}" for d, v in sorted(per_defect.items()))
    lines.append(f"detection rate per defect: {rates}")
    if clean:
        lines.append(f"false alarms: {len(clean) - sum(clean)}/{len(clean)} clean clips")
    return lines
