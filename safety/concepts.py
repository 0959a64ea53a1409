"""CLIP concept screen: every sampled frame against concept texts (violence, gore, ...).

In the manner of the Stable Diffusion safety checker: embed the frame and each concept
text with CLIP and compare them by cosine similarity; a category's score for a frame is
its best-matching concept, and the policy (safety/policy.yaml) turns it into an action.
Raw CLIP cosine similarities are small: a match sits around 0.20-0.35 and an unrelated
text around 0.10-0.20, so concept thresholds live in that range and must be calibrated
per checkpoint (`ConceptScreen.scores` gives the raw matrix for that).

Concept files: one concept per line, `category: text`, `#` comments. There are no CLIP
weights on this machine or any registry: the screen needs a local open_clip checkpoint
(settings.clip_weights); without one it raises ConceptsUnavailable and the check is
reported unavailable (review).

Chinese: CLIP's tokenizer is English-only (byte-level BPE; Chinese turns into byte
tokens that carry no meaning), so a Chinese line carries an English gloss after ` = `
(`gore: 血肉模糊的伤口 = a bloody wound with torn flesh`). With an English-only model the
gloss is embedded; with a multilingual one (open_clip `xlm-roberta-base-ViT-B-32` and a
matching LAION checkpoint, whose tokenizer must be in the local Hugging Face cache) the
Chinese itself is. A Chinese concept without a gloss under an English-only model is a
configuration error naming its file and line, never silently embedded as noise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reelgate.errors import ConfigError, ModelNotFoundError
from reelgate.records import Action
from safety.frames import SampledFrame
from safety.policy import Policy
from safety.report import Finding

CONCEPTS_DIR = Path(__file__).with_name("concepts")
SHIPPED_CONCEPT_FILES = (CONCEPTS_DIR / "en.txt", CONCEPTS_DIR / "zh.txt")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]*$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
GLOSS_SEPARATOR = " = "


class ConceptsUnavailable(ModelNotFoundError):
    """The concept screen cannot run: no CLIP weights (or tokenizer) here. The check is unavailable."""


@dataclass(frozen=True)
class Concept:
    category: str
    text: str  # as written, shown to reviewers (Chinese or English)
    gloss: str | None = None  # English rendering for English-only CLIP models
    source: str = ""  # "file:line", for error messages

    @property
    def is_chinese(self) -> bool:
        return bool(_CJK.search(self.text))


def parse_concept_file(path: Path) -> list[Concept]:
    """Concepts of one file. Raises ConfigError naming file:line for a malformed line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read concept file {path} ({exc}); fix REELGATE_SAFETY__CONCEPT_FILES") from exc
    concepts = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        category, sep, text = line.partition(":")
        category, text = category.strip(), text.strip()
        where = f"{path}:{number}"
        if not sep or not _CATEGORY.match(category) or not text:
            raise ConfigError(
                f"{where}: expected `category: text` (category in lower_snake_case, e.g. "
                f"`gore: a bloody wound`), got {raw.strip()!r}"
            )
        text, _, gloss = text.partition(GLOSS_SEPARATOR)
        concepts.append(Concept(category, text.strip(), gloss.strip() or None, where))
    return concepts


def load_concepts(extra_files: Iterable[Path] = (), *, shipped: bool = True) -> list[Concept]:
    """The shipped concepts (unless shipped=False) plus those of `extra_files`, in order."""
    files = [*(SHIPPED_CONCEPT_FILES if shipped else ()), *extra_files]
    return [c for path in files for c in parse_concept_file(path)]


def _weights_message(model: str, weights: Path | None) -> str:
    where = "is not set" if weights is None else f"points at {weights}, which does not exist"
    return (
        f"the CLIP concept screen needs a local open_clip checkpoint for {model}, and "
        f"REELGATE_SAFETY__CLIP_WEIGHTS {where}; copy a checkpoint file (e.g. open_clip's "
        f"{model} 'openai' or 'laion2b' weights, .bin/.pt/.safetensors) to this machine and set "
        "REELGATE_SAFETY__CLIP_WEIGHTS to its path (or REELGATE_SAFETY__CONCEPTS=false to skip "
        "the screen deliberately)"
    )


