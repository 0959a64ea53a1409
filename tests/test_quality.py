"""Quality gate on a calibration set built from real photographs (scikit-image).

Smooth pans and zooms across a photo must pass; injected defects (a cut, a teleport, a
flicker, a hold) must fail at the right time; a still shot must fail as frozen only when
the shot asked for motion. Run with -s to see the detection table and timings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from quality.metrics import FlowSeries, dense_flow, dynamic_degree, flow_series, frame_jumps, to_gray_small
from quality.score import QualityReport, pick_best, score_video
from reelgate.errors import MediaError
from reelgate.media import VideoWriter, read_frames
from reelgate.settings import QualitySettings

FPS = 24
W, H = 320, 180
N = 60  # 2.5 s
DEFECT_FRAME = 30  # first frame of every injected defect: 1.25 s
FRAME_S = 1.0 / FPS


def _photo(name: str, side: int = 768) -> np.ndarray:
    img = getattr(data, name)()
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)


def _view(photo: np.ndarray, cx: float, cy: float, zoom: float, w: int, h: int) -> np.ndarray:
    """The w x h window of `photo` centred at (cx, cy), magnified by `zoom` (sub-pixel exact)."""
    s = 1.0 / zoom
    m = np.float32([[s, 0, cx - s * w / 2], [0, s, cy - s * h / 2]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(photo, m, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT)


Camera = Callable[[int], tuple[float, float, float]]  # frame -> (cx, cy, zoom)
Defect = Callable[[int, np.ndarray, Camera], np.ndarray]


def _pan(vx: float, vy: float = 0.0, zoom_rate: float = 0.0, n: int = N) -> Camera:
    return lambda i: (384 + vx * (i - n / 2), 384 + vy * (i - n / 2), 1.0 + zoom_rate * i)


def _write(path: Path, photo: np.ndarray, camera: Camera, defect: Defect | None = None,
           n: int = N, size: tuple[int, int] = (W, H)) -> Path:
    with VideoWriter(path, size[0], size[1], FPS) as writer:
        for i in range(n):
            frame = _view(photo, *camera(i), *size)
            writer.write(defect(i, frame, camera) if defect else frame)
    return path


def _cut(other: np.ndarray) -> Defect:
    return lambda i, f, cam: _view(other, *cam(i), W, H) if i >= DEFECT_FRAME else f


def _teleport(photo: np.ndarray, px: float) -> Defect:
    def defect(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
        if i != DEFECT_FRAME:
            return f
        cx, cy, z = cam(i)
        return _view(photo, cx + px, cy, z, f.shape[1], f.shape[0])
    return defect


def _flicker(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
    if DEFECT_FRAME <= i < DEFECT_FRAME + 3:
        return np.clip(f.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    return f


def _hold(photo: np.ndarray) -> Defect:
    # The picture sticks on frame 30 for 5 more frames, then the camera resumes where it was.
    def defect(i: int, f: np.ndarray, cam: Camera) -> np.ndarray:
        if DEFECT_FRAME < i <= DEFECT_FRAME + 5:
            return _view(photo, *cam(DEFECT_FRAME), W, H)
        return f
    return defect


SMOOTH = ["pan_astronaut", "slow_pan_coffee", "diagonal_rocket", "zoom_chelsea", "fast_pan_astronaut"]
# defect -> (kinds that count as caught, failing name expected)
DEFECTS = {
    "cut": ({"cut", "jump"}, "jumps"),
    "teleport": ({"cut", "jump"}, "jumps"),
    "flicker": ({"flicker"}, "flicker"),
    "flicker_coffee": ({"flicker"}, "flicker"),
    "hold": ({"hold", "jump"}, "holds"),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("calibration")
    astronaut, coffee, chelsea, rocket = (_photo(n) for n in ("astronaut", "coffee", "chelsea", "rocket"))
    pan = _pan(2.0)
    return {
        "pan_astronaut": _write(d / "pan.mp4", astronaut, pan),
        "slow_pan_coffee": _write(d / "slow.mp4", coffee, _pan(1.0)),
        "diagonal_rocket": _write(d / "diag.mp4", rocket, _pan(2.0, 1.5)),
        "zoom_chelsea": _write(d / "zoom.mp4", chelsea, _pan(0.0, zoom_rate=0.008)),
        "fast_pan_astronaut": _write(d / "fast.mp4", astronaut, _pan(8.0, n=48), n=48),
        "still": _write(d / "still.mp4", astronaut, _pan(0.0)),
        "cut": _write(d / "cut.mp4", astronaut, pan, _cut(chelsea)),
        "teleport": _write(d / "teleport.mp4", astronaut, pan, _teleport(astronaut, 60)),
        "flicker": _write(d / "flicker.mp4", astronaut, pan, _flicker),
        "flicker_coffee": _write(d / "flicker_coffee.mp4", coffee, _pan(1.0), _flicker),
        "hold": _write(d / "hold.mp4", astronaut, pan, _hold(astronaut)),
    }


@pytest.fixture(scope="module")
def reports(clips: dict[str, Path]) -> dict[str, QualityReport]:
    settings = QualitySettings()
    return {name: score_video(path, settings) for name, path in clips.items()}


def _near(times: list[float], t: float) -> bool:
    return any(abs(x - t) <= FRAME_S + 1e-6 for x in times)


def test_dense_flow_recovers_a_known_shift() -> None:
    photo = _photo("astronaut")
    a = to_gray_small(_view(photo, 384, 384, 1.0, W, H))
    b = to_gray_small(_view(photo, 381, 384, 1.0, W, H))  # window 3 px left: content moves +3 px
    flow = dense_flow(a, b)
    assert flow.shape == (H, W, 2)
    inner = flow[20:-20, 20:-20]
    assert np.median(inner[..., 0]) == pytest.approx(3.0, abs=0.2)
    assert np.median(inner[..., 1]) == pytest.approx(0.0, abs=0.2)


def test_flow_series_streams_pairs_and_reports_camera_motion(clips: dict[str, Path]) -> None:
    series = flow_series(read_frames(clips["pan_astronaut"]))
    assert series.pairs == N - 1
    assert (series.width, series.height) == (W, H)
    # The window moves right 2 px a frame, so the content moves left 2 px a frame.
    assert np.median(series.mean_dx) == pytest.approx(-2.0, abs=0.15)
    assert np.median(series.mean_mag) == pytest.approx(2.0, abs=0.2)
    assert max(series.warp_error) < 0.02  # the flow explains a smooth pan


def test_smooth_pans_and_zooms_pass(reports: dict[str, QualityReport]) -> None:
    for name in SMOOTH:
        r = reports[name]
        assert r.passed, (name, r.reasons, r.metrics)
        assert r.flagged_times == [], name
        assert r.metrics["stability"] >= 0.7, (name, r.metrics["stability"])
        assert r.score >= 0.8, (name, r.score)


def test_fast_smooth_pan_is_not_a_jump(reports: dict[str, QualityReport]) -> None:
    r = reports["fast_pan_astronaut"]
    assert r.metrics["motion_px"] == pytest.approx(8.0, abs=0.5)
    assert r.metrics["jump_count"] == 0 and r.passed
    assert r.metrics["dynamic_degree"] == 1.0


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


def test_teleport_at_640x360_is_a_jump(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.mp4", _photo("astronaut", 1024), _pan(2.0), _teleport(_photo("astronaut", 1024), 60),
                  size=(640, 360))
    r = score_video(path, QualitySettings())
    assert "jumps" in r.failing and _near(r.flagged_times, DEFECT_FRAME / FPS), (r.flagged_times, r.reasons)


@pytest.mark.parametrize("name", ["flicker", "flicker_coffee"])
def test_flicker_fails_and_is_named(reports: dict[str, QualityReport], name: str) -> None:
    r = reports[name]
    assert not r.passed
    assert "flicker" in r.failing
    assert r.metrics["flicker_count"] == 2  # on at frame 30, off at frame 33
    assert _near(r.flagged_times, DEFECT_FRAME / FPS) and _near(r.flagged_times, (DEFECT_FRAME + 3) / FPS)
    assert any(reason.startswith("flicker at 1.25 s") for reason in r.reasons), r.reasons


def test_hold_inside_a_moving_shot_fails(reports: dict[str, QualityReport]) -> None:
    r = reports["hold"]
    assert not r.passed and "holds" in r.failing
    assert _near(r.flagged_times, (DEFECT_FRAME + 1) / FPS), r.flagged_times


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


def test_shaky_camera_fails_stability(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    shake = rng.normal(0.0, 1.5, size=(N, 2))
    base = _pan(2.0)
    path = _write(tmp_path / "shake.mp4", _photo("coffee"),
                  lambda i: (base(i)[0] + shake[i, 0], base(i)[1] + shake[i, 1], 1.0))
    r = score_video(path, QualitySettings())
    assert not r.passed and "stability" in r.failing, r.metrics


def test_subject_that_starts_moving_is_not_a_jump(tmp_path: Path) -> None:
    """A still scene where something starts moving fast and keeps going: its own motion, not a jump."""
    background = _view(_photo("astronaut"), 384, 384, 1.0, W, H)
    patch = _view(_photo("coffee"), 400, 400, 1.0, 140, 140)
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


def test_jump_threshold_follows_settings(clips: dict[str, Path]) -> None:
    series = flow_series(read_frames(clips["cut"]))
    assert frame_jumps(series, FPS, 6.0)
    assert not frame_jumps(series, FPS, 1e6)  # an absurd z lets everything through


def test_dynamic_degree_uses_vbench_threshold(clips: dict[str, Path]) -> None:
    # 8 px/frame at 24 fps is 24 px per VBench pair (~1/8 s): far above 6 * 180/256 = 4.2 px.
    fast = flow_series(read_frames(clips["fast_pan_astronaut"]))
    assert dynamic_degree(fast, W, H, FPS) == 1.0
    # 640x360 source analysed at 320x180: threshold 6 * 360/256 = 8.4 source px = 4.2 analysed px;
    # at 24 fps each per-frame magnitude counts 3 times (VBench samples every 3rd frame).
    series = FlowSeries(top5_mag=[1.0] * 10 + [2.0] * 10, width=320, height=180, scale=0.5)
    series.mean_mag = [0.0] * 20
    assert dynamic_degree(series, 640, 360, 24) == 0.5
    assert dynamic_degree(series, 640, 360, 8) == 0.0
    assert dynamic_degree(series, 640, 360, 48) == 1.0


def test_too_short_video_is_a_media_error(tmp_path: Path) -> None:
    path = tmp_path / "one.mp4"
    with VideoWriter(path, W, H, FPS) as writer:
        writer.write(np.zeros((H, W, 3), np.uint8))
    with pytest.raises(MediaError, match="at least 2 frames"):
        score_video(path, QualitySettings())


def test_pick_best_prefers_passing_then_score(reports: dict[str, QualityReport]) -> None:
    cut, pan, still = reports["cut"], reports["pan_astronaut"], reports["still"]
    assert pick_best([cut, pan, still]) is pan
    failing = [cut, still]
    assert pick_best(failing) is max(failing, key=lambda r: r.score)
    with pytest.raises(ValueError):
        pick_best([])


def test_report_round_trips_and_renders_markdown(reports: dict[str, QualityReport]) -> None:
    r = reports["cut"].model_copy(update={"shot_index": 3, "attempt": 1})
    again = QualityReport.model_validate_json(r.model_dump_json())
    assert again == r
    assert len(again.series["warp_error"]) == N - 1
    md = r.to_markdown()
    assert md.startswith("### Shot 3, attempt 1: FAIL")
    assert "| stability |" in md and "1.25 s" in md


def test_calibration_table(reports: dict[str, QualityReport]) -> None:
    """Detection per defect and false alarms on the smooth shots (printed with -s)."""
    rows = []
    for name, (_, failing_name) in DEFECTS.items():
        r = reports[name]
        hit = failing_name in r.failing and _near(r.flagged_times, DEFECT_FRAME / FPS) or (
            name == "hold" and _near(r.flagged_times, (DEFECT_FRAME + 1) / FPS))
        rows.append((name, "caught" if hit else "MISSED", ",".join(r.failing), r.score))
    false_alarms = [n for n in SMOOTH if not reports[n].passed]
    rows.append(("still (wants motion)", "caught" if "frozen" in reports["still"].failing else "MISSED",
                 ",".join(reports["still"].failing), reports["still"].score))
    print("\n| clip | detection | failing | score |\n|---|---|---|---|")
    for name, hit, failing, score in rows:
        print(f"| {name} | {hit} | {failing} | {score:.2f} |")
    for n in SMOOTH:
        r = reports[n]
        print(f"| {n} (smooth) | {'FALSE ALARM' if not r.passed else 'pass'} | {','.join(r.failing)} | {r.score:.2f} |")
    print(f"false alarms: {len(false_alarms)}/{len(SMOOTH)}")
    assert all(hit == "caught" for _, hit, _, _ in rows)
    assert false_alarms == []


def test_scoring_speed_against_decode(tmp_path: Path) -> None:
    """Seconds of scoring per second of video at 640x360 and 1280x720, next to full decode."""
    print("\n| size | decode s/s | score s/s |\n|---|---|---|")
    for w, h in [(640, 360), (1280, 720)]:
        photo = _photo("astronaut", 2 * w)
        path = _write(tmp_path / f"{w}.mp4", photo, lambda i: (w + 2.0 * i, w, 1.0), n=48, size=(w, h))
        seconds = 48 / FPS
        t0 = time.perf_counter()
        frames = sum(1 for _ in read_frames(path))
        decode = time.perf_counter() - t0
        report = score_video(path, QualitySettings())
        assert frames == 48 and report.passed
        print(f"| {w}x{h} | {decode / seconds:.3f} | {report.seconds_taken / seconds:.3f} |")
        # Scoring analyses at 320 px, so it stays well under real time even at 720p.
        assert report.seconds_taken / seconds < 1.0
