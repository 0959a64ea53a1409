"""The enhancement chain: steps in order, one ffmpeg pass for the filter steps, a learned step as
a pass of its own, nothing written on failure, and the flow's rule that a failed enhancement
never blocks an episode (the shot goes on unenhanced and the reviewer is told why)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from postprocess.enhance import chain
from postprocess.enhance.base import StepContext, StepPlan, VideoShape
from reelgate.errors import ConfigError, EnhanceFailed, MediaError
from reelgate.media import VideoWriter, read_frames, video_info
from reelgate.settings import EnhanceSettings


def _clip(path: Path, width: int = 96, height: int = 64, fps: int = 12, frames: int = 12) -> Path:
    """A left half red, right half blue clip with a moving bar."""
    with VideoWriter(path, width, height, fps) as writer:
        for i in range(frames):
            frame = np.zeros((height, width, 3), np.uint8)
            frame[:, : width // 2] = (200, 40, 40)
            frame[:, width // 2 :] = (40, 40, 200)
            frame[:, (4 * i) % width : (4 * i) % width + 6] = 255
            writer.write(frame)
    return path


def _fake_steps(monkeypatch, plans: dict[str, object]) -> list[str]:
    """Replace each step's planner with one returning `plans[step]` (a callable of shape, or None)."""
    called: list[str] = []

    def planner(step: str):
        def plan(settings, shape: VideoShape, context: StepContext):
            called.append(step)
            make = plans.get(step)
            return make(shape) if callable(make) else None
        return plan

    for step in chain.STEPS:  # the registry (reelgate.registry.ENHANCERS) looks each plan up when it is used
        monkeypatch.setattr(f"postprocess.enhance.{step}.plan", planner(step))
    return called


def _filter(step: str, *filters: str, size: tuple[int, int] | None = None):
    def make(shape: VideoShape) -> StepPlan:
        w, h = size or (shape.width, shape.height)
        return StepPlan(step, filters, {"did": step}, VideoShape(w, h, shape.fps, shape.duration_s))
    return make


def test_steps_run_in_chain_order_in_one_pass_and_the_record_says_what_was_done(tmp_path, monkeypatch):
    src = _clip(tmp_path / "in.mp4")
    called = _fake_steps(monkeypatch, {
        "grade": _filter("grade", "hflip"),
        "upscale": _filter("upscale", "scale=192:128:flags=lanczos", size=(192, 128)),
    })
    seen: list[tuple[int, int]] = []
    result = chain.enhance_video(src, tmp_path / "out.mp4", EnhanceSettings(), StepContext(tmp_path / "work"),
                                 progress=lambda done, total: seen.append((done, total)))
    assert called == list(chain.STEPS)
    assert [p.step for p in result.steps] == ["grade", "upscale"] and result.passes == 1
    width, height, fps, _ = video_info(tmp_path / "out.mp4")
    assert (width, height, fps) == (192, 128, 12)
    first = next(read_frames(tmp_path / "out.mp4"))
    assert first[64, 10, 2] > 150 and first[64, 180, 0] > 150  # flipped: blue on the left, red on the right
    assert seen and seen[-1] == (12, 12)
    record = result.record()
    assert record["steps"] == [{"step": "grade", "did": "grade"}, {"step": "upscale", "did": "upscale"}]
    assert record["size_in"] == "96x64@12" and record["size_out"] == "192x128@12"


def test_a_runner_takes_the_filters_around_it_into_its_own_pass(tmp_path, monkeypatch):
    """Optical flow or a learned model decodes and encodes itself: the filters before it run while
    it decodes, those after it while it encodes, so the chain is still one decode, one encode."""
    from reelgate.media import VideoWriter as Writer

    src = _clip(tmp_path / "in.mp4")
    seen: list[tuple[tuple[str, ...], tuple[str, ...]]] = []

    def learned(shape: VideoShape) -> StepPlan:
        def runner(a: Path, b: Path, progress, before=(), after=()) -> None:
            seen.append((before, after))
            with Writer(b, shape.width, shape.height, shape.fps, filters=after) as writer:
                for frame in read_frames(a, filters=before):
                    writer.write(frame[::-1].copy())  # the "model": upside down
        return StepPlan("interpolate", (), {"backend": "learned"}, shape, runner=runner)

    _fake_steps(monkeypatch, {"grade": _filter("grade", "hflip"), "interpolate": learned,
                              "upscale": _filter("upscale", "scale=192:128:flags=lanczos", size=(192, 128))})
    result = chain.enhance_video(src, tmp_path / "out.mp4", EnhanceSettings(), StepContext(tmp_path / "work"))
    assert result.passes == 1 and seen == [(("hflip",), ("scale=192:128:flags=lanczos",))]
    assert video_info(tmp_path / "out.mp4")[:2] == (192, 128)
    first = next(read_frames(tmp_path / "out.mp4"))
    assert first[64, 10, 2] > 150 and first[64, 180, 0] > 150  # hflipped before the runner saw it

    # A filter that resizes before a runner gets a pass of its own: the runner reads a known size.
    _fake_steps(monkeypatch, {"clean": _filter("clean", "scale=48:32", size=(48, 32)), "interpolate": learned})
    seen.clear()
    result = chain.enhance_video(src, tmp_path / "out2.mp4", EnhanceSettings(), StepContext(tmp_path / "work"))
    assert result.passes == 2 and seen == [((), ())]
    assert not list((tmp_path / "work").glob("pass*.mp4"))  # intermediate passes are cleaned up


