"""CLIP concept screen: concept files, fail-closed without weights, end-to-end scoring with random weights."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from reelgate.errors import ConfigError
from reelgate.records import Action
from reelgate.settings import SafetySettings
from safety.concepts import (
    Concept,
    ConceptScreen,
    ConceptsUnavailable,
    concept_screen_from_settings,
    load_concepts,
    parse_concept_file,
)
from safety.frames import SampledFrame
from safety.policy import CONCEPT_CATEGORIES, Policy, Rule, load_policy

TINY = "reelgate-tiny-clip"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """Register a 1-layer open_clip architecture so random-weight tests build in a second."""
    import open_clip

    cfg = {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 64, "layers": 1, "width": 64, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
    }
    path = tmp_path_factory.mktemp("clipcfg") / f"{TINY}.json"
    path.write_text(json.dumps(cfg))
    open_clip.add_model_config(path)
    # Another tiny architecture, to load a checkpoint into the wrong model.
    cfg["vision_cfg"]["width"] = cfg["text_cfg"]["width"] = 96
    other = path.with_name(f"{TINY}-wide.json")
    other.write_text(json.dumps(cfg))
    open_clip.add_model_config(other)
    return TINY


@pytest.fixture(scope="module")
def screen(tiny_model):
    import torch

    torch.manual_seed(0)
    return ConceptScreen(tiny_model, None, load_concepts(), allow_random_weights=True)


def frames(n: int = 5) -> list[SampledFrame]:
    rng = np.random.default_rng(1)
    return [
        SampledFrame(time_s=i * 0.5, index=i * 12, image=rng.integers(0, 256, (90, 160, 3), dtype=np.uint8))
        for i in range(n)
    ]


def only(category: str, threshold: float, others: float = 1.0) -> Policy:
    rules = {c: Rule(Action.REVIEW, others) for c in CONCEPT_CATEGORIES}
    rules[category] = Rule(Action.BLOCK, threshold)
    return Policy(rules=rules)


# ---------- concept files ----------

def test_shipped_concepts_cover_every_category_in_english_and_chinese():
    concepts = load_concepts()
    for category in CONCEPT_CATEGORIES:
        mine = [c for c in concepts if c.category == category]
        assert sum(not c.is_chinese for c in mine) >= 4, category
        chinese = [c for c in mine if c.is_chinese]
        assert len(chinese) >= 3, category
        # English-only CLIP embeds the gloss: every shipped Chinese line has one, in English.
        assert all(c.gloss and not Concept(category, c.gloss).is_chinese for c in chinese)
    # Every shipped category has a rule in the shipped policy.
    assert load_policy(None).missing({c.category for c in concepts}) == []


def test_user_concept_file_adds_new_and_existing_categories(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("# house rules\n\nsmoking: a person smoking a cigarette  # not for kids\ngore: 开膛破肚 = a disembowelled body\n")
    concepts = load_concepts([path])
    assert concepts[: len(load_concepts())] == load_concepts()
    smoking, gore = concepts[-2:]
    assert (smoking.category, smoking.text, smoking.gloss) == ("smoking", "a person smoking a cigarette", None)
    assert (gore.category, gore.text, gore.gloss, gore.is_chinese) == ("gore", "开膛破肚", "a disembowelled body", True)
    assert smoking.source == f"{path}:3"


@pytest.mark.parametrize("line", ["a bloody wound", "Gore: a bloody wound", "gore:", "bad category: x"])
def test_malformed_concept_line_is_refused_naming_file_and_line(tmp_path, line):
    path = tmp_path / "bad.txt"
    path.write_text(f"# ok\nviolence: a fight\n{line}\n")
    with pytest.raises(ConfigError, match="expected `category: text`") as err:
        parse_concept_file(path)
    assert f"{path}:3:" in str(err.value)


# ---------- fail closed without weights ----------

def test_no_weights_raises_concepts_unavailable_saying_how_to_provide_them(tmp_path):
    with pytest.raises(ConceptsUnavailable, match="REELGATE_SAFETY__CLIP_WEIGHTS") as err:
        ConceptScreen("ViT-B-32", None, load_concepts())
    assert "is not set" in str(err.value)
    with pytest.raises(ConceptsUnavailable, match="does not exist"):
        ConceptScreen("ViT-B-32", tmp_path / "nope.pt", load_concepts(), allow_random_weights=True)
    # The default settings have no weights: the orchestrator gets the same exception.
    with pytest.raises(ConceptsUnavailable):
        concept_screen_from_settings(SafetySettings())


@pytest.mark.integration  # builds a (tiny) open_clip model in torch
def test_chinese_concept_without_gloss_is_refused_under_english_only_clip(tiny_model, tmp_path):
    path = tmp_path / "zh.txt"
    path.write_text("gore: 血肉模糊\n")
    with pytest.raises(ConfigError, match="needs an English gloss") as err:
        ConceptScreen(tiny_model, None, load_concepts([path], shipped=False), allow_random_weights=True)
    assert f"{path}:1:" in str(err.value) and "xlm-roberta-base-ViT-B-32" in str(err.value)


# ---------- screening (random weights: plumbing, not accuracy) ----------

@pytest.mark.integration  # builds a (tiny) open_clip model in torch
def test_screen_reports_best_concept_per_category_per_frame(screen):
    shots = frames(5)
    findings = screen.screen(shots, only("gore", threshold=-1.0))
    # Threshold -1: every frame gets exactly one gore finding, others (threshold 1) none.
    assert [f.time_s for f in findings] == [f.time_s for f in shots]
    sims = screen.scores(shots)
    gore_cols = [i for i, c in enumerate(screen.concepts) if c.category == "gore"]
    for f, row in zip(findings, sims):
        assert f.check == "concept" and f.action == Action.BLOCK
        assert -1.0 <= f.score <= 1.0
        assert f.score == pytest.approx(row[gore_cols].max(), abs=1e-6)
        best = screen.concepts[gore_cols[int(np.argmax(row[gore_cols]))]]
        assert f.label == f"gore ({best.text})"


@pytest.mark.integration  # builds a (tiny) open_clip model in torch
def test_screen_emits_nothing_below_threshold_and_nothing_for_no_frames(screen):
    assert screen.screen(frames(3), only("gore", threshold=1.0)) == []
    assert screen.screen([], only("gore", threshold=-1.0)) == []


@pytest.mark.integration  # builds a (tiny) open_clip model in torch
def test_scores_do_not_depend_on_batching(screen):
    shots = frames(5)
    screen.batch_size = 2
    try:
        small = screen.scores(shots)
    finally:
        screen.batch_size = 16
    assert small.shape == (5, len(screen.concepts))
    np.testing.assert_allclose(small, screen.scores(shots), atol=1e-5)


@pytest.mark.integration  # builds a (tiny) open_clip model in torch
def test_concept_category_missing_from_policy_is_a_config_error(tiny_model, tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("smoking: a person smoking\n")
    s = ConceptScreen(tiny_model, None, load_concepts([path]), allow_random_weights=True)
    with pytest.raises(ConfigError, match="smoking"):
        s.screen(frames(1), load_policy(None))


@pytest.mark.integration  # builds a (tiny) open_clip model in torch
def test_local_checkpoint_path_is_loaded(tiny_model, screen, tmp_path):
    import open_clip
    import torch

    torch.manual_seed(7)
    model, _, _ = open_clip.create_model_and_transforms(tiny_model, pretrained=None)
    path = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), path)
    loaded = ConceptScreen(tiny_model, path, load_concepts())
    model.eval()
    with torch.inference_mode():
        expected = torch.nn.functional.normalize(model.encode_image(torch.zeros(1, 3, 64, 64)), dim=-1)
        got = torch.nn.functional.normalize(loaded._model.encode_image(torch.zeros(1, 3, 64, 64)), dim=-1)
    torch.testing.assert_close(got, expected)
    # Different weights, different similarities: the file, not a random init, was used.
    assert not np.allclose(loaded.scores(frames(2)), screen.scores(frames(2)))

    # A checkpoint of another architecture is a configuration error, not a silent random model.
    with pytest.raises(ConfigError, match="CLIP_MODEL"):
        ConceptScreen(f"{tiny_model}-wide", path, load_concepts())
    with pytest.raises(ConfigError, match="CLIP_MODEL"):
        ConceptScreen("no-such-clip", path, load_concepts())


@pytest.mark.integration
def test_vit_b_32_speed_per_frame():
    """ViT-B-32 on this CPU (random weights time the same as real ones)."""
    import torch

    s = ConceptScreen("ViT-B-32", None, load_concepts(), allow_random_weights=True)
    rng = np.random.default_rng(0)
    shots = [SampledFrame(time_s=i / 2, index=i, image=rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)) for i in range(16)]
    s.scores(shots[:2])  # warm-up
    for batch in (8, 16):
        s.batch_size = batch
        start = time.perf_counter()
        s.screen(shots, load_policy(None))
        per_frame = (time.perf_counter() - start) / len(shots)
        print(f"ViT-B-32, {torch.get_num_threads()} threads, batch {batch}: {per_frame:.3f} s/frame")
        assert per_frame < 2.0
