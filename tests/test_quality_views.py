"""What editors see of the quality gate: the score plot, the flagged-frame contact sheet,
`reelgate qc`, and the per-shot artifacts of the scoring task.

Clips are built from scikit-image photos: a smooth pan across a photo, and the same pan
with a cut to another photo at frame 30 (1.25 s at 24 fps).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from quality import plots
from quality.plots import plot_scores, quality_contact_sheet, sheet_frames
from quality.score import QualityReport
from reelgate import contact_sheet
from cli import main
from reelgate.media import VideoWriter
from reelgate.records import GeneratedShot

FPS = 24
W, H = 320, 180
N = 60
CUT_FRAME = 30
CUT_S = CUT_FRAME / FPS  # 1.25 s


def _photo(name: str, side: int = 768) -> np.ndarray:
    img = getattr(data, name)()
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)


def _view(photo: np.ndarray, cx: float, cy: float) -> np.ndarray:
    m = np.float32([[1, 0, cx - W / 2], [0, 1, cy - H / 2]])
    return cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def _pan_clip(path: Path, cut_to: np.ndarray | None = None, n: int = N) -> Path:
    """A 2 px/frame pan across the astronaut; with cut_to, the view cuts to that photo at CUT_FRAME."""
    astronaut = _photo("astronaut")
    with VideoWriter(path, W, H, FPS) as writer:
        for i in range(n):
            photo = cut_to if cut_to is not None and i >= CUT_FRAME else astronaut
            writer.write(_view(photo, 384 + 2.0 * (i - n / 2), 384))
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("views")
    return {
        "pan": _pan_clip(d / "pan.mp4"),
        "cut": _pan_clip(d / "cut.mp4", cut_to=_photo("chelsea")),
        "one_frame": _pan_clip(d / "one_frame.mp4", n=1),
    }


def _report(curves: dict | None = None, **fields) -> QualityReport:
    """A hand-built report; curves are attached whether or not QualityReport has the field yet."""
    base = {"passed": False, "score": 0.4, "failing": ["jumps"], "metrics": {"fps": float(FPS), "frames": float(N)},
            "flagged_times": [CUT_S], "reasons": [f"cut (change the flow cannot explain) at {CUT_S:.2f} s "
                                                  "(score 40.0, threshold 6.0)"]}
    base.update(fields)
    if curves is not None and "curves" in QualityReport.model_fields:
        return QualityReport(**base, curves=curves)
    report = QualityReport(**base)
    if curves is not None:
        object.__setattr__(report, "curves", curves)
    return report


def _red(pixels: np.ndarray) -> np.ndarray:
    return (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)


def _x_of(t: float, t_max: float) -> float:
    return plots.MARGIN_LEFT + (plots.WIDTH - plots.MARGIN_RIGHT - plots.MARGIN_LEFT) * t / t_max


TIMES = [(i + 1) / FPS for i in range(N - 1)]  # t_max = 59 / 24 s


def test_plot_draws_red_points_only_where_a_value_is_above_its_limit(tmp_path: Path) -> None:
    spike = [0.01] * (N - 1)
    spike[CUT_FRAME - 1] = 0.3  # the pair ending at frame 30: 1.25 s
    curves = {
        "warp_error": {"times": TIMES, "values": spike, "limit": 0.1, "unit": "fraction of 255",
                       "description": "change the flow cannot explain"},
        "motion": {"times": TIMES, "values": [8.0 + 0.01 * i for i in range(N - 1)], "limit": 20.0,
                   "unit": "px/s", "description": "top-5% motion"},
    }
    out = plot_scores(_report(curves), tmp_path / "plot.png", title="cut clip")
    pixels = np.asarray(Image.open(out).convert("RGB"))
    assert pixels.shape == (plots.TITLE_HEIGHT + 2 * plots.PANEL_HEIGHT + 8, plots.WIDTH, 3)

    def panel(p: int) -> np.ndarray:
        top = plots.TITLE_HEIGHT + p * plots.PANEL_HEIGHT
        return pixels[top: top + plots.PANEL_HEIGHT]

    _, xs = np.nonzero(_red(panel(0)))
    assert xs.size > 20, "the value above the limit is drawn as a red dot"
    assert abs(xs.mean() - _x_of(CUT_S, TIMES[-1])) <= 3, "the red dot sits at the spike's time"
    assert not _red(panel(1)).any(), "a curve under its limit has no red"
    assert not _red(pixels[: plots.TITLE_HEIGHT - 20]).any()

    # The flagged time is a violet line in every panel.
    x = round(_x_of(CUT_S, TIMES[-1]))
    for p in (0, 1):
        column = panel(p)[plots.PANEL_HEADER + 10: plots.PANEL_HEIGHT - plots.PANEL_FOOTER - 10, x - 1: x + 2]
        violet = (np.abs(column.astype(int) - plots.FLAG_VIOLET).sum(axis=-1) < 40).any(axis=1)
        assert violet.mean() > 0.8


def test_plot_falls_back_to_the_series_when_the_report_has_no_curves(tmp_path: Path) -> None:
    series = {"warp_error": [0.01] * (N - 1), "mean_mag": [2.0] * (N - 1), "mean_dx": [2.0] * (N - 1),
              "frame_diff": [0.03] * (N - 1), "brightness_change": [0.0] * (N - 1)}
    report = _report(series=series)
    assert list(plots.report_curves(report)) == ["warp_error", "mean_mag", "frame_diff", "brightness_change"]
    assert plots.report_curves(report)["mean_mag"]["times"][0] == pytest.approx(1 / FPS)
    out = plot_scores(report, tmp_path / "series.png")
    image = Image.open(out)
    assert image.size == (960, plots.TITLE_HEIGHT + 4 * plots.PANEL_HEIGHT + 8)
    assert not _red(np.asarray(image.convert("RGB"))[plots.TITLE_HEIGHT:]).any(), "no limits, nothing red"
    with pytest.raises(ValueError, match="no per-frame"):
        plot_scores(_report(), tmp_path / "empty.png")


def test_contact_sheet_outlines_the_flagged_frame_with_its_reason(clips: dict[str, Path], tmp_path: Path) -> None:
    report = _report()
    cells = sheet_frames(report, N, FPS)
    assert cells[CUT_FRAME] == "cut 1.25 s"
    assert [i for i, mark in cells.items() if mark] == [CUT_FRAME]
    assert len(cells) >= 10 and 0 in cells and N - 1 in cells

    out = quality_contact_sheet(clips["cut"], report, tmp_path / "sheet.png")
    pixels = np.asarray(Image.open(out).convert("RGB"))
    thumb_h = 136  # 180 * 240 / 320, rounded to even
    cols = min(6, len(cells))
    cell_w, cell_h = 240 + contact_sheet.PAD, thumb_h + contact_sheet.LABEL_HEIGHT + contact_sheet.PAD
    rows = -(-len(cells) // cols)
    assert pixels.shape[:2] == (contact_sheet.TITLE_HEIGHT + contact_sheet.PAD + rows * cell_h,
                                contact_sheet.PAD + cols * cell_w)
    for k, (index, mark) in enumerate(cells.items()):
        x = contact_sheet.PAD + (k % cols) * cell_w
        y = contact_sheet.TITLE_HEIGHT + contact_sheet.PAD + (k // cols) * cell_h
        left_edge = pixels[y + 10: y + thumb_h - 10, x + 1]
        assert _red(left_edge).all() == (mark is not None), f"frame {index}: outlined only when flagged"
    # The flagged cell shows the frame after the cut (the cat), not the astronaut before it.
    k = list(cells).index(CUT_FRAME)
    x = contact_sheet.PAD + (k % cols) * cell_w
    y = contact_sheet.TITLE_HEIGHT + contact_sheet.PAD + (k // cols) * cell_h
    shown = pixels[y + 8: y + thumb_h - 8, x + 8: x + 232].astype(float)
    cat = cv2.resize(_view(_photo("chelsea"), 384 + 2.0 * (CUT_FRAME - N / 2), 384), (240, thumb_h))[8:-8, 8:-8]
    astronaut = cv2.resize(_view(_photo("astronaut"), 384 + 2.0 * (CUT_FRAME - N / 2), 384), (240, thumb_h))[8:-8, 8:-8]
    assert np.abs(shown - cat).mean() < np.abs(shown - astronaut).mean() / 2


@pytest.mark.integration  # scores with the real face models
def test_qc_passes_a_smooth_pan_and_fails_a_cut_naming_its_time(clips: dict[str, Path], tmp_path: Path, capsys) -> None:
    assert main(["qc", str(clips["pan"])]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "stability" in out and "flagged" not in out

    plot, sheet = tmp_path / "qc_plot.png", tmp_path / "qc_sheet.png"
    assert main(["qc", str(clips["cut"]), "--plot", str(plot), "--sheet", str(sheet)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "failing: " in out and "jumps" in out
    flagged = out.split("flagged frames:")[1]
    assert "cut" in flagged and ("1.250 s" in flagged or "1.208 s" in flagged or "1.292 s" in flagged)
    assert Image.open(plot).width == 960 and Image.open(sheet).width > 960

    assert main(["qc", str(clips["cut"]), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False and "jumps" in report["failing"]
    assert any(abs(t - CUT_S) <= 1 / FPS + 1e-6 for t in report["flagged_times"])
    assert "series" not in report and "curves" not in report
    assert main(["qc", str(clips["cut"]), "--json", "--series"]) == 1
    assert len(json.loads(capsys.readouterr().out)["series"]["warp_error"]) == N - 1


@pytest.mark.integration  # scores with the real face models
def test_qc_still_shot_is_frozen_only_when_motion_is_asked(tmp_path: Path, capsys) -> None:
    photo = _photo("astronaut")
    with VideoWriter(tmp_path / "still.mp4", W, H, FPS) as writer:
        for _ in range(36):
            writer.write(_view(photo, 384, 384))
    assert main(["qc", str(tmp_path / "still.mp4")]) == 1
    assert "frozen" in capsys.readouterr().out
    assert main(["qc", str(tmp_path / "still.mp4"), "--no-motion"]) == 0


def test_qc_bad_input_exits_2_naming_the_file(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nowhere.mp4"
    assert main(["qc", str(missing)]) == 2
    assert "nowhere.mp4" in capsys.readouterr().err
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    assert main(["qc", str(text)]) == 2
    assert "notes.mp4" in capsys.readouterr().err


@pytest.mark.integration  # qc loads the real face models before it reads the frames
def test_qc_one_frame_exits_2_naming_the_file(clips: dict[str, Path], capsys) -> None:
    assert main(["qc", str(clips["one_frame"])]) == 2
    err = capsys.readouterr().err
    assert "one_frame.mp4" in err and "2 frames" in err


@pytest.mark.integration  # scores with the real face models
def test_scoring_task_writes_plot_sheet_and_table_and_survives_artifact_failures(
    clips: dict[str, Path], tmp_path: Path, monkeypatch
) -> None:
    import tasks.checks as checks
    from reelgate.settings import QualitySettings

    shot_path = tmp_path / "shot02.mp4"
    shot_path.write_bytes(clips["cut"].read_bytes())
    shot = GeneratedShot(index=1, attempt=2, path=shot_path, backend="test", seed=1, width=W, height=H,
                         fps=FPS, frames=N)
    made: dict[str, object] = {}
    monkeypatch.setattr(checks, "create_markdown_artifact", lambda md, key, description: made.setdefault(key, md))
    monkeypatch.setattr(checks, "create_table_artifact", lambda rows, key, description: made.setdefault(key, rows))
    monkeypatch.setattr(checks, "create_image_artifact", lambda url, key, description: made.setdefault(key, url))

    report = checks.score_shot_quality.fn(shot, True, QualitySettings(), "Ep 7")
    assert not report.passed
    assert (tmp_path / "shot02_quality.png").is_file() and (tmp_path / "shot02_quality_sheet.png").is_file()
    assert set(made) == {"ep-7-quality-shot2", "ep-7-quality-table-shot2", "ep-7-quality-plot-shot2",
                         "ep-7-quality-sheet-shot2"}
    rows = {r["metric"]: r for r in made["ep-7-quality-table-shot2"]}
    assert set(rows["score"]) == {"metric", "value", "threshold", "result"}
    assert rows["jump_count"]["result"] == "fail" and rows["jump_count"]["threshold"] == "0"
    assert rows["stability"]["threshold"] == ">= 0.50"
    assert str(made["ep-7-quality-plot-shot2"]).startswith("data:image/jpeg;base64,")

    def broken(*args, **kwargs):
        raise RuntimeError("artifact API is down")

    monkeypatch.setattr(checks, "create_image_artifact", broken)
    monkeypatch.setattr(checks, "create_table_artifact", broken)
    again = checks.score_shot_quality.fn(shot, True, QualitySettings(), "Ep 7")
    assert again.failing == report.failing


@pytest.mark.integration  # scores with the real face models
def test_qc_asks_judges_requested_rain_as_texture_and_refuses_unknown_kinds(tmp_path: Path, capsys) -> None:
    from tests.quality_clips import pan as pan_camera
    from tests.quality_clips import photo, rain, write

    clip = write(tmp_path / "rain.mp4", photo("astronaut"), pan_camera(2.0), rain())
    assert main(["qc", str(clip)]) == 1  # rain nobody asked for is boiling motion
    capsys.readouterr()
    assert main(["qc", str(clip), "--asks", "rain"]) == 0
    assert "rain asked for" in capsys.readouterr().out  # the report says what was relaxed, and why
    assert main(["qc", str(clip), "--asks", "hail"]) == 2
    assert "not a texture" in capsys.readouterr().err
