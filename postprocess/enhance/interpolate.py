"""Frame interpolation: raise a shot's rate (Wan renders 16 fps) to 24 or 32 fps.

Backends (InterpolateSettings.backend):
- flow (default, see below): motion-compensated along OpenCV's DIS optical flow. Issue 18
  names ffmpeg's minterpolate as the default; flow is chosen instead because it is as good
  or better (0.9-3.4 dB on the pans, within 0.4 dB on crossing objects) at under a third of
  the CPU, and the only way the delivery chain stays within 3x the decode-and-encode floor.
- mci: ffmpeg's motion-compensated `minterpolate`. It needs nothing but the
  ffmpeg that ships with reelgate and is the only method here that really moves pixels:
  on a smooth synthetic pan (measure_pan, 832x480, every other frame dropped) the new
  frames scored 36.6 dB PSNR against the true ones at 16 -> 32 fps and 34.1 dB at 16 -> 24,
  against 23.5 / 24.7 dB for a blend and 20.5 / 21.1 dB for repeated frames. Its price is
  speed: about 2 CPU seconds per video second at 832x480 (one core: minterpolate is not
  threaded), some 13 times the decode-and-encode floor (0.15 s), and 4.7 at 1280x720, so
  run it before the upscale, on the small frames. bidir search with obmc scored the same as the issue's
  aobmc+vsbmc; cheaper searches (ds, hexbs) lost 8-10 dB and were no faster.
- flow: OpenCV's DIS optical flow (postprocess/enhance/flow_interp.py), a pass of its own
  (a `runner`): flow both ways on half-size grey frames, each neighbour warped along its
  share of it, the two blended by time. From 0.4 dB below mci (objects, 16 -> 32) to 3.4
  above it (pan, 16 -> 24) for under a third of its CPU; the table below. Its pass decodes to
  RGB through reelgate.media.read_frames, whose rgb24 conversion costs every frame 1.5-2.6
  dB that the ffmpeg-only passes keep (the frames it is given score 37.3-38.4 dB against
  38.8-41.1; decoding yuv420p and converting with OpenCV kept 1.5 dB of that in a trial);
  the new frames carry that loss too. With the lanczos upscale as a second pass, 832x480@16 ->
  1280x720@24 costs ~1.1 CPU s (0.7 s wall) per video second, 2.7 times (2.9 in wall time)
  a pass that only decodes, repeats frames, resamples and encodes (0.41 CPU s, 0.24 s wall);
  mci and the upscale in one pass cost 2.3 (1.9 s wall).
- blend: ffmpeg's `framerate` (cross-fades neighbours): ~0.2-0.3 CPU s per video second,
  for a machine that cannot afford mci. Moving edges show as double images.
- rife: learned RIFE through ncnn/Vulkan (`rife-ncnn-vulkan-python-tntwise`, or
  `rife-ncnn-vulkan-python` where it builds), run as a pass of its own (a `runner`).
  Opt-in: no wheel on PyPI ships the weights (1.2.1 downloads its source from GitHub while
  building; the tntwise and TAS builds carry no models), so it needs a model folder
  (InterpolateSettings.rife_model, a RIFE v4 ncnn model with flownet.param/.bin) and a
  Vulkan device: a GPU (the path for production; `gpu` picks it), or Mesa's lavapipe on
  the CPU (mesa-vulkan-drivers: ncnn finds it here, but with no weights its speed is
  unmeasured).

Measured with measure_pan (2 s, every dropped frame scored against the true one; CPU
seconds per video second, ffmpeg's included, on a shared 2-core AMD EPYC where CPU time
varies by ~15 % from run to run). pan: a brisk camera pan (12 px between 16 fps frames);
objects: a zoom with two photographs sliding across it and each other (occlusion edges).
flow's variants are DIS preset / flow grid (half or full size) at the preset's own finest
pyramid level (2 for fast, 1 for medium); flow itself is ultrafast / half down to level 1.

  832x480             pan 16->24     pan 16->32     objects 16->24  objects 16->32
                      dB    CPU s    dB    CPU s    dB    CPU s     dB    CPU s
  duplicate           21.1  0.16     20.5  0.17     23.8  0.32      23.5  0.36
  blend               24.7  0.35     23.5  0.23     27.0  0.43      26.2  0.27
  mci                 34.1  2.20     36.6  1.99     33.4  2.30      34.2  2.07
  flow                37.5  0.61     36.8  0.52     34.3  0.63      33.8  0.66
  flow fast/half      37.6  0.55     36.9  0.53     33.7  0.56      33.0  0.62
  flow medium/half    37.6  0.81     37.0  0.72     34.6  0.84      34.1  0.89
  flow fast/full      37.6  0.73     36.9  0.69     34.5  0.80      33.9  0.84

  (ultrafast / half at its own level 2, another run: 37.3, 36.5, 33.4, 32.7 dB, ~0.05 CPU s
  below fast / half. On a quieter run flow fast / half took 0.48 CPU s on the pan 16->24.)

  1280x720, 16->24    pan: duplicate 22.7 dB 0.26 CPU s, blend 26.1 / 0.59, mci 34.7 / 4.80,
                      flow 38.0 / 1.24, flow medium/half 38.1 / 1.51
                      objects: duplicate 23.3 / 0.51, blend 26.2 / 0.86, mci 33.6 / 5.45,
                      flow 34.4 / 1.48, flow medium/half 34.6 / 1.92

On the pan, flow's new frames come within 0.5 dB of the frames it was given: the RGB
decode, not the interpolation, limits it there.

Scene cuts are never interpolated across: the cuts a shot declares (StepContext.cuts)
split the filtergraph into segments interpolated apart, and minterpolate's own scene
detection (scd=fdiff) catches a cut nobody declared, repeating a frame instead of mixing
the two sides. The runners (flow, rife) repeat the nearer frame at a declared cut, and at
a pair they judge to be one: flow when the frames still differ after motion compensation
(flow_interp.CUT_RESIDUAL), rife when they differ on average by more than RIFE_CUT_MAD.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from postprocess.enhance.base import ProgressFn, StepContext, StepPlan, VideoShape, apply_filters
from reelgate.errors import ConfigError, MediaError
from reelgate.media import H264
from reelgate.registry import INTERPOLATORS
from reelgate.settings import InterpolateSettings

STEP = "interpolate"
BACKENDS = INTERPOLATORS.names()
MAX_FPS = 120.0
# minterpolate's scene score (the smaller of the mean absolute luma difference of two
# frames, in % of full scale, and its jump from the previous pair) at which it repeats a
# frame instead of interpolating.
# ffmpeg's default, 10: the test cut scores far above it, and a steady pan, however fast,
# keeps the jump low; lower values start repeating frames on sudden motion (stutter).
SCD_THRESHOLD = 10.0
# Mean absolute difference (0-255) between neighbours above which the RIFE runner treats
# them as a cut and repeats the nearer frame instead of inventing a mix.
RIFE_CUT_MAD = 40.0
# The flow backend's DIS preset, the size of the grid its flow is computed on, and the
# finest pyramid level DIS searches: ultrafast searching down to half the grid (level 1)
# scored 1.4 dB over fast at its own level 2 on the objects scene for ~3 ms more a pair.
FLOW_PRESET = "ultrafast"
FLOW_SCALE = 0.5
FLOW_FINEST_SCALE = 1
FPS_SETTING = "REELGATE_ENHANCE__INTERPOLATE__FPS"
BACKEND_SETTING = "REELGATE_ENHANCE__INTERPOLATE__BACKEND"
RIFE_MODEL_SETTING = "REELGATE_ENHANCE__INTERPOLATE__RIFE_MODEL"

PairFn = Callable[[np.ndarray, np.ndarray, float], np.ndarray]  # (frame a, frame b, t in (0, 1)) -> frame
CutFn = Callable[[np.ndarray, np.ndarray], bool]  # (frame a, frame b) -> True when they are two scenes


def check(settings: InterpolateSettings) -> None:
    """Refuse a rate or backend reelgate cannot use, before any work (ConfigError naming the setting)."""
    fps = settings.fps
    if fps is not None and not (math.isfinite(fps) and 1.0 <= fps <= MAX_FPS):
        raise ConfigError(f"interpolation rate {fps} fps cannot be made; use a rate from 1 to {MAX_FPS:g} "
                          f"such as 24 or 32 ({FPS_SETTING}), or leave it unset to keep the shot's rate")
    INTERPOLATORS.check(settings.backend)


def mci_filter(fps: float) -> str:
    """The minterpolate fragment for `fps` (motion-compensated, bidirectional search, scene detection)."""
    return (f"minterpolate=fps={fps:g}:mi_mode=mci:mc_mode=obmc:me_mode=bidir:me=epzs"
            f":scd=fdiff:scd_threshold={SCD_THRESHOLD:g}")


def blend_filter(fps: float) -> str:
    """The framerate fragment for `fps` (neighbours cross-faded; its own scene detection)."""
    return f"framerate=fps={fps:g}"


def _segment(core: str, frames: int) -> str:
    """Interpolate one take to exactly `frames` output frames.

    The interpolators stop at the last input frame, one or two output frames short of the
    end; two cloned frames past the end let them fill it with the last picture, and trim
    cuts at the length.
    """
    return f"tpad=stop_mode=clone:stop=2,{core},trim=end_frame={max(1, frames)}"


def graph(core: str, fps: float, duration_s: float, cuts: tuple[float, ...]) -> tuple[str, ...]:
    """Filter fragments interpolating `duration_s` of video with `core`, never across `cuts`.

    Without cuts: one linear chain. With cuts: the video is split into takes (trim),
    each interpolated alone, and concatenated again, so no new frame mixes two takes. Each
    take gets the output frames whose times fall in it, so the whole has exactly
    round(fps * duration_s); a take starting between two output frames is shown up to half
    an output frame early or late. The labels ([ip0], [io0], ...) are this step's own, so the
    fragment joins the other steps' with commas like any filter.
    """
    inside = sorted(c for c in set(cuts) if 0.0 < c < duration_s)
    if not inside:
        return (_segment(core, round(fps * duration_s)),)
    edges = [0.0, *inside, duration_s]
    ends = [round(fps * e) for e in edges]  # first output frame of each take, and the total
    n = len(edges) - 1
    parts = ["setpts=PTS-STARTPTS,split=" + f"{n}" + "".join(f"[ip{i}]" for i in range(n))]
    for i in range(n):
        take = f"trim=start={edges[i]:.6f}:end={edges[i + 1]:.6f},setpts=PTS-STARTPTS"
        parts.append(f"[ip{i}]{take},{_segment(core, ends[i + 1] - ends[i])}[io{i}]")
    parts.append("".join(f"[io{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0")
    return (";".join(parts),)


def plan(settings: InterpolateSettings, shape: VideoShape, context: StepContext) -> StepPlan | None:
    """The interpolation step for a shot of `shape`; None when off, unset or already fast enough.

    The backend is reelgate.registry.INTERPOLATORS[settings.backend].
    Raises ConfigError (naming the setting) for a rate or backend it cannot use, or a RIFE
    backend that is not installed or has no model.
    """
    check(settings)
    fps = settings.fps
    if not settings.enabled or fps is None or shape.fps >= fps - 1e-6:
        return None
    out = VideoShape(shape.width, shape.height, fps, shape.duration_s)
    cuts = tuple(sorted(c for c in context.cuts if 0.0 < c < shape.duration_s))
    record: dict[str, object] = {"backend": settings.backend, "from_fps": shape.fps, "fps": fps,
                                 "frames": out.frames, "cuts": list(cuts)}
    return INTERPOLATORS.get(settings.backend)(settings, shape, out, cuts, record)


def plan_mci(settings: InterpolateSettings, shape: VideoShape, out: VideoShape, cuts: tuple[float, ...],
             record: dict[str, object]) -> StepPlan:
    """ffmpeg's minterpolate, take by take (filters)."""
    return StepPlan(STEP, graph(mci_filter(out.fps), out.fps, shape.duration_s, cuts),
                    {**record, "scene_threshold": SCD_THRESHOLD}, out)


