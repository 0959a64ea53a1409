"""Generation backends: the animatic default, the registry and pre-flight checks, tiny Wan."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from generation.animatic import AnimaticGenerator
from generation.base import (
    BACKENDS,
    check_backend,
    frames_for,
    get_generator,
    register_backend,
    release_generators,
)
from reelgate.errors import ConfigError, ModelNotFoundError, OutOfMemory, UnknownBackendError
from reelgate.media import read_frames, video_info
from reelgate.records import CAMERA_MOVES, GeneratedShot, ShotSpec
from reelgate.settings import GenerationSettings, Settings

CAMERAS = list(CAMERA_MOVES)  # every move the planner may write, the animatic draws


def decode(path: Path) -> np.ndarray:
    """All frames of a video as one (N, H, W, 3) uint8 array."""
    return np.stack(list(read_frames(path)))


def make_shot(**fields) -> ShotSpec:
    base = dict(
        index=1,
        text="一只小狐狸在黎明的雪林里行走，寻找回家的路。",
        subject="fox",
        action="walks",
        environment="snowy forest",
        camera="push",
        time_of_day="dawn",
        mood="calm",
        prompt="a small fox walks through a snowy forest at dawn, storybook illustration",
        duration_s=2.0,
        seed=11,
    )
    return ShotSpec(**{**base, **fields})


def render(tmp_path: Path, name: str, shot: ShotSpec, seed: int | None = None, **settings) -> tuple[GeneratedShot, np.ndarray]:
    gen = AnimaticGenerator(GenerationSettings(**{"width": 320, "height": 180, "fps": 12, **settings}))
    out = tmp_path / f"{name}.mp4"
    record = gen.generate(shot, seed=shot.seed if seed is None else seed, attempt=0, out_path=out)
    return record, decode(out)


def draw(shot: ShotSpec, seed: int | None = None, **settings) -> np.ndarray:
    """The frames `render` would encode, drawn in memory by the animatic's own Scene (no ffmpeg)."""
    from generation.animatic import one_opencv_thread
    from generation.animatic.scene import Scene

    s = GenerationSettings(**{"width": 320, "height": 180, "fps": 12, **settings})
    with one_opencv_thread():
        scene = Scene(shot, shot.seed if seed is None else seed, s.width, s.height, s.fps, slug=s.animatic_slug)
        return np.stack([scene.render(i) for i in range(scene.frames)])


@pytest.fixture(params=["drawn", pytest.param("encoded", marks=pytest.mark.integration)])
def frames_of(request, tmp_path):
    """What the viewer sees of a shot: drawn in memory (fast tier) or through the MP4 (integration tier).

    The drawing rules below hold for both; the encoded copy shows that x264 keeps them.
    """
    def frames_of(name: str, shot: ShotSpec, seed: int | None = None, **settings) -> np.ndarray:
        if request.param == "drawn":
            return draw(shot, seed, **settings)
        return render(tmp_path, name, shot, seed, **settings)[1]

    return frames_of


