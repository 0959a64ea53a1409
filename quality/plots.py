"""What editors see of a quality report: score plots, a contact sheet of flagged frames, a table.

Drawn with PIL (no matplotlib here). The plot has one panel per curve of the report
(`QualityReport.curves`: times in seconds, values, a threshold `limit`, unit, description);
a report without curves is plotted from its per-frame-pair `series` (pair i at (i + 1) / fps),
which have no threshold lines.

Plot layout, in pixels: a TITLE_HEIGHT bar (title and legend), then PANEL_HEIGHT panels
stacked, each with a header line, a plot area from x = MARGIN_LEFT to WIDTH - MARGIN_RIGHT,
and time ticks in seconds below it. Red (OVER_RED) is used only for values above their limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from quality.score import QualityReport
from reelgate.contact_sheet import format_time, make_contact_sheet
from reelgate.files import atomic_path
from reelgate.fonts import label_font
from reelgate.media import read_frames, video_info
from reelgate.settings import QualitySettings

WIDTH = 960
TITLE_HEIGHT = 48
PANEL_HEIGHT = 170
PANEL_HEADER = 24  # curve name, unit and description
PANEL_FOOTER = 30  # time tick labels
MARGIN_LEFT = 76
MARGIN_RIGHT = 40

OVER_RED = (220, 30, 30)
LINE_BLUE = (40, 100, 190)
LIMIT_ORANGE = (235, 140, 0)
FLAG_VIOLET = (140, 70, 200)
_BACKGROUND = (255, 255, 255)
_PLOT_BACKGROUND = (247, 247, 250)
_GRID = (222, 222, 228)
_TEXT = (30, 30, 30)
_MUTED = (110, 110, 110)

# Series plotted when a report has no curves: name -> (unit, what it shows). mean_dx and
# mean_dy are left out: the camera's direction says little to an editor.
SERIES_LABELS: dict[str, tuple[str, str]] = {
    "warp_error": ("fraction of 255", "change the optical flow cannot explain (cuts, morphing)"),
    "mean_mag": ("px / frame", "mean optical-flow magnitude (analysed frame)"),
    "top5_mag": ("px / frame", "top-5% flow magnitude (VBench's motion statistic)"),
    "frame_diff": ("fraction of 255", "mean absolute change between frames"),
    "brightness_change": ("fraction of 255", "brightness step between frames (flicker)"),
}
_SERIES_SKIPPED = {"mean_dx", "mean_dy"}



def report_curves(report: QualityReport) -> dict[str, dict[str, Any]]:
    """The curves to plot, as dicts (times, values, limit, unit, description).

    `report.curves` when it has any; otherwise the per-pair `report.series`, pair i at time
    (i + 1) / fps with fps from report.metrics["fps"] (1 if unknown: times are then pair numbers).
    """
    if report.curves:
        return {name: c.model_dump() for name, c in report.curves.items()}
    series = report.series
    fps = report.metrics.get("fps") or 1.0
    names = [n for n in SERIES_LABELS if n in series] + [
        n for n in series if n not in SERIES_LABELS and n not in _SERIES_SKIPPED
    ]
    out = {}
    for name in names:
        unit, description = SERIES_LABELS.get(name, ("", ""))
        values = [float(v) for v in series[name]]
        out[name] = {
            "times": [(i + 1) / fps for i in range(len(values))],
            "values": values,
            "limit": None,
            "unit": unit,
            "description": description,
        }
    return out


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values (1, 2 or 5 times a power of ten apart) within [lo, hi]."""
    span = hi - lo
    if span <= 0 or not math.isfinite(span):
        return [lo]
    raw = span / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9) * step
    count = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + k * step, 12) + 0.0 for k in range(max(0, count))]


def _dashed_hline(
    draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, fill: tuple, dash: int = 9, gap: int = 6
) -> None:
    x = x0
    while x < x1:
        draw.line((x, y, min(x + dash, x1), y), fill=fill, width=2)
        x += dash + gap


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: float) -> str:
    while len(text) > 1 and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…"
    return text