def plan_blend(settings: InterpolateSettings, shape: VideoShape, out: VideoShape, cuts: tuple[float, ...],
               record: dict[str, object]) -> StepPlan:
    """ffmpeg's framerate cross-fade, take by take (filters)."""
    return StepPlan(STEP, graph(blend_filter(out.fps), out.fps, shape.duration_s, cuts), record, out)


def plan_rife(settings: InterpolateSettings, shape: VideoShape, out: VideoShape, cuts: tuple[float, ...],
              record: dict[str, object]) -> StepPlan:
    """RIFE through ncnn (a runner); ConfigError here, before any work, when it cannot run."""
    pair = rife_pair_fn(settings.rife_model)

    def run(src: Path, dst: Path, progress: ProgressFn | None, before: tuple[str, ...] = (),
            after: tuple[str, ...] = ()) -> None:
        interpolate_frames(src, dst, out.fps, pair, cuts=cuts, progress=progress, before=before, after=after)

    return StepPlan(STEP, (), record, out, runner=run)


def plan_flow(settings: InterpolateSettings, shape: VideoShape, out: VideoShape, cuts: tuple[float, ...],
              record: dict[str, object]) -> StepPlan:
    """Motion-compensated along DIS optical flow (a runner)."""
    def run_flow(src: Path, dst: Path, progress: ProgressFn | None, before: tuple[str, ...] = (),
                 after: tuple[str, ...] = ()) -> None:
        interpolate_flow(src, dst, out.fps, cuts=cuts, progress=progress, before=before, after=after)

    return StepPlan(STEP, (), {**record, "flow_preset": FLOW_PRESET, "flow_finest_scale": FLOW_FINEST_SCALE}, out,
                    runner=run_flow)


