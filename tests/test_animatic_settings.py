"""The animatic's settings (issue 17): the words pick the setting, and each setting reads as itself on pixels.

"An ancient city wall becomes a row of lit skyscraper windows": a wall must show battlements
and no windows; a constellation myth shows stars joined by lines (hidden by a storm); the sea
lies to the horizon with waves that move smoothly; a room has no sky. Frames come straight
from the Scene at 320x180 (no encoding), with the subject, the weather particles and the
ambient motes left out where a measure looks at the setting alone.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from generation.animatic.scene import Scene
from generation.animatic.staging import read_staging
from tests.storyboard import lit_windows, render_frames, row_colours, row_repeat, setting_shot, star_lines

SEEDS = range(4)
SKY_ROWS = (8, 70)  # the upper sky of a 320x180 frame, above any land


# ---- the words -> the settings ---------------------------------------------------------------


@pytest.mark.parametrize("text, present, absent", [
    ("Andromeda chained to a rock by the sea", {"sea", "rocks"}, {"constellation"}),
    ("Soldiers walk along the ancient city wall", {"wall"}, {"city"}),
    ("The city gates of Troy close at dusk", {"wall"}, {"city"}),
    ("A detective walks downtown among skyscrapers", {"city"}, {"wall"}),
    ("古城墙下", {"wall"}, {"city"}),
    ("城楼上挂着灯笼", {"wall"}, {"city"}),
    ("城市的高楼之间", {"city"}, {"wall"}),
    ("北斗七星在夜空", {"constellation"}, set()),
    ("银河两岸遥遥相望", {"constellation"}, {"river"}),  # 银河 is the sky's river, not a river
    ("云海中的仙山", {"mountains"}, {"sea"}),  # a sea of clouds is no sea
    ("一只山羊在江边", {"river"}, {"mountains"}),  # 山羊 is a goat
    ("The stars of Orion rise over the plains", {"constellation", "plains"}, set()),
    ("Orion hunts in the forest", {"forest"}, {"constellation"}),  # Orion the hunter is a man
    ("The king sits in the palace hall", {"interior"}, set()),
    ("他走进房间", {"interior"}, set()),
    ("Snow-capped mountains above the meadow", {"mountains", "plains"}, set()),
])
def test_the_words_name_the_setting(text, present, absent):
    staging = read_staging(setting_shot(text))
    assert present <= set(staging.settings), staging.settings
    assert not absent & set(staging.settings), staging.settings


def test_a_room_has_a_floor_and_a_named_constellation_is_drawn():
    assert read_staging(setting_shot("The king sits in the palace hall")).ground == "floor"
    assert read_staging(setting_shot("The king sits in the palace hall", weather="rain")).weather == "clear"  # indoors
    assert read_staging(setting_shot("Andromeda chained to a rock by the sea")).ground == "water"
    assert read_staging(setting_shot("A girl walks by the river")).ground == "grass"  # a river winds through grass
    assert read_staging(setting_shot("The stars of Orion rise")).star_figure == "orion"
    assert read_staging(setting_shot("北斗七星在夜空")).star_figure == "dipper"


# ---- a wall is battlements, not windows -------------------------------------------------------


@pytest.mark.parametrize("time_of_day", ["day", "night"])
def test_an_ancient_wall_has_battlements_and_no_lit_windows(time_of_day):
    """Merlons repeat every 0.04 of the frame width (13 px here) along the wall's top edge."""
    for seed in SEEDS:
        frame = render_frames(setting_shot("the ancient city wall", time_of_day=time_of_day), seed=seed)[0]
        period, corr = row_repeat(frame, (70, 120), lags=(12, 15))
        print(f"\nwall {time_of_day} seed {seed}: battlements repeat {period} px, correlation {corr:.2f}, "
              f"lit windows {lit_windows(frame)}")
        assert corr > 0.75, "no crenellated top edge"
        assert lit_windows(frame) == 0


def test_a_modern_skyline_keeps_its_windows_and_has_no_battlements():
    for seed in SEEDS:
        frame = render_frames(setting_shot("downtown among skyscrapers", time_of_day="night"), seed=seed)[0]
        _, corr = row_repeat(frame, (70, 120), lags=(12, 15))
        assert lit_windows(frame) > 5 and corr < 0.6