def _default_title(report: QualityReport) -> str:
    index = report.shot_index
    what = f"Shot {index + 1}" if index is not None else "Video"
    verdict = "PASS" if report.passed else "FAIL"
    failing = f": {', '.join(report.failing)}" if report.failing else ""
    return f"{what}, attempt {report.attempt + 1}: {verdict}, score {report.score:.2f}{failing}"


def plot_scores(report: QualityReport, out: Path, title: str | None = None) -> Path:
    """Write a PNG (WIDTH px wide) of the report's per-frame scores to `out`, atomically.

    One panel per curve: values over time (seconds), the limit as a dashed labelled line,
    values above the limit as red dots, flagged frame times as violet vertical lines.
    Raises ValueError when the report has neither curves nor series.
    """
    curves = report_curves(report)
    if not curves:
        raise ValueError("the report has no per-frame curves or series to plot")
    flagged = report.flagged_times
    fps = report.metrics.get("fps", 0.0)
    frames = report.metrics.get("frames", 0.0)
    t_max = max(
        [max(c["times"], default=0.0) for c in curves.values()]
        + flagged
        + [(frames - 1) / fps if fps and frames else 0.0]
    )
    t_max = t_max if t_max > 0 else 1.0

    image = Image.new("RGB", (WIDTH, TITLE_HEIGHT + PANEL_HEIGHT * len(curves) + 8), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_font, head_font, tick_font = label_font(18), label_font(15), label_font(13)
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT

    def x_of(t: float) -> float:
        return left + (right - left) * t / t_max

    draw.text((12, 14), _fit(draw, title or _default_title(report), title_font, WIDTH - 24), fill=_TEXT,
              font=title_font, anchor="lm")
    # Legend: what each colour means.
    legend = [("value", LINE_BLUE, "line")]
    if any(c["limit"] is not None for c in curves.values()):
        legend += [("limit", LIMIT_ORANGE, "dash"), ("above limit", OVER_RED, "dot")]
    if flagged:
        legend.append(("flagged frame", FLAG_VIOLET, "vline"))
    x = 12
    for label, colour, kind in legend:
        y = 36
        if kind == "line":
            draw.line((x, y, x + 22, y), fill=colour, width=2)
        elif kind == "dash":
            _dashed_hline(draw, x, x + 22, y, colour, dash=6, gap=4)
        elif kind == "dot":
            draw.ellipse((x + 7, y - 4, x + 15, y + 4), fill=colour)
        else:
            draw.line((x + 11, y - 7, x + 11, y + 7), fill=colour, width=2)
        draw.text((x + 28, y), label, fill=_MUTED, font=tick_font, anchor="lm")
        x += 44 + round(draw.textlength(label, font=tick_font)) + 18

    time_ticks = _nice_ticks(0.0, t_max, 8)
    for p, (name, curve) in enumerate(curves.items()):
        top = TITLE_HEIGHT + p * PANEL_HEIGHT
        plot_top, plot_bottom = top + PANEL_HEADER, top + PANEL_HEIGHT - PANEL_FOOTER
        times = np.asarray(curve["times"], dtype=np.float64)
        values = np.asarray(curve["values"], dtype=np.float64)
        n = min(times.size, values.size)
        times, values = times[:n], values[:n]
        finite = np.isfinite(times) & np.isfinite(values)
        limit = curve["limit"]
        limit = float(limit) if limit is not None and math.isfinite(float(limit)) else None

        unit = f" ({curve['unit']})" if curve["unit"] else ""
        header = f"{name}{unit}" + (f"  {curve['description']}" if curve["description"] else "")
        draw.text((left, top + PANEL_HEADER // 2), _fit(draw, header, head_font, right - left), fill=_TEXT,
                  font=head_font, anchor="lm")
        draw.rectangle((left, plot_top, right, plot_bottom), fill=_PLOT_BACKGROUND, outline=_GRID)

        span_values = list(values[finite]) + ([limit] if limit is not None else [])
        lo, hi = (min(span_values), max(span_values)) if span_values else (0.0, 1.0)
        pad = (hi - lo) * 0.08 if hi > lo else max(abs(hi) * 0.1, 1e-3)
        lo, hi = lo - pad, hi + pad

        def y_of(v: float) -> float:
            return plot_bottom - (plot_bottom - plot_top) * (v - lo) / (hi - lo)

        for tick in _nice_ticks(lo, hi, 4):
            y = round(y_of(tick))
            draw.line((left + 1, y, right - 1, y), fill=_GRID)
            draw.text((left - 6, y), f"{tick:.3g}", fill=_MUTED, font=tick_font, anchor="rm")
        for tick in time_ticks:
            x = round(x_of(tick))
            draw.line((x, plot_bottom, x, plot_bottom + 4), fill=_MUTED)
            draw.text((x, plot_bottom + 6), f"{tick:g}", fill=_MUTED, font=tick_font, anchor="mt")
        draw.text((WIDTH - 8, plot_bottom + 6), "s", fill=_MUTED, font=tick_font, anchor="rt")

        for t in flagged:
            x = round(x_of(t))
            draw.line((x, plot_top + 1, x, plot_bottom - 1), fill=FLAG_VIOLET, width=2)
            if p == 0:
                draw.text((x + 4, plot_top + 3), f"{t:.2f} s", fill=FLAG_VIOLET, font=tick_font, anchor="lt")

        points = [(x_of(t), y_of(v)) for t, v in zip(times[finite], values[finite])]
        if len(points) > 1:
            draw.line(points, fill=LINE_BLUE, width=2, joint="curve")
        elif points:
            (x, y), = points
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=LINE_BLUE)

        if limit is not None:
            y = round(y_of(limit))
            _dashed_hline(draw, left + 1, right - 1, y, LIMIT_ORANGE)
            label = f"limit {limit:.3g}"
            draw.text((right - 4, y - 3), label, fill=LIMIT_ORANGE, font=tick_font, anchor="rb")
            for t, v in zip(times[finite], values[finite]):
                if v > limit:
                    x, y = x_of(t), y_of(v)
                    draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=OVER_RED)

    out = Path(out)
    with atomic_path(out) as tmp:
        image.save(tmp, format="PNG")
    return out


