"""Benchmark: the post-production stage of a 1280x720 24 fps episode beside a bare encode.

    python bench/post_episode.py [--minutes 1] [--compare-5min] [--language zh]

The issue's figures for a 60-second, 10-shot episode with narration, music and burned
subtitles: the post stage's wall time within 1.5x of ONE bare ffmpeg encode of the same
frames (the floor: the shots concatenated, libx264 at the same preset and CRF, no
filters, no audio), peak memory under 1.5 GB, and with --compare-5min the peak of a
5-minute, 50-shot episode no more than 20% above the 1-minute one.

The post stage is measured as the flow runs it: narration per shot (`narrate_segments`,
the offline voice of the language), the soundtrack (`make_soundtrack`: synthesised music,
ducking, loudness), the subtitle cues and files, and the assembly with burned subtitles,
the AI label and a soft subtitle track. Shots are synthesised first (ffmpeg testsrc2, a
different hue per shot; a 5-minute episode repeats the ten shot files under new names)
and are not measured. Each measurement runs in a fresh process, so peak memory is its
own: the Python process's peak RSS and the largest child's (ffmpeg, espeak) from
getrusage(RUSAGE_CHILDREN); "peak" is their sum, as if both peaked at once.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT, FPS = 1280, 720, 24
SHOT_S = 6.0
TARGET_RATIO = 1.5
TARGET_PEAK_MB = 1536
TARGET_GROWTH = 1.2

TEXTS = {
    "zh": [
        "小狐狸走过安静的雪原，抬头看星星。", "第二天早上，太阳照亮了整片山谷。", "它在河边遇到一只迷路的小鸭子。",
        "两个朋友一起沿着小路向前走。", "远处的山上传来了温暖的歌声。", "森林里的树叶在风中轻轻摇动。",
        "它们找到了一座废弃的小木屋。", "屋子里有一张旧地图和一盏灯。", "地图上画着回家的路和一条小河。",
        "最后，它们在星光下回到了家。",
    ],
    "en": [
        "The little fox crossed the silent snowfield.", "Next morning the sun lit the whole valley.",
        "By the river it met a lost duckling.", "The two friends walked on along the path.",
        "A warm song drifted down from the hills.", "Leaves swayed softly in the forest wind.",
        "They found an old and empty cabin.", "Inside lay an old map and a lamp.",
        "The map showed a river and the way home.", "At last they came home under the stars.",
    ],
}


def make_shots(folder: Path, count: int) -> list[Path]:
    """`count` 6-second 1280x720 shots; beyond ten, the first ten's files under new names."""
    from reelgate.media import run_ffmpeg

    shots = []
    for i in range(count):
        path = folder / f"shot{i:03d}.mp4"
        if i < 10:
            run_ffmpeg(
                ["-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={SHOT_S}",
                 "-vf", f"hue=h={36 * i}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                 "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)],
                f"synthesising shot {i}",
            )  # fmt: skip
        else:
            shutil.copyfile(shots[i % 10], path)
        shots.append(path)
    return shots


def _peaks() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"python_mb": own, "child_mb": children, "peak_mb": own + children}


def run_floor(folder: Path) -> dict:
    """One bare encode of the same frames: concat demuxer, libx264 at the stage's preset/CRF."""
    from reelgate.media import run_ffmpeg
    from reelgate.settings import PostSettings

    settings = PostSettings()
    shots = sorted(folder.glob("shot*.mp4"))
    listing = folder / "floor.ffconcat"
    listing.write_text("ffconcat version 1.0\n" + "".join(f"file '{p.resolve()}'\n" for p in shots))
    started = time.perf_counter()
    run_ffmpeg(
        ["-f", "concat", "-safe", "0", "-i", str(listing), "-an", "-c:v", "libx264",
         "-preset", settings.video_preset, "-crf", str(settings.video_crf), "-pix_fmt", "yuv420p",
         str(folder / "floor.mp4")],
        "encoding the floor",
    )  # fmt: skip
    return {"wall_s": time.perf_counter() - started, **_peaks()}


