"""The offline default generator: a readable animatic of the shot, drawn from its fields.

Not a diffusion model: it paints a layered scene (sky, clouds, far terrain, mist, hills,
ground, a subject silhouette) coloured by time of day and mood, in the shot's weather
(rain, snow, fog, storm with lightning, wind), framed by its shot size and angle, then
moves a camera through it as the shot asks, with parallax between layers. Layers are
drawn once; weather particles are seamless tiles that travel at a constant velocity
(position = start + velocity * t, wrapped), so they move coherently, never redrawn at
random. Each frame is a few affine warps and alpha blends, and the MP4 is encoded by
x264 on one thread (ENCODING): a 640x360 second, drawn and encoded, costs about
0.13-0.22 s of one core in every weather and camera move (bench/animatic.py). Same
shot and seed give identical frames, and the same MP4 bytes with the same ffmpeg on
any machine; another seed gives another composition. A small slug (shot number, size,
move) may sit at the top-left; the shot's words are never printed (subtitles carry them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2

from generation.animatic.scene import Scene
from generation.base import ProgressFn
from generation.memory import PeakMemory
from reelgate.media import H264, VideoWriter
from reelgate.records import GeneratedShot, ShotSpec
from reelgate.settings import GenerationSettings

# Rain and snow are many small moving particles, the costliest thing to encode: at the
# writer's default (veryfast, RGB piped) they took ~0.17-0.23 s of one core per 640x360
# second, more than drawing them. x264's ultrafast preset with its deblocking filter
# switched back on costs ~0.04-0.05 s, a quarter, at the same CRF: PSNR against the drawn
# frames stays within 0.5 dB of veryfast's (36.8 dB snow to 41 dB storm; the lossless
# yuv420p ceiling is ~45 dB) and no blocks show in flat skies, for 2-5x the bytes (still
# only 0.2-0.5 MB a second: these files are intermediates, the episode is encoded again).
# superfast sits between: twice ultrafast's time for a third fewer bytes. One thread: the
# animatic's budget is one core (issue 17), the other core stays free for the flow's
# checks, and x264 then writes the same bytes whatever the machine's core count.
ENCODING = H264(crf=20, preset="ultrafast", x264_params="deblock=0,0", threads=1, yuv_in_python=True)


@contextmanager
def one_opencv_thread() -> Iterator[None]:
    """OpenCV on one thread while drawing, then as it was (the process's other work keeps its own).

    A 640x360 layer is too small for OpenCV's thread pool to pay: on 2 cores, drawing with
    two threads took 13-26 % more CPU than with one, for no shorter wall time.
    """
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


class AnimaticGenerator:
    """Draws a moving storyboard of each shot: offline, fast and deterministic."""

    name = "animatic"
    uses_gpu = False

    def __init__(self, settings: GenerationSettings) -> None:
        self.settings = settings

    def generate(
        self,
        shot: ShotSpec,
        *,
        seed: int,
        attempt: int,
        out_path: Path,
        progress: ProgressFn | None = None,
    ) -> GeneratedShot:
        """Render `shot` with `seed` into an MP4 at `out_path`."""
        s = self.settings
        started = time.perf_counter()
        with one_opencv_thread(), PeakMemory(cuda=False) as memory:
            scene = Scene(shot, seed, s.width, s.height, s.fps, slug=s.animatic_slug)
            with VideoWriter(out_path, s.width, s.height, s.fps, encoding=ENCODING) as writer:
                for i in range(scene.frames):
                    writer.write(scene.render(i))
                    if progress is not None and ((i + 1) % 12 == 0 or i + 1 == scene.frames):
                        progress(i + 1, scene.frames)
        return GeneratedShot(
            index=shot.index,
            attempt=attempt,
            path=Path(out_path),
            backend=self.name,
            model=None,
            seed=seed,
            width=s.width,
            height=s.height,
            fps=s.fps,
            frames=scene.frames,
            seconds_taken=round(time.perf_counter() - started, 3),
            peak_memory_mb=round(memory.peak_mb, 1),
            device="cpu",
        )
