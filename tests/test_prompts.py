"""Prompt screening: normalization, blocklists, matching layers, verdicts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prompts.blocklist import Blocklist
from prompts.normalize import normalize
from prompts.screen import screen
from reelgate.errors import ConfigError
from reelgate.records import Action


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
        # Every way of writing a number folds to ASCII digits, so 六四, 陆肆, ㈥㊃ and 64 read alike.
        ("㈥㊃", "64"),
        ("陆肆 六四 ⑥④", "64 64 64"),
        ("壹貳叁肆", "1234"),
        ("暴カ", "暴力"),  # katakana ka passing for 力
        ("\x07血\ud800腥\u202e", "血腥"),  # control, lone surrogate, bidi override
        ("Ｓ\u0336ｅ\u0336ｘ", "sex"),  # strike-through combining marks
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
    assert verdict.reasons == ["'血腥' (gore → block, separated) at 3–6: \"血 腥\""]

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
        assert result.matches == () and result.action is Action.ALLOW


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
        ("blood\n\n#! category=Bad Name\nnude\n", 3, "Bad"),
        ("# list\n#! category=gore action=destroy\nnude\n", 2, "destroy"),
        ("nude\n#! category=gore Name\n", 2, "Name"),
        ("#!\n", 1, "empty directive"),
        ("ok\n\u200b\u200d\n", 2, "empty after normalization"),
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


@pytest.mark.integration  # wall-clock per call (bench/screening.py measures it on 10,000 terms)
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