class ConceptScreen:
    """An open_clip model with the concept texts embedded once; screen() scores frames.

    model: open_clip architecture name (settings.clip_model, e.g. "ViT-B-32").
    weights: local checkpoint path; None or missing raises ConceptsUnavailable.
    allow_random_weights: with weights None, build random-init weights (tests only).
    batch_size: frames embedded per forward pass.
    """

    def __init__(
        self,
        model: str,
        weights: Path | None,
        concepts: list[Concept],
        *,
        allow_random_weights: bool = False,
        batch_size: int = 16,
        device: str = "cpu",
    ) -> None:
        if not concepts:
            raise ConfigError("the concept screen has no concepts; keep the shipped files or add REELGATE_SAFETY__CONCEPT_FILES")
        if weights is not None and not Path(weights).is_file():
            raise ConceptsUnavailable(_weights_message(model, Path(weights)))
        if weights is None and not allow_random_weights:
            raise ConceptsUnavailable(_weights_message(model, None))

        import open_clip
        import torch

        try:
            clip, _, preprocess = open_clip.create_model_and_transforms(
                model, pretrained=str(weights) if weights is not None else None, device=device
            )
        except Exception as exc:  # noqa: BLE001 - open_clip signals a wrong file or name in many ways
            # An unknown name, a file of another architecture (state-dict mismatch) or not
            # a checkpoint at all: the settings are wrong, not the machine.
            raise ConfigError(
                f"cannot load open_clip {model} from {weights} ({type(exc).__name__}: {str(exc)[:300]}); "
                "check REELGATE_SAFETY__CLIP_MODEL and REELGATE_SAFETY__CLIP_WEIGHTS"
            ) from exc
        try:
            tokenizer = open_clip.get_tokenizer(model)
        except Exception as exc:  # noqa: BLE001
            # Multilingual architectures fetch their Hugging Face tokenizer, which needs the hub.
            raise ConceptsUnavailable(
                f"cannot build the tokenizer of open_clip {model} here ({exc}); put it in the local Hugging Face cache"
            ) from exc
        clip.eval()

        self.model_name = model
        self.concepts = list(concepts)
        self.english_only = isinstance(tokenizer, open_clip.tokenizer.SimpleTokenizer)
        self.batch_size = batch_size
        self._torch = torch
        self._model: Any = clip
        self._preprocess = preprocess
        self._device = device

        texts = [self._text_for(c) for c in self.concepts]
        with torch.inference_mode():
            emb = clip.encode_text(tokenizer(texts).to(device)).float()
        self._text = torch.nn.functional.normalize(emb, dim=-1)  # (concepts, dim)
        self.categories: list[str] = sorted({c.category for c in self.concepts})
        self._columns = {cat: [i for i, c in enumerate(self.concepts) if c.category == cat] for cat in self.categories}

    def _text_for(self, concept: Concept) -> str:
        if not self.english_only or not concept.is_chinese:
            return concept.text
        if concept.gloss is None:
            raise ConfigError(
                f"{concept.source}: Chinese concept {concept.text!r} needs an English gloss "
                f"(`{concept.category}: {concept.text}{GLOSS_SEPARATOR}<English>`) because {self.model_name}'s "
                "tokenizer is English-only; or use a multilingual model (REELGATE_SAFETY__CLIP_MODEL="
                "xlm-roberta-base-ViT-B-32 with its checkpoint)"
            )
        return concept.gloss

    def scores(self, frames: list[SampledFrame]) -> np.ndarray:
        """Cosine similarity of every frame with every concept, shape (frames, concepts), -1..1."""
        from PIL import Image

        torch = self._torch
        out = []
        with torch.inference_mode():
            for start in range(0, len(frames), self.batch_size):
                batch = torch.stack([self._preprocess(Image.fromarray(f.image)) for f in frames[start : start + self.batch_size]])
                emb = self._model.encode_image(batch.to(self._device)).float()
                out.append(torch.nn.functional.normalize(emb, dim=-1) @ self._text.T)
        if not out:
            return np.zeros((0, len(self.concepts)), np.float32)
        return torch.cat(out).cpu().numpy()

    def screen(self, frames: list[SampledFrame], policy: Policy) -> list[Finding]:
        """Findings the policy acts on: per frame and category, its best concept's similarity.

        Raises ConfigError when a concept category has no rule in the policy (it would send
        every frame to review); the message says what to add.
        """
        missing = policy.missing(self.categories)
        if missing:
            where = policy.source or "the safety policy"
            raise ConfigError(
                f"concept categories {', '.join(missing)} have no rule in {where}; add e.g. "
                f"`{missing[0]}: {{action: review, threshold: 0.25}}` (REELGATE_SAFETY__POLICY_FILE)"
            )
        sims = self.scores(frames)
        findings = []
        for row, frame in zip(sims, frames):
            for category, columns in self._columns.items():
                best = columns[int(np.argmax(row[columns]))]
                score = float(row[best])
                action = policy.decide(category, score)
                if action != Action.ALLOW:
                    label = f"{category} ({self.concepts[best].text})"
                    findings.append(Finding(time_s=frame.time_s, check="concept", label=label, score=score, action=action))
        return findings


def concept_screen_from_settings(settings: Any) -> ConceptScreen:
    """The screen described by SafetySettings: clip_model, clip_weights, shipped + concept_files."""
    return ConceptScreen(settings.clip_model, settings.clip_weights, load_concepts(settings.concept_files))
