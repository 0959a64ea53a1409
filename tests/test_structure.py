"""Structuring: language, sentences, shot plans, seeds."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from prompts.plan_file import dump_plan, load_plan, render_plan_table
from prompts.keywords import keyword_tables, load_keywords
from prompts.plan import plan_shots
from reelgate.seeds import derive_seed
from prompts.presets import load_presets
from prompts.sentences import MAX_SHOT_S, detect_language, estimate_narration_s, split_sentences
from reelgate.errors import ConfigError, InputError
from reelgate.settings import GenerationSettings, PlanningSettings


# ------------------------------------------------------------------ structure and planning


def test_detect_language_and_split() -> None:
    assert detect_language("小狐狸在森林里奔跑。") == "zh"
    assert detect_language("A fox runs in the forest.") == "en"
    assert detect_language("我喜欢 Harry Potter 的故事") == "zh"
    zh = split_sentences("好。今天下雨了，我们在家里看书。真好！他笑了，笑得很开心很开心。\n\n", "zh")
    assert zh == ["好。今天下雨了，我们在家里看书。真好！", "他笑了，笑得很开心很开心。"]
    en = split_sentences("Hi. The doctor came home late. Dr. Smith smiled at the little girl! Ok.", "en")
    assert en == ["Hi. The doctor came home late.", "Dr. Smith smiled at the little girl! Ok."]
    assert all(s.strip() for s in zh + en)


def test_derive_seed_is_stable_across_processes() -> None:
    here = derive_seed("episode-7", 3)
    code = "from reelgate.seeds import derive_seed; print(derive_seed('episode-7', 3))"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert int(there.stdout) == here
    assert 0 <= here < 2**31
    assert derive_seed("episode-7", 3) != derive_seed("episode-7", "3") != derive_seed("episode-7", 4)


ZH_STORY = "夜晚，一只小狐狸在森林里奔跑，月光洒在湖面上。它遇到了一只猫头鹰，两个朋友一起看星星。镜头推进，小狐狸回到了温暖的家里，妈妈给它做了早餐。"
EN_STORY = (
    "A little fox runs through the dark forest at night, looking for the moon. "
    "It meets an old owl who knows the way home. "
    "The camera pans left as they reach the quiet lake together."
)


@pytest.mark.parametrize(("story", "language"), [(ZH_STORY, "zh"), (EN_STORY, "en")])
def test_plan_three_sentence_story(story: str, language: str) -> None:
    settings = PlanningSettings(style="watercolor, soft light")
    plan = plan_shots(story, "ep-1", settings)
    assert plan.language == language
    assert len(plan.shots) == 3
    assert [s.index for s in plan.shots] == [0, 1, 2]
    assert len({s.seed for s in plan.shots}) == 3
    assert plan.seed == derive_seed("ep-1")
    assert [s.seed for s in plan.shots] == [derive_seed(plan.seed, i) for i in range(3)]
    assert plan_shots(story, "ep-1", settings) == plan  # deterministic
    assert plan_shots(story, "ep-1", settings, seed=42).shots[0].seed == derive_seed(42, 0)
    assert {s.style for s in plan.shots} == {"watercolor, soft light"}
    assert all("watercolor, soft light" in s.prompt for s in plan.shots)
    # Night is named in sentence 1 and carries over to the sentences that name no time.
    assert [s.time_of_day for s in plan.shots] == ["night"] * 3
    assert all("moonlight" in s.prompt for s in plan.shots)
    assert plan.shots[2].camera == ("push" if language == "zh" else "pan_left")
    assert all(2.0 <= s.duration_s <= 8.0 for s in plan.shots)
    # The camera direction sets the shot's camera and is never narrated.
    direction = "镜头推进" if language == "zh" else "The camera pans left"
    assert plan.shots[2].directions == [direction]
    narrated = story.replace("镜头推进，", "").replace("The camera pans left as they", "They")
    assert "".join(s.text for s in plan.shots).replace(" ", "") == narrated.replace(" ", "")


def test_plan_fields_from_keywords() -> None:
    settings = PlanningSettings()
    plan = plan_shots(
        "At dawn, the old sailor sails across the calm sea. The dragon stood still on the mountain top. "
        "Suddenly a storm chases the boat, close-up on the sail.",
        "ep-2",
        settings,
    )
    first, second, third = plan.shots
    assert (first.time_of_day, first.subject, first.action) == ("dawn", "the old sailor", "sails")
    assert "across the calm sea" in first.environment
    assert second.wants_motion is False and second.time_of_day == "dawn"
    # A storm chasing is tense and tracked; "close-up on the sail" frames it and is not narrated.
    assert (third.mood, third.camera, third.shot_size, third.wants_motion) == ("tense", "track", "close_up", True)
    assert third.weather == "storm" and "close-up" not in third.text
    zh = plan_shots("黄昏时，两个孩子在海边放风筝，笑声传得很远。仰拍天空，风筝静止在云里一动不动。", "ep-3", settings)
    assert (zh.shots[0].time_of_day, zh.shots[0].mood, zh.shots[0].environment) == ("dusk", "joyful", "海边")
    assert (zh.shots[1].angle, zh.shots[1].wants_motion, zh.shots[1].time_of_day) == ("low", False, "dusk")


def test_default_camera_follows_the_action_not_the_seed() -> None:
    story = "A fox chases a rabbit across the field. The girl discovers a hidden door. A house stands on a hill."
    cameras = {seed: [s.camera for s in plan_shots(story, "ep-4", PlanningSettings(), seed=seed).shots] for seed in (1, 2, 3)}
    assert cameras[1] == cameras[2] == cameras[3] == ["track", "push", "static"]
    zh = plan_shots("猎人在雪地里追赶一只狼。她发现了一扇隐藏的门。", "ep-4", PlanningSettings())
    assert [s.camera for s in zh.shots] == ["track", "push"]


def test_durations_follow_narration_length() -> None:
    settings = PlanningSettings(shot_seconds=3.5)
    short = plan_shots("A cat sleeps on the roof.", "ep", settings).shots[0]
    assert short.duration_s == 3.5  # very short narration: the target shot length
    long = plan_shots("The cat " + "and the dog " * 30 + "sleep.", "ep", settings).shots[0]
    assert long.duration_s == 8.0
    mid = plan_shots("一只小猫在温暖的屋顶上睡觉，梦见了一条很大很大的鱼。", "ep", settings).shots[0]
    assert mid.duration_s == pytest.approx(24 / 4.5, abs=0.01)


def test_more_sentences_than_max_shots_are_grouped() -> None:
    story = " ".join(f"The fox number {i} runs home." for i in range(10))
    plan = plan_shots(story, "ep", PlanningSettings(max_shots=4))
    assert len(plan.shots) == 4
    assert " ".join(s.text for s in plan.shots) == story
    assert max(len(s.text.split(".")) for s in plan.shots) <= 4  # no shot takes the whole tail


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_prompt_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="the prompt is empty; write one or more sentences"):
        plan_shots(text, "ep", PlanningSettings())


def test_too_long_prompt_names_the_limit() -> None:
    with pytest.raises(InputError, match="20000"):
        plan_shots("猫" * 20_001, "ep", PlanningSettings())



# ------------------------------------------------------------------ keyword library


def test_expansions_reach_the_prompt_not_the_narration() -> None:
    zh = plan_shots("星空下，海怪从海里缓缓升起，渔夫们惊恐地望着它。", "ep", PlanningSettings()).shots[0]
    assert "巨口触须的深海巨兽" in zh.prompt and "深蓝夜空，繁星密布，淡淡星轨" in zh.prompt
    assert "巨兽" not in zh.text and zh.text.startswith("星空下，海怪")
    en = plan_shots("A sea monster rises from the waves under the starry sky.", "ep", PlanningSettings()).shots[0]
    assert "gaping maw and coiling tentacles" in en.prompt
    assert "deep blue sky, dense stars, faint star trails" in en.prompt
    assert "maw" not in en.text
    # The longest keyword at a place wins and nothing is described twice: "monkey king" is not also a "king".
    king = plan_shots("The monkey king leaps over the mountain.", "ep", PlanningSettings()).shots[0]
    assert "golden staff" in king.prompt and "regal king" not in king.prompt


def test_shipped_library_is_big_enough_and_valid() -> None:
    library = load_keywords()
    for language in ("zh", "en"):
        tables = library[language]
        assert len(tables.expand) >= 40
        assert set(tables.camera.values()) >= {"push", "pull", "pan_left", "pan_right", "tilt_up", "tilt_down", "static"}
        assert set(tables.time_of_day.values()) == {"dawn", "day", "dusk", "night"}
    assert set(load_presets()) == {"storybook", "ink-wash", "cinematic", "anime-cel", "constellation-myth"}


def test_user_keyword_files_add_and_win(tmp_path: Path) -> None:
    mine = tmp_path / "studio.yaml"
    mine.write_text(
        "language: en\nexpand:\n  Sea Monster: a giant glowing jellyfish\n  wyvern: two-legged wyvern with leathery wings\n"
        "mood:\n  sad: [gloomy]\n",
        encoding="utf-8",
    )
    settings = PlanningSettings(keyword_files=[mine])
    plan = plan_shots("A sea monster chases a wyvern. The gloomy wyvern hides in the cave.", "ep", settings)
    assert "giant glowing jellyfish" in plan.shots[0].prompt and "gaping maw" not in plan.shots[0].prompt
    assert "leathery wings" in plan.shots[0].prompt
    assert plan.shots[1].mood == "sad"
    assert "gaping maw" in keyword_tables("en").expand["sea monster"][0]  # the defaults are untouched


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("language: en\ncamera:\n  zoom: [zoom]\n", "camera.zoom"),
        ("language: en\nexpand:\n  dragon: 3\n", "expand.dragon"),
        ("language: en\nmood:\n  calm: [yes]\n", "mood.calm"),
        ("language: en\nmoods:\n  calm: [quiet]\n", "moods"),
        ("language: fr\n", "language"),
        ("language: en\nexpand:\n  dragon: [a, b\n", "line 3"),
    ],
)
def test_malformed_keyword_file_names_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    bad = tmp_path / "bad-keywords.yaml"
    bad.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        plan_shots("A dragon sleeps.", "ep", PlanningSettings(keyword_files=[bad]))
    assert str(bad) in str(err.value) and key in str(err.value)


# ------------------------------------------------------------------ presets

STORY = "A dragon sleeps on the mountain. The knight climbs toward it at dawn. They fight under the storm."


def test_series_preset_repeats_the_look_across_episodes() -> None:
    settings = PlanningSettings(preset="storybook")
    one, two = plan_shots(STORY, "ep-1", settings), plan_shots("一条龙在山顶睡觉。骑士在黎明时爬上山。", "ep-2", settings)
    preset = load_presets()["storybook"]
    for shot in one.shots + two.shots:
        assert shot.style == preset.style and preset.style in shot.prompt
        assert shot.negative_prompt == preset.negative_prompt
    assert [s.seed for s in one.shots][:2] == [s.seed for s in two.shots]
    assert len({s.seed for s in one.shots}) == 3  # still one seed per shot index
    reseeded = plan_shots(STORY, "ep-1", PlanningSettings(preset="storybook", series_seed=7))
    assert [s.seed for s in reseeded.shots] == [derive_seed(7, k) for k in range(3)]
    assert plan_shots(STORY, "ep-1", settings, seed=99).shots[0].seed == derive_seed(99, 0)  # an explicit seed wins


def test_episode_and_fixed_seed_policies() -> None:
    cinematic = PlanningSettings(preset="cinematic")  # seed_policy: episode
    one, two = plan_shots(STORY, "ep-1", cinematic), plan_shots(STORY, "ep-2", cinematic)
    assert all(a.seed != b.seed for a, b in zip(one.shots, two.shots))
    assert one.seed == derive_seed("ep-1")
    assert "35mm film" in one.shots[0].prompt and "cartoon" in one.shots[0].negative_prompt
    fixed = PlanningSettings(preset="constellation-myth", series_seed=1234)  # seed_policy: fixed
    seeds = {s.seed for ep in ("ep-1", "ep-2") for s in plan_shots(STORY, ep, fixed).shots}
    assert seeds == {1234}


def test_no_preset_keeps_todays_behaviour_and_explicit_style_joins_a_preset() -> None:
    plain = plan_shots(STORY, "ep-1", PlanningSettings(style="watercolor"))
    assert {s.negative_prompt for s in plain.shots} == {""} and plain.style == "watercolor"
    both = plan_shots(STORY, "ep-1", PlanningSettings(preset="anime-cel", style="pastel sky"))
    assert both.style.startswith("anime cel animation") and both.style.endswith(", pastel sky")


def test_unknown_preset_lists_known_names() -> None:
    with pytest.raises(ConfigError) as err:
        plan_shots(STORY, "ep", PlanningSettings(preset="noir"))
    for name in ("'noir'", "storybook", "ink-wash", "cinematic", "anime-cel", "constellation-myth"):
        assert name in str(err.value)


def test_preset_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "noir.yaml"
    path.write_text("name: noir\nstyle: film noir, hard shadows\nnegative_prompt: color\nseed_policy: fixed\n", encoding="utf-8")
    plan = plan_shots(STORY, "ep", PlanningSettings(preset=str(path), series_seed=5))
    assert {s.seed for s in plan.shots} == {5} and {s.negative_prompt for s in plan.shots} == {"color"}
    path.with_name("broken.yaml").write_text("name: broken\nstyle: x\nseed_policy: sometimes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: key 'seed_policy'.*series, episode, fixed"):
        plan_shots(STORY, "ep", PlanningSettings(preset=str(path.with_name("broken.yaml"))))


@pytest.mark.integration  # runs the Wan generator's torch code
def test_preset_negative_prompt_reaches_the_wan_pipeline(tmp_path: Path) -> None:
    import threading

    import numpy as np

    from generation.diffusers_video import FAMILIES
    from generation.wan import WanGenerator

    seen: dict = {}

    class FakePipe:
        def __call__(self, **kwargs):
            seen.update(kwargs)
            frames = np.zeros((kwargs["num_frames"], kwargs["height"], kwargs["width"], 3), np.float32)
            return type("Result", (), {"frames": [frames]})()

    generator = object.__new__(WanGenerator)  # a real pipeline is not needed to see what it is given
    settings = GenerationSettings(backend="wan", width=64, height=64, fps=8, steps=1)
    generator.settings, generator.cuda, generator._lock, generator.pipe = settings, False, threading.Lock(), FakePipe()
    generator.device, generator.folder, generator.parks, generator.memory_savers = "cpu", None, False, []
    generator.family = FAMILIES["WanPipeline"]
    shot = plan_shots(STORY, "ep", PlanningSettings(preset="ink-wash")).shots[0]
    generator.generate(shot, seed=1, attempt=0, out_path=tmp_path / "a.mp4")
    assert seen["negative_prompt"] == load_presets()["ink-wash"].negative_prompt
    generator.generate(shot.model_copy(update={"negative_prompt": ""}), seed=1, attempt=0, out_path=tmp_path / "b.mp4")
    assert seen["negative_prompt"] == settings.negative_prompt


# ------------------------------------------------------------------ story to shots

LONG_ZH = (
    "很久很久以前，在遥远的东海之滨，住着一位年轻的渔夫，他每天清晨驾着小船出海，"
    "傍晚时分满载而归，村里的孩子们总是跑到岸边迎接他，听他讲海上的奇闻异事；"
    "有一天夜里，海面上忽然亮起一片奇异的蓝光，照亮了整个海湾。"
)
LONG_EN = (
    "Long ago, on the far shore of the eastern sea, there lived a young fisherman who sailed out every morning, "
    "came home every evening with a full net, and told the village children strange tales of the ocean; "
    "they ran down to the beach to meet him, and listened until the stars came out over the water."
)


@pytest.mark.parametrize(("story", "language"), [(LONG_ZH, "zh"), (LONG_EN, "en")], ids=["zh", "en"])
def test_long_sentence_is_split_at_clauses(story: str, language: str) -> None:
    assert estimate_narration_s(story, language) > 2 * MAX_SHOT_S
    plan = plan_shots(story, "ep", PlanningSettings())
    assert len(plan.shots) >= 3
    assert all(estimate_narration_s(s.text, language) <= MAX_SHOT_S for s in plan.shots)
    assert all(s.duration_s <= MAX_SHOT_S for s in plan.shots)
    joiner = "" if language == "zh" else " "
    assert joiner.join(s.text for s in plan.shots) == story  # nothing lost or reordered
    assert all(s.text.rstrip()[-1] in "，,；;。." for s in plan.shots)  # cut at clause marks only


def test_one_overlong_clause_stays_whole() -> None:
    story = "The cat " + "and the dog " * 30 + "sleep."
    assert [s.text for s in plan_shots(story, "ep", PlanningSettings()).shots] == [story]


@pytest.mark.parametrize(
    ("story", "language", "subject", "pronoun_text"),
    [
        ("The old dragon sleeps on the mountain. It wakes at dusk and flies over the sea.", "en", "The old dragon", "It wakes"),
        ("The twins walk into the forest. Then they find a glowing door.", "en", "The twins", "Then they find"),
        ("一条老龙在山顶上睡觉。它在黄昏时醒来，飞过大海。", "zh", "一条老龙", "它在黄昏"),
        ("两个孩子在海边放风筝。他们一起看星星。", "zh", "两个孩子", "他们一起"),
    ],
)
def test_pronoun_subject_takes_the_previous_subject(story: str, language: str, subject: str, pronoun_text: str) -> None:
    first, second = plan_shots(story, "ep", PlanningSettings(preset="storybook")).shots
    assert first.subject == subject and second.subject == subject
    assert second.prompt.startswith(subject)
    assert second.text.startswith(pronoun_text)  # the narration stays as written
    assert second.style == first.style


def test_split_clause_without_subject_carries_the_subject() -> None:
    plan = plan_shots(LONG_EN, "ep", PlanningSettings())
    assert all(s.subject for s in plan.shots)
    assert all(not s.subject.lower().startswith(("it ", "they")) for s in plan.shots)


# ------------------------------------------------------------------ the plan file

ZH_MYTH = "夜晚，一只小狐狸在森林里奔跑，月光洒在湖面上。它遇到了一只猫头鹰，两个朋友一起看星星。镜头推进，小狐狸回到了温暖的家里。"


@pytest.mark.parametrize(("story", "preset"), [(ZH_MYTH, "ink-wash"), (EN_STORY, None), (LONG_EN, "cinematic")])
def test_plan_file_round_trip(tmp_path: Path, story: str, preset: str | None) -> None:
    plan = plan_shots(story, "ep-1", PlanningSettings(preset=preset))
    text = dump_plan(plan)
    assert text.startswith("# reelgate shot plan") and "prompt: auto" in text
    assert "\\u" not in text and ("小狐狸" in text or story is not ZH_MYTH)  # unicode kept readable
    assert load_plan(text) == plan
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_plan(path) == plan == load_plan(str(path))


def test_editing_a_field_rebuilds_the_prompt_and_a_written_prompt_is_kept() -> None:
    plan = plan_shots(ZH_MYTH, "ep-1", PlanningSettings(preset="ink-wash"))
    text = dump_plan(plan).replace("subject: 一只小狐狸", "subject: 一条龙", 1).replace("mood: calm", "mood: tense", 1)
    edited = load_plan(text)
    first = edited.shots[0]
    assert first.subject == "一条龙" and first.mood == "tense"
    assert first.prompt.startswith("一条龙") and "蜿蜒盘旋的巨龙" in first.prompt and "tense atmosphere" in first.prompt
    assert "毛色火红的小狐狸" not in first.prompt
    assert edited.shots[1:] == plan.shots[1:]

    blocks = dump_plan(plan).split("\n- index: ")
    blocks[2] = blocks[2].replace("prompt: auto", "prompt: a fox and an owl on a branch, ink wash").replace(
        "camera: pan_left", "camera: static"
    ).replace("camera: push", "camera: static")
    kept = load_plan("\n- index: ".join(blocks)).shots[1]
    assert kept.prompt == "a fox and an owl on a branch, ink wash" and kept.camera == "static"
    assert "prompt: a fox and an owl on a branch, ink wash" in dump_plan(load_plan("\n- index: ".join(blocks)))


def test_shots_can_be_deleted_and_reordered() -> None:
    plan = plan_shots(ZH_MYTH, "ep-1", PlanningSettings())
    blocks = dump_plan(plan).split("\n- index: ")
    edited = load_plan("\n- index: ".join([blocks[0], blocks[3], blocks[1]]))
    assert [s.index for s in edited.shots] == [0, 1]
    assert [s.text for s in edited.shots] == [plan.shots[2].text, plan.shots[0].text]


def _edit_shot(text: str, number: int, key: str, line: str) -> str:
    """The plan file with the `key:` line of shot `number` (1-based) replaced by `line`."""
    blocks = text.split("\n- index: ")
    edited = re.sub(rf"(?m)^  {key}: .*$", line, blocks[number], count=1)
    assert edited != blocks[number]
    blocks[number] = edited
    return "\n- index: ".join(blocks)


@pytest.mark.parametrize(
    ("number", "key", "line", "message"),
    [
        (2, "camera", "  camera: zoom", r"shot 2, field 'camera': 'zoom' is not one of static, push"),
        (1, "duration_s", "  duration_s: -1", r"shot 1, field 'duration_s': .*greater than 0"),
        (1, "environment", "  enviroment: 森林里", r"shot 1, field 'enviroment': unknown field"),
        (3, "time_of_day", "  time_of_day: evening", r"shot 3, field 'time_of_day': 'evening' is not one of dawn"),
        (2, "seed", "  seed: lots", r"shot 2, field 'seed'"),
        (1, "text", "  text: ''", r"shot 1, field 'text': empty"),
        (2, "subject", "  subject: [一只小狐狸", r"line \d+, near shot 2"),
        (3, "mood", "mood: calm", r"line \d+, near shot 3"),
    ],
)
def test_bad_plan_file_names_shot_and_field(number: int, key: str, line: str, message: str) -> None:
    text = dump_plan(plan_shots(ZH_MYTH, "ep-1", PlanningSettings()))
    with pytest.raises(InputError, match=message):
        load_plan(_edit_shot(text, number, key, line))


def test_plan_table_is_aligned_with_cjk_text() -> None:
    from reelgate.console import text_width

    plan = plan_shots(ZH_MYTH + " The owl flies over the quiet lake at night.", "ep-1", PlanningSettings())
    table = render_plan_table(plan)
    lines = table.splitlines()
    assert len(lines) == len(plan.shots) + 3
    rows = lines[2:-1]
    cameras = [s.camera for s in plan.shots]
    # The camera column starts at the same terminal column in every row, CJK or not.
    starts = {text_width(row[: row.index(cam)]) for row, cam in zip(rows, cameras)}
    assert starts == {text_width(lines[0][: lines[0].index("camera")])}
    assert rows[0].startswith("1 ") and "一只小狐狸" in rows[0] and "night" in rows[0]
    assert f"{len(plan.shots)} shots" in lines[-1]


# ------------------------------------------------------------------ issue 16: what a director means


def test_a_direction_sentence_is_no_shot_and_its_look_beats_the_preset() -> None:
    story = "Shot on 35 mm film, warm tungsten light, handheld camera drifting left. A fox runs across the snowy hills."
    plan = plan_shots(story, "ep", PlanningSettings(preset="storybook"))
    assert [s.text for s in plan.shots] == ["A fox runs across the snowy hills."]
    assert plan.directions == ["Shot on 35 mm film", "warm tungsten light", "handheld camera drifting left"]
    shot = plan.shots[0]
    assert shot.style.startswith("Shot on 35 mm film, warm tungsten light")
    assert "storybook" not in shot.style and "watercolor" not in shot.prompt  # the user's medium wins
    assert shot.camera == "handheld" and shot.weather == "snow"
    zh = plan_shots("画面采用水墨风格，色调偏冷。他在大雾中的石桥上徘徊。", "ep", PlanningSettings(preset="storybook"))
    assert [s.text for s in zh.shots] == ["他在大雾中的石桥上徘徊。"]
    assert zh.shots[0].environment == "大雾中的石桥上" and zh.shots[0].weather == "fog"
    assert "水墨" in zh.shots[0].style and "storybook" not in zh.shots[0].style


def test_a_story_of_directions_only_is_refused_with_what_to_add() -> None:
    with pytest.raises(InputError, match=r"only gives directions \(Wide shot.*add at least one sentence that says what happens"):
        plan_shots("Wide shot, low angle. Slow motion.", "ep", PlanningSettings())


def test_camera_grammar_is_read_from_zh_and_en() -> None:
    en = plan_shots(
        "The camera tracks Mara as she sprints between the cars. Close-up: her hands shake. "
        "Low angle, the giant rises over the city.", "ep", PlanningSettings(),
    ).shots
    assert [(s.camera, s.shot_size, s.angle) for s in en][:2] == [("track", "wide", "eye_level"), ("static", "close_up", "eye_level")]
    assert en[0].text == "Mara sprints between the cars." and en[1].subject.startswith("Mara")
    assert en[2].angle == "low"
    zh = plan_shots("镜头手持跟拍，侦探在小巷里追赶嫌疑人。俯拍，大远景：群山连绵。", "ep", PlanningSettings()).shots
    assert (zh[0].camera, zh[0].text) == ("handheld", "侦探在小巷里追赶嫌疑人。")
    assert (zh[1].angle, zh[1].shot_size) == ("high", "extreme_wide")


def test_pronouns_and_possessives_bind_to_the_nearest_fitting_subject() -> None:
    shots = plan_shots(
        "Europa gathers flowers by the sea. A white bull walks out of the waves. She strokes its head. Its eyes glow like coals.",
        "ep", PlanningSettings(),
    ).shots
    assert shots[2].subject == "Europa"  # she: a person, not the bull
    assert shots[3].subject == "the white bull's eyes"
    zh = plan_shots("后羿拉开神弓。他射下九个太阳。", "ep", PlanningSettings()).shots
    assert zh[1].subject == "后羿"


def test_weather_carries_and_expansions_never_contradict_it() -> None:
    shots = plan_shots(
        "A storm breaks over the harbour at night. The night sky flashes above the churning river. "
        "By morning the storm has passed and the river glitters.",
        "ep", PlanningSettings(),
    ).shots
    assert [s.weather for s in shots] == ["storm", "storm", "clear"]
    sky = next(e for e in shots[1].expansions if e.trigger == "night sky")
    assert "no stars" in sky.text and "countless stars" not in shots[1].prompt
    river = next(e for e in shots[1].expansions if e.trigger == "river")
    assert "churning" in river.text and "gentle ripples" not in shots[1].prompt
    assert shots[0].mood == "tense"


def test_a_scene_heading_sets_the_time_of_the_shots_after_it() -> None:
    plan = plan_shots("A fox sleeps in its den. Night. Rain hammers the empty parking lot.", "ep", PlanningSettings())
    assert [s.time_of_day for s in plan.shots] == ["day", "night"]
    assert "Night" in plan.shots[1].directions and all("Night." not in s.text for s in plan.shots)


def test_a_screenplay_slugline_sets_place_and_time_and_is_never_narrated() -> None:
    """Previs users write screenplay: sluglines, CUT TO:, a weather line. None of it is a shot or a subtitle."""
    story = (
        "EXT. CLIFFTOP - NIGHT. Heavy rain. A detective in a grey coat runs along the cliff edge, handheld. "
        "CUT TO: a giant rises from the dark forest, extreme wide, low angle. "
        "INT. LIGHTHOUSE - NIGHT. The detective sits by the window. The detective walks out to the stormy sea."
    )
    shots = plan_shots(story, "ep-previs", PlanningSettings()).shots
    assert [s.text for s in shots] == [
        "A detective in a grey coat runs along the cliff edge.",
        "A giant rises from the dark forest.",
        "The detective sits by the window.",
        "The detective walks out to the stormy sea.",
    ]
    assert [(s.time_of_day, s.weather) for s in shots] == [("night", "rain")] * 3 + [("night", "storm")]
    assert shots[1].shot_size == "extreme_wide" and shots[1].angle == "low" and "CUT TO" in shots[1].directions
    assert shots[2].environment == "by the window, interior of the lighthouse"  # an interior, for the drawing
    assert "interior" not in shots[3].environment  # out of the room, by the sea
    assert "EXT" not in " ".join(s.subject + s.text for s in shots)
    # Capitals or the abbreviation's dot: a sentence that merely starts with "Interior" is narrated.
    plain = plan_shots("Interior designers arrive at the old house. They paint the walls white.", "ep-2", PlanningSettings())
    assert plain.shots[0].text.startswith("Interior designers")
    zh = plan_shots("夜。大雨。侦探沿着悬崖奔跑。", "ep-3", PlanningSettings()).shots
    assert [s.text for s in zh] == ["侦探沿着悬崖奔跑。"] and (zh[0].time_of_day, zh[0].weather) == ("night", "rain")


def test_after_the_storm_is_clear_and_a_slow_push_in_chinese_is_a_direction() -> None:
    story = "Andromeda is chained to a rock by the stormy sea. The stars shine over the calm sea after the storm."
    assert [s.weather for s in plan_shots(story, "ep", PlanningSettings()).shots] == ["storm", "clear"]
    zh = plan_shots("喜鹊在夜空中搭起鹊桥。远景，缓慢推进，天琴座的星星连成一线。", "ep", PlanningSettings()).shots
    assert zh[1].text == "天琴座的星星连成一线。" and zh[1].camera == "push" and zh[1].shot_size == "wide"
    assert zh[1].subject == "天琴座的星星"  # not the magpies of the shot before


def test_a_plan_file_written_before_the_new_fields_still_loads() -> None:
    old = (
        "episode_id: ep\nlanguage: en\nstyle: ink\nseed: 1\nshots:\n"
        "- index: 0\n  duration_s: 3\n  text: A fox runs.\n  subject: a fox\n  action: runs\n  environment: ''\n"
        "  time_of_day: day\n  mood: calm\n  camera: pan_left\n  style: ink\n  prompt: auto\n"
        "  negative_prompt: ''\n  wants_motion: true\n  seed: 5\n"
    )
    plan = load_plan(old)
    shot = plan.shots[0]
    assert (shot.weather, shot.shot_size, shot.angle, plan.directions) == ("clear", "wide", "eye_level", [])
    assert shot.prompt.startswith("a fox runs") and "slow pan to the left" in shot.prompt
    again = load_plan(dump_plan(plan))  # and it round-trips with the new fields written out
    assert again.shots[0].model_dump() == shot.model_dump()


def test_a_user_look_that_agrees_with_the_preset_keeps_its_detail() -> None:
    plan = plan_shots("水墨画风格，画面留白，色调淡雅。后羿登上昆仑山顶，拉开神弓。", "ep", PlanningSettings(preset="ink-wash"))
    assert plan.directions == ["水墨画风格", "画面留白", "色调淡雅"] and len(plan.shots) == 1
    style = plan.shots[0].style
    assert style.startswith("水墨画风格, 留白, 色调淡雅")
    assert "rice paper texture" in style  # the same medium as the preset: its detail stays
    assert "monochrome ink with light color washes" not in style  # the user set the colour


def test_it_is_raining_has_no_one_behind_it() -> None:
    shots = plan_shots("A fisherman mends his nets on the pier. It is raining hard now.", "ep", PlanningSettings()).shots
    assert shots[1].subject == "" and shots[1].weather == "rain"
    assert not shots[1].prompt.lower().startswith("a fisherman is raining")
