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
    get_generator,
    register_backend,
    release_generators,
)
from generation.wan import wan_num_frames
from reelgate.errors import ConfigError, ModelNotFoundError, UnknownBackendError
from reelgate.media import read_frames, video_info
from reelgate.records import GeneratedShot, ShotSpec
from reelgate.settings import GenerationSettings

CAMERAS = ["static", "push", "pull", "pan_left", "pan_right", "tilt_up", "tilt_down"]


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
    assert abs(duration - 2.0) < 0.1 and record.seconds_taken > 0


def test_animatic_is_deterministic_and_the_seed_changes_the_composition(tmp_path):
    shot = make_shot(duration_s=1.0)
    _, first = render(tmp_path, "a", shot, seed=5)
    _, again = render(tmp_path, "b", shot, seed=5)
    _, other = render(tmp_path, "c", shot, seed=6)
    assert np.array_equal(first, again)
    difference = np.abs(first.astype(np.int16) - other.astype(np.int16)).mean()
    print(f"\nmean abs difference between seeds 5 and 6: {difference:.1f}")
    assert difference > 8


@pytest.mark.parametrize("camera", CAMERAS)
def test_animatic_motion_is_present_and_smooth(tmp_path, camera):
    record, frames = render(tmp_path, camera, make_shot(camera=camera, duration_s=2.0))
    changes = frame_changes(frames)
    flow = mean_flow(frames)
    print(f"\n{camera}: frame change median {np.median(changes):.2f} max {changes.max():.2f}, flow {flow:.2f} px/frame")
    assert record.frames == 24
    assert np.median(changes) > 0.5, "the shot looks frozen"
    assert changes.max() < 2.0 * np.median(changes) + 0.5, "a jump between consecutive frames"
    # At 320x180 and 12 fps; the same settings at 640x360 24 fps give about the same px/frame.
    assert flow > 0.25


def test_camera_moves_go_the_right_way(tmp_path):
    """A pan left shows what lies left: the picture content moves right (positive flow)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def flow(camera: str) -> np.ndarray:
        _, frames = render(tmp_path, camera, make_shot(camera=camera, duration_s=1.0, subject="house", text="a house"))
        a, b = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (frames[2], frames[8]))
        return dis.calc(a, b, None)[90:, :]  # the ground and hills, below the sky

    assert np.median(flow("pan_left")[..., 0]) > 0.5
    assert np.median(flow("pan_right")[..., 0]) < -0.5
    assert np.median(flow("tilt_up")[..., 1]) > 0.2
    push = flow("push")
    assert push[:, 200:, 0].mean() > push[:, :120, 0].mean() + 0.5  # zooming in spreads outward


def test_night_is_darker_than_day(tmp_path):
    _, day = render(tmp_path, "day", make_shot(time_of_day="day", duration_s=0.5))
    _, night = render(tmp_path, "night", make_shot(time_of_day="night", duration_s=0.5))
    print(f"\nmean brightness day {day.mean():.0f}, night {night.mean():.0f}")
    assert night.mean() < 0.6 * day.mean()


def test_slate_sits_small_at_the_top_left(tmp_path):
    """The caption box darkens the top-left corner only; the bottom stays free for subtitles."""
    _, with_text = render(tmp_path, "a", make_shot(duration_s=0.5, index=0))
    _, other_text = render(tmp_path, "b", make_shot(duration_s=0.5, index=7, text="A different caption here"))
    changed = np.abs(with_text[0].astype(np.int16) - other_text[0].astype(np.int16)).max(axis=2) > 40
    ys, xs = np.nonzero(changed)
    assert len(ys) > 20
    assert ys.max() < 180 * 0.25 and xs.max() < 320 * 0.75


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
    (folder / "model_index.json").write_text("{}")
    check_backend(GenerationSettings(backend="wan", model=str(folder), width=832, height=480))
    with pytest.raises(ConfigError) as err:
        check_backend(GenerationSettings(backend="wan", model=str(folder), width=640, height=360))
    assert "352" in str(err.value) and "368" in str(err.value) and "HEIGHT" in str(err.value)
    assert "width" not in str(err.value)
    # The animatic draws any even size.
    check_backend(GenerationSettings(width=642, height=362))


def test_wan_frame_counts_are_4k_plus_1():
    assert wan_num_frames(3.5, 24) == 85
    assert wan_num_frames(1.0, 8) == 9
    assert wan_num_frames(0.2, 8) == 5
    assert all(wan_num_frames(d, 16) % 4 == 1 for d in (0.7, 1.3, 2.9, 5.0))


# ---- tiny Wan (random weights, built in code) -----------------------------------------


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    from generation.tiny_wan import build_tiny_wan

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
