"""The animatic's subject: each kind reads as what it is, on pixels (issue 17: "a chained maiden
and a sea monster are both drawn as the same small cat; a red-cloaked warrior is a black stick
figure"). Frames are 320x180, measured by rendering with and without the subject layer."""

from __future__ import annotations

import numpy as np
import pytest

from generation.animatic.figures import form_of
from generation.animatic.scene import Scene
from generation.animatic.staging import read_staging
from reelgate.records import ShotSpec
from tests.storyboard import area, aspect, box, centroid, hue_share, subject_mask, value_share

W, H, FPS = 320, 180, 12
HORIZON_Y = 0.68 * H  # a wide, level, static shot: the world horizon (0.18 h below centre) on screen
RED = (170, 10)


def make_shot(subject: str, text: str = "", action: str = "", **fields) -> ShotSpec:
    base = dict(index=0, text=text or subject, subject=subject, action=action, environment="hills", camera="static",
                prompt=text or subject, duration_s=1.0, seed=1)
    return ShotSpec(**{**base, **fields})


def scene_of(subject: str, text: str = "", action: str = "", seed: int = 3, **fields) -> Scene:
    return Scene(make_shot(subject, text, action, **fields), seed, W, H, FPS, slug=False)


def mid(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """The middle frame and the subject's mask in it."""
    i = scene.frames // 2
    return scene.render(i), subject_mask(scene, i)


# ---- reading the words ------------------------------------------------------------------

@pytest.mark.parametrize(
    "subject, text, action, kind, pose",
    [
        ("a chained maiden", "A chained maiden waits as the sea monster rises.", "waits", "person", "chained"),
        ("Andromeda", "Andromeda is bound to the rock.", "", "person", "chained"),
        ("the sea monster Cetus", "The sea monster Cetus rises from the waves.", "", "serpent", "standing"),
        ("海怪", "海怪从海中升起。", "", "serpent", "standing"),
        ("盘古", "盘古开天辟地。", "", "giant", "standing"),
        ("夸父", "夸父追日。", "追", "giant", "running"),
        ("嫦娥", "嫦娥奔月。", "", "person", "flying"),
        ("Europa", "Europa gathers flowers.", "", "person", "standing"),  # a name is a person
        ("织女", "织女在银河边织布。", "", "person", "seated"),
        ("a shimmering thing", "A shimmering thing waits.", "", "person", "standing"),  # an unknown too
        ("a grey wolf", "A grey wolf howls at a girl.", "", "animal", "standing"),  # the subject, not the girl
        ("Icarus", "Icarus falls from the sky.", "", "person", "falling"),
        ("Orion", "Orion reaches for the stars.", "reaches", "person", "reaching"),
        ("the lovers", "The lovers fall in love.", "", "person", "standing"),  # not a fall
        ("a golden dragon", "A golden dragon coils.", "", "serpent", "standing"),
        ("the moon", "The moon rises over the lake.", "", "celestial", "standing"),
        ("太阳", "太阳升起。", "", "celestial", "standing"),
        ("巨人", "巨人站在山上。", "", "giant", "standing"),
        ("the ship Argo", "The ship Argo sails.", "", "vehicle", "standing"),
        ("an eagle", "An eagle soars.", "soars", "bird", "flying"),
        # Words that only look like a kind or a pose.
        ("", "眼前的景象让女孩惊呆了。", "", "person", "standing"),  # 景象 is no elephant
        ("少女", "阳光照射在少女身上，她能够看见远方。", "", "person", "standing"),  # 照射, 能够: no bow drawn
        ("少女", "浪花飞溅，少女站在岩石上。", "", "person", "standing"),  # the spray flies, not she
        ("a girl", "Snow falls on a girl.", "", "person", "standing"),
    ],
)
def test_the_words_name_the_kind_and_the_pose(subject, text, action, kind, pose):
    staging = read_staging(make_shot(subject, text, action))
    assert (staging.kind, staging.pose) == (kind, pose)


def test_a_constellation_is_a_setting_and_the_milky_way_is_not_silver():
    staging = read_staging(make_shot("", "星座在夜空中闪烁，织女在银河边织布。"))
    assert staging.kind == "person" and staging.colour is None  # 星座 is no star, 银河 no silver
    daytime = read_staging(make_shot("女孩", "白天，女孩在青草地上跑。"))  # 白天 is daytime, 青草 grass
    assert daytime.colour is None and daytime.pose == "running"


@pytest.mark.parametrize(
    "subject, text, form",
    [
        ("the sea monster Cetus", "", "sea_monster"), ("a kraken", "", "sea_monster"), ("海怪", "", "sea_monster"),
        ("海兽", "", "sea_monster"), ("a dragon", "", "dragon"), ("a snake", "", "serpent"), ("a chariot", "", "cart"),
        ("the ship", "", "ship"), ("a lighthouse", "", "tower"), ("the moon", "", "moon"), ("太阳", "", "sun"),
        ("a comet", "", "comet"), ("嫦娥", "嫦娥奔月。", "person:flying"), ("盘古", "", "giant"),
    ],
)
def test_the_form_drawn_follows_the_word(subject, text, form):
    assert form_of(read_staging(make_shot(subject, text))) == form


@pytest.mark.parametrize(
    "subject, colour, garment",
    [
        ("a red-cloaked warrior", "red", True), ("a warrior in a red cloak", "red", True), ("穿红斗篷的武士", "red", True),
        ("a white horse", "white", False), ("a golden dragon", "gold", False), ("a warrior", None, False),
    ],
)
def test_a_colour_word_colours_the_garment_it_names_or_the_whole_figure(subject, colour, garment):
    staging = read_staging(make_shot(subject))
    assert (staging.colour, staging.garment) == (colour, garment)


# ---- on pixels -----------------------------------------------------------------------------

def test_sizes_are_ordered_giant_person_bird():
    sizes = {name: area(mid(scene_of(subject))[1]) for name, subject in
             (("giant", "盘古"), ("person", "a woman"), ("bird", "an eagle"))}
    print(f"\nmask area share: {sizes}")
    assert sizes["giant"] > 3 * sizes["person"] > 3 * sizes["bird"] > 0
    x0, y0, x1, y1 = box(mid(scene_of("a titan"))[1])
    assert y1 - y0 > 0.6 * H  # a giant fills much of the frame's height


@pytest.mark.parametrize("seed", [3, 8])
def test_shapes_read_tall_or_long(seed):
    def shape(subject: str, text: str = "") -> float:
        return aspect(mid(scene_of(subject, text, seed=seed))[1])

    assert shape("a woman") < 0.7  # a standing figure is taller than wide
    assert shape("a serpent") > 1.3 and shape("the sea monster Cetus") > 1.8  # long bodies in humps
    assert shape("嫦娥", "嫦娥奔月。") > 1.8  # a flyer lies along its flight
    assert shape("a horse") > 1.0


@pytest.mark.parametrize("subject", ["the moon", "the sun", "a comet", "an eagle"])
def test_sky_things_hang_above_the_horizon(subject):
    _, mask = mid(scene_of(subject, time_of_day="night" if "moon" in subject else "day"))
    assert mask.sum() > 20
    assert box(mask)[3] < HORIZON_Y - 0.1 * H


@pytest.mark.parametrize("subject", ["a woman", "a wolf", "盘古", "a house", "a tree", "a serpent"])
def test_ground_things_stand_on_the_ground(subject):
    _, mask = mid(scene_of(subject))
    assert box(mask)[3] > HORIZON_Y + 0.08 * H


@pytest.mark.parametrize("subject", ["a red-cloaked warrior", "a warrior in a red cloak", "穿红斗篷的武士"])
def test_a_red_cloak_is_red_on_a_dark_figure(subject):
    frame, mask = mid(scene_of(subject))
    red, dark = hue_share(frame, mask, RED), value_share(frame, mask, below=70)
    print(f"\n{subject}: red {red:.2f}, dark {dark:.2f} of {mask.sum()} px")
    assert red > 0.25 and dark > 0.15  # a red garment on a dark silhouette


def test_without_a_colour_the_figure_is_a_dark_silhouette_and_with_one_it_is_that_colour():
    frame, mask = mid(scene_of("a warrior"))
    assert hue_share(frame, mask, RED) < 0.02 and value_share(frame, mask, below=70) > 0.4
    frame, mask = mid(scene_of("a white horse"))
    assert value_share(frame, mask, above=200) > 0.6
    frame, mask = mid(scene_of("a golden dragon"))
    assert hue_share(frame, mask, (12, 32)) > 0.5


def test_a_chained_figure_has_its_rock_and_bright_chain_links():
    frame, mask = mid(scene_of("a chained maiden", "A chained maiden waits.", time_of_day="dawn"))
    person = mid(scene_of("a maiden", "A maiden waits."))[1]
    hsv_value, saturation = frame.max(axis=2), frame.max(axis=2) - frame.min(axis=2)
    steel = mask & (hsv_value > 170) & (saturation < 40)
    assert area(mask) > 2 * area(person)  # the rock she is chained to
    assert steel.sum() >= 8


def travel(scene: Scene) -> tuple[float, float]:
    """How far (x, y px) the subject's centre moves from the first to the last frame."""
    a, b = centroid(subject_mask(scene, 0)), centroid(subject_mask(scene, scene.frames - 1))
    return b[0] - a[0], b[1] - a[1]


def test_each_kind_moves_as_it_should():
    run = abs(travel(scene_of("a warrior", "A warrior runs.", "runs"))[0])
    walk = abs(travel(scene_of("a warrior", "A warrior walks."))[0])
    fly = travel(scene_of("嫦娥", "嫦娥奔月。"))
    fall = travel(scene_of("Icarus", "Icarus falls.", "falls"))
    chained = travel(scene_of("a chained maiden"))
    house = travel(scene_of("a house"))
    print(f"\ntravel px: run {run:.0f} walk {walk:.0f} fly {fly} fall {fall} chained {chained}")
    assert run > 1.6 * walk > 0
    assert abs(fly[0]) > 0.15 * W  # a flight crosses the sky
    assert fall[1] > 0.15 * H  # a fall drops
    assert max(map(abs, chained)) < 0.01 * W and house == (0.0, 0.0)


@pytest.mark.parametrize("subject, text, action", [("Icarus", "Icarus falls.", "falls"), ("嫦娥", "嫦娥奔月。", ""),
                                                   ("the sea monster Cetus", "", ""), ("a warrior", "", "runs")])
def test_the_subject_moves_smoothly(subject, text, action):
    scene = scene_of(subject, text, action, duration_s=2.0)
    xs, ys = zip(*(centroid(subject_mask(scene, i)) for i in range(0, scene.frames, 2)))
    steps = np.hypot(np.diff(xs), np.diff(ys))
    assert steps.max() < 2.0 * np.median(steps) + 1.0, steps  # no jump between frames


@pytest.mark.parametrize("subject", ["a chained maiden", "the sea monster Cetus", "the moon", "穿红斗篷的武士"])
def test_the_same_shot_and_seed_draw_the_same_frames(subject):
    a, b = scene_of(subject, seed=5), scene_of(subject, seed=5)
    for i in (0, a.frames // 2, a.frames - 1):
        assert np.array_equal(a.render(i), b.render(i))
