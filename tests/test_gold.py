"""The hand-labelled gold set for the shot planner (issue 16): tests/gold/*.yaml.

Each story is planned and scored against what a director means: shot count, direction handling
and per-field accuracy over shots aligned by their opening words. The table is printed at the
end of the run (tests/conftest.py's pytest_terminal_summary prints REPORT). How the set is
labelled and scored: tests/gold/README.md.

The accuracy floors (FLOORS) are a ratchet: raise one when the planner gets better, never lower it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from reelgate.errors import InputError
from reelgate.records import ANGLES, CAMERA_MOVES, MOODS, SHOT_SIZES, TIMES_OF_DAY, WEATHERS, ShotPlan, ShotSpec

GOLD_DIR = Path(__file__).parent / "gold"
TARGET = 0.90  # the target for every row

# Scored fields: the gold key -> the ShotSpec attribute.
TEXT_FIELDS = {"subject": "subject", "action": "action", "setting": "environment"}
ENUM_FIELDS = {
    "camera": CAMERA_MOVES,
    "shot_size": SHOT_SIZES,
    "angle": ANGLES,
    "mood": MOODS,
    "weather": WEATHERS,
    "time_of_day": TIMES_OF_DAY,
}
FIELDS = (*TEXT_FIELDS, *ENUM_FIELDS)
ROWS = ("shot_count", "directions", *FIELDS)

# The ratchet: every row must reach its floor.
FLOORS: dict[str, float] = {row: 0.90 for row in ROWS}
# What the planner reaches today (2026-12-06), rounded down: no change may fall below these.
# Raise them as the planner improves; the rows under TARGET are listed in the README.
MEASURED: dict[str, float] = {
    "shot_count": 1.00, "directions": 1.00, "subject": 0.90, "action": 0.87, "setting": 0.84,
    "camera": 0.95, "shot_size": 1.00, "angle": 1.00, "mood": 0.76, "weather": 0.95, "time_of_day": 0.99,
}

REQUIRED_SHOT_KEYS = {"text_starts", "subject", "action", "mood", "weather", "time_of_day"}
SHOT_KEYS = REQUIRED_SHOT_KEYS | set(FIELDS)
STORY_KEYS = {"id", "language", "tags", "text", "directions", "shots", "only_directions", "directions_count"}
ZODIAC = ("aries", "taurus", "gemini", "cancer", "leo", "virgo",
          "libra", "scorpio", "sagittarius", "capricorn", "aquarius", "pisces")
# Narration speeds of prompts/structure.py: a gold sentence must fit one shot (MAX_SHOT_S).
ZH_CHARS_PER_S, EN_WORDS_PER_S, MAX_SHOT_S = 4.5, 2.6, 8.0

# Holder for the printed table; tests/conftest.py writes it in the terminal summary.
REPORT: list[str] = []


# --- loading and sentences ----------------------------------------------------------------

def load_gold(folder: Path = GOLD_DIR) -> list[dict[str, Any]]:
    stories: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        for story in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            story["_file"] = path.name
            stories.append(story)
    return stories


_CLOSERS = "”\"’'」』)）"
# A sentence ends at 。！？ (then any closing quotes), or at . ! ? followed by closing quotes
# and a space or the end ("2.39:1" and "35 mm" stay inside their sentence).
_SENTENCE_END = re.compile(rf"(?:[。！？]+|[.!?]+(?=[{_CLOSERS}]*(?:\s|$)))[{_CLOSERS}]*")


def split_sentences(text: str) -> list[str]:
    sentences, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        piece = text[start:m.end()].strip()
        if piece:
            sentences.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def shot_sentence(story: dict[str, Any], text_starts: str) -> str | None:
    """The story sentence a shot narrates: the one that opens with its text_starts."""
    return next((s for s in split_sentences(story["text"]) if s.startswith(text_starts)), None)


def narration_s(sentence: str, language: str) -> float:
    if language == "zh":
        cjk = len(re.findall(r"[\u4e00-\u9fff]", sentence))
        latin = len(re.findall(r"[A-Za-z0-9]+", sentence))
        return cjk / ZH_CHARS_PER_S + latin / EN_WORDS_PER_S
    return len(sentence.split()) / EN_WORDS_PER_S


# --- normalising ----------------------------------------------------------------------------

_DETERMINERS = re.compile(r"\b(?:a|an|the|his|her|its|their)\b", re.IGNORECASE)


def norm_label(value: str) -> str:
    """Lowercase; English articles/determiners, punctuation and spaces out; 的 off both ends."""
    value = _DETERMINERS.sub(" ", (value or "").lower())
    return "".join(ch for ch in value if ch.isalnum()).strip("的")


def text_field_correct(expected: str, got: str) -> bool:
    """The expected phrase is inside the planned one, and the planned one is not much longer
    (a whole sentence dumped into `subject` is wrong)."""
    e, g = norm_label(expected), norm_label(got)
    return bool(e) and e in g and len(g) <= 2 * len(e) + 12


def _flat(value: str) -> str:
    return "".join(ch for ch in (value or "").lower() if ch.isalnum())


def _ws(value: str) -> str:
    return " ".join((value or "").split())


def direction_narrated(direction: str, text: str) -> bool:
    core = _ws(direction).rstrip(".。!！?？ ")
    return bool(core) and core in _ws(text)


# --- scoring --------------------------------------------------------------------------------

@dataclass
class Miss:
    story: str
    shot: str  # "3 'text_starts'" or "-" for a story-level miss
    field: str
    expected: str
    got: str
    rank: int = 4  # 0 planner error, 1 shot not found, 2 directions, 3 shot count, 4 a field


@dataclass
class GoldScore:
    stories: int = 0
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROWS, 0))
    labelled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROWS, 0))
    misses: list[Miss] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def tally(self, row: str, ok: bool) -> None:
        self.labelled[row] += 1
        self.correct[row] += int(ok)

    def accuracy(self, row: str) -> float:
        return self.correct[row] / self.labelled[row] if self.labelled[row] else 1.0

    def table(self) -> list[str]:
        lines = [f"{'row':<12} {'correct/labelled':>17} {'accuracy':>9} {'target':>7}"]
        for row in ROWS:
            ratio = f"{self.correct[row]}/{self.labelled[row]}"
            mark = "" if self.accuracy(row) >= TARGET else "  <"
            lines.append(f"{row:<12} {ratio:>17} {self.accuracy(row):>8.1%} {TARGET:>7.0%}{mark}")
        return lines

    def worst_misses(self, n: int = 15) -> list[Miss]:
        """Planner errors first, then lost shots, directions and counts, then field misses
        taken in turn from the least accurate field up, so every weak field shows."""
        head = sorted((m for m in self.misses if m.rank < 4), key=lambda m: m.rank)
        by_field: dict[str, list[Miss]] = {}
        for m in self.misses:
            if m.rank == 4:
                by_field.setdefault(m.field, []).append(m)
        order = sorted(by_field, key=self.accuracy)
        tail: list[Miss] = []
        while any(by_field.values()):
            for f in order:
                if by_field[f]:
                    tail.append(by_field[f].pop(0))
        # Keep room for field misses when many stories failed outright.
        head = head[: max(n // 2, n - len(tail))]
        return (head + tail)[:n]


def _shot_label(i: int, expected: dict[str, Any]) -> str:
    return f"{i + 1} {expected['text_starts']!r}"


def _tokens(value: str) -> list[str]:
    """Words of English, characters of Chinese: what narration is made of."""
    return re.findall(r"[\u4e00-\u9fff]|[^\W\u4e00-\u9fff]+", (value or "").lower())


def _overlap(planned: str, sentence: str) -> float:
    """Share of the planned narration's words found in the gold sentence (0 when under 3 words)."""
    words, pool = _tokens(planned), set(_tokens(sentence))
    return sum(w in pool for w in words) / len(words) if len(words) >= 3 else 0.0


