"""Calibrate the dlib likeness threshold: same-person vs different-person cosine similarities.

Positives: skimage's astronaut, enrolled from the original photo, re-found by MTCNN in
random variants of what a generated clip does to a face (scale 0.5-1.5, shift, brightness
+-30 %, JPEG quality 30-90, blur, rotation +-10 deg), each compared with the enrolment.
Negatives: every other real face installed here (skimage's cameraman, the 100 LFW faces of
skimage.data.lfw_subset, 25x25 grey, upscaled) and every non-face crop MTCNN takes for a
face at confidence >= 0.5 in the other shipped pictures, compared with the astronaut;
also LFW faces against each other (the subset has no identity labels: a few pairs may be
the same person).

Run: python bench/likeness_calibration.py [--variants 160] [--threshold 0.91]   (about 2-4 min on 2 cores)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

# Run as a script, bench/ comes first on sys.path and bench/safety.py would shadow the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from safety.faces import FaceDetector  # noqa: E402
from safety.frames import SampledFrame  # noqa: E402
from safety.likeness import DLIB_THRESHOLD, DlibEmbedder  # noqa: E402


def _frame(image: np.ndarray) -> list[SampledFrame]:
    return [SampledFrame(time_s=0.0, index=0, image=image)]


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random variant of what generation and encoding do to a face."""
    h, w = image.shape[:2]
    scale = rng.uniform(0.5, 1.5)
    angle = rng.uniform(-10, 10)
    shift = rng.uniform(-0.15, 0.15, size=2) * (w, h)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += shift
    out = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    out = np.clip(out.astype(np.float32) * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8)
    sigma = rng.uniform(0, 1.5)
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    ok, jpg = cv2.imencode(".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 91))])
    return cv2.imdecode(jpg, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def _pct(values: np.ndarray) -> str:
    if len(values) == 0:
        return "n=0"
    q = np.percentile(values, [0, 1, 5, 50, 95, 99, 100])
    return f"n={len(values)} min={q[0]:.3f} p1={q[1]:.3f} p5={q[2]:.3f} median={q[3]:.3f} p95={q[4]:.3f} p99={q[5]:.3f} max={q[6]:.3f}"


def _hist(values: np.ndarray, lo: float = 0.5, hi: float = 1.0, bins: int = 20) -> str:
    counts, edges = np.histogram(np.clip(values, lo, hi), bins=bins, range=(lo, hi))
    return "\n".join(f"  {edges[i]:.3f} {'#' * min(60, c)} {c}" for i, c in enumerate(counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=160)
    parser.add_argument("--threshold", type=float, default=DLIB_THRESHOLD)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import skimage.data as data

    detector, embedder = FaceDetector(), DlibEmbedder()
    astronaut = data.astronaut()
    faces = detector.detect(_frame(astronaut), 0.9)
    assert len(faces) == 1, faces
    enrolled = embedder.embed(astronaut, faces[0].box)

    # Positives
    rng = np.random.default_rng(args.seed)
    pos, missed, t_detect, t_embed = [], 0, 0.0, 0.0
    for _ in range(args.variants):
        image = degrade(astronaut, rng)
        t0 = time.perf_counter()
        found = detector.detect(_frame(image), 0.9)
        t1 = time.perf_counter()
        if not found:
            missed += 1
            continue
        scores = [float(embedder.embed(image, f.box) @ enrolled) for f in found]
        t_embed += time.perf_counter() - t1
        t_detect += t1 - t0
        pos.append(max(scores))
    pos = np.array(pos)

    # Negatives: other real faces
    lfw = data.lfw_subset()[:100]
    lfw_embs, lfw_detected = [], 0
    for face in lfw:
        image = cv2.cvtColor(cv2.resize((face * 255).astype(np.uint8), (150, 150), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
        found = detector.detect(_frame(image), 0.9)
        lfw_detected += bool(found)
        box = max(found, key=lambda f: f.confidence).box if found else (0, 0, 150, 150)
        lfw_embs.append(embedder.embed(image, box))
    lfw_embs = np.array(lfw_embs)
    camera = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB)
    cam_faces = detector.detect(_frame(camera), 0.5)
    cam_embs = [embedder.embed(camera, f.box) for f in cam_faces]

    # Negatives: non-faces MTCNN detects at >= 0.5 in pictures with no human face
    nonface_embs, nonface_names = [], []
    pictures = {n: getattr(data, n)() for n in ("coffee", "chelsea", "rocket", "horse", "brick", "grass", "gravel", "moon", "coins", "hubble_deep_field", "text", "page", "clock", "cat")}
    try:
        from sklearn.datasets import load_sample_images

        for name, img in zip(("china", "flower"), load_sample_images().images):
            pictures[name] = img
    except ImportError:
        pass
    for name, img in pictures.items():
        img = np.asarray(img)
        if img.dtype != np.uint8:
            img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
        img = np.ascontiguousarray(img[:, :, :3])
        for f in detector.detect(_frame(img), 0.5):
            nonface_embs.append(embedder.embed(img, f.box))
            nonface_names.append(f"{name}@{f.confidence:.2f}")

    neg_astro = np.array([float(e @ enrolled) for e in [*lfw_embs, *cam_embs, *nonface_embs]])
    iu = np.triu_indices(len(lfw_embs), k=1)
    neg_pairs = (lfw_embs @ lfw_embs.T)[iu]

    # dlib's own 0.6 rule is on raw descriptors, whose length is not 1.
    raw_norm = float(np.linalg.norm(np.array(embedder._net.compute_face_descriptor(
        np.ascontiguousarray(astronaut), embedder._shape(astronaut, embedder._dlib.rectangle(*faces[0].box)), num_jitters=0))))

    thr = args.threshold
    print(f"positives (astronaut variants, {missed}/{args.variants} not detected): {_pct(pos)}")
    print(_hist(pos))
    print(f"negatives vs astronaut (LFW {len(lfw_embs)} [{lfw_detected} found by MTCNN], cameraman {len(cam_embs)}, "
          f"non-face detections {len(nonface_embs)}: {', '.join(nonface_names) or 'none'}): {_pct(neg_astro)}")
    print(_hist(neg_astro))
    print(f"negatives LFW vs LFW (unlabelled pairs): {_pct(neg_pairs)}")
    print(_hist(neg_pairs))
    print(
        f"raw dlib descriptor norm (astronaut): {raw_norm:.3f}; dlib d=0.6 -> cos {1 - 0.6**2 / 2:.3f} on unit vectors, "
        f"{1 - 0.6**2 / (2 * raw_norm**2):.3f} at this norm"
    )
    for t in sorted({0.82, 0.85, 0.875, 0.90, 0.91, 0.92, thr}):
        print(
            f"threshold {t:.3f}: true-match rate {np.mean(pos >= t):.3f} (of detected), "
            f"false-match vs astronaut {np.mean(neg_astro >= t):.3f}, LFW pairs {np.mean(neg_pairs >= t):.4f}"
        )
    n = max(1, len(pos))
    print(f"chosen threshold {thr:.3f}; per face: detect {1000 * t_detect / n:.0f} ms (512x512 frame), embed {1000 * t_embed / n:.0f} ms")


if __name__ == "__main__":
    main()