def test_nothing_to_do_copies_and_a_failed_pass_writes_nothing(tmp_path, monkeypatch):
    src = _clip(tmp_path / "in.mp4")
    _fake_steps(monkeypatch, {})
    result = chain.enhance_video(src, tmp_path / "same.mp4", EnhanceSettings(), StepContext(tmp_path / "w"))
    assert result.steps == () and (tmp_path / "same.mp4").read_bytes() == src.read_bytes()

    _fake_steps(monkeypatch, {"clean": _filter("clean", "nosuchfilter=1")})
    with pytest.raises(MediaError, match="clean"):
        chain.enhance_video(src, tmp_path / "bad.mp4", EnhanceSettings(), StepContext(tmp_path / "w"))
    assert not (tmp_path / "bad.mp4").exists() and not list(tmp_path.glob(".bad*"))


def test_switched_off_enhancement_plans_nothing_and_a_missing_step_file_is_a_config_error(tmp_path, monkeypatch):
    called = _fake_steps(monkeypatch, {"grade": _filter("grade", "null")})
    shape = VideoShape(96, 64, 12, 1.0)
    assert chain.plan_chain(EnhanceSettings(enabled=False), shape, StepContext(tmp_path)) == [] and not called

    def with_file(shape: VideoShape) -> StepPlan:
        return StepPlan("grade", ("null",), {}, shape, files=(tmp_path / "gone.cube",))

    _fake_steps(monkeypatch, {"grade": with_file})
    with pytest.raises(ConfigError, match="gone.cube"):
        chain.check_settings(EnhanceSettings(), shape, tmp_path)


def test_an_unreadable_video_is_a_media_error_before_any_pass(tmp_path):
    bad = tmp_path / "not-a-video.mp4"
    bad.write_text("hello")
    with pytest.raises(MediaError):
        chain.enhance_video(bad, tmp_path / "out.mp4", EnhanceSettings(), StepContext(tmp_path / "w"))


def test_a_failed_enhancement_lets_the_shot_go_on_unenhanced_with_the_reason(tmp_path, monkeypatch):
    """The flow's rule: never block the episode, never skip a check, always tell the reviewer."""
    from prefect.logging import disable_run_logger

    import flows.episode as episode
    from reelgate.records import GeneratedShot
    from reelgate.settings import Settings

    shot = GeneratedShot(index=1, attempt=0, path=_clip(tmp_path / "shot.mp4"), backend="animatic", model=None,
                         seed=1, width=96, height=64, fps=12, frames=12, seconds_taken=0.1)

    def failing(*args, **kwargs):
        raise EnhanceFailed("enhancing shot.mp4 failed (grade): lut3d: cannot read the file")

    monkeypatch.setattr(episode, "fresh", failing)
    with disable_run_logger():
        kept, record, reason = episode._enhance(shot, Settings(), None)
    assert kept == shot and record == {"failed": "enhancing shot.mp4 failed (grade): lut3d: cannot read the file"}
    assert reason is not None and "shot 2, attempt 1: enhancement failed" in reason and "goes on unenhanced" in reason
    with disable_run_logger():
        assert episode._enhance(shot, Settings(enhance={"enabled": False}), None) == (shot, {}, None)


def test_the_animatic_is_not_cleaned_unless_asked_and_learned_backends_are(monkeypatch):
    from reelgate.settings import Settings

    assert chain.for_backend(EnhanceSettings(), "animatic").clean.enabled is False  # drawn: nothing to denoise
    assert chain.for_backend(EnhanceSettings(), "wan").clean.enabled is True
    monkeypatch.setenv("REELGATE_ENHANCE__CLEAN__ENABLED", "true")
    assert chain.for_backend(Settings().enhance, "animatic").clean.enabled is True  # asked for explicitly


def test_shots_are_matched_within_their_planned_light_never_night_to_dusk():
    from flows.episode import _lighting_reference
    from reelgate.records import ShotSpec

    def shot(i: int, time: str, weather: str = "clear") -> ShotSpec:
        return ShotSpec(index=i, text="x", prompt="x", duration_s=3, seed=i, time_of_day=time, weather=weather)

    specs = [shot(0, "dusk"), shot(1, "night"), shot(2, "night"), shot(3, "dusk"), shot(4, "night", "storm")]
    assert [_lighting_reference(s, specs) for s in specs] == [0, 1, 1, 0, 4]


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_match_leaves_shots_that_differ_by_design_alone(tmp_path):
    """Dusk to night is ΔE ~40 apart: a design, not a drift; a drift of ~8 is matched."""
    from postprocess.enhance import match
    from reelgate.settings import MatchSettings

    def solid(path: Path, rgb: tuple[int, int, int]) -> Path:
        with VideoWriter(path, 64, 48, 12) as writer:
            for i in range(12):
                frame = np.full((48, 64, 3), rgb, np.uint8)
                frame[:, i * 4 : i * 4 + 8] = np.clip(np.array(rgb) + 40, 0, 255)
                writer.write(frame)
        return path

    dusk = solid(tmp_path / "dusk.mp4", (230, 140, 90))
    night = solid(tmp_path / "night.mp4", (20, 30, 70))
    drifted = solid(tmp_path / "drifted.mp4", (240, 130, 105))
    shape = VideoShape(64, 48, 12, 1.0)
    far = StepContext(tmp_path / "w", reference=dusk, source=night)
    near = StepContext(tmp_path / "w", reference=dusk, source=drifted)
    assert match.plan(MatchSettings(), shape, far) is None
    assert match.plan(MatchSettings(), shape, near) is not None