def frame_changes(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference between each pair of consecutive frames."""
    f = frames.astype(np.int16)
    return np.abs(f[1:] - f[:-1]).mean(axis=(1, 2, 3))


def mean_flow(frames: np.ndarray) -> float:
    """Mean optical-flow magnitude (px/frame) over consecutive pairs, OpenCV DIS."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames[::2]]
    mags = [np.linalg.norm(dis.calc(a, b, None), axis=2).mean() for a, b in zip(grey[:-1], grey[1:])]
    return float(np.mean(mags)) / 2  # pairs are two frames apart


# ---- animatic -----------------------------------------------------------------------


def test_animatic_writes_the_planned_frames_size_and_fps(tmp_path):
    record, frames = render(tmp_path, "a", make_shot(duration_s=2.0))
    width, height, fps, duration = video_info(record.path)
    assert (width, height, fps) == (320, 180, 12)
    assert frames.shape == (24, 180, 320, 3)
    assert record.frames == 24 and record.backend == "animatic" and record.index == 1
    assert record.device == "cpu" and record.peak_memory_mb > 0
    assert abs(duration - 2.0) < 0.1 and record.seconds_taken > 0


def test_animatic_is_deterministic_and_the_seed_changes_the_composition(frames_of):
    shot = make_shot(duration_s=1.0)
    first = frames_of("a", shot, seed=5)
    again = frames_of("b", shot, seed=5)
    other = frames_of("c", shot, seed=6)
    assert np.array_equal(first, again)
    difference = np.abs(first.astype(np.int16) - other.astype(np.int16)).mean()
    print(f"\nmean abs difference between seeds 5 and 6: {difference:.1f}")
    assert difference > 8


@pytest.mark.integration  # encodes with x264 (ffmpeg)
def test_the_animatic_mp4_is_the_same_bytes_every_time(tmp_path):
    """One x264 thread: the same shot and seed give the same file, not only the same frames."""
    shot = make_shot(duration_s=1.0, weather="snow")
    first, _ = render(tmp_path, "a", shot, seed=5)
    again, _ = render(tmp_path, "b", shot, seed=5)
    assert first.path.read_bytes() == again.path.read_bytes()


@pytest.mark.integration  # encodes with x264 (ffmpeg) twice
def test_the_animatic_encoder_keeps_the_colours_and_detail_of_the_default_one(tmp_path):
    """Its faster preset and its own RGB to YUV conversion lose no more than the writer's default."""
    from generation.animatic import ENCODING
    from generation.animatic.scene import Scene
    from reelgate.media import H264, VideoWriter

    scene = Scene(make_shot(duration_s=1.0, weather="rain", time_of_day="dusk"), 5, 320, 180, 12)
    frames = np.stack([scene.render(i) for i in range(scene.frames)])
    errors = {}
    for name, encoding in (("default", H264()), ("animatic", ENCODING)):
        path = tmp_path / f"{name}.mp4"
        with VideoWriter(path, 320, 180, 12, encoding=encoding) as writer:
            for frame in frames:
                writer.write(frame)
        decoded = decode(path).astype(np.float64)
        bias = np.abs((decoded - frames).mean(axis=(0, 1, 2))).max()
        errors[name] = 10 * np.log10(255**2 / ((decoded - frames) ** 2).mean()), bias
    print(f"\nPSNR dB and worst channel bias: {errors}")
    assert errors["animatic"][0] > errors["default"][0] - 0.5
    assert errors["animatic"][1] < errors["default"][1] + 0.5


@pytest.mark.parametrize("camera", CAMERAS)
def test_animatic_motion_is_present_and_smooth(frames_of, camera):
    frames = frames_of(camera, make_shot(camera=camera, duration_s=2.0))
    changes = frame_changes(frames)
    flow = mean_flow(frames)
    print(f"\n{camera}: frame change median {np.median(changes):.2f} max {changes.max():.2f}, flow {flow:.2f} px/frame")
    assert len(frames) == 24
    assert np.median(changes) > 0.5, "the shot looks frozen"
    assert changes.max() < 2.0 * np.median(changes) + 0.5, "a jump between consecutive frames"
    # At 320x180 and 12 fps; the same settings at 640x360 24 fps give about the same px/frame.
    assert flow > 0.25


def test_camera_moves_go_the_right_way(frames_of):
    """A pan left shows what lies left: the picture content moves right (positive flow)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def flow(camera: str) -> np.ndarray:
        frames = frames_of(camera, make_shot(camera=camera, duration_s=1.0, subject="house", text="a house"))
        a, b = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (frames[2], frames[8]))
        return dis.calc(a, b, None)[90:, :]  # the ground and hills, below the sky

    assert np.median(flow("pan_left")[..., 0]) > 0.5
    assert np.median(flow("pan_right")[..., 0]) < -0.5
    assert np.median(flow("tilt_up")[..., 1]) > 0.2
    push = flow("push")
    assert push[:, 200:, 0].mean() > push[:, :120, 0].mean() + 0.5  # zooming in spreads outward
    assert np.median(flow("track")[..., 0]) < -0.3  # a track travels with its subject
    assert np.median(flow("crane_up")[..., 1]) > 0.2  # rising, the ground sinks in the frame
    assert np.median(flow("crane_down")[..., 1]) < -0.2


def test_night_is_darker_than_day(frames_of):
    day = frames_of("day", make_shot(time_of_day="day", duration_s=0.5))
    night = frames_of("night", make_shot(time_of_day="night", duration_s=0.5))
    print(f"\nmean brightness day {day.mean():.0f}, night {night.mean():.0f}")
    assert night.mean() < 0.6 * day.mean()


def test_slug_sits_small_at_the_top_left_and_never_prints_the_words(frames_of):
    """The slug (shot number, size, move) marks the top-left corner only; the bottom stays free for subtitles."""
    first = frames_of("a", make_shot(duration_s=0.5, index=0))
    other_number = frames_of("b", make_shot(duration_s=0.5, index=7))
    changed = np.abs(first[0].astype(np.int16) - other_number[0].astype(np.int16)).max(axis=2) > 40
    ys, xs = np.nonzero(changed)
    assert len(ys) > 10
    assert ys.max() < 180 * 0.15 and xs.max() < 320 * 0.5
    # The story's words are the subtitles' job: another text (same subject and scene) draws the same frames.
    words = dict(text="一只小狐狸在雪林里走了很久很久，终于看见了灯光。", prompt="a completely different prompt")
    other_words = frames_of("c", make_shot(duration_s=0.5, index=0, **words))
    assert np.array_equal(first, other_words)


def test_the_slug_can_be_switched_off(frames_of):
    on = frames_of("on", make_shot(duration_s=0.5, index=0))
    off = frames_of("off", make_shot(duration_s=0.5, index=0), animatic_slug=False)
    off_other = frames_of("off7", make_shot(duration_s=0.5, index=7, camera="push"), animatic_slug=False)
    assert np.array_equal(off, off_other)  # nothing of the shot's number is drawn
    differs = np.abs(on.astype(np.int16) - off.astype(np.int16)).max(axis=(0, 3)) > 40
    ys, xs = np.nonzero(differs)
    assert len(ys) > 20 and ys.max() < 180 * 0.15 and xs.max() < 320 * 0.6  # only the slug's corner
    # Elsewhere only the video codec's rounding differs.
    assert np.abs(on[:, 32:].astype(np.int16) - off[:, 32:].astype(np.int16)).mean() < 1.5


# Weather and framing, measured without a classifier: a green-hills day shot the weather changes.
HILLS = dict(text="A fox walks over the hills.", environment="green hills", prompt="a fox on green hills",
             camera="static", time_of_day="day", duration_s=2.0)


def grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)


def streak_mask(frame: np.ndarray) -> np.ndarray:
    """Pixels on thin bright near-vertical lines: brighter than both sides, and so above and below."""
    g = grey(frame)
    ridge = np.zeros(g.shape, bool)
    ridge[:, 2:-2] = (g[:, 2:-2] - np.maximum(g[:, :-4], g[:, 4:])) > 6
    return ridge[3:-3] & ridge[:-6] & ridge[6:]


def streak_fraction(frame: np.ndarray) -> float:
    return float(streak_mask(frame).mean())


def small_bright_blobs(frame: np.ndarray) -> int:
    """Small spots brighter than their surroundings (snowflakes, stars)."""
    g = grey(frame)
    spots = ((g - cv2.GaussianBlur(g, (0, 0), 3)) > 20).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(spots)
    return int(((stats[1:, cv2.CC_STAT_AREA] >= 1) & (stats[1:, cv2.CC_STAT_AREA] <= 30)).sum())


def test_rain_draws_streaks_that_fall_coherently(frames_of):
    clear = frames_of("clear", make_shot(**HILLS))
    rain = frames_of("rain", make_shot(**HILLS, weather="rain"))
    # In the sky, below the slug: grass strokes are thin near-vertical lines too.
    clear_streaks = np.mean([streak_fraction(f[20:90]) for f in clear[6:18]])
    rain_streaks = np.mean([streak_fraction(f[20:90]) for f in rain[6:18]])
    print(f"\nstreak pixels in the sky: clear {clear_streaks:.4f}, rain {rain_streaks:.4f}")
    assert rain_streaks > 0.0006 and rain_streaks > 5 * clear_streaks
    # Coherent: the streaks of one frame, moved down a few pixels, are the streaks of the next
    # (rain redrawn at random each frame would overlap no better moved than in place).
    masks = [streak_mask(f[10:100]) for f in rain[6:18]]
    overlap = {(dy, dx): sum(int((a[: a.shape[0] - dy, max(0, -dx): a.shape[1] - max(0, dx)]
                                  & b[dy:, max(0, dx): b.shape[1] - max(0, -dx)]).sum()) for a, b in zip(masks, masks[1:]))
               for dy in range(0, 25) for dx in range(-8, 9)}
    (dy, dx), best = max(overlap.items(), key=lambda kv: kv[1])
    print(f"rain moves ({dx}, {dy}) px a frame: overlap {best} moved, {overlap[(0, 0)]} in place")
    assert dy >= 3 and best > 3 * max(1, overlap[(0, 0)])
    # Smooth: no frame is a reshuffle of random streaks.
    changes = frame_changes(rain)
    assert changes.max() < 2.0 * np.median(changes) + 0.5


@pytest.mark.integration  # counts flakes as x264 leaves them: the count is tuned on the encoded frames
def test_snow_draws_small_bright_flakes(tmp_path):
    _, clear = render(tmp_path, "clear", make_shot(**HILLS))
    _, snow = render(tmp_path, "snow", make_shot(**HILLS, weather="snow"))
    # In the sky (grass strokes are small bright spots too), below the slug.
    clear_flakes, flakes = small_bright_blobs(clear[12][20:80]), small_bright_blobs(snow[12][20:80])
    print(f"\nsmall bright blobs in the sky: clear {clear_flakes}, snow {flakes}")
    assert flakes > 60 and flakes > 3 * clear_flakes


def test_a_storm_flashes_and_hides_the_night_sky(frames_of):
    night = {**HILLS, "time_of_day": "night"}
    clear = frames_of("clear", make_shot(**night))
    storm = frames_of("storm", make_shot(**night, weather="storm"))
    again = frames_of("again", make_shot(**night, weather="storm"))
    assert np.array_equal(storm, again)  # the lightning strikes at the same frames every render
    brightness = storm.mean(axis=(1, 2, 3))
    lit = int(brightness.argmax())
    neighbours = np.median(np.delete(brightness, range(max(0, lit - 4), lit + 5)))
    print(f"\nstorm frame brightness: flash {brightness[lit]:.0f} (frame {lit}), others {neighbours:.0f}")
    assert brightness[lit] > 1.4 * neighbours
    plain = clear.mean(axis=(1, 2, 3))
    assert plain.max() < 1.1 * np.median(plain)  # a clear night never flashes

    def sky_lights(frames: np.ndarray) -> int:
        darkest = frames[int(frames.mean(axis=(1, 2, 3)).argmin())]
        return int((grey(darkest)[20:70] > 150).sum())  # the upper sky, below the slug

    print(f"stars and moon pixels: clear night {sky_lights(clear)}, storm {sky_lights(storm)}")
    assert sky_lights(clear) > 30 and sky_lights(storm) < 3


def test_fog_and_wind_are_drawn(frames_of):
    clear = frames_of("clear", make_shot(**HILLS))
    fog = frames_of("fog", make_shot(**HILLS, weather="fog"))
    wind = frames_of("wind", make_shot(**HILLS, weather="wind"))
    def edges(frame: np.ndarray) -> float:  # mean gradient: fog softens every outline
        g = grey(frame)
        return float(np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))[20:].mean())

    print(f"\nedge strength: clear {edges(clear[12]):.1f}, fog {edges(fog[12]):.1f}")
    assert edges(fog[12]) < 0.6 * edges(clear[12])

    def leaves(frame: np.ndarray) -> int:
        r, g, b = (frame[..., k].astype(np.int16) for k in range(3))
        return int(((r > g + 30) & (r > b + 60)).sum())

    print(f"leaf pixels: clear {leaves(clear[12])}, wind {leaves(wind[12])}")
    assert leaves(wind[12]) > 50 and leaves(clear[12]) < 10
    again = frames_of("wind2", make_shot(**HILLS, weather="wind"))
    assert np.array_equal(wind, again)


def subject_area(frame: np.ndarray) -> int:
    """Pixels of the dark subject silhouette (nothing else in a day scene is that dark)."""
    return int((grey(frame) < 40).sum())


def test_shot_size_frames_the_subject(frames_of):
    house = {**HILLS, "subject": "house", "text": "A house on the hill.", "duration_s": 0.5}  # it stands still
    areas = {size: subject_area(frames_of(size, make_shot(**house, shot_size=size))[3])
             for size in ("extreme_wide", "wide", "close_up", "extreme_close_up")}
    print(f"\nsubject area by shot size: {areas}")
    assert areas["extreme_wide"] < 0.6 * areas["wide"]
    assert areas["close_up"] > 2.5 * areas["wide"]
    assert areas["extreme_close_up"] > areas["close_up"]


def test_angle_moves_the_horizon(frames_of):
    def ground_share(angle: str) -> float:
        frames = frames_of(angle, make_shot(**{**HILLS, "duration_s": 0.5}, angle=angle))
        r, g, b = (frames[3][..., k].astype(np.int16) for k in range(3))
        return float(((g > b + 10) & (g > r + 10)).mean())  # green hills and grass

    shares = {angle: ground_share(angle) for angle in ("low", "eye_level", "high", "birds_eye")}
    print(f"\nground share by angle: {shares}")
    assert shares["low"] < shares["eye_level"] < shares["high"] < shares["birds_eye"]


@pytest.mark.parametrize("shot_size", ["extreme_wide", "close_up", "extreme_close_up"])
def test_camera_moves_keep_working_in_every_framing(frames_of, shot_size):
    for camera in ("pan_right", "push", "handheld"):
        frames = frames_of(camera, make_shot(camera=camera, shot_size=shot_size, duration_s=1.0))
        changes = frame_changes(frames)
        assert np.median(changes) > 0.5, f"{camera} {shot_size} looks frozen"
        assert changes.max() < 2.0 * np.median(changes) + 0.5, f"{camera} {shot_size} jumps"


def test_animatic_reports_progress_up_to_its_last_frame(tmp_path):
    gen = AnimaticGenerator(GenerationSettings(width=160, height=90, fps=12))
    calls: list[tuple[int, int]] = []
    record = gen.generate(make_shot(duration_s=1.5, camera="pan_right"), seed=3, attempt=2,
                          out_path=tmp_path / "progress.mp4", progress=lambda d, t: calls.append((d, t)))
    assert record.frames == 18 and record.attempt == 2
    assert calls[-1] == (18, 18) and [d for d, _ in calls] == sorted(d for d, _ in calls)


@pytest.mark.integration  # wall-clock (bench/animatic.py measures per weather and camera move)
def test_animatic_speed_and_progress(tmp_path):
    gen = AnimaticGenerator(GenerationSettings(width=640, height=360, fps=24))
    calls: list[tuple[int, int]] = []
    started = time.perf_counter()
    record = gen.generate(make_shot(duration_s=3.5, camera="pan_right"), seed=3, attempt=2,
                          out_path=tmp_path / "speed.mp4", progress=lambda d, t: calls.append((d, t)))
    took = time.perf_counter() - started
    print(f"\nanimatic 640x360 24 fps 3.5 s ({record.frames} frames): {took:.2f} s wall")
    assert record.frames == 84 and record.attempt == 2
    assert calls[-1] == (84, 84) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert took < 5.0  # ~0.5-1 s measured on one shared slow core


# ---- registry and pre-flight checks ---------------------------------------------------


class FakeGenerator:
    name = "fake"

    def __init__(self, settings: GenerationSettings) -> None:
        self.settings = settings


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(UnknownBackendError) as err:
        check_backend(GenerationSettings(backend="sora"))
    assert "sora" in str(err.value) and "animatic" in str(err.value) and "wan" in str(err.value)
    with pytest.raises(UnknownBackendError):
        get_generator(GenerationSettings(backend="sora"))


def test_generators_are_cached_per_settings_and_released():
    register_backend("fake", f"{__name__}:FakeGenerator")
    try:
        settings = GenerationSettings(backend="fake")
        first = get_generator(settings)
        assert isinstance(first, FakeGenerator)
        assert get_generator(GenerationSettings(backend="fake")) is first
        assert get_generator(GenerationSettings(backend="fake", steps=3)) is not first
        again = get_generator(settings)
        release_generators()
        assert get_generator(settings) is not again
    finally:
        release_generators()
        BACKENDS.pop("fake", None)


def test_missing_wan_model_is_refused_with_how_to_provide_it(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFoundError) as err:
        check_backend(GenerationSettings(backend="wan", model=str(missing), width=640, height=368))
    assert str(missing) in str(err.value) and "REELGATE_GENERATION__MODEL" in str(err.value)
    with pytest.raises(ModelNotFoundError, match="unset"):
        check_backend(GenerationSettings(backend="wan", width=640, height=368))
    with pytest.raises(ModelNotFoundError, match="not-a-real-org/not-a-real-model"):
        check_backend(GenerationSettings(backend="wan", model="not-a-real-org/not-a-real-model", width=640, height=368))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="model_index.json"):
        check_backend(GenerationSettings(backend="wan", model=str(tmp_path / "empty"), width=640, height=368))


def test_wan_sizes_must_tile_by_16(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "WanPipeline"}')
    check_backend(GenerationSettings(backend="wan", model=str(folder), width=832, height=480))
    with pytest.raises(ConfigError) as err:
        check_backend(GenerationSettings(backend="wan", model=str(folder), width=640, height=360))
    assert "352" in str(err.value) and "368" in str(err.value) and "HEIGHT" in str(err.value)
    assert "width" not in str(err.value)
    # The animatic draws any even size.
    check_backend(GenerationSettings(width=642, height=362))


def test_wan_frame_counts_are_4k_plus_1():
    assert frames_for(3.5, 24, 4) == 85
    assert frames_for(1.0, 8, 4) == 9
    assert frames_for(0.2, 8, 4) == 5
    assert all(frames_for(d, 16, 4) % 4 == 1 for d in (0.7, 1.3, 2.9, 5.0))
    assert frames_for(5.0, 24, 8) == 121  # LTX-Video: 8k+1


def fake_model_folder(root: Path, class_name: str, vae: dict | None = None, transformer: dict | None = None,
                      experts: int = 1) -> Path:
    """A model folder with configs only: enough for the checks made before loading."""
    import json

    root.mkdir(parents=True, exist_ok=True)
    (root / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    for name, config in (("vae", vae), ("transformer", transformer)):
        if config is not None:
            (root / name).mkdir(exist_ok=True)
            (root / name / "config.json").write_text(json.dumps(config))
    if experts == 2:
        (root / "transformer_2").mkdir(exist_ok=True)
    return root


def test_each_backend_gets_its_native_frame_size_unless_one_is_set():
    assert (GenerationSettings().width, GenerationSettings().height, GenerationSettings().fps) == (640, 360, 24)
    wan = GenerationSettings(backend="wan", model="Wan-AI/Wan2.1-T2V-1.3B-Diffusers")
    assert (wan.width, wan.height, wan.fps) == (832, 480, 16)
    ti2v = GenerationSettings(backend="wan", model="/models/Wan2.2-TI2V-5B-Diffusers")
    assert (ti2v.width, ti2v.height, ti2v.fps) == (1280, 704, 24)
    assert (GenerationSettings(backend="diffusers", model="Lightricks/LTX-Video").width) == 704
    assert GenerationSettings(backend="wan", width=1280, height=720).width == 1280
    # A saved settings dump stays what it was, whatever the backend's defaults.
    again = GenerationSettings.model_validate(wan.model_dump(mode="json"))
    assert again == wan


def test_the_cli_backend_flag_brings_its_own_size(monkeypatch):
    from cli import build_parser
    from cli.common import load_settings

    for name in ("WIDTH", "HEIGHT", "FPS"):
        monkeypatch.delenv(f"REELGATE_GENERATION__{name}", raising=False)
    settings = load_settings(build_parser().parse_args(["episode", "a fox", "--backend", "wan", "--model", "x"]))
    assert (settings.generation.width, settings.generation.height) == (832, 480)
    sized = load_settings(build_parser().parse_args(["generate", "a fox", "--backend", "wan", "--size", "1280x720"]))
    assert (sized.generation.width, sized.generation.height) == (1280, 720)


def test_the_cloud_key_never_travels_with_the_settings():
    settings = Settings(generation={"backend": "dashscope", "cloud": {"api_key": "sk-secret-123"}})
    assert settings.generation.cloud.api_key.get_secret_value() == "sk-secret-123"
    dumped = settings.model_dump_json()
    # The field itself is left out (post.tts_api_key_env only names a variable, never a key).
    assert "sk-secret-123" not in dumped and '"api_key"' not in dumped
    assert "sk-secret-123" not in repr(settings)


def test_sizes_and_frame_counts_are_checked_against_the_folders_own_rules(tmp_path):
    ti2v = fake_model_folder(tmp_path / "ti2v", "WanPipeline", vae={"scale_factor_spatial": 16, "scale_factor_temporal": 4},
                             transformer={"patch_size": [1, 2, 2]})
    check_backend(GenerationSettings(backend="wan", model=str(ti2v), width=1280, height=704))
    with pytest.raises(ConfigError) as err:  # 720 tiles by 16 but not by 32
        check_backend(GenerationSettings(backend="wan", model=str(ti2v), width=1280, height=720))
    assert "multiples of 32" in str(err.value) and "704 or 736" in str(err.value)
    with pytest.raises(ConfigError) as err:
        check_backend(GenerationSettings(backend="wan", model=str(ti2v), width=1280, height=704, num_frames=80))
    assert "4k+1" in str(err.value) and "77 or 81" in str(err.value) and "NUM_FRAMES" in str(err.value)

    ltx = fake_model_folder(tmp_path / "ltx", "LTXPipeline")
    check_backend(GenerationSettings(backend="diffusers", model=str(ltx), width=704, height=480, num_frames=121))
    with pytest.raises(ConfigError, match="8k\\+1.*81 or 89"):
        check_backend(GenerationSettings(backend="diffusers", model=str(ltx), width=704, height=480, num_frames=83))
    with pytest.raises(ConfigError, match="672 or 704"):
        check_backend(GenerationSettings(backend="diffusers", model=str(ltx), width=688, height=480))


def test_the_wan_backend_refuses_other_pipelines_and_expert_settings_on_one_expert(tmp_path):
    cog = fake_model_folder(tmp_path / "cog", "CogVideoXPipeline")
    with pytest.raises(ConfigError) as err:
        check_backend(GenerationSettings(backend="wan", model=str(cog), width=832, height=480))
    assert "CogVideoXPipeline" in str(err.value) and "BACKEND=diffusers" in str(err.value)
    check_backend(GenerationSettings(backend="diffusers", model=str(cog), width=720, height=480))

    one = fake_model_folder(tmp_path / "one", "WanPipeline")
    with pytest.raises(ConfigError, match="BOUNDARY_RATIO"):
        check_backend(GenerationSettings(backend="wan", model=str(one), width=832, height=480, boundary_ratio=0.9))
    two = fake_model_folder(tmp_path / "two", "WanPipeline", experts=2)
    check_backend(GenerationSettings(backend="wan", model=str(two), width=832, height=480, boundary_ratio=0.9, guidance_2=3.0))


def test_a_model_id_in_the_hub_cache_is_found_with_its_revision(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from generation.base import find_local_model, snapshot_revision

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--Wan-AI--Wan2.1-T2V-1.3B-Diffusers"
    snapshot = fake_model_folder(repo / "snapshots" / commit, "WanPipeline")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    found = find_local_model("Wan-AI/Wan2.1-T2V-1.3B-Diffusers")
    assert found == snapshot and snapshot_revision(found) == commit
    check_backend(GenerationSettings(backend="wan", model="Wan-AI/Wan2.1-T2V-1.3B-Diffusers"))
    with pytest.raises(ModelNotFoundError, match="ALLOW_DOWNLOAD"):
        check_backend(GenerationSettings(backend="wan", model="Wan-AI/Wan2.2-T2V-A14B-Diffusers"))
    # Downloads allowed: the check passes now and the rules are checked after the download.
    check_backend(GenerationSettings(backend="wan", model="Wan-AI/Wan2.2-T2V-A14B-Diffusers", allow_download=True))


# ---- tiny Wan (random weights, built in code) -----------------------------------------


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    from generation.tiny_models import build_tiny_wan

    started = time.perf_counter()
    path = build_tiny_wan(tmp_path_factory.mktemp("tiny-wan"))
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    print(f"\ntiny Wan built in {time.perf_counter() - started:.1f} s, {size / 1e6:.2f} MB")
    assert size < 5e6
    return path


@pytest.mark.integration
def test_tiny_wan_generates_deterministic_shots(tiny_wan, tmp_path, caplog):
    from generation.wan import WanGenerator

    settings = GenerationSettings(backend="wan", model=str(tiny_wan), width=64, height=64, fps=8, steps=2)
    check_backend(settings)
    gen = WanGenerator(settings)
    shot = make_shot(duration_s=1.0)
    calls: list[tuple[int, int]] = []
    started = time.perf_counter()
    record = gen.generate(shot, seed=1, attempt=0, out_path=tmp_path / "a.mp4", progress=lambda d, t: calls.append((d, t)))
    print(f"\ntiny Wan 64x64, 9 frames, 2 steps: {time.perf_counter() - started:.2f} s, peak {record.peak_memory_mb} MB")
    gen.generate(shot, seed=1, attempt=0, out_path=tmp_path / "b.mp4")
    gen.generate(shot, seed=2, attempt=1, out_path=tmp_path / "c.mp4")
    a, b, c = (decode(tmp_path / n) for n in ("a.mp4", "b.mp4", "c.mp4"))

    assert a.shape == (9, 64, 64, 3) and record.frames == 9
    assert video_info(record.path)[:3] == (64, 64, 8)
    assert record.backend == "wan" and record.model == str(tiny_wan) and record.peak_memory_mb > 0
    assert calls == [(1, 2), (2, 2)]
    assert np.array_equal(a, b)
    assert np.abs(a.astype(np.int16) - c.astype(np.int16)).mean() > 1

    # cpu_offload without CUDA is accepted: it runs on the CPU and says so.
    with caplog.at_level(logging.WARNING, logger="generation.wan"):
        offloaded = WanGenerator(settings.model_copy(update={"cpu_offload": True}))
    if not offloaded.cuda:
        assert "cpu_offload" in caplog.text
    offloaded.generate(shot, seed=1, attempt=0, out_path=tmp_path / "d.mp4")
    assert np.array_equal(decode(tmp_path / "d.mp4"), a) or offloaded.cuda


@pytest.mark.integration
def test_wan_via_registry_refuses_sizes_its_pipeline_cannot_tile(tiny_wan):
    with pytest.raises(ConfigError, match="80"):
        get_generator(GenerationSettings(backend="wan", model=str(tiny_wan), width=72, height=64))
    release_generators()


def _tiny_settings(model: Path, **update) -> GenerationSettings:
    return GenerationSettings(backend="wan", model=str(model), width=64, height=64, fps=8, steps=2, **update)


@pytest.mark.integration
def test_memory_options_and_cache_accelerators_are_accepted_and_deterministic(tiny_wan, tmp_path, caplog):
    from generation.wan import WanGenerator

    shot = make_shot(duration_s=1.0)
    plain = WanGenerator(_tiny_settings(tiny_wan)).generate(shot, seed=4, attempt=0, out_path=tmp_path / "plain.mp4")
    with caplog.at_level(logging.WARNING, logger="generation.diffusers_video"):
        saver = WanGenerator(_tiny_settings(tiny_wan, cpu_offload=True, group_offload="leaf_level", vae_tiling=True))
    record = saver.generate(shot, seed=4, attempt=0, out_path=tmp_path / "saver.mp4")
    assert "need CUDA" in caplog.text and "vae_tiling" in record.memory_savers
    # Tiles larger than these frames: the same pictures, with the options accepted.
    assert np.array_equal(decode(record.path), decode(plain.path))

    for cache in ("first_block", "pab", "taylorseer"):
        gen = WanGenerator(_tiny_settings(tiny_wan, cache=cache))
        a = gen.generate(shot, seed=4, attempt=0, out_path=tmp_path / f"{cache}-a.mp4")
        b = gen.generate(shot, seed=4, attempt=0, out_path=tmp_path / f"{cache}-b.mp4")
        assert a.frames == 9 and np.array_equal(decode(a.path), decode(b.path)), cache


def _fail_with_oom(generator, times: int) -> list[int]:
    """Make the next `times` transformer calls of `generator` raise torch's out-of-memory error."""
    import torch

    calls = [0]
    original = type(generator.pipe.transformer).forward

    def forward(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] <= times:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return original(self, *args, **kwargs)

    generator.pipe.transformer.forward = forward.__get__(generator.pipe.transformer)
    return calls


@pytest.mark.integration
def test_out_of_memory_is_retried_once_with_savers_then_explained(tiny_wan, tmp_path):
    from generation.wan import WanGenerator

    shot = make_shot(duration_s=1.0)
    gen = WanGenerator(_tiny_settings(tiny_wan))
    _fail_with_oom(gen, times=1)
    record = gen.generate(shot, seed=4, attempt=0, out_path=tmp_path / "retried.mp4")
    assert record.oom_retried and "vae_tiling" in record.memory_savers and record.path.is_file()
    # The savers stay on for the next shots of this worker.
    assert not gen.generate(shot, seed=4, attempt=0, out_path=tmp_path / "next.mp4").oom_retried

    gen = WanGenerator(_tiny_settings(tiny_wan))
    _fail_with_oom(gen, times=1)
    original_reload = gen._reload
    gen._reload = lambda settings: (original_reload(settings), _fail_with_oom(gen, times=10**6))
    with pytest.raises(OutOfMemory) as err:
        gen.generate(shot, seed=4, attempt=0, out_path=tmp_path / "again.mp4")
    message = str(err.value)
    assert "64x64" in message and "9 frames" in message and "GROUP_OFFLOAD" in message and "vae_tiling" in message
    assert not (tmp_path / "again.mp4").exists()

    never = WanGenerator(_tiny_settings(tiny_wan, oom_retry=False))
    calls = _fail_with_oom(never, times=1)
    with pytest.raises(OutOfMemory):
        never.generate(shot, seed=4, attempt=0, out_path=tmp_path / "never.mp4")
    assert calls[0] == 1


# ---- reelgate generate: previews without Prefect --------------------------------------


def test_generate_command_renders_each_planned_shot(tmp_path, capsys, monkeypatch):
    from cli import main

    monkeypatch.setenv("REELGATE_SCREENING__SEMANTIC", "false")
    out = tmp_path / "previews"
    code = main(["generate", "A fox walks through the snowy forest. The moon rises over the lake.",
                 "--out", str(out), "--size", "160x96", "--fps", "12"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert sorted(p.name for p in out.glob("*.mp4")) == ["shot01.mp4", "shot02.mp4"]
    assert video_info(out / "shot02.mp4")[:3] == (160, 96, 12)
    assert "shot 2:" in printed and "160x96" in printed and "seed" in printed

    assert main(["generate", "The moon rises over the lake.", "--out", str(tmp_path / "one"), "--raw",
                 "--size", "160x96", "--seed", "7", "--json"]) == 0
    record = GeneratedShot.model_validate_json(capsys.readouterr().out.strip())
    assert record.seed == 7 and record.frames > 0


def test_generate_command_refuses_blocked_text_and_bad_settings(tmp_path, capsys, monkeypatch):
    from cli import main

    monkeypatch.setenv("REELGATE_SCREENING__SEMANTIC", "false")
    assert main(["generate", "the 血.腥 scene", "--out", str(tmp_path / "x")]) == 1
    assert "blocked" in capsys.readouterr().err and not (tmp_path / "x").exists()

    assert main(["generate", "a fox", "--backend", "wan", "--out", str(tmp_path / "y")]) == 2
    assert "generation.model is unset" in capsys.readouterr().err
    assert main(["generate", "a fox", "--size", "wide", "--out", str(tmp_path / "z")]) == 2
    assert "832x480" in capsys.readouterr().err
    assert main(["generate", "a fox", "--shot", "3", "--out", str(tmp_path / "z")]) == 2
    assert "1 shot" in capsys.readouterr().err


# ---- the other Wan shapes and other diffusers families ---------------------------------


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    from generation.tiny_models import build_tiny_cogvideox, build_tiny_wan

    root = tmp_path_factory.mktemp("tiny-models")
    return {
        "a14b": build_tiny_wan(root / "a14b", "a14b"),
        "ti2v": build_tiny_wan(root / "ti2v", "ti2v"),
        "cogvideox": build_tiny_cogvideox(root / "cogvideox"),
    }


def _expert_calls(generator) -> list[str]:
    """Which expert ran each transformer call of the next generations ("high" or "low")."""
    calls: list[str] = []
    generator.pipe.transformer.register_forward_hook(lambda *_: calls.append("high"))
    generator.pipe.transformer_2.register_forward_hook(lambda *_: calls.append("low"))
    return calls


@pytest.mark.integration
def test_the_two_expert_wan_switches_experts_at_the_boundary(tiny_models, tmp_path):
    from generation.wan import WanGenerator

    shot = make_shot(duration_s=1.0)
    settings = GenerationSettings(backend="wan", model=str(tiny_models["a14b"]), width=64, height=64, fps=8, steps=8)
    check_backend(settings)
    gen = WanGenerator(settings)
    calls = _expert_calls(gen)
    record = gen.generate(shot, seed=3, attempt=0, out_path=tmp_path / "a.mp4")
    # Timesteps 1000 977 946 904 | 842 742 550 47 against the boundary 0.875 * 1000; two calls a step (guidance).
    assert calls == ["high"] * 8 + ["low"] * 8
    assert record.frames == 9 and record.pipeline == "WanPipeline"

    moved = WanGenerator(settings.model_copy(update={"boundary_ratio": 0.5, "guidance_2": 1.0}))
    calls = _expert_calls(moved)
    moved.generate(shot, seed=3, attempt=0, out_path=tmp_path / "b.mp4")
    # The boundary moved to 500: only the last timestep (47) is left to the low-noise expert.
    assert calls == ["high"] * 14 + ["low"] * 2
    assert not np.array_equal(decode(tmp_path / "a.mp4"), decode(tmp_path / "b.mp4"))


@pytest.mark.integration
def test_the_ti2v_wan_takes_sizes_in_multiples_of_32(tiny_models, tmp_path):
    from generation.wan import WanGenerator

    with pytest.raises(ConfigError, match="multiples of 32.*64 or 96"):
        check_backend(GenerationSettings(backend="wan", model=str(tiny_models["ti2v"]), width=80, height=64))
    settings = GenerationSettings(backend="wan", model=str(tiny_models["ti2v"]), width=96, height=64, fps=24, steps=2)
    check_backend(settings)
    record = WanGenerator(settings).generate(make_shot(duration_s=0.5), seed=1, attempt=0, out_path=tmp_path / "t.mp4")
    assert decode(record.path).shape == (13, 64, 96, 3) and record.fps == 24


@pytest.mark.integration
def test_any_diffusers_video_pipeline_runs_by_its_folder(tiny_models, tmp_path):
    settings = GenerationSettings(
        backend="diffusers", model=str(tiny_models["cogvideox"]), width=96, height=64, fps=8, steps=2
    )
    check_backend(settings)
    gen = get_generator(settings)
    try:
        a = gen.generate(make_shot(duration_s=1.0), seed=5, attempt=0, out_path=tmp_path / "a.mp4")
        b = gen.generate(make_shot(duration_s=1.0), seed=5, attempt=0, out_path=tmp_path / "b.mp4")
    finally:
        release_generators()
    assert a.backend == "diffusers" and a.pipeline == "CogVideoXPipeline" and a.frames == 9
    assert np.array_equal(decode(a.path), decode(b.path))
    with pytest.raises(ConfigError, match="CogVideoXPipeline"):
        check_backend(settings.model_copy(update={"backend": "wan"}))


@pytest.mark.integration
def test_half_precision_keeps_the_wan_vae_in_float32(tiny_wan, tmp_path):
    import torch

    from generation.wan import WanGenerator

    gen = WanGenerator(_tiny_settings(tiny_wan, dtype="bfloat16"))
    assert gen.pipe.transformer.dtype == torch.bfloat16 and gen.pipe.text_encoder.dtype == torch.bfloat16
    assert gen.pipe.vae.dtype == torch.float32  # Wan's VAE decodes badly in half precision
    assert gen.generate(make_shot(duration_s=1.0), seed=1, attempt=0, out_path=tmp_path / "bf16.mp4").frames == 9


@pytest.mark.integration
@pytest.mark.parametrize("weather", ["storm", "rain", "snow"])
def test_an_animatic_weather_shot_passes_quality_on_the_first_attempt(tmp_path, weather):
    """Issue 17: the animatic's own storm is asked-for texture, not boiling motion or flicker;
    the same frames scored as a clear shot are still judged whole."""
    from quality.request import shot_request
    from quality.score import score_video
    from reelgate.settings import QualitySettings

    shot = make_shot(weather=weather, time_of_day="night", camera="track", duration_s=3.5,
                     text="A fox runs across the hills.", subject="fox", action="runs", environment="hills")
    gen = AnimaticGenerator(GenerationSettings())  # the default 640x360 a new user gets
    out = tmp_path / f"{weather}.mp4"
    gen.generate(shot, seed=shot.seed, attempt=0, out_path=out)
    report = score_video(out, QualitySettings(), wants_motion=True, request=shot_request(shot))
    assert report.passed, (report.failing, report.reasons)
    assert any(weather in line or "rain" in line or "snow" in line for line in report.relaxed)
    unasked = score_video(out, QualitySettings(), wants_motion=True)
    assert not unasked.relaxed  # nothing is excused for a shot that did not ask
    if weather == "storm":
        assert not unasked.passed and "flicker" in unasked.failing  # its lightning, unasked, is flicker


def test_the_subject_kind_comes_from_the_subject_and_unknowns_are_a_figure_not_a_cat():
    from generation.animatic.scene import Scene as _Scene

    def kind(**fields) -> str:
        return _Scene(make_shot(**fields), seed=3, width=320, height=180, fps=12).staging.kind

    # Issue 17: "a chained maiden and a sea monster are both drawn as the same small cat".
    assert kind(subject="a chained maiden", text="A chained maiden waits as the sea monster rises.") == "person"
    assert kind(subject="Europa", text="Europa gathers flowers.") == "person"  # a name is a person
    assert kind(subject="织女", text="织女在银河边织布。") == "person"
    assert {kind(subject="a shimmering thing", text="A shimmering thing waits.", seed=s) for s in range(6)} == {"person"}
    assert kind(subject="a grey wolf", text="A grey wolf howls at a girl.") == "animal"  # the subject, not the girl


def test_a_track_follows_its_subject_while_the_world_streams_past():
    """Issue 17: "a track follows the subject". A static camera watches a runner cross the
    frame; a tracking camera holds the runner in place and the ground moves instead."""
    from generation.animatic.scene import Scene
    from tests.storyboard import centroid, subject_mask

    def runner(camera: str) -> tuple[float, float]:
        shot = make_shot(subject="a detective", action="runs along the cliff", text="A detective runs along the cliff.",
                         environment="the cliff", camera=camera, duration_s=3.0)
        scene = Scene(shot, 5, 320, 180, 12)
        first, last = 0, scene.frames - 1
        travel = abs(centroid(subject_mask(scene, last))[0] - centroid(subject_mask(scene, first))[0])
        without = [scene.render(i, skip=frozenset({"subject", "weather", "ambient"})).astype(np.int16) for i in (first, last)]
        ground = slice(int(0.75 * scene.h), scene.h)  # the near ground; clouds drift whatever the camera does
        world = float(np.abs(without[0][ground] - without[1][ground]).mean())
        return travel / scene.w, world

    static_travel, static_world = runner("static")
    track_travel, track_world = runner("track")
    assert static_travel > 0.25 and track_travel < 0.04, (static_travel, track_travel)
    assert track_world > 3 * max(static_world, 1.0), (static_world, track_world)