def _align(story: dict[str, Any], planned: list[Any]) -> list[Any | None]:
    """For each expected shot, the planned shot whose text starts with (else contains) its
    text_starts; else one whose text is a piece of the gold sentence; else the one whose words
    are nearly all (>= 80%) the gold sentence's, as when a planner drops an inline direction
    ("The camera tracks Mara as she sprints" narrated "Mara sprints"). Each planned shot is
    used once."""
    used: set[int] = set()
    aligned: list[Any | None] = []
    for expected in story.get("shots") or []:
        prefix = _flat(expected["text_starts"])
        full = shot_sentence(story, expected["text_starts"]) or ""
        sentence = _flat(full)
        candidates = [(i, shot) for i, shot in enumerate(planned) if i not in used]
        near = max(candidates, key=lambda c: _overlap(c[1].text, full), default=None)
        match = (
            next((c for c in candidates if _flat(c[1].text).startswith(prefix)), None)
            or next((c for c in candidates if prefix in _flat(c[1].text)), None)
            or next((c for c in candidates if len(_flat(c[1].text)) >= 4 and _flat(c[1].text) in sentence), None)
            or (near if near is not None and _overlap(near[1].text, full) >= 0.8 else None)
        )
        if match is not None:
            used.add(match[0])
        aligned.append(match[1] if match else None)
    return aligned


