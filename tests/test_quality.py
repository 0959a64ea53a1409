"""Quality gate on a calibration set built from real photographs (scikit-image).

Smooth pans and zooms across a photo must pass; injected defects (a cut, a teleport, a
brightness or colour flicker, a hold, camera shake) must fail at the right time; a still
shot must fail as frozen only when the shot asked for motion. Rain, snow, fire and a
lightning flash pass when the shot asked for them (and the report says which check was
relaxed) and fail when it did not; shake and a held flicker still fail under asked weather. The detection table is
printed at the end of the pytest run (tests/conftest.py); face defects are in
tests/test_quality_faces.py.

The calibration clips are real H.264 encodes scored with the real face models, so the tests
that read them are in the integration tier; the rules that need no clip stay fast.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from quality.metrics import FlowSeries, dense_flow, dynamic_degree, flow_series, frame_jumps, to_gray_small
from quality.request import ShotRequest, request_for
from quality.score import WEIGHTS, QualityReport, pick_best, score_video
from reelgate.errors import MediaError
from reelgate.media import VideoWriter, read_frames
from reelgate.settings import QualitySettings
from tests.quality_clips import (
    DEFECT_FRAME,
    both,
    fire,
    lightning,
    rain,
    snow,
    FPS,
    FRAME_S,
    H,
    N,
    W,
    colour_flicker,
    cut,
    flicker,
    hold,
    pan,
    photo,
    record,
    shaky,
    teleport,
    view,
    write,
)

SMOOTH = ["pan_astronaut", "slow_pan_coffee", "diagonal_rocket", "zoom_chelsea", "fast_pan_astronaut"]
# defect clip -> (defect name in the table, failing name expected, first flagged frame)
DEFECTS = {
    "cut": ("cut", "jumps", DEFECT_FRAME),
    "teleport": ("teleport", "jumps", DEFECT_FRAME),
    "flicker": ("flicker", "flicker", DEFECT_FRAME),
    "flicker_coffee": ("flicker", "flicker", DEFECT_FRAME),
    "colour_flicker": ("colour flicker", "flicker", DEFECT_FRAME),
    "colour_flicker_coffee": ("colour flicker", "flicker", DEFECT_FRAME),
    "hold": ("frozen frames in a moving shot", "holds", DEFECT_FRAME + 1),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("calibration")
    astronaut, coffee, chelsea, rocket = (photo(n) for n in ("astronaut", "coffee", "chelsea", "rocket"))
    move = pan(2.0)
    return {
        "pan_astronaut": write(d / "pan.mp4", astronaut, move),
        "slow_pan_coffee": write(d / "slow.mp4", coffee, pan(1.0)),
        "diagonal_rocket": write(d / "diag.mp4", rocket, pan(2.0, 1.5)),
        "zoom_chelsea": write(d / "zoom.mp4", chelsea, pan(0.0, zoom_rate=0.008)),
        "fast_pan_astronaut": write(d / "fast.mp4", astronaut, pan(8.0, n=48), n=48),
        "still": write(d / "still.mp4", astronaut, pan(0.0)),
        "cut": write(d / "cut.mp4", astronaut, move, cut(chelsea)),
        "teleport": write(d / "teleport.mp4", astronaut, move, teleport(astronaut, 60)),
        "flicker": write(d / "flicker.mp4", astronaut, move, flicker),
        "flicker_coffee": write(d / "flicker_coffee.mp4", coffee, pan(1.0), flicker),
        "colour_flicker": write(d / "colour_flicker.mp4", astronaut, move, colour_flicker),
        "colour_flicker_coffee": write(d / "colour_flicker_coffee.mp4", coffee, pan(1.0), colour_flicker),
        "hold": write(d / "hold.mp4", astronaut, move, hold(astronaut)),
        "jitter": write(d / "jitter.mp4", coffee, shaky(pan(2.0), 1.5)),
        "jitter_second_half": write(d / "jitter_late.mp4", coffee, shaky(pan(2.0), 2.0, start=DEFECT_FRAME)),
        "rain": write(d / "rain.mp4", astronaut, move, rain()),
        "rain_coffee": write(d / "rain_coffee.mp4", coffee, pan(1.0), rain()),
        "snow": write(d / "snow.mp4", astronaut, move, snow()),
        "snow_chelsea": write(d / "snow_chelsea.mp4", chelsea, pan(1.0), snow()),
        "fire": write(d / "fire.mp4", coffee, pan(1.0), fire()),
        "fire_rocket": write(d / "fire_rocket.mp4", rocket, pan(2.0), fire()),
        "lightning": write(d / "lightning.mp4", astronaut, move, lightning),
        "storm": write(d / "storm.mp4", coffee, pan(1.0), both(rain(), lightning)),
        "rain_jitter": write(d / "rain_jitter.mp4", coffee, shaky(pan(2.0), 1.5), rain()),
        "fire_jitter": write(d / "fire_jitter.mp4", astronaut, shaky(pan(2.0), 1.5), fire()),
    }


# Texture clip -> what the shot asked for when it did ask (the same clip unasked must fail).
ASKED: dict[str, ShotRequest] = {
    "rain": request_for("rain"),
    "rain_coffee": request_for(text="Rain lashes the quay."),
    "snow": request_for("snow"),
    "snow_chelsea": request_for(text="窗外下雪了"),
    "fire": request_for(text="篝火的火焰在跳动"),
    "fire_rocket": request_for(text="The launch pad is engulfed in flames."),
    "lightning": request_for("storm"),
    "storm": request_for("storm"),
}
# Defects that must still fail under the weather the shot asked for: (clip, request, failing name).
STILL_DEFECTS = {
    "rain_jitter": ("rain", "stability"),
    "fire_jitter": ("fire", "stability"),
    "flicker": ("storm", "flicker"),
    "jitter": ("storm", "stability"),
}


@pytest.fixture(scope="module")
def reports(clips: dict[str, Path]) -> dict[str, QualityReport]:
    settings = QualitySettings()
    return {name: score_video(path, settings) for name, path in clips.items()}


@pytest.fixture(scope="module")
def asked_reports(clips: dict[str, Path]) -> dict[str, QualityReport]:
    """The texture clips scored as shots that asked for their texture, and defects under asked weather."""
    settings = QualitySettings()
    out = {name: score_video(clips[name], settings, request=req) for name, req in ASKED.items()}
    for name, (weather, _) in STILL_DEFECTS.items():
        req = request_for(weather) if weather != "fire" else request_for(text="flames")
        out[f"{name} ({weather} asked)"] = score_video(clips[name], settings, request=req)
    out["pan_astronaut (storm asked)"] = score_video(clips["pan_astronaut"], settings, request=request_for("storm"))
    return out


def _near(times: list[float], t: float) -> bool:
    return any(abs(x - t) <= FRAME_S + 1e-6 for x in times)


def test_dense_flow_recovers_a_known_shift() -> None:
    img = photo("astronaut")
    a = to_gray_small(view(img, 384, 384, 1.0, W, H))
    b = to_gray_small(view(img, 381, 384, 1.0, W, H))  # window 3 px left: content moves +3 px
    flow = dense_flow(a, b)
    assert flow.shape == (H, W, 2)
    inner = flow[20:-20, 20:-20]
    assert np.median(inner[..., 0]) == pytest.approx(3.0, abs=0.2)
    assert np.median(inner[..., 1]) == pytest.approx(0.0, abs=0.2)


@pytest.mark.integration
def test_flow_series_streams_pairs_and_reports_camera_motion(clips: dict[str, Path]) -> None:
    series = flow_series(read_frames(clips["pan_astronaut"]))
    assert series.pairs == N - 1
    assert (series.width, series.height) == (W, H)
    # The window moves right 2 px a frame, so the content moves left 2 px a frame.
    assert np.median(series.mean_dx) == pytest.approx(-2.0, abs=0.15)
    assert np.median(series.mean_mag) == pytest.approx(2.0, abs=0.2)
    assert max(series.warp_error) < 0.02  # the flow explains a smooth pan


@pytest.mark.integration
def test_smooth_pans_and_zooms_pass(reports: dict[str, QualityReport]) -> None:
    for name in SMOOTH:
        r = reports[name]
        assert r.passed, (name, r.reasons, r.metrics)
        assert r.flagged_times == [], name
        assert r.metrics["stability"] >= 0.7, (name, r.metrics["stability"])
        assert r.score >= 0.8, (name, r.score)
        assert r.metrics["faces"] == 0 and r.metrics["term_faces"] == 1.0


@pytest.mark.integration
def test_fast_smooth_pan_is_not_a_jump(reports: dict[str, QualityReport]) -> None:
    r = reports["fast_pan_astronaut"]
    assert r.metrics["motion_px"] == pytest.approx(8.0, abs=0.5)
    assert r.metrics["jump_count"] == 0 and r.passed
    assert r.metrics["dynamic_degree"] == 1.0


@pytest.mark.integration
@pytest.mark.parametrize("name", ["cut", "teleport"])
def test_cut_and_teleport_are_jumps_at_the_right_time(reports: dict[str, QualityReport], name: str) -> None:
    r = reports[name]
    assert not r.passed
    assert "jumps" in r.failing
    assert r.metrics["jump_count"] >= 1
    assert _near(r.flagged_times, DEFECT_FRAME / FPS), r.flagged_times
    # Nothing flagged far from the defect (the teleport's return frame is one frame later).
    assert all(abs(t - DEFECT_FRAME / FPS) <= 2 * FRAME_S for t in r.flagged_times), r.flagged_times
    assert any("1.25 s" in reason for reason in r.reasons), r.reasons


@pytest.mark.integration
def test_teleport_at_640x360_is_a_jump(tmp_path: Path) -> None:
    path = write(tmp_path / "t.mp4", photo("astronaut", 1024), pan(2.0), teleport(photo("astronaut", 1024), 60),
                  size=(640, 360))
    r = score_video(path, QualitySettings())
    assert "jumps" in r.failing and _near(r.flagged_times, DEFECT_FRAME / FPS), (r.flagged_times, r.reasons)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["flicker", "flicker_coffee"])
def test_flicker_fails_and_is_named(reports: dict[str, QualityReport], name: str) -> None:
    r = reports[name]
    assert not r.passed
    assert "flicker" in r.failing
    assert r.metrics["flicker_count"] == 2  # on at frame 30, off at frame 33
    assert _near(r.flagged_times, DEFECT_FRAME / FPS) and _near(r.flagged_times, (DEFECT_FRAME + 3) / FPS)
    assert any(reason.startswith("flicker at 1.25 s") for reason in r.reasons), r.reasons


@pytest.mark.integration
@pytest.mark.parametrize("name", ["colour_flicker", "colour_flicker_coffee"])
def test_colour_flicker_at_constant_brightness_fails(reports: dict[str, QualityReport], name: str) -> None:
    r = reports[name]
    assert not r.passed and "flicker" in r.failing, r.reasons
    assert r.metrics["colour_flicker_count"] == 2  # cast on at frame 30, off at frame 33
    assert r.flagged_times == pytest.approx([DEFECT_FRAME / FPS, (DEFECT_FRAME + 3) / FPS], abs=1e-3)
    assert any(reason.startswith("colour flicker") and "1.25 s" in reason for reason in r.reasons), r.reasons
    # The luminance barely moved, so the grey brightness signal alone would have missed it.
    assert max(abs(b) for b in r.series["brightness_change"]) < 0.01


@pytest.mark.integration
def test_colour_signal_is_quiet_on_smooth_shots(reports: dict[str, QualityReport]) -> None:
    for name in SMOOTH:
        assert reports[name].metrics["colour_shift_max"] < 0.004, (name, reports[name].metrics["colour_shift_max"])
        assert reports[name].metrics["colour_flicker_count"] == 0


@pytest.mark.integration
def test_hold_inside_a_moving_shot_fails(reports: dict[str, QualityReport]) -> None:
    r = reports["hold"]
    assert not r.passed and "holds" in r.failing
    assert _near(r.flagged_times, (DEFECT_FRAME + 1) / FPS), r.flagged_times


@pytest.mark.integration
def test_still_shot_is_frozen_only_when_motion_was_asked_for(
    clips: dict[str, Path], reports: dict[str, QualityReport]
) -> None:
    moving = reports["still"]
    assert not moving.passed and moving.failing == ["frozen"]
    # The catch: a still shot wins on stability, so only the frozen gate stops it.
    assert moving.metrics["stability"] > reports["pan_astronaut"].metrics["stability"] - 0.05
    assert "should move" in " ".join(moving.reasons)
    calm = score_video(clips["still"], QualitySettings(), wants_motion=False)
    assert calm.passed and calm.failing == []
    assert score_video(clips["still"], QualitySettings(require_motion=False)).passed


@pytest.mark.integration
@pytest.mark.parametrize("name", ["jitter", "jitter_second_half"])
def test_camera_shake_fails_stability_at_its_time(reports: dict[str, QualityReport], name: str) -> None:
    r = reports[name]
    assert not r.passed and "stability" in r.failing, r.metrics
    assert r.metrics["stability"] < 0.5
    # The stability reason points at the shakiest moment: inside the shaken part.
    reason = next(x for x in r.reasons if x.startswith("flow stability"))
    worst = float(reason.rsplit("worst at ", 1)[1].split(" s")[0])
    assert worst >= (0 if name == "jitter" else DEFECT_FRAME / FPS), reason


@pytest.mark.integration
def test_stability_includes_flow_field_variance(reports: dict[str, QualityReport]) -> None:
    """Shake shows as temporal variance of the dense flow field; smooth moves keep it near zero."""
    smooth = max(reports[n].metrics["flow_field_var"] for n in SMOOTH)
    assert reports["jitter"].metrics["flow_field_var"] > 20 * smooth
    assert reports["jitter"].metrics["flow_mag_var"] > 20 * max(reports[n].metrics["flow_mag_var"] for n in SMOOTH)
    assert reports["still"].metrics["flow_field_var"] < 0.01


@pytest.mark.integration
def test_subject_that_starts_moving_is_not_a_jump(tmp_path: Path) -> None:
    """A still scene where something starts moving fast and keeps going: its own motion, not a jump."""
    background = view(photo("astronaut"), 384, 384, 1.0, W, H)
    patch = view(photo("coffee"), 400, 400, 1.0, 140, 140)
    path = tmp_path / "runner.mp4"
    with VideoWriter(path, W, H, FPS) as writer:
        for i in range(N):
            frame = background.copy()
            x = 10 + 8 * max(0, i - 40)  # still for 40 frames, then 8 px/frame
            frame[20:160, x:x + 140] = patch
            writer.write(frame)
    r = score_video(path, QualitySettings())
    assert r.metrics["jump_count"] == 0 and "jumps" not in r.failing, r.reasons
    assert r.metrics["frozen"] == 0.0  # a third of the shot moves: not frozen


@pytest.mark.integration
def test_jump_threshold_follows_settings(clips: dict[str, Path]) -> None:
    series = flow_series(read_frames(clips["cut"]))
    assert frame_jumps(series, FPS, 6.0)
    assert not frame_jumps(series, FPS, 1e6)  # an absurd z lets everything through


@pytest.mark.integration
def test_dynamic_degree_of_a_fast_pan_is_one(clips: dict[str, Path]) -> None:
    # 8 px/frame at 24 fps is 24 px per VBench pair (~1/8 s): far above 6 * 180/256 = 4.2 px.
    fast = flow_series(read_frames(clips["fast_pan_astronaut"]))
    assert dynamic_degree(fast, W, H, FPS) == 1.0


def test_dynamic_degree_uses_vbench_threshold() -> None:
    # 640x360 source analysed at 320x180: threshold 6 * 360/256 = 8.4 source px = 4.2 analysed px;
    # at 24 fps each per-frame magnitude counts 3 times (VBench samples every 3rd frame).
    series = FlowSeries(top5_mag=[1.0] * 10 + [2.0] * 10, width=320, height=180, scale=0.5)
    series.mean_mag = [0.0] * 20
    assert dynamic_degree(series, 640, 360, 24) == 0.5
    assert dynamic_degree(series, 640, 360, 8) == 0.0
    assert dynamic_degree(series, 640, 360, 48) == 1.0


@pytest.mark.integration  # score_video loads the real face models first
def test_too_short_video_is_a_media_error(tmp_path: Path) -> None:
    path = tmp_path / "one.mp4"
    with VideoWriter(path, W, H, FPS) as writer:
        writer.write(np.zeros((H, W, 3), np.uint8))
    with pytest.raises(MediaError, match="at least 2 frames"):
        score_video(path, QualitySettings())


def test_composite_weights_sum_to_one() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert set(WEIGHTS) == {"stability", "continuity", "motion", "faces"}


@pytest.mark.integration
def test_pick_best_prefers_passing_then_score(reports: dict[str, QualityReport]) -> None:
    cut, pan, still = reports["cut"], reports["pan_astronaut"], reports["still"]
    assert pick_best([cut, pan, still]) is pan
    failing = [cut, still]
    assert pick_best(failing) is max(failing, key=lambda r: r.score)
    with pytest.raises(ValueError):
        pick_best([])


@pytest.mark.integration
def test_report_round_trips_and_renders_markdown(reports: dict[str, QualityReport]) -> None:
    r = reports["cut"].model_copy(update={"shot_index": 3, "attempt": 1})
    again = QualityReport.model_validate_json(r.model_dump_json())
    assert again == r
    assert len(again.series["warp_error"]) == N - 1
    md = r.to_markdown()
    assert md.startswith("### Shot 3, attempt 1: FAIL")
    assert "| stability |" in md and "1.25 s" in md


@pytest.mark.integration
def test_calibration_table(reports: dict[str, QualityReport]) -> None:
    """Every defect caught at its time, no false alarm; the table is printed after the run."""
    for name, (defect, failing_name, frame) in DEFECTS.items():
        r = reports[name]
        record(name, defect, failing_name in r.failing and _near(r.flagged_times, frame / FPS),
               r.failing, r.score, r.flagged_times)
    for name in ("jitter", "jitter_second_half"):
        r = reports[name]
        record(name, "jitter (camera shake)", "stability" in r.failing, r.failing, r.score, r.flagged_times)
    still = reports["still"]
    record("still (motion asked)", "frozen shot", still.failing == ["frozen"], still.failing, still.score, [])
    for name in SMOOTH:
        r = reports[name]
        record(name, "", r.passed, r.failing, r.score, r.flagged_times)
    assert all(reports[n].passed for n in SMOOTH)
    assert all(DEFECTS[n][1] in reports[n].failing for n in DEFECTS)


@pytest.mark.integration
def test_curves_carry_the_threshold_lines(reports: dict[str, QualityReport]) -> None:
    settings = QualitySettings()
    r = reports["colour_flicker"]
    for name in ("warp_z", "motion_z", "brightness_z", "colour_z"):
        curve = r.curves[name]
        assert curve.limit == settings.jump_z and len(curve.times) == len(curve.values) == N - 1
        assert curve.times[0] == pytest.approx(1 / FPS, abs=1e-3)  # pair 0 is timed at its second frame
    colour = r.curves["colour_z"]
    over = [t for t, v in zip(colour.times, colour.values) if v > colour.limit]
    assert over == pytest.approx([DEFECT_FRAME / FPS, (DEFECT_FRAME + 3) / FPS], abs=1e-3)
    still, fast = reports["still"].curves["top5_flow"], reports["fast_pan_astronaut"].curves["top5_flow"]
    assert max(still.values) < still.limit < min(fast.values)
    assert "face_identity" not in r.curves  # no faces in these clips


@pytest.mark.integration
@pytest.mark.parametrize("name", ["rain", "rain_coffee", "snow", "snow_chelsea", "fire", "fire_rocket"])
def test_texture_not_asked_for_is_shaky_motion(reports: dict[str, QualityReport], name: str) -> None:
    r = reports[name]
    assert not r.passed and "stability" in r.failing, (name, r.metrics["stability"], r.reasons)
    assert r.relaxed == [] and "judged without" not in " ".join(r.reasons)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["rain", "rain_coffee", "snow", "snow_chelsea", "fire", "fire_rocket"])
def test_texture_asked_for_is_judged_without_its_layer(
    reports: dict[str, QualityReport], asked_reports: dict[str, QualityReport], name: str
) -> None:
    r, settings = asked_reports[name], QualitySettings()
    assert r.passed, (name, r.reasons, r.metrics["stability"])
    kind = ASKED[name].textures[0]
    # The reviewer reads why: which texture was asked for and that stability ignored it.
    assert any(line.startswith(f"{kind} asked for") and f"stability judged without the {kind} layer" in line
               for line in r.relaxed), r.relaxed
    assert f"without the {kind} layer" in r.to_markdown()
    # The whole frame still reads as boiling; the scene underneath is steady.
    assert r.metrics["stability_whole_frame"] == pytest.approx(reports[name].metrics["stability"], abs=1e-6)
    assert r.metrics["stability_whole_frame"] < settings.min_stability <= r.metrics["stability"]
    assert 0.0 < r.metrics["layer_share"] < 0.8


@pytest.mark.integration
def test_lightning_flash_is_flicker_only_when_not_asked_for(
    reports: dict[str, QualityReport], asked_reports: dict[str, QualityReport]
) -> None:
    unasked = reports["lightning"]
    assert "flicker" in unasked.failing and _near(unasked.flagged_times, DEFECT_FRAME / FPS), unasked.reasons
    for name in ("lightning", "storm"):
        r = asked_reports[name]
        assert r.passed and "flicker" not in r.failing, (name, r.reasons)
        assert any(line.startswith("lightning asked for (weather: storm): flash at 1.25 s") for line in r.relaxed), r.relaxed
        assert r.metrics["flicker_count"] == 0
    assert not reports["storm"].passed  # rain and a flash nobody asked for


@pytest.mark.integration
@pytest.mark.parametrize("name", list(STILL_DEFECTS))
def test_defects_still_fail_under_asked_weather(asked_reports: dict[str, QualityReport], name: str) -> None:
    """Shake under asked rain or fire, a held brightness step in a storm: still defects."""
    weather, failing = STILL_DEFECTS[name]
    r = asked_reports[f"{name} ({weather} asked)"]
    assert not r.passed and failing in r.failing, (name, r.reasons, r.relaxed)
    if failing == "stability":
        assert any("judged without the" in reason for reason in r.reasons), r.reasons


@pytest.mark.integration
def test_smooth_pan_asked_for_storm_still_passes(asked_reports: dict[str, QualityReport]) -> None:
    r = asked_reports["pan_astronaut (storm asked)"]
    assert r.passed and r.flagged_times == [], r.reasons


@pytest.mark.integration
def test_texture_calibration_table(reports: dict[str, QualityReport], asked_reports: dict[str, QualityReport]) -> None:
    """Asked-for texture passes, the same texture unasked is caught; rows join the printed table."""
    for name in ASKED:
        kind = " and ".join(ASKED[name].textures + (["lightning"] if ASKED[name].flashes else []))
        kind = "lightning" if name == "lightning" else kind  # that clip has no rain drawn
        r = reports[name]
        record(f"{name} (not asked)", f"{kind} not asked for", not r.passed, r.failing, r.score, r.flagged_times)
        a = asked_reports[name]
        record(f"{name} (asked)", "", a.passed, a.failing, a.score, a.flagged_times)
    for name, (weather, failing) in STILL_DEFECTS.items():
        r = asked_reports[f"{name} ({weather} asked)"]
        record(f"{name} ({weather} asked)", f"{failing} under asked {weather}", failing in r.failing,
               r.failing, r.score, r.flagged_times)
    r = asked_reports["pan_astronaut (storm asked)"]
    record("pan_astronaut (storm asked)", "", r.passed, r.failing, r.score, r.flagged_times)
    assert all(asked_reports[n].passed for n in ASKED)
    assert not any(reports[n].passed for n in ASKED)


@pytest.mark.integration
def test_scoring_speed_against_decode(tmp_path: Path) -> None:
    """Seconds of scoring per second of video at 640x360 and 1280x720, next to full decode (bench/quality.py
    measures the same on a longer clip with a face)."""
    print("\n| size | decode s/s | score s/s |\n|---|---|---|")
    for w, h in [(640, 360), (1280, 720)]:
        img = photo("astronaut", 2 * w)
        path = write(tmp_path / f"{w}.mp4", img, lambda i: (w + 2.0 * i, w, 1.0), n=48, size=(w, h))
        seconds = 48 / FPS
        t0 = time.perf_counter()
        frames = sum(1 for _ in read_frames(path))
        decode = time.perf_counter() - t0
        report = score_video(path, QualitySettings())
        flow_only = score_video(path, QualitySettings(faces=False))
        assert frames == 48 and report.passed and flow_only.passed
        print(f"| {w}x{h} | {decode / seconds:.3f} | {report.seconds_taken / seconds:.3f} "
              f"(no faces {flow_only.seconds_taken / seconds:.3f}) |")
        # The flow metrics run at 320 px whatever the size: well under real time. The face
        # checks' cost depends on the machine's load (bench/quality.py reports it).
        assert flow_only.seconds_taken / seconds < 1.0
