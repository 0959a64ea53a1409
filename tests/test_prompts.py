"""The prompt stage: normalization, blocklists, screening, and shot planning."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from prompts.blocklist import Blocklist
from prompts.normalize import normalize
from prompts.screen import screen
from prompts.structure import derive_seed, detect_language, plan_shots, split_sentences
from reelgate.errors import ConfigError, InputError
from reelgate.records import Action
from reelgate.settings import PlanningSettings


@pytest.fixture(scope="module")
def defaults() -> Blocklist:
    return Blocklist.load()


# ------------------------------------------------------------------ normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ｂｌｏｏｄｙ", "bloody"),
        ("ＢＬＯＯＤ", "blood"),
        ("b1ood", "blood"),
        ("屠⃝杀", "屠杀"),
        ("血\u200b腥", "血腥"),
        ("血腥場面", "血腥场面"),
        ("①⑴⒈⓿➃²", "111042"),
        ("㈥㊃", "六四"),  # Chinese numerals stay Chinese numerals
        ("nüde", "nude"),
        ("Νudе", "nude"),  # Greek capital nu, Cyrillic e
        ("血血血腥", "血腥"),
        ("bloooood", "blood"),
        ("year 1000", "year 1000"),
    ],
)
def test_normalize_folds_obfuscations(text: str, expected: str) -> None:
    assert normalize(text).text == expected


def test_normalize_origin_maps_back_to_the_original() -> None:
    text = "a\u200bＢ屠⃝杀"
    norm = normalize(text)
    assert norm.text == "ab屠杀"
    assert [text[i] for i in norm.origin] == ["a", "Ｂ", "屠", "杀"]
    assert len(norm.origin) == len(norm.text)


# ------------------------------------------------------------------ screening: obfuscations caught


@pytest.mark.parametrize(
    ("text", "term", "span"),
    [
        ("画面很血 腥", "血腥", "血 腥"),
        ("他说血@腥的场面", "血腥", "血@腥"),
        ("血\u200b腥", "血腥", "血\u200b腥"),
        ("一个血腥場面", "血腥", "血腥"),
        ("他们屠⃝杀了村民", "屠杀", "屠⃝杀"),
        ("色 情 片", "色情", "色 情"),
        ("哆啦 Ａ 梦", "哆啦a梦", "哆啦 Ａ 梦"),
        ("his ｂｌｏｏｄｙ hands", "bloody", "ｂｌｏｏｄｙ"),
        ("ＢＬＯＯＤ everywhere", "blood", "ＢＬＯＯＤ"),
        ("b1ood on the floor", "blood", "b1ood"),
        ("they k1ll him", "kill", "k1ll"),
        ("a n u d e woman", "nude", "n u d e"),
        ("n.u.d.e.s", "nude", "n.u.d.e.s"),
        ("killing time machines", "kill", "killing"),
        ("he was stabbing", "stab", "stabbing"),
        ("Elon  Musk smiles", "elon musk", "Elon  Musk"),
        ("#elonmusk", "elon musk", "elonmusk"),
    ],
)
def test_obfuscated_terms_are_caught_with_original_spans(defaults: Blocklist, text: str, term: str, span: str) -> None:
    result = screen(text, defaults)
    found = {m.term: m for m in result.matches}
    assert term in found, result.matches
    m = found[term]
    assert text[m.start : m.end] == span == m.text
    assert result.action.rank >= m.action.rank


def test_category_action_and_layer_are_reported(defaults: Blocklist) -> None:
    result = screen("画面很血 腥", defaults)
    (m,) = result.matches
    assert (m.category, m.action, m.layer, m.start, m.end) == ("gore", Action.BLOCK, "separated", 3, 6)
    assert result.action is Action.BLOCK
    verdict = result.verdict()
    assert verdict.action is Action.BLOCK
    assert verdict.reasons == ["'血腥' (gore → block) at 3–6: \"血 腥\""]

    assert screen("killing", defaults).matches[0].layer == "inflection"
    assert screen("习近平", defaults).action is Action.REVIEW  # real_people
    assert screen("a mickey mouse party", defaults).matches[0].category == "ip"
    assert screen("one cigarette", defaults).action is Action.WARN


def test_strictest_action_wins(defaults: Blocklist) -> None:
    result = screen("blood and gore", defaults)  # blood: warn, gore: block
    assert {m.action for m in result.matches} == {Action.WARN, Action.BLOCK}
    assert result.action is Action.BLOCK


# ------------------------------------------------------------------ screening: benign look-alikes pass


@pytest.mark.parametrize(
    "text",
    [
        "a skill to learn",
        "the therapist listens",
        "Scunthorpe United",
        "景色情调很美",
        "抹杀人性的制度",
        "a menu designed for kids",
        "流了血，腥味很重",
        "流了血…腥味很重",
        "he drew his blood. Orange light",  # not the phrase "blood orange" but "blood": see below
        "grapes and heroines follow the method",
        "a killer whale swims",
        "s k i l l",
        "the kill. myself",  # a sentence end splits the phrase "kill myself"
    ],
)
def test_benign_lookalikes_are_not_flagged_beyond_their_own_words(defaults: Blocklist, text: str) -> None:
    result = screen(text, defaults)
    blocked = [m for m in result.matches if m.action is Action.BLOCK]
    assert not blocked, result.matches
    if text not in ("he drew his blood. Orange light", "the kill. myself"):
        assert result.matches == [] and result.action is Action.ALLOW


def test_allow_list_only_excuses_matches_inside_it(defaults: Blocklist) -> None:
    # "catskill" compacts across a space but the allow entry "skill" must not excuse "kill".
    assert [m.term for m in screen("the cats kill", defaults).matches] == ["kill"]
    assert [m.term for m in screen("景色情调和色情", defaults).matches] == ["色情"]
    assert screen("景色情调和色情", defaults).matches[0].start == 5


# ------------------------------------------------------------------ blocklist files


def test_custom_list_with_and_without_header(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("# my words\nwidget\n\n小部件  # inline comment\nヌード\n", encoding="utf-8")
    tagged = tmp_path / "tagged.txt"
    tagged.write_text(
        "#! category=brand action=review\nＡｃｍｅ Corp\n#! action=warn\ngizmo\n#! allow\nacme corporation\n",
        encoding="utf-8",
    )
    bl = Blocklist.load([plain, tagged], use_defaults=False)
    by_term = {t.term: t for t in bl.terms}
    assert by_term["widget"].category == "custom" and by_term["widget"].action is Action.BLOCK
    assert by_term["小部件"].source == f"{plain}:4"
    assert by_term["acme corp"].category == "brand" and by_term["acme corp"].action is Action.REVIEW
    assert by_term["gizmo"].category == "brand" and by_term["gizmo"].action is Action.WARN
    assert bl.allow == ["acme corporation"]

    assert screen("buy a widgets pack", bl).action is Action.BLOCK
    assert screen("ACME  corp rocks", bl).action is Action.REVIEW
    assert screen("acme corporation", bl).action is Action.ALLOW
    assert screen("blood", bl).action is Action.ALLOW  # defaults not loaded
    assert screen("ヌ ー ド写真", bl).matches[0].text == "ヌ ー ド"  # other scripts match as substrings

    folder = Blocklist.load([tmp_path], use_defaults=True)
    assert {"widget", "gizmo", "血腥"} <= {t.term for t in folder.terms}


@pytest.mark.parametrize(
    ("content", "line", "needle"),
    [
        ("ok\n#! colour=red\nterm\n", 2, "colour"),
        ("#! category=x action=forbid\n", 1, "forbid"),
        ("a\nb\n#! nonsense\n", 3, "nonsense"),
        ("#! category=Bad!\n", 1, "Bad!"),
    ],
)
def test_bad_directive_names_file_and_line(tmp_path: Path, content: str, line: int, needle: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Blocklist.load([path], use_defaults=False)
    assert f"{path}:{line}" in str(info.value) and needle in str(info.value)


def test_unreadable_list_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.txt"):
        Blocklist.load([tmp_path / "missing.txt"], use_defaults=False)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="binary.txt"):
        Blocklist.load([binary], use_defaults=False)


def test_default_lists_cover_every_category(defaults: Blocklist) -> None:
    categories = {t.category for t in defaults.terms}
    assert {"sexual", "violence", "gore", "hate", "self_harm", "minors", "illegal", "political", "real_people", "ip"} <= categories
    actions = {t.category: t.action for t in defaults.terms if t.category in ("minors", "political", "ip")}
    assert actions == {"minors": Action.BLOCK, "political": Action.REVIEW, "ip": Action.REVIEW}


def test_screening_speed(defaults: Blocklist) -> None:
    story_zh = "夜晚，一只小狐狸在森林里奔跑，月光洒在湖面上。它遇到了一只猫头鹰，两个朋友一起看星星。" * 5
    story_en = "A little fox runs through the dark forest at night, looking for the moon. It meets an old owl. " * 3
    texts = {"zh": story_zh[:200], "en": story_en[:200], "adversarial": ("血 腥b1ood " * 30)[:200]}
    screen(texts["zh"], defaults)  # warm caches (OpenCC, index)
    for name, text in texts.items():
        n = 300
        start = time.perf_counter()
        for _ in range(n):
            screen(text, defaults)
        ms = (time.perf_counter() - start) / n * 1e3
        print(f"\nscreen() {name} {len(text)} chars: {ms:.3f} ms per call")
        assert ms < 10


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
    code = "from prompts.structure import derive_seed; print(derive_seed('episode-7', 3))"
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
    assert "".join(s.text for s in plan.shots).replace(" ", "") == story.replace(" ", "")


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
    assert (third.mood, third.camera, third.wants_motion) == ("tense", "push", True)
    zh = plan_shots("黄昏时，两个孩子在海边放风筝，笑声传得很远。仰拍天空，风筝静止在云里一动不动。", "ep-3", settings)
    assert (zh.shots[0].time_of_day, zh.shots[0].mood, zh.shots[0].environment) == ("dusk", "joyful", "海边")
    assert (zh.shots[1].camera, zh.shots[1].wants_motion, zh.shots[1].time_of_day) == ("tilt_up", False, "dusk")


def test_default_camera_is_a_gentle_move_from_the_seed() -> None:
    plan = plan_shots("A house stands on a hill. " * 1 + "A tree grows beside the old house. A cat sleeps on the warm roof.", "ep-4", PlanningSettings())
    for shot in plan.shots:
        assert shot.camera == ("push", "pan_left", "pan_right")[shot.seed % 3]


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