def test_hills_have_no_battlements():
    for seed in SEEDS:
        _, corr = row_repeat(render_frames(setting_shot("green hills"), seed=seed)[0], (70, 120), lags=(12, 15))
        assert corr < 0.6


# ---- a constellation: stars joined by lines, on a night sky, hidden by a storm ---------------


def test_a_constellation_draws_star_lines_that_a_plain_night_lacks():
    for seed in SEEDS:
        shot = setting_shot("the stars of Orion", time_of_day="night")
        with_figure = star_lines(render_frames(shot, seed=seed)[0], SKY_ROWS)
        without = star_lines(render_frames(shot, seed=seed, skip=frozenset({"subject", "weather", "ambient",
                                                                             "constellation"}))[0], SKY_ROWS)
        plain = star_lines(render_frames(setting_shot("green hills", time_of_day="night"), seed=seed)[0], SKY_ROWS)
        print(f"\nseed {seed}: star-line px with the figure {with_figure:.0f}, without {without:.0f}, plain night {plain:.0f}")
        assert with_figure > 90 and with_figure > 2 * max(without, plain) + 30


def test_a_constellation_shot_planned_by_day_is_a_night_sky():
    frames = render_frames(setting_shot("北斗七星在夜空", environment="", time_of_day="day"))
    top = frames[0][SKY_ROWS[0]:SKY_ROWS[1]]
    print(f"\nsky brightness of a day-planned constellation shot: {top.mean():.0f}")
    assert top.mean() < 70 and star_lines(frames[0], SKY_ROWS) > 60


def test_a_constellation_shot_chosen_for_dusk_keeps_its_dusk_sky():
    """Dusk is a choice (a plan edit, a variants sweep of the time of day): the picture must follow it."""
    night = render_frames(setting_shot("北斗七星在夜空", environment="", time_of_day="night"))[0]
    dusk = render_frames(setting_shot("北斗七星在夜空", environment="", time_of_day="dusk"))[0]
    sky = slice(SKY_ROWS[0], SKY_ROWS[1])
    warm = lambda frame: float(frame[sky, :, 0].mean() - frame[sky, :, 2].mean())  # noqa: E731 - red over blue
    print(f"\nsky red-blue: night {warm(night):.1f}, dusk {warm(dusk):.1f}; "
          f"brightness night {night[sky].mean():.0f}, dusk {dusk[sky].mean():.0f}")
    assert warm(dusk) > warm(night) + 10 and dusk[sky].mean() > night[sky].mean() + 10


@pytest.mark.parametrize("weather", ["storm", "rain", "fog", "snow"])
def test_clouds_hide_the_constellation(weather):
    shot = setting_shot("the stars of Orion", time_of_day="night", weather=weather)
    scene = Scene(shot, 1, 320, 180, 12, slug=False)
    assert not any(layer.role == "constellation" for layer in scene.layers)
    lines = star_lines(scene.render(0, skip=frozenset({"subject", "weather", "ambient"})), SKY_ROWS)
    assert lines < 20


# ---- the sea: water to the horizon, waves that travel smoothly --------------------------------

WATER = (122, 142)  # rows between the sea's horizon and the beach, 320x180 eye level