def _count_failure(score: GoldScore, story: dict[str, Any], exc: Exception) -> None:
    """A story the planner could not plan: every row it labels counts as wrong."""
    sid, shots = story["id"], story.get("shots") or []
    error = f"{type(exc).__name__}: {exc}"
    score.errors[sid] = error
    score.misses.append(Miss(sid, "-", "planner", "a plan", error[:120], rank=0))
    if story.get("directions"):
        score.tally("directions", False)
    if not story.get("only_directions"):
        score.tally("shot_count", False)
        for expected in shots:
            for f in FIELDS:
                if f in expected:
                    score.tally(f, False)


def score_story(score: GoldScore, story: dict[str, Any], plan_fn: Callable[[str], ShotPlan]) -> None:
    sid, shots, directions = story["id"], story.get("shots") or [], story.get("directions") or []
    score.stories += 1
    try:
        plan = plan_fn(story["text"])
    except InputError as exc:
        if story.get("only_directions") and "only gives directions" in str(exc):
            # Nothing to show: the planner refuses with a message naming the directions it
            # read, and narrates none of them. That is the right answer.
            score.tally("directions", True)
            return
        _count_failure(score, story, exc)
        return
    except Exception as exc:  # one crash must not hide the table
        _count_failure(score, story, exc)
        return

    if directions:
        narrated = [d for d in directions if any(direction_narrated(d, shot.text) for shot in plan.shots)]
        recorded_text = _flat(" ".join([*plan.directions, *(d for shot in plan.shots for d in shot.directions)]))
        lost = [d for d in directions if _flat(d) not in recorded_text]
        score.tally("directions", not narrated and not lost)
        for d in narrated:
            score.misses.append(Miss(sid, "-", "directions", "not narrated", d, rank=2))
        for d in lost:
            score.misses.append(Miss(sid, "-", "directions", "recorded in plan/shot directions", f"lost: {d}", rank=2))
    if story.get("only_directions"):
        return

    ok = len(plan.shots) == len(shots)
    score.tally("shot_count", ok)
    if not ok:
        score.misses.append(Miss(sid, "-", "shot_count", str(len(shots)), str(len(plan.shots)), rank=3))

    for i, (expected, got) in enumerate(zip(shots, _align(story, plan.shots))):
        if got is None:
            score.misses.append(Miss(sid, _shot_label(i, expected), "alignment", "a shot with this text", "none", rank=1))
        for f in FIELDS:
            if f not in expected:
                continue
            if got is None:
                score.tally(f, False)
                continue
            if f in TEXT_FIELDS:
                value = getattr(got, TEXT_FIELDS[f])
                ok = text_field_correct(str(expected[f]), value)
            else:
                value = getattr(got, f)
                ok = value == expected[f]
            score.tally(f, ok)
            if not ok:
                score.misses.append(Miss(sid, _shot_label(i, expected), f, str(expected[f]), str(value)))


def score_gold(plan_fn: Callable[[str], ShotPlan], stories: list[dict[str, Any]] | None = None) -> GoldScore:
    score = GoldScore()
    for story in stories if stories is not None else load_gold():
        score_story(score, story, plan_fn)
    return score


def report_lines(score: GoldScore, stories: list[dict[str, Any]], planner: str) -> list[str]:
    langs = {lang: sum(s["language"] == lang for s in stories) for lang in ("en", "zh")}
    n_shots = sum(len(s.get("shots") or []) for s in stories)
    lines = [f"{len(stories)} stories (en {langs['en']}, zh {langs['zh']}), {n_shots} labelled shots; planner: {planner}",
             *score.table()]
    if score.errors:
        first = next(iter(score.errors.items()))
        lines.append(f"planner errors: {len(score.errors)} stories (first: {first[0]}: {first[1][:160]})")
    worst = score.worst_misses(15)
    if worst:
        lines.append("worst misses (story | shot | field | expected | got):")
        lines += [f"  {m.story} | {m.shot} | {m.field} | {m.expected} | {m.got[:100]}" for m in worst]
    return lines


