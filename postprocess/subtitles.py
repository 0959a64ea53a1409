"""Subtitles that read well in Chinese and English, timed to the measured narration.

Peers split captions on spaces, so a Chinese paragraph (which has none) comes out as one
screen-filling cue. Here text is cut into unbreakable *atoms* first (a CJK character with
its punctuation glued on, or a Latin word), then into sentences, then clauses, then lines
of at most `max_chars`, so Chinese wraps anywhere except before closing punctuation, and
English wraps only between words. Cue times split the narration's MEASURED length in
proportion to how long each piece takes to say.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reelgate.errors import InputError
from reelgate.files import write_text

# Punctuation that may not start a line (it sticks to the character before it).
CLOSING = set("，。！？、；：）」』”’》〉】〕］｝…～·,.!?;:)]}%\"'")
# Punctuation that may not end a line (it sticks to the character after it).
OPENING = set("（「『“‘《〈【〔［｛([{")
SENTENCE_END = set("。！？!?…")
CLAUSE_END = set("，、；：,;:")
# Stripped from the end of a cue line: a trailing comma on screen is noise. ？！ stay.
_STRIP_END = {"zh": "，、；：,;:。", "en": "，、；：,;:"}
_ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "e.g.", "i.e.", "etc.", "no."}

CJK_EM = 1.0  # a CJK glyph is about one em wide
LATIN_EM = 0.55  # an average Latin glyph (proportional font) is about 0.55 em wide
SAFE_WIDTH = 0.9  # keep lines inside 90% of the frame width


@dataclass
class Cue:
    """One subtitle on screen from `start` to `end` seconds; `text` has at most one newline."""

    start: float
    end: float
    text: str


def _is_cjk(language: str) -> bool:
    return language.lower().startswith(("zh", "ja", "ko", "cmn", "yue"))


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def max_chars_per_line(width: int, font_size: int, language: str) -> int:
    """How many characters fit on one line: CJK glyphs ~1 em, Latin ~0.55 em, 90% safe width."""
    if width <= 0 or font_size <= 0:
        raise InputError(f"width and font size must be positive, got {width} and {font_size}")
    em = CJK_EM if _is_cjk(language) else LATIN_EM
    return max(4, int(SAFE_WIDTH * width / (em * font_size)))


def subtitle_font_size(height: int, font_size: int = 0) -> int:
    """Subtitle size in pixels: `font_size` if set (PostSettings.font_size), else height/18."""
    return font_size if font_size > 0 else max(8, round(height / 18))


def _width(text: str, language: str) -> float:
    """Width of `text` in units of one 'character' of `language` (what max_chars counts)."""
    unit = CJK_EM if _is_cjk(language) else LATIN_EM
    return round(sum((CJK_EM if _is_wide(ch) else LATIN_EM) for ch in text) / unit, 6)


# --- atoms -----------------------------------------------------------------------------

_SPACE = " "


def _atoms(text: str) -> list[str]:
    """Cut text into unbreakable pieces; `_SPACE` atoms mark where a space was."""
    atoms: list[str] = []
    prefix = ""  # opening punctuation waiting for the next atom
    word = ""  # Latin word being collected

    def flush_word() -> None:
        nonlocal word
        if word:
            atoms.append(word)
            word = ""

    quote_open = False  # ASCII '"' is both opening and closing: alternate

    for ch in text:
        if ch == '"':
            if quote_open and (word or (atoms and atoms[-1] != _SPACE)):
                if word:
                    word += ch
                else:
                    atoms[-1] += ch
            else:
                flush_word()
                prefix += ch
            quote_open = not quote_open
        elif ch.isspace():
            flush_word()
            if prefix:
                atoms.append(prefix)
                prefix = ""
            if atoms and atoms[-1] != _SPACE:
                atoms.append(_SPACE)
        elif word and not _is_wide(ch):
            word += ch  # brackets, quotes and stops inside a Latin word stay in it
        elif ch in CLOSING and (word or (atoms and atoms[-1] != _SPACE)) and not (ch == "'" and prefix):
            if word:
                word += ch
            else:
                atoms[-1] += ch
        elif ch in OPENING or ch == "'":
            flush_word()
            prefix += ch
        elif _is_wide(ch):
            flush_word()
            atoms.append(prefix + ch)
            prefix = ""
        else:
            word = prefix + ch
            prefix = ""
    flush_word()
    if prefix:
        if atoms and atoms[-1] != _SPACE:
            atoms[-1] += prefix
        else:
            atoms.append(prefix)
    while atoms and atoms[-1] == _SPACE:
        atoms.pop()
    while atoms and atoms[0] == _SPACE:
        atoms.pop(0)
    return atoms


def _hard_split(atoms: list[str], language: str, max_chars: int) -> list[str]:
    """Cut any single word wider than a line (a long URL, say) into line-sized pieces.

    Closing punctuation stays glued to the last piece, even if that overflows the line.
    """
    out: list[str] = []
    for a in atoms:
        body = a.rstrip("".join(CLOSING))
        tail = a[len(body) :]
        while a != _SPACE and _width(body, language) > max_chars:
            k = max_chars
            while k > 1 and _width(body[:k], language) > max_chars:
                k -= 1
            out.append(body[:k])
            body = body[k:]
        if a == _SPACE or body or tail:
            out.append(a if a == _SPACE else body + tail)
    return out


def _core(atom: str) -> str:
    """The atom without trailing closing quotes/brackets, to see its real last mark."""
    return atom.rstrip("）」』”’》〉】〕］｝)]}\"'")


def _ends_sentence(atom: str) -> bool:
    core = _core(atom)
    if not core or core[-1] not in SENTENCE_END and core[-1] != ".":
        return False
    if core[-1] == ".":
        # English full stop; not after an abbreviation or inside a number like 3.5
        return core.lower() not in _ABBREVIATIONS and not re.search(r"\d\.\d", core)
    return True


def _ends_clause(atom: str) -> bool:
    core = _core(atom)
    return bool(core) and core[-1] in CLAUSE_END


def _split_after(atoms: list[str], test: Callable[[str], bool]) -> list[list[str]]:
    """Groups of atoms, each ending at an atom for which `test` is true."""
    groups: list[list[str]] = []
    cur: list[str] = []
    for a in atoms:
        if a == _SPACE and not cur:
            continue
        cur.append(a)
        if a != _SPACE and test(a):
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)
    for g in groups:
        while g and g[-1] == _SPACE:
            g.pop()
    return [g for g in groups if g]


# --- wrapping --------------------------------------------------------------------------


def _join(atoms: list[str]) -> str:
    return "".join(atoms).strip()


def _break_points(atoms: list[str], cjk: bool) -> list[int]:
    """Indices k where a line may end before atoms[k]."""
    points = []
    for k in range(1, len(atoms)):
        if atoms[k] == _SPACE or atoms[k - 1] == _SPACE:
            points.append(k)
        elif cjk or _is_wide(atoms[k][0]) or _is_wide(atoms[k - 1][-1]):
            points.append(k)
    return points


def _wrap(atoms: list[str], language: str, max_chars: int) -> list[str] | None:
    """One or two balanced lines of at most max_chars each, or None if they do not fit."""
    cjk = _is_cjk(language)

    def shown_width(line: str, last: bool) -> float:
        # what will be on screen: Chinese drops commas at every line end, English at the cue end
        return _width(_strip_end(line, language) if cjk or last else line, language)

    whole = _join(atoms)
    if shown_width(whole, last=True) <= max_chars:
        return [whole]
    best: tuple[float, list[str]] | None = None
    for k in _break_points(atoms, cjk):
        first, second = _join(atoms[:k]), _join(atoms[k:])
        if not first or not second:
            continue
        w1, w2 = shown_width(first, last=False), shown_width(second, last=True)
        if w1 > max_chars or w2 > max_chars:
            continue
        # balanced lines, but a break after a comma reads better than one mid-phrase
        score = max(w1, w2) - (max_chars * 0.3 if _ends_clause(atoms[k - 1]) else 0.0)
        if best is None or score < best[0]:
            best = (score, [first, second])
    return best[1] if best else None


def _pack(units: list[list[str]], language: str, max_chars: int) -> list[list[str]]:
    """Greedily join units (lists of atoms) into cues that still wrap into two lines."""
    out: list[list[str]] = []
    cur: list[str] = []
    for unit in units:
        trial = cur + ([_SPACE] if cur and unit and not _is_cjk(language) else []) + unit
        if _wrap(trial, language, max_chars) is not None:
            cur = trial
            continue
        if cur:
            out.append(cur)
        cur = unit
        if _wrap(cur, language, max_chars) is None:
            pieces = _split_long(cur, language, max_chars)
            out.extend(pieces[:-1])
            cur = pieces[-1]
    if cur:
        out.append(cur)
    return out


def _split_long(atoms: list[str], language: str, max_chars: int) -> list[list[str]]:
    """Split one over-long clause into roughly equal pieces that each wrap into two lines."""
    cjk = _is_cjk(language)

    def greedy(cap: float) -> list[list[str]]:
        pieces: list[list[str]] = []
        cur: list[str] = []
        for a in atoms:
            if a == _SPACE and not cur:
                continue
            trial = cur + [a]
            too_long = _width(_join(trial), language) > cap or _wrap(trial, language, max_chars) is None
            if cur and a != _SPACE and too_long:
                # cut at the last place a line may break (between words for English)
                points = [k for k in _break_points(trial, cjk) if k <= len(cur)]
                k = points[-1] if points else len(cur)
                head = cur[:k]
                while head and head[-1] == _SPACE:
                    head.pop()
                tail = cur[k:]
                while tail and tail[0] == _SPACE:
                    tail.pop(0)
                pieces.append(head)
                cur = tail + [a]
            else:
                cur = trial
        if cur:
            pieces.append(cur)
        return [p for p in pieces if p]

    first = greedy(math.inf)
    if len(first) < 2:
        return first
    total = _width(_join(atoms), language)
    balanced = greedy(math.ceil(total / len(first)) + 1)
    return balanced if len(balanced) <= len(first) else first


def _strip_end(line: str, language: str) -> str:
    chars = _STRIP_END["zh" if _is_cjk(language) else "en"]
    stripped = line.rstrip().rstrip(chars).rstrip()
    return stripped or line.strip()


def _segments(text: str, language: str, max_chars: int) -> list[tuple[str, str]]:
    """(display text with at most one newline, raw text for timing) per cue."""
    if max_chars < 2:
        raise InputError(f"max_chars must be at least 2, got {max_chars}")
    atoms = _hard_split(_atoms(text), language, max_chars)
    out: list[tuple[str, str]] = []
    for sentence in _split_after(atoms, _ends_sentence):
        if _wrap(sentence, language, max_chars) is not None:
            groups = [sentence]
        else:
            groups = _pack(_split_after(sentence, _ends_clause), language, max_chars)
        for group in groups:
            lines = _wrap(group, language, max_chars) or [_join(group)]
            if _is_cjk(language):
                # Chinese subtitles drop commas and full stops at every line end
                lines = [_strip_end(line, language) for line in lines]
            else:
                lines[-1] = _strip_end(lines[-1], language)
            display = "\n".join(lines)
            out.append((display, _join(group)))
    return out


def segment_text(text: str, language: str, max_chars: int) -> list[str]:
    """Cut narration into cue texts of at most two lines of `max_chars` each.

    Splits on sentence punctuation first, then on clause punctuation (，、；：,;:); Chinese
    may wrap between any two characters but never before closing punctuation, English
    wraps between words. Trailing commas (and Chinese full stops) are dropped; ？！ stay.
    """
    return [display for display, _ in _segments(text, language, max_chars)]


# --- timing ----------------------------------------------------------------------------


def _syllables(word: str) -> float:
    word = word.lower()
    digits = sum(ch.isdigit() for ch in word)
    letters = re.sub(r"[^a-z]", "", word)
    if not letters:
        return float(max(digits, 0))
    groups = len(re.findall(r"[aeiouy]+", letters))
    if letters.endswith("e") and not letters.endswith(("le", "ee")) and groups > 1:
        groups -= 1
    return float(max(1, groups) + digits)


def spoken_length(text: str) -> float:
    """How long `text` takes to say, in syllables: 1 per CJK character, vowel groups for
    Latin words, one per digit, plus short pauses for punctuation."""
    total = 0.0
    for atom in _atoms(text):
        if atom == _SPACE:
            continue
        for ch in atom:
            if _is_wide(ch) and (ch.isalpha() or ch.isdigit()):
                total += 1.0
            elif ch in SENTENCE_END:
                total += 1.0
            elif ch in CLAUSE_END:
                total += 0.5
        latin = "".join(ch for ch in atom if not _is_wide(ch))
        if any(ch.isalnum() for ch in latin):
            total += _syllables(latin)
            if _ends_sentence(atom) and _core(atom).endswith("."):
                total += 1.0
    return max(total, 0.5)


def _allocate(weights: list[float], total: float, min_s: float) -> list[float]:
    """Split `total` in proportion to `weights`, giving each share at least `min_s` if possible."""
    n = len(weights)
    if n * min_s > total:
        min_s = 0.0
    fixed: dict[int, float] = {}
    while True:
        free = [i for i in range(n) if i not in fixed]
        left = total - sum(fixed.values())
        wsum = sum(weights[i] for i in free) or 1.0
        shares = {i: left * weights[i] / wsum for i in free}
        short = [i for i, s in shares.items() if s < min_s]
        if not short:
            break
        for i in short:
            fixed[i] = min_s
    return [fixed.get(i, shares.get(i, 0.0)) for i in range(n)]


def cues_for_voice(
    text: str, language: str, voice_start_s: float, voice_s: float, max_chars: int, min_cue_s: float = 0.8
) -> list[Cue]:
    """Cues for one narration clip, covering exactly [voice_start_s, voice_start_s + voice_s].

    The MEASURED voice length is split among the segments in proportion to how long each
    takes to say, so subtitles keep pace with the voice; cues are contiguous and each
    lasts at least `min_cue_s` where the voice is long enough for that.
    """
    if voice_s <= 0:
        return []
    segments = _segments(text, language, max_chars)
    if not segments:
        return []
    shares = _allocate([spoken_length(raw) for _, raw in segments], voice_s, min_cue_s)
    cues: list[Cue] = []
    t = voice_start_s
    end_total = round(voice_start_s + voice_s, 3)
    for (display, _), share in zip(segments, shares):
        start = round(t, 3)
        t += share
        cues.append(Cue(start=start, end=round(t, 3), text=display))
    cues[-1].end = end_total
    return cues


def clamp_cues(cues: list[Cue], video_s: float, min_s: float = 0.1) -> list[Cue]:
    """Cues in order, not overlapping, each ending before the video ends; ones that would
    be shorter than `min_s` are dropped."""
    limit = round(video_s - 0.01, 3)
    out: list[Cue] = []
    prev_end = 0.0
    for cue in sorted(cues, key=lambda c: c.start):
        start = max(cue.start, prev_end, 0.0)
        end = min(cue.end, limit)
        if end - start < min_s or not cue.text.strip():
            continue
        out.append(Cue(start=round(start, 3), end=round(end, 3), text=cue.text))
        prev_end = end
    return out


# --- files -----------------------------------------------------------------------------


def _clean(text: str) -> str:
    # a blank line would end the cue early in SRT/VTT
    return "\n".join(line for line in text.replace("\r", "").split("\n") if line.strip())


def _timestamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def write_srt(cues: list[Cue], path: Path) -> Path:
    """Write cues as an SRT file (UTF-8), atomically."""
    blocks = [
        f"{i}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n{_clean(c.text)}\n"
        for i, c in enumerate(cues, start=1)
    ]
    return write_text(Path(path), "\n".join(blocks))


def write_vtt(cues: list[Cue], path: Path) -> Path:
    """Write cues as a WebVTT file (UTF-8), atomically."""
    blocks = ["WEBVTT\n"]
    for c in cues:
        text = _clean(c.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n{text}\n")
    return write_text(Path(path), "\n".join(blocks))


def _ass_time(seconds: float) -> str:
    cs = max(0, round(seconds * 100))
    h, rem = divmod(cs, 360_000)
    m, rem = divmod(rem, 6000)
    s, cs = divmod(rem, 100)
    return f"{h:d}:{m:02d}:{s:02d}.{cs:02d}"


_RENDER_SAFE = str.maketrans({"\\": "＼", "{": "｛", "}": "｝", "<": "＜", ">": "＞"})


def render_safe(text: str) -> str:
    """Cue text with the characters renderers read as markup swapped for look-alikes.

    libass reads {...} as override tags and \\n, \\N, \\h as escapes; ffmpeg's SRT decoder
    reads <...> as tags and drops them. Use for text that is drawn or muxed, not for the
    plain SRT/VTT files.
    """
    return _clean(text).translate(_RENDER_SAFE)


def _ass_text(text: str) -> str:
    return render_safe(text).replace("\n", "\\N")


def write_ass(
    cues: list[Cue], path: Path, *, width: int, height: int, font_family: str, font_size: int, margin_v: int
) -> Path:
    """Write cues as an ASS file for burning in: PlayRes = the video size, so `font_size`
    and `margin_v` are pixels; white text, black outline, bottom centre."""
    family = font_family.replace(",", " ")
    outline = max(1.0, round(font_size * 0.08, 1))
    header = (
        "[Script Info]\nScriptType: v4.00+\n"
        f"PlayResX: {width}\nPlayResY: {height}\nWrapStyle: 0\nScaledBorderAndShadow: yes\n\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
        "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Default,{family},{font_size},&H00FFFFFF,&H000000FF,&H00000000,&H80000000,"
        f"0,0,0,0,100,100,0,0,1,{outline},1,2,{int(width * 0.05)},{int(width * 0.05)},{margin_v},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    events = "".join(
        f"Dialogue: 0,{_ass_time(c.start)},{_ass_time(c.end)},Default,,0,0,0,,{_ass_text(c.text)}\n" for c in cues
    )
    return write_text(Path(path), header + events)