def test_the_sea_lies_blue_below_the_horizon_with_moving_smooth_waves():
    frames = render_frames(setting_shot("a beach by the sea"))
    band = frames[:, WATER[0]:WATER[1]].astype(np.int16)
    r, g, b = band[0, ..., 0], band[0, ..., 1], band[0, ..., 2]
    assert ((b > r + 20) & (b > g - 10)).mean() > 0.8, "no blue water below the horizon"
    # The waves move: the water band changes while the beach below it stands still.
    assert np.abs(band[-1] - band[0]).mean() > 2.0
    beach = frames[:, 155:175].astype(np.int16)
    assert np.abs(beach[-1] - beach[0]).max() == 0
    # Smoothly and coherently: the same small sideways step every frame, no reshuffle.
    changes = np.abs(np.diff(band, axis=0)).mean(axis=(1, 2, 3))
    assert changes.max() < 2.0 * np.median(changes) + 0.5
    grey = [cv2.cvtColor(f[WATER[0]:WATER[1]], cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]
    # The wave pattern repeats every half frame width (160 px): a step is known modulo that.
    steps = [(cv2.phaseCorrelate(a, b)[0][0] + 80) % 160 - 80 for a, b in zip(grey, grey[1:])]
    print(f"\nwave steps px/frame: {np.round(steps, 2)}")
    assert 0.1 < abs(np.median(steps)) < 1.5 and np.std(steps) < 0.15


def test_a_storm_raises_the_waves():
    def roughness(text: str, weather: str = "clear") -> float:
        """Contrast of the water band: higher crests, deeper troughs and whitecaps."""
        frame = render_frames(setting_shot(text, weather=weather))[0]
        return float(cv2.cvtColor(frame[WATER[0]:WATER[1]], cv2.COLOR_RGB2GRAY).std())

    calm, storm = roughness("a beach by the sea"), roughness("a beach by the sea", "storm")
    raging = roughness("the raging sea, towering waves")  # the words alone, on a clear day
    print(f"\nwater contrast: calm {calm:.1f}, storm {storm:.1f}, raging words {raging:.1f}")
    assert storm > 1.5 * calm and raging > 1.5 * calm


def test_the_same_shot_and_seed_draw_the_same_frames():
    shot = setting_shot("Andromeda chained to a rock by the sea", subject="Andromeda", action="chained")
    a, b = render_frames(shot, seed=3, skip=frozenset()), render_frames(shot, seed=3, skip=frozenset())
    assert np.array_equal(a, b)
    assert not np.array_equal(a, render_frames(shot, seed=4, skip=frozenset()))


def test_rocks_rise_as_a_cliff_beside_the_subject():
    """Andromeda's rock: one side of the frame is grey stone well above the horizon, the other open sky."""
    shot = setting_shot("Andromeda chained to a rock by the sea", subject="Andromeda")
    for seed in SEEDS:
        scene = Scene(shot, seed, 320, 180, 12, slug=False)
        frame = scene.render(0, skip=frozenset({"subject", "weather", "ambient"})).astype(np.int16)
        side = slice(240, 320) if scene.subject_x >= 0 else slice(0, 80)
        other = slice(0, 80) if scene.subject_x >= 0 else slice(240, 320)
        region = frame[60:115]  # above the horizon

        def stone(cols: slice) -> float:
            r, g, b = (region[:, cols, k] for k in range(3))
            return float(((np.abs(r - b) < 30) & (np.abs(g - b) < 30) & (b < 170)).mean())

        assert stone(side) > 0.5 and stone(other) < 0.2, (stone(side), stone(other))


def test_a_river_winds_through_the_ground():
    def blue_share(text: str) -> float:
        frame = render_frames(setting_shot(text))[0].astype(np.int16)
        ground = frame[150:178]
        return float((ground[..., 2] > ground[..., 1] + 15).mean())

    assert blue_share("a girl by the river") > 0.08 and blue_share("green hills") < 0.01


# ---- a room: no sky ---------------------------------------------------------------------------


def test_a_room_has_no_sky_gradient_at_the_top():
    def spread(text: str) -> float:
        """How much the usual colour of the rows changes down the upper frame (a sky fades to its horizon)."""
        colours = row_colours(render_frames(setting_shot(text))[0], (22, 90))
        return float(np.abs(colours - colours[0]).max())

    room, outdoors = spread("The king sits in the palace hall"), spread("green hills")
    print(f"\nrow colour spread: room {room:.0f}, outdoors {outdoors:.0f}")
    assert room < 8 and outdoors > 25
    frame = render_frames(setting_shot("他走进房间"))[0].astype(np.int16)
    upper = frame[:100]
    assert ((upper[..., 2] > upper[..., 0] + 40)).mean() < 0.1  # sky blue only through the window


@pytest.mark.parametrize("text, ground", [("across the desert dunes", "sand"), ("across the snowfield", "snow"),
                                          ("across the grassland", "grass")])
def test_the_ground_is_what_the_setting_is_made_of(text, ground):
    frame = render_frames(setting_shot(text))[0].astype(np.int16)
    r, g, b = (frame[150:178, ..., k] for k in range(3))
    share = {"sand": ((r > g + 5) & (g > b + 20)).mean(),  # warm yellow-brown
             "snow": ((r > 180) & (np.abs(r - b) < 40)).mean(),  # bright, nearly colourless
             "grass": ((g > r + 15) & (g > b + 15)).mean()}[ground]
    assert share > 0.6, share