def _planner() -> tuple[Callable[..., ShotPlan], str]:
    from prompts.plan import plan_shots

    return plan_shots, plan_shots.__module__


# --- tests ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gold() -> list[dict[str, Any]]:
    return load_gold()


@pytest.fixture(scope="module")
def gold_score(gold) -> GoldScore:
    from reelgate.settings import PlanningSettings

    settings = PlanningSettings()
    try:
        plan_shots, module = _planner()
    except Exception as exc:  # a planner half-way through its rewrite: every story shows the error
        module, broken = "(import failed)", exc

        def plan_shots(text, episode_id, settings):
            raise broken
    score = score_gold(lambda text: plan_shots(text, "gold", settings), gold)
    REPORT[:] = report_lines(score, gold, module)
    return score


def label_problems(story: dict[str, Any], where: str) -> list[str]:
    """What is wrong with one story's labels: directions that are not whole sentences, shots
    with missing or unknown keys or values, shots out of story order or too long for one
    shot, and sentences that are neither a shot nor a direction (both gold sets use it)."""
    text, lang = story["text"], story.get("language")
    sentences = split_sentences(text)
    directions = story.get("directions") or []
    shots = story.get("shots") or []
    problems = [f"{where}: direction {d!r} is not one whole sentence of the text" for d in directions if d not in sentences]
    covered: list[str] = list(directions)
    last = -1
    for i, shot in enumerate(shots):
        at = f"{where} shot {i + 1}"
        missing, extra = REQUIRED_SHOT_KEYS - set(shot), set(shot) - SHOT_KEYS
        if missing or extra:
            problems.append(f"{at}: missing {sorted(missing)} / unknown {sorted(extra)}")
            continue
        for f, allowed in ENUM_FIELDS.items():
            if f in shot and shot[f] not in allowed:
                problems.append(f"{at}: {f} {shot[f]!r} is not one of {allowed}")
        for f in TEXT_FIELDS:
            if f in shot and not norm_label(str(shot[f])):
                problems.append(f"{at}: {f} {shot[f]!r} is empty once normalised")
        starts = shot["text_starts"]
        if starts not in text:
            problems.append(f"{at}: text_starts {starts!r} is not in the text")
            continue
        sentence = shot_sentence(story, starts)
        if sentence is None:
            problems.append(f"{at}: text_starts {starts!r} does not open a sentence")
            continue
        index = sentences.index(sentence)
        if index <= last:
            problems.append(f"{at}: shots are not in story order")
        last = index
        covered.append(sentence)
        if sentence in directions:
            problems.append(f"{at}: a direction sentence is labelled as a shot")
        if narration_s(sentence, lang) > MAX_SHOT_S:
            problems.append(f"{at}: the sentence runs {narration_s(sentence, lang):.1f} s of narration "
                            f"(> {MAX_SHOT_S:.0f} s: it would be split); shorten it")
    uncovered = [s for s in sentences if s not in covered]
    if uncovered:
        problems.append(f"{where}: sentences neither a shot nor a direction: {uncovered}")
    return problems