# "cut (...) at 1.25 s", "frame jump at 1.25 s", "flicker at ...", "motion stops for 5 frame(s) at ..."
_REASON_AT = re.compile(r"\bat (\d+(?:\.\d+)?) s\b")
_REASON_KIND = (("cut", "cut"), ("frame jump", "jump"), ("flicker", "flicker"), ("motion stops", "hold"))


def flag_kind(report: QualityReport, time_s: float) -> str:
    """The kind of the discontinuity flagged at `time_s` (cut, jump, flicker, hold), read from the reasons."""
    for reason in report.reasons:
        m = _REASON_AT.search(reason)
        if m and abs(float(m.group(1)) - time_s) < 0.006:
            return next((k for prefix, k in _REASON_KIND if reason.startswith(prefix)), reason.split()[0])
    return "flagged"


def flag_labels(report: QualityReport) -> dict[float, str]:
    """flagged time -> short label "<kind> <time> s" (for contact sheet cells)."""
    return {float(t): f"{flag_kind(report, t)} {t:.2f} s" for t in report.flagged_times}


def sheet_frames(report: QualityReport, frame_count: int, fps: float, every_s: float | None = None) -> dict[int, str | None]:
    """Frame index -> mark for a quality contact sheet, in time order.

    Frames every `every_s` seconds (default: about 12 across the shot) and the last frame,
    unmarked; plus the frame at each flagged time, marked "<kind> <time> s".
    """
    if frame_count < 1 or fps <= 0:
        raise ValueError(f"need at least one frame and a positive fps, got {frame_count} frames at {fps} fps")
    duration = frame_count / fps
    step = max(1, round((every_s if every_s and every_s > 0 else duration / 12) * fps))
    cells: dict[int, str | None] = {i: None for i in range(0, frame_count, step)}
    cells[frame_count - 1] = None
    for t, label in flag_labels(report).items():
        i = min(frame_count - 1, max(0, round(t * fps)))
        cells[i] = label if cells.get(i) is None else f"{cells[i]}; {label}"
    return dict(sorted(cells.items()))