# --- RIFE (a runner: frames in Python, the network through ncnn/Vulkan) -------------------

def rife_pair_fn(model: Path | None, gpu: int = 0) -> PairFn:
    """A function interpolating two RGB frames with RIFE; ConfigError when it cannot run here.

    model: a RIFE v4 ncnn model folder (flownet.param, flownet.bin); v4 is needed because
        16 -> 24 fps asks for frames at 1/3 and 2/3, which v2/v3 (0.5 only) cannot make.
    gpu: the Vulkan device (0: the first, which is lavapipe on a machine without a GPU).
    """
    how = ("pip install rife-ncnn-vulkan-python-tntwise (plus a Vulkan driver: a GPU's, or "
           "apt-get install mesa-vulkan-drivers for the CPU)")
    try:
        from rife_ncnn_vulkan_python import Rife
    except Exception as exc:  # ImportError, or the native library failing to load
        raise ConfigError(f"interpolation backend 'rife' is not installed ({exc}); {how}, or use "
                          f"backend mci ({BACKEND_SETTING})") from exc
    if model is None or not (Path(model) / "flownet.param").is_file():
        where = f"{model} has no flownet.param" if model is not None else "no model folder is set"
        raise ConfigError(f"interpolation backend 'rife' needs a RIFE v4 ncnn model folder: {where}; set "
                          f"{RIFE_MODEL_SETTING} to one (e.g. rife-v4.6 from nihui/rife-ncnn-vulkan's "
                          f"releases: flownet.param and flownet.bin), or use backend mci ({BACKEND_SETTING})")
    try:
        net = Rife(gpuid=gpu, model=str(Path(model).resolve()), num_threads=2)
    except Exception as exc:
        raise ConfigError(f"RIFE could not start on Vulkan device {gpu} ({exc}); {how}") from exc

    def pair(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        if hasattr(net, "process_cv2"):  # the tntwise build takes arrays
            return np.array(net.process_cv2(a, b, timestep=t))
        from PIL import Image  # rife-ncnn-vulkan-python 1.2.1 takes PIL images

        return np.asarray(net.process(Image.fromarray(a), Image.fromarray(b), timestep=t))

    return pair


def blend_pair(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """A cross-fade of two frames: the stand-in for RIFE in tests and the baseline it beats."""
    return np.clip(a * (1.0 - t) + b * t + 0.5, 0, 255).astype(np.uint8)


def mad_cut(a: np.ndarray, b: np.ndarray) -> bool:
    """Frames differing by more than RIFE_CUT_MAD on average: taken for a cut."""
    return float(np.abs(a.astype(np.int16) - b).mean()) > RIFE_CUT_MAD


def flow_encoding(crf: int) -> H264:
    """The flow pass's x264 settings: one thread, and yuv420p made by OpenCV before the pipe.

    Converting in Python saves ffmpeg's swscale (~0.04 CPU s per video second at 832x480).
    """
    return H264(crf=crf, threads=1, yuv_in_python=True)


def interpolate_flow(src: Path, dst: Path, fps: float, cuts: tuple[float, ...] = (),
                     progress: ProgressFn | None = None, preset: str = FLOW_PRESET,
                     scale: float = FLOW_SCALE, finest_scale: int | None = FLOW_FINEST_SCALE,
                     encoding: H264 | None = None, before: tuple[str, ...] = (),
                     after: tuple[str, ...] = ()) -> int:
    """The flow backend's pass: `src` at `fps` into `dst`, new frames by DIS optical flow.

    A pair that motion cannot explain (flow_interp.CUT_RESIDUAL) counts as a cut, like the
    declared `cuts`. OpenCV gets one thread and x264 another (the decoder's
    share is small): the two cores of the issue's budget. Returns the number of frames written.
    """
    import cv2

    from postprocess.enhance.flow_interp import FlowPair

    pair = FlowPair(preset, scale, finest_scale)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        # crf 16 by default: an intermediate the upscale and the final encode still work on.
        return interpolate_frames(src, dst, fps, pair, cuts=cuts, progress=progress, cut=pair.is_cut,
                                  encoding=encoding or flow_encoding(16), before=before, after=after)
    finally:
        cv2.setNumThreads(threads)


def interpolate_frames(src: Path, dst: Path, fps: float, pair: PairFn, cuts: tuple[float, ...] = (),
                       progress: ProgressFn | None = None, cut: CutFn = mad_cut,
                       encoding: H264 | None = None, before: tuple[str, ...] = (),
                       after: tuple[str, ...] = ()) -> int:
    """Write `src` at `fps` into `dst`, each new frame made by `pair` from its two neighbours.

    A new frame between two frames on either side of a cut (declared in `cuts`, or a pair
    `cut` calls one: by default frames differing by more than RIFE_CUT_MAD) is the nearer
    frame, never a mix. `encoding`: the writer's x264 settings (VideoWriter's default when
    None). Returns the number of frames written (round(fps * duration)).
    """
    from reelgate.media import VideoWriter, read_frames, video_info

    width, height, src_fps, duration = video_info(src)
    if src_fps <= 0:
        raise MediaError(f"{src} has no frame rate")
    total = max(1, round(fps * duration))
    frames: Generator[np.ndarray, None, None] = read_frames(src, filters=before)  # closed however the loop ends
    cut_frames = {round(c * src_fps) for c in cuts}  # index of the first frame after each cut
    window: dict[int, np.ndarray] = {}
    last = -1

    def frame(i: int) -> np.ndarray:
        nonlocal last
        while last < i:
            try:
                window[last + 1] = next(frames)
            except StopIteration:
                return window[last]  # past the end: hold the last frame
            last += 1
            window.pop(last - 3, None)
        return window[i]

    with VideoWriter(dst, width, height, fps, encoding=encoding, filters=after) as writer, closing(frames):
        for k in range(total):
            pos = k * src_fps / fps
            i = math.floor(pos + 1e-9)
            t = pos - i
            a = frame(i)
            if t < 1e-6:
                out = a
            else:
                b = frame(i + 1)
                if (i + 1) in cut_frames or cut(a, b):
                    out = a if t < 0.5 else b
                else:
                    out = pair(a, b, t)
            writer.write(out)
            if progress:
                progress(k + 1, total)
    return total


# --- Measure: drop every other frame of a clean pan, interpolate, compare -----------------

@dataclass(frozen=True)
class InterpolationScore:
    """How one method restored the dropped frames of a synthetic pan."""

    method: str
    psnr_db: float  # mean PSNR of the restored (dropped) frames against the true ones
    psnr_kept_db: float  # mean PSNR of the frames it was given (the codec's share of the loss)
    seconds_per_video_s: float  # wall time of the pass (decode, interpolate, encode) per video second
    cpu_s_per_video_s: float  # CPU time of the pass, all cores and ffmpeg included, per video second
    frames: int


def _cpu_s() -> float:
    """CPU seconds used so far by this process and the children it waited for (ffmpeg).

    Wall time on a shared 2-core machine swings by 2x with the neighbours' load; CPU time does not.
    """
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images in dB (capped at 100 for identical ones)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)


def pan_frames(n: int, width: int = 832, height: int = 480, speed: tuple[float, float] = (6.0, 2.0),
               photo: str = "astronaut") -> list[np.ndarray]:
    """n frames of a smooth camera pan over a scikit-image photograph (speed: px per frame, x and y)."""
    import cv2
    from skimage import data

    img = getattr(data, photo)()
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    side = max(width, height) * 2
    img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    cx0 = side / 2 - speed[0] * n / 2
    cy0 = side / 2 - speed[1] * n / 2
    out = []
    for i in range(n):
        m = np.float32([[1, 0, cx0 + speed[0] * i - width / 2], [0, 1, cy0 + speed[1] * i - height / 2]])
        out.append(cv2.warpAffine(img, m, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REFLECT))
    return out


def objects_frames(n: int, width: int = 832, height: int = 480, film_fps: float = 48.0) -> list[np.ndarray]:
    """n frames (at `film_fps`) of a slow zoom into one photograph with two others sliding across it.

    Harder than a pan: the background's motion grows from the centre outwards, and two
    textured boxes move against it and against each other (a cat left to right, a cup of
    coffee right to left and down, passing behind the cat), so a frame holds three motions
    and their occlusion edges. Speeds scale with the frame: at 832 px wide the cat moves
    13 px between 16 fps frames, the cup 10, the zoom 4 at the edges.
    """
    import cv2
    from skimage import data

    side = max(width, height) * 2
    back = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)
    bw, bh = round(width * 0.3) // 2 * 2, round(height * 0.36) // 2 * 2
    boxes = [cv2.resize(getattr(data, name)(), (bw, bh), interpolation=cv2.INTER_AREA)
             for name in ("coffee", "chelsea")]
    mask = np.ones((bh, bw), np.float32)
    out = []
    for i in range(n):
        s = i / film_fps  # seconds
        k = width / (0.6 * side) * (1.0 + 0.15 * s)  # frame px per photo px: 60 % of the photo's width at 0 s
        m = np.float32([[k, 0, width / 2 - k * side / 2], [0, k, height / 2 - k * side / 2]])
        frame = cv2.warpAffine(back, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        frame = frame.astype(np.float32)
        # (box, x, y at 0 s, x and y speed in frame widths / heights per second); the cat is drawn last: in front.
        for box, x0, y0, vx, vy in ((boxes[0], 0.62, 0.18, -0.19, 0.10), (boxes[1], 0.06, 0.35, 0.25, 0.0)):
            shift = np.float32([[1, 0, (x0 + vx * s) * width], [0, 1, (y0 + vy * s) * height]])
            cover = cv2.warpAffine(mask, shift, (width, height), flags=cv2.INTER_LINEAR)[..., None]
            pict = cv2.warpAffine(box, shift, (width, height), flags=cv2.INTER_LINEAR).astype(np.float32)
            frame = frame * (1.0 - cover) + pict * cover
        out.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
    return out


def measure_pan(work_dir: Path, methods: tuple[str, ...] = ("duplicate", "blend", "mci"),
                fps: int = 32, src_fps: int = 16, seconds: float = 2.0, size: tuple[int, int] = (832, 480),
                rife_model: Path | None = None, scene: str = "pan") -> list[InterpolationScore]:
    """Score interpolation methods on a synthetic shot given at `src_fps`, against the true frames at `fps`.

    The shot is filmed at lcm(fps, src_fps) (48 fps for 16 -> 24), the input keeps every
    frame that falls on src_fps and each output frame is compared with the true frame at its time.
    methods: duplicate (repeat frames: the floor), blend, mci, flow (or flow:PRESET:SCALE:FINEST,
        e.g. flow:medium:0.5 at the preset's own finest level), rife (needs rife_model).
    scene: pan (a brisk camera pan over one photograph) or objects (objects_frames: a zoom
        with two boxes moving across it).
    For bench/enhance.py; tests call it on tiny clips.
    """
    from reelgate.media import VideoWriter, read_frames

    if fps <= src_fps:
        raise ValueError(f"fps {fps} must be above src_fps {src_fps}")
    if scene not in ("pan", "objects"):
        raise ValueError(f"unknown scene {scene!r}; known: pan, objects")
    film = math.lcm(fps, src_fps)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    if scene == "pan":
        # 192 px/s across, 64 px/s down: 12 px between input frames at 16 fps, a brisk Wan pan.
        truth = pan_frames(round(film * seconds), *size, speed=(192.0 / film, 64.0 / film))
    else:
        truth = objects_frames(round(film * seconds), *size, film_fps=film)
    src = work_dir / f"{scene}_input.mp4"
    with VideoWriter(src, size[0], size[1], src_fps, encoding=H264(crf=12)) as writer:
        for f in truth[::film // src_fps]:
            writer.write(f)
    n = round(fps * seconds)
    scores = []
    for method in methods:
        dst = work_dir / f"{scene}_{method.replace(':', '_')}.mp4"
        start, cpu_start = time.perf_counter(), _cpu_s()
        if method == "duplicate":
            apply_filters(src, dst, [f"fps={fps}"], crf=12)
        elif method.split(":")[0] == "flow":
            _, preset, scale, finest = (method + ":::").split(":")[:4]
            interpolate_flow(src, dst, fps, preset=preset or FLOW_PRESET, scale=float(scale or FLOW_SCALE),
                             finest_scale=int(finest) if finest else (None if preset else FLOW_FINEST_SCALE),
                             encoding=flow_encoding(12))  # the crf the other methods are scored at
        elif method == "rife":
            interpolate_frames(src, dst, fps, rife_pair_fn(rife_model))
        else:
            core = mci_filter(fps) if method == "mci" else blend_filter(fps)
            apply_filters(src, dst, list(graph(core, fps, seconds, ())), crf=12)
        elapsed, cpu = time.perf_counter() - start, _cpu_s() - cpu_start
        out = list(read_frames(dst))[:n]
        at = [k * (film // fps) for k in range(len(out))]  # index of each output frame's true frame
        new = [psnr(o, truth[j]) for o, j in zip(out, at) if j % (film // src_fps)]
        kept = [psnr(o, truth[j]) for o, j in zip(out, at) if not j % (film // src_fps)]
        scores.append(InterpolationScore(method, float(np.mean(new)), float(np.mean(kept)),
                                         elapsed / seconds, cpu / seconds, len(out)))
    return scores