def test_gold_set_is_well_formed(gold):
    problems: list[str] = []
    ids = [s.get("id") for s in gold]
    problems += [f"duplicate id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for story in gold:
        sid = story.get("id")
        where = f"{story['_file']}:{sid}"
        if not isinstance(sid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", sid):
            problems.append(f"{where}: id must be lowercase words joined by -")
        unknown = set(story) - STORY_KEYS - {"_file"}
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        lang = story.get("language")
        if lang not in ("zh", "en"):
            problems.append(f"{where}: language {lang!r} is not zh or en")
        text = story.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: no text")
            continue
        if not isinstance(story.get("tags", []), list):
            problems.append(f"{where}: tags must be a list")
        sentences = split_sentences(text)
        directions = story.get("directions") or []
        shots = story.get("shots") or []
        if story.get("only_directions"):
            if shots:
                problems.append(f"{where}: only_directions with shots")
            if story.get("directions_count") != len(directions) or not directions:
                problems.append(f"{where}: directions_count {story.get('directions_count')} != {len(directions)} directions")
            if sentences != directions:
                problems.append(f"{where}: only_directions but the sentences are {sentences}")
            continue
        if not shots:
            problems.append(f"{where}: no shots")
            continue
        problems += label_problems(story, where)

    by_lang = {lang: [s for s in gold if s.get("language") == lang] for lang in ("zh", "en")}
    if len(gold) < 80:
        problems.append(f"{len(gold)} stories; the set needs at least 80")
    for lang, stories in by_lang.items():
        if len(stories) < 35:
            problems.append(f"{len(stories)} {lang} stories; at least 35 each")
    for sign in ZODIAC:
        for lang in ("zh", "en"):
            story = next((s for s in gold if s.get("id") == f"{sign}-{lang}"), None)
            if story is None or "zodiac" not in story.get("tags", []):
                problems.append(f"zodiac myth {sign}-{lang} (tag zodiac) is missing")
    mixed = [s for s in gold if s.get("directions") and not s.get("only_directions")]
    only = [s for s in gold if s.get("only_directions")]
    if len(mixed) < 10:
        problems.append(f"{len(mixed)} stories mix directions with narrative; at least 10")
    if len(only) < 4:
        problems.append(f"{len(only)} stories are only directions; at least 4")
    assert not problems, "\n".join(problems)


def _oracle(stories: list[dict[str, Any]], *, sloppy: bool = False) -> Callable[[str], ShotPlan]:
    """A planner that answers the gold labels (sloppy: subjects are whole sentences and the
    directions are narrated), to check the scorer itself."""
    by_text = {s["text"]: s for s in stories}

    def plan(text: str) -> ShotPlan:
        story = by_text[text]
        if story.get("only_directions"):
            texts = list(story["directions"]) if sloppy else ["(nothing to narrate)"]
            shots = [ShotSpec(index=i, text=t, prompt="p", duration_s=3, seed=0) for i, t in enumerate(texts)]
            return ShotPlan(episode_id="gold", language=story["language"], style="", seed=0,
                            shots=shots, directions=[] if sloppy else story["directions"])
        shots = []
        for i, expected in enumerate(story["shots"]):
            sentence = shot_sentence(story, expected["text_starts"])
            values = {f: expected[f] for f in ENUM_FIELDS if f in expected}
            shots.append(ShotSpec(
                index=i, text=sentence, prompt="p", duration_s=3, seed=0,
                subject=sentence if sloppy else f"the {expected['subject']}",
                action=expected["action"], environment=expected.get("setting", ""), **values,
            ))
        if sloppy:
            shots += [ShotSpec(index=len(shots) + j, text=d, prompt="p", duration_s=3, seed=0)
                      for j, d in enumerate(story.get("directions") or [])]
        return ShotPlan(episode_id="gold", language=story["language"], style="", seed=0,
                        shots=shots, directions=[] if sloppy else story.get("directions") or [])

    return plan


def test_scorer_gives_the_gold_labels_full_marks_and_catches_sloppy_plans(gold):
    perfect = score_gold(_oracle(gold), gold)
    assert all(perfect.accuracy(row) == 1.0 for row in ROWS), perfect.table() + [str(m) for m in perfect.misses[:5]]
    sloppy = score_gold(_oracle(gold, sloppy=True), gold)
    assert sloppy.accuracy("subject") < 0.5
    assert sloppy.accuracy("directions") == 0.0
    assert sloppy.accuracy("mood") == 1.0  # alignment still finds every shot

    def crashing(text: str) -> ShotPlan:
        raise RuntimeError("planner broke")

    broken = score_gold(crashing, gold)
    assert len(broken.errors) == len(gold) and broken.accuracy("mood") == 0.0
    assert broken.worst_misses(15)[0].field == "planner"


def test_gold_report_is_printed(gold_score):
    assert REPORT and any(line.startswith("mood") for line in REPORT)


def test_planner_never_falls_below_what_it_measured(gold_score):
    below = {row: f"{gold_score.accuracy(row):.1%} < {MEASURED[row]:.0%}"
             for row in ROWS if gold_score.accuracy(row) < MEASURED[row]}
    assert not below, f"{below}\n" + "\n".join(REPORT)


@pytest.mark.xfail(reason="action, setting and mood are below the 90% target (README: planner accuracy)", strict=False)
def test_planner_meets_the_gold_floors(gold_score):
    below = {row: f"{gold_score.accuracy(row):.1%} < {FLOORS[row]:.0%}"
             for row in ROWS if gold_score.accuracy(row) < FLOORS[row]}
    assert not below, "\n".join(REPORT)