def run_post(folder: Path, language: str) -> dict:
    """The post stage as the flow runs it, on the shots in `folder`."""
    from postprocess.assemble import assemble
    from postprocess.mix import make_soundtrack
    from postprocess.subtitles import episode_cues, max_chars_per_line, subtitle_font_size, write_srt, write_vtt
    from postprocess.timeline import build_timeline, total_duration
    from postprocess.tts import narrate_segments
    from reelgate.media import video_info
    from reelgate.settings import PostSettings

    # A worker imports these once, like the models of the other benches: not per episode.
    import pypinyin  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import scipy.signal  # noqa: F401

    settings = PostSettings()
    shots = sorted(folder.glob("shot*.mp4"))
    texts = [TEXTS[language][i % 10] for i in range(len(shots))]
    out = folder / "episode"
    out.mkdir(exist_ok=True)
    stages: dict[str, float] = {}

    started = time.perf_counter()
    max_chars = max_chars_per_line(WIDTH, subtitle_font_size(HEIGHT, settings.font_size), language)
    pieces = [narrate_segments(t, language, out / f"voice{i:03d}.wav", settings, max_chars) for i, t in enumerate(texts)]
    stages["narration"] = time.perf_counter() - started

    t0 = time.perf_counter()
    slots = build_timeline([video_info(p)[3] for p in shots], [p.duration_s for p in pieces])
    total_s = total_duration(slots)
    mix = make_soundtrack([(s.voice_start_s, p.path) for s, p in zip(slots, pieces)], total_s, out, "calm", 7, settings)
    stages["music+mix"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    cues = episode_cues(slots, [p.segments for p in pieces], total_s)
    write_srt(cues, out / "subtitles.srt")
    write_vtt(cues, out / "subtitles.vtt")
    stages["subtitles"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = assemble(
        slots, shots, mix.path, cues, out / "episode.mp4", settings,
        width=WIDTH, height=HEIGHT, fps=FPS, language=language,
        metadata={"title": "bench", "episode_id": "bench", "model": "testsrc2"},
    )  # fmt: skip
    stages["assembly"] = time.perf_counter() - t0
    return {
        "wall_s": time.perf_counter() - started, "stages": stages, "episode_s": report.duration_s,
        "cues": report.subtitle_cues, "lufs": mix.integrated_lufs, **_peaks(),
    }


def measure(mode: str, folder: Path, language: str) -> dict:
    """Run one measurement in a fresh Python process, so its peak memory is its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--_measure", mode, "--_folder", str(folder), "--language", language],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{mode} measurement failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(minutes: float, language: str) -> dict:
    shots = max(1, round(minutes * 10))
    with tempfile.TemporaryDirectory(prefix="bench-post-") as tmp:
        folder = Path(tmp)
        make_shots(folder, shots)
        floor = measure("floor", folder, language)
        post = measure("post", folder, language)
    ratio = post["wall_s"] / floor["wall_s"]
    stage_text = ", ".join(f"{k} {v:.1f} s" for k, v in post["stages"].items())
    print(f"episode: {shots} shots, {post['episode_s']:.1f} s of {WIDTH}x{HEIGHT} at {FPS} fps, "
          f"{post['cues']} cues, {post['lufs']:.1f} LUFS ({language} narration)")
    print(f"floor (bare encode):  {floor['wall_s']:.1f} s, peak {floor['peak_mb']:.0f} MB "
          f"(ffmpeg {floor['child_mb']:.0f} MB)")
    print(f"post stage:           {post['wall_s']:.1f} s ({stage_text})")
    print(f"ratio to the floor:   {ratio:.2f}, target <= {TARGET_RATIO:g}: {'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    print(f"peak memory:          {post['peak_mb']:.0f} MB (python {post['python_mb']:.0f} MB + largest child "
          f"{post['child_mb']:.0f} MB), target < {TARGET_PEAK_MB} MB: "
          f"{'met' if post['peak_mb'] < TARGET_PEAK_MB else 'NOT met'}")
    return post


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--compare-5min", action="store_true", help="also run a 5-minute, 50-shot episode")
    parser.add_argument("--language", choices=sorted(TEXTS), default="zh")
    parser.add_argument("--_measure", choices=["floor", "post"], help=argparse.SUPPRESS)
    parser.add_argument("--_folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args._measure:
        result = run_floor(args._folder) if args._measure == "floor" else run_post(args._folder, args.language)
        print(json.dumps(result))
        return 0

    os.environ.setdefault("OMP_NUM_THREADS", "2")
    short = bench(args.minutes, args.language)
    if args.compare_5min:
        print()
        long = bench(5.0, args.language)
        growth = long["peak_mb"] / short["peak_mb"]
        ffmpeg_growth = long["child_mb"] / short["child_mb"]
        print(f"\npeak memory, 5 min over {args.minutes:g} min: {growth:.2f} (ffmpeg alone {ffmpeg_growth:.2f}), "
              f"target <= {TARGET_GROWTH:g}: {'met' if growth <= TARGET_GROWTH else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
