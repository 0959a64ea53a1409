"""Colour grading (3D LUTs) and shot-to-shot colour matching, through the real ffmpeg.

Small clips (160x96, 1 s, 12 fps) made from scikit-image photographs; `pytest -s` prints
the measured figures (palette ΔE2000 before and after matching, contrast kept, LUT sizes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postprocess.enhance import grade, match
from postprocess.enhance.base import StepContext, VideoShape, apply_filters
from postprocess.enhance.colour import (
    Lut,
    adjacent_delta_e,
    blend,
    identity,
    lightness_spread,
    mean_lab_delta_e,
    palette,
    palette_delta_e,
    read_cube,
    rgb_to_lab,
    sample_frames,
    write_cube,
)
from postprocess.enhance.looks import LOOKS, SIZE, cube_path, look_lut, write_all
from reelgate.errors import ConfigError
from reelgate.media import run_ffmpeg
from reelgate.settings import GradeSettings, MatchSettings
from tests.enhance_clips import COLOUR_FPS, COLOUR_SIZE, colour_pan, drifted_episode

SHAPE = VideoShape(COLOUR_SIZE[0], COLOUR_SIZE[1], COLOUR_FPS, 1.0)


def filtered(src: Path, filters: list[str] | tuple[str, ...], out: Path) -> np.ndarray:
    """The frames of `src` after `filters`, as RGB straight from the filter graph (no encode after it).

    Comparing before x264 keeps the test to what the filter does: an encode turns a
    one-level change into different coding decisions (a few levels at edges).
    """
    w, h = COLOUR_SIZE
    run_ffmpeg(["-i", str(src), "-an", "-vf", ",".join([*filters, "format=rgb24"]), "-f", "rawvideo",
                "-pix_fmt", "rgb24", str(out)], "filtering a test clip")
    return np.frombuffer(out.read_bytes(), dtype=np.uint8).reshape(-1, h, w, 3).astype(np.float64)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """A colourful pan (astronaut: darks, brights, skin, flag) and the same through an empty filter pass."""
    folder = tmp_path_factory.mktemp("colour")
    src = colour_pan(folder / "astronaut.mp4", name="astronaut", centre=(384, 384), vx=3.0)
    return {"folder": folder, "src": src, "plain": filtered(src, [], folder / "plain.rgb")}


def graded(clips: dict, tmp_path: Path, **settings) -> np.ndarray:
    step = grade.plan(GradeSettings(**settings), SHAPE, StepContext(work_dir=tmp_path))
    assert step is not None and step.files[0].is_file()
    return filtered(clips["src"], step.filters, tmp_path / "graded.rgb")


# --- shipped looks ---------------------------------------------------------------------------


def test_shipped_looks_are_what_the_code_generates(tmp_path):
    fresh = write_all(tmp_path)
    for path in fresh:
        shipped = cube_path(path.stem)
        print(f"{shipped.name}: {shipped.stat().st_size:,} bytes, {SIZE}^3")
        assert shipped.read_bytes() == path.read_bytes(), f"run python -m postprocess.enhance.looks ({shipped.name})"
        lut = read_cube(shipped)
        assert lut.size == SIZE and lut.table.min() >= 0.0 and lut.table.max() <= 1.0
        assert shipped.stat().st_size < 150_000
        np.testing.assert_allclose(look_lut(path.stem).table, lut.table, atol=6e-5)  # what load_look falls back to


def test_every_style_preset_has_a_shipped_look():
    presets = {p.stem for p in (Path(__file__).parents[1] / "prompts" / "presets").glob("*.yaml")}
    assert presets == set(grade.PRESET_LOOKS)
    assert set(grade.PRESET_LOOKS.values()) <= set(LOOKS)
    settings = grade.for_preset(GradeSettings(), "ink-wash")
    assert settings.look == "ink-wash"
    assert grade.for_preset(GradeSettings(look="night-blue"), "ink-wash").look == "night-blue"  # the user's wins
    assert grade.for_preset(GradeSettings(), None).look is None
    described = GradeSettings.model_fields["look"].description or ""
    assert all(name in described for name in LOOKS) and all(p in described for p in grade.PRESET_LOOKS)


def _channels(rgb: np.ndarray) -> dict[str, float]:
    lab = rgb_to_lab(np.clip(rgb / 255.0, 0, 1))
    return {"r/b": rgb[..., 0].mean() / rgb[..., 2].mean(), "L": lab[..., 0].mean(), "b*": lab[..., 2].mean(),
            "chroma": np.hypot(lab[..., 1], lab[..., 2]).mean()}


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_each_look_moves_colour_its_way(clips, tmp_path):
    before = clips["plain"]
    lab = rgb_to_lab(np.clip(before / 255.0, 0, 1))
    dark, bright = lab[..., 0] < 35, lab[..., 0] > 65
    b0 = _channels(before)
    for name in LOOKS:
        after = graded(clips, tmp_path, look=name, intensity=1.0)
        a = _channels(after)
        print(f"{name:15s} " + " ".join(f"{k} {b0[k]:.2f}->{a[k]:.2f}" for k in b0))
        if name == "cold-cinematic":
            assert a["r/b"] < 0.93 * b0["r/b"]
        elif name == "warm-storybook":
            assert a["r/b"] > 1.07 * b0["r/b"]
        elif name == "teal-orange":
            blue_shadows = (after[..., 2] - after[..., 0])[dark].mean() - (before[..., 2] - before[..., 0])[dark].mean()
            orange_lights = (after[..., 0] - after[..., 2])[bright].mean() - (before[..., 0] - before[..., 2])[bright].mean()
            print(f"{'':15s} shadows B-R +{blue_shadows:.1f}, highlights R-B +{orange_lights:.1f} (8-bit levels)")
            assert blue_shadows > 8 and orange_lights > 8
        elif name == "ink-wash":
            assert a["chroma"] < 0.4 * b0["chroma"]
        elif name == "night-blue":
            assert a["L"] < b0["L"] - 12 and a["b*"] < b0["b*"] - 5


def test_intensity_blends_graded_with_original(clips, tmp_path):
    assert grade.plan(GradeSettings(look="teal-orange", intensity=0.0), SHAPE, StepContext(work_dir=tmp_path)) is None
    lut = read_cube(cube_path("teal-orange"))
    np.testing.assert_allclose(blend(lut, 0.0).table, identity(lut.size), atol=1e-6)
    np.testing.assert_allclose(blend(lut, 1.0).table, lut.table, atol=1e-6)
    plain = clips["plain"]
    full = graded(clips, tmp_path, look="teal-orange", intensity=1.0)
    half = graded(clips, tmp_path, look="teal-orange", intensity=0.5)
    off_mid = np.abs(half - (plain + full) / 2).mean()
    print(f"intensity 0.5: mean |half - (original + full)/2| = {off_mid:.2f} levels "
          f"(full grade moves pixels {np.abs(full - plain).mean():.1f} levels)")
    assert off_mid < 0.75 and np.abs(full - plain).mean() > 5


def test_identity_lut_round_trip_is_pixel_accurate(clips, tmp_path):
    path = write_cube(tmp_path / "identity.cube", Lut(identity(SIZE)))
    assert np.array_equal(read_cube(path).table, identity(SIZE))
    diff = np.abs(filtered(clips["src"], [grade.lut3d_filter(path)], tmp_path / "identity.rgb") - clips["plain"])
    print(f"identity LUT vs the same pass without it: mean {diff.mean():.4f}, max {diff.max():.0f} levels")
    assert diff.max() <= 1 and diff.mean() < 0.05


def test_user_cube_file_with_title_comments_and_domain(clips, tmp_path):
    # A LUT that swaps red and blue, written the way grading tools write them.
    table = identity(5)[..., ::-1]
    rows = table.transpose(2, 1, 0, 3).reshape(-1, 3)
    text = ('# made by hand\nTITLE "swap"\n\nLUT_3D_SIZE 5\nDOMAIN_MIN 0.0 0.0 0.0\nDOMAIN_MAX 1.0 1.0 1.0\n'
            + "\n".join(" ".join(f"{v:.6f}" for v in row) for row in rows) + "\n")
    user = tmp_path / "swap.cube"
    user.write_text(text)
    plain, swapped = clips["plain"], graded(clips, tmp_path, lut=user, intensity=1.0)
    assert np.abs(swapped[..., 0] - plain[..., 2]).max() <= 1
    assert np.abs(swapped[..., 2] - plain[..., 0]).max() <= 1


# --- malformed LUTs --------------------------------------------------------------------------

SECRET = "hunter2-SECRET-TOKEN"
GOOD_ROWS = "\n".join(["0 0 0"] * 8)

MALFORMED = {
    "no size": (f"TITLE \"x\"\n{GOOD_ROWS}\n", "line 2", "before LUT_3D_SIZE"),
    "size 1": ("LUT_3D_SIZE 1\n0 0 0\n", "line 1", "outside 2 to 65"),
    "size 300": ("# big\nLUT_3D_SIZE 300\n", "line 2", "outside 2 to 65"),
    "size not a number": (f"LUT_3D_SIZE {SECRET}\n", "line 1", "one whole number"),
    "too few rows": ("LUT_3D_SIZE 2\n" + "\n".join(["0 0 0"] * 7) + "\n", "ends at line 8", "has 7 rows"),
    "too many rows": ("LUT_3D_SIZE 2\n" + "\n".join(["0 0 0"] * 9) + "\n", "line 10", "more rows"),
    "two numbers": ("LUT_3D_SIZE 2\n0 0 0\n0 0 0\n0.5 0.5\n" + GOOD_ROWS, "line 4", "expected three numbers"),
    "not numbers": ("LUT_3D_SIZE 2\n\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0.1 " + SECRET + " 0.2\n0 0 0\n",
                    "line 9", "expected three numbers"),
    "not finite": ("LUT_3D_SIZE 2\n0 0 0\n0 inf 0\n" + GOOD_ROWS, "line 3", "expected three numbers"),
    "secret file": (f"{SECRET}=abc\npassword: {SECRET}\n", "line 1", "not a keyword"),
    "1D LUT": ("LUT_1D_SIZE 1024\n", "line 1", "1D LUT"),
    "keyword in the table": ("LUT_3D_SIZE 2\n0 0 0\nDOMAIN_MIN 0 0 0\n", "line 3", "after the table"),
    "bad domain": ("LUT_3D_SIZE 2\nDOMAIN_MIN 0 0\n", "line 2", "DOMAIN_MIN needs 3 numbers"),
    "binary": (b"LUT_3D_SIZE 2\n\xff\xfe\x00" + SECRET.encode() + b"\n", "line 2", "not text"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_cube_is_refused_by_line_without_its_text(case, tmp_path):
    text, where, what = MALFORMED[case]
    path = tmp_path / "bad.cube"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as err:
        grade.plan(GradeSettings(lut=path), SHAPE, StepContext(work_dir=tmp_path))
    message = str(err.value)
    print(f"{case}: {message}")
    assert grade.LUT_SETTING in message and str(path) in message
    assert where in message and what in message
    assert SECRET not in message and "hunter2" not in message


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["LUT_3D_SIZE 2", "LUT_3D_SIZE 99", "TITLE \"t\"", "0 0 0", "1 0.5 0", "0 0",
                                 "DOMAIN_MIN 0 0 0", "# note", "", SECRET, f"0 {SECRET} 1", "1e309 0 0"]),
                max_size=14))
def test_any_cube_text_gives_a_lut_or_a_config_error_without_its_text(lines):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.cube"
        path.write_text("\n".join(lines) + "\n")
        try:
            lut = read_cube(path)
        except ConfigError as err:
            assert SECRET not in str(err) and ("line " in str(err) or "LUT_3D_SIZE" in str(err))
        else:
            assert lut.table.shape == (2, 2, 2, 3)


def test_oversized_cube_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.cube"
    with path.open("wb") as f:  # sparse: 64 MB on paper, nothing on disk
        f.truncate(64 * 1024 * 1024)
    with pytest.raises(ConfigError, match="more than any 3D LUT"):
        read_cube(path)


def test_missing_lut_or_unknown_look_names_the_setting(tmp_path):
    with pytest.raises(ConfigError) as err:
        grade.plan(GradeSettings(lut=tmp_path / "nowhere.cube"), SHAPE, StepContext(work_dir=tmp_path))
    assert grade.LUT_SETTING in str(err.value) and "nowhere.cube" in str(err.value)
    with pytest.raises(ConfigError) as err:
        grade.plan(GradeSettings(look="sepia"), SHAPE, StepContext(work_dir=tmp_path))
    assert grade.LOOK_SETTING in str(err.value) and all(name in str(err.value) for name in LOOKS)


def test_grade_does_nothing_when_off_or_without_a_look(tmp_path):
    ctx = StepContext(work_dir=tmp_path)
    assert grade.plan(GradeSettings(), SHAPE, ctx) is None
    assert grade.plan(GradeSettings(look="ink-wash", enabled=False), SHAPE, ctx) is None
    step = grade.plan(GradeSettings(look="ink-wash"), SHAPE, ctx)
    assert step is not None and step.record == {"look": "ink-wash", "intensity": 0.6, "lut_size": SIZE}
    assert step.shape == SHAPE and step.runner is None


# --- shot-to-shot matching -------------------------------------------------------------------


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_matching_pulls_drifted_shots_to_the_reference_and_keeps_contrast(tmp_path):
    shots = drifted_episode(tmp_path)
    matched = [shots[0]]
    for shot in shots[1:]:
        step = match.plan(MatchSettings(), SHAPE, StepContext(work_dir=tmp_path, reference=shots[0], source=shot))
        assert step is not None
        print(f"{shot.name}: {step.record}")
        out = tmp_path / f"matched-{shot.name}"
        apply_filters(shot, out, step.filters)
        matched.append(out)
    assert np.allclose(adjacent_delta_e(shots), [palette_delta_e(palette(sample_frames(a)), palette(sample_frames(b)))
                                                 for a, b in zip(shots, shots[1:])])
    sampled = {p: sample_frames(p) for p in shots + matched}
    before = [palette_delta_e(palette(sampled[a]), palette(sampled[b])) for a, b in zip(shots, shots[1:])]
    after = [palette_delta_e(palette(sampled[a]), palette(sampled[b])) for a, b in zip(matched, matched[1:])]
    mean_before = [mean_lab_delta_e(sampled[a], sampled[b]) for a, b in zip(shots, shots[1:])]
    mean_after = [mean_lab_delta_e(sampled[a], sampled[b]) for a, b in zip(matched, matched[1:])]
    print(f"adjacent palette ΔE2000 before {[round(v, 2) for v in before]} (mean {np.mean(before):.2f}), "
          f"after {[round(v, 2) for v in after]} (mean {np.mean(after):.2f})")
    print(f"adjacent mean-Lab ΔE2000 before {[round(v, 2) for v in mean_before]}, after {[round(v, 2) for v in mean_after]}")
    assert all(a < 0.5 * b for a, b in zip(after, before))
    assert np.mean(after) < 5.0
    for src, out in zip(shots[1:], matched[1:]):
        spread, kept = lightness_spread(sampled[src]), lightness_spread(sampled[out])
        print(f"{src.name}: std of L* {spread:.2f} -> {kept:.2f} ({100 * (kept / spread - 1):+.1f} %)")
        assert abs(kept / spread - 1) < 0.10


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_matching_does_nothing_without_a_reference_or_on_the_reference(tmp_path):
    shot = colour_pan(tmp_path / "shot.mp4")
    assert match.plan(MatchSettings(), SHAPE, StepContext(work_dir=tmp_path, source=shot)) is None
    assert match.plan(MatchSettings(), SHAPE, StepContext(work_dir=tmp_path, reference=shot, source=shot)) is None
    other = colour_pan(tmp_path / "other.mp4", centre=(300, 300))
    ctx = StepContext(work_dir=tmp_path, reference=other, source=shot)
    assert match.plan(MatchSettings(enabled=False), SHAPE, ctx) is None
    assert match.plan(MatchSettings(strength=0.0), SHAPE, ctx) is None
    assert match.plan(MatchSettings(), SHAPE, ctx) is not None


def test_transfer_caps_the_lightness_ratio():
    flat = match.LabStats((50.0, 0.0, 0.0), (2.0, 5.0, 5.0))
    crisp = match.LabStats((50.0, 0.0, 0.0), (20.0, 5.0, 5.0))
    assert match.transfer_ratios(crisp, flat)[0] == match.LIGHTNESS_RATIO[0]
    assert match.transfer_ratios(flat, crisp)[0] == match.LIGHTNESS_RATIO[1]


@pytest.mark.integration  # real ffmpeg encodes and filters whole clips: 0.5-4 s each
def test_fused_match_and_grade_equal_the_two_in_a_row(tmp_path):
    shots = drifted_episode(tmp_path)
    ctx = StepContext(work_dir=tmp_path, reference=shots[0], source=shots[1])
    matched = match.plan(MatchSettings(), SHAPE, ctx)
    looked = grade.plan(GradeSettings(look="teal-orange"), SHAPE, ctx)
    assert matched is not None and looked is not None
    fused = grade.fuse(matched, looked, ctx)
    assert len(fused.filters) == 1 and fused.record == {"match": matched.record, "grade": looked.record}
    two = filtered(shots[1], [*matched.filters, *looked.filters], tmp_path / "two.rgb")
    one = filtered(shots[1], fused.filters, tmp_path / "one.rgb")
    diff = np.abs(one - two)
    print(f"fused LUT vs match and grade in a row: mean {diff.mean():.2f}, 99th pct {np.percentile(diff, 99):.0f} levels")
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 4