def quality_contact_sheet(
    video: Path, report: QualityReport, out: Path, every_s: float | None = None, *, thumb_width: int = 240, columns: int = 6
) -> Path:
    """Write a contact sheet PNG of `video` with the report's flagged frames outlined and labelled.

    every_s: seconds between the sampled frames (default: about 12 across the shot).
    Frames are decoded at thumbnail size, streaming; raises MediaError for an unreadable video.
    """
    video = Path(video)
    width, height, fps, duration = video_info(video)
    metrics = report.metrics
    fps = fps or float(metrics.get("fps") or 0.0) or 24.0
    frame_count = int(metrics.get("frames") or 0) or max(1, round(duration * fps))
    wanted = sheet_frames(report, frame_count, fps, every_s)
    size = (thumb_width, max(2, round(height * thumb_width / max(1, width) / 2) * 2))

    picked: dict[int, np.ndarray] = {}
    last: tuple[int, np.ndarray] | None = None
    frames = read_frames(video, size=size)
    try:
        for i, frame in enumerate(frames):
            last = (i, frame)
            if i in wanted:
                picked[i] = frame
            if i >= max(wanted):
                break
    finally:
        frames.close()  # stops ffmpeg when the last wanted frame came early
    if last is None:
        raise ValueError(f"{video} has no frames to show")
    # The metrics' frame count can overshoot the decoded one by a frame: a mark never gets lost.
    cells: list[tuple[float, np.ndarray]] = []
    marks: dict[int, str] = {}
    for i, mark in wanted.items():
        if i not in picked and mark is None:
            continue
        index, frame = (i, picked[i]) if i in picked else last
        if mark is not None:
            marks[len(cells)] = mark
        cells.append((index / fps, frame))
    verdict = "PASS" if report.passed else "FAIL: " + ", ".join(report.failing)
    title = f"{video.name}  {verdict}  (score {report.score:.2f})"
    return make_contact_sheet(cells, Path(out), marks=marks, columns=columns, thumb_width=thumb_width, title=title)


def metric_table(report: QualityReport, settings: QualitySettings | None = None) -> list[dict[str, str]]:
    """Rows (metric, value, threshold, result) for a table: the gated metrics first, then the rest.

    result is "pass" or "fail" for gated metrics and "" for those only shown for information.
    """
    from quality.metrics import FROZEN_TOP5_PX_PER_S

    settings = settings or QualitySettings()
    metrics = dict(report.metrics)
    failing = set(report.failing)
    gated = [
        ("score", report.score, f">= {settings.min_score:.2f}", "score"),
        ("stability", metrics.get("stability"), f">= {settings.min_stability:.2f}", "stability"),
        ("jump_count", metrics.get("jump_count"), "0", "jumps"),
        ("flicker_count", metrics.get("flicker_count"), "0", "flicker"),
        ("hold_count", metrics.get("hold_count"), "0", "holds"),
        ("motion_px_per_s", metrics.get("motion_px_per_s"),
         f">= {FROZEN_TOP5_PX_PER_S:g} if motion asked" if settings.require_motion else "", "frozen"),
    ]
    rows: list[dict[str, str]] = []
    shown_checks = set()
    for name, value, threshold, check in gated:
        if value is None and check not in failing:
            continue
        shown_checks.add(check)
        rows.append({"metric": name, "value": _fmt(value), "threshold": threshold,
                     "result": "fail" if check in failing else "pass"})
    # Checks added later (faces, ...) still show up as failed even without a row of their own.
    for check in report.failing:
        if check not in shown_checks:
            value = metrics.get(check)
            rows.append({"metric": check, "value": _fmt(value), "threshold": "", "result": "fail"})
            shown_checks.add(check)
    listed = {r["metric"] for r in rows}
    for name, value in metrics.items():
        if name not in listed and name != "frozen":
            rows.append({"metric": name, "value": _fmt(value), "threshold": "", "result": ""})
    return rows


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) and not float(value).is_integer() else f"{value:g}"


def format_flags(report: QualityReport) -> Iterable[str]:
    """One line per flagged frame: "mm:ss.s   1.250 s  cut"."""
    for t in report.flagged_times:
        yield f"{format_time(t)}  {t:7.3f} s  {flag_kind(report, t)}"
