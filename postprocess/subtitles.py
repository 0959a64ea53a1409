"""Subtitles that read well in Chinese and English, timed to the measured narration.

Peers split captions on spaces, so a Chinese paragraph (which has none) comes out as one
screen-filling cue. Here text is cut into unbreakable *atoms* first (a CJK character with
its punctuation glued on, or a Latin word), then into sentences, then clauses, then lines
of at most `max_chars`, so Chinese wraps anywhere except before closing punctuation, and
English wraps only between words. Each cue is then spoken on its own (see
`postprocess.tts.narrate_segments`), so cue times are the MEASURED times of its audio.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from postprocess.timeline import Slot, SpokenSegment
from reelgate.errors import InputError
from reelgate.files import write_text
from reelgate.settings import PostSettings

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
# A cue shorter than this is hard to read: it is held on screen into the pause after it.
MIN_CUE_S = 0.8
# The last cue of a shot may be held this long past its voice (less than the timeline's tail).
_HOLD_AFTER_VOICE_S = 0.3


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


def max_chars_per_line(width: int, font_size: int, language: str, side_margin: float = (1 - SAFE_WIDTH) / 2) -> int:
    """How many characters fit on one line: CJK glyphs ~1 em, Latin ~0.55 em.

    side_margin: the gap kept on each side, as a fraction of the width
    (PostSettings.subtitle_margin_side); the default keeps lines inside 90% of the frame.
    """
    if width <= 0 or font_size <= 0:
        raise InputError(f"width and font size must be positive, got {width} and {font_size}")
    if not 0 <= side_margin < 0.5:
        raise InputError(f"side margin must be a fraction of the width in [0, 0.5), got {side_margin}")
    em = CJK_EM if _is_cjk(language) else LATIN_EM
    return max(4, int((1 - 2 * side_margin) * width / (em * font_size)))


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


def _wrap(atoms: list[str], language: str, max_chars: int, max_lines: int = 2) -> list[str] | None:
    """One or two (at most `max_lines`) balanced lines of at most max_chars each, or None."""
    cjk = _is_cjk(language)

    def shown_width(line: str, last: bool) -> float:
        # what will be on screen: Chinese drops commas at every line end, English at the cue end
        return _width(_strip_end(line, language) if cjk or last else line, language)

    whole = _join(atoms)
    if shown_width(whole, last=True) <= max_chars:
        return [whole]
    if max_lines < 2:
        return None
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


def _pack(units: list[list[str]], language: str, max_chars: int, max_lines: int) -> list[list[str]]:
    """Greedily join units (lists of atoms) into cues that still wrap into two lines."""
    out: list[list[str]] = []
    cur: list[str] = []
    for unit in units:
        trial = cur + ([_SPACE] if cur and unit and not _is_cjk(language) else []) + unit
        if _wrap(trial, language, max_chars, max_lines) is not None:
            cur = trial
            continue
        if cur:
            out.append(cur)
        cur = unit
        if _wrap(cur, language, max_chars, max_lines) is None:
            pieces = _split_long(cur, language, max_chars, max_lines)
            out.extend(pieces[:-1])
            cur = pieces[-1]
    if cur:
        out.append(cur)
    return out


def _split_long(atoms: list[str], language: str, max_chars: int, max_lines: int) -> list[list[str]]:
    """Split one over-long clause into roughly equal pieces that each wrap into `max_lines` lines."""
    cjk = _is_cjk(language)

    def greedy(cap: float) -> list[list[str]]:
        pieces: list[list[str]] = []
        cur: list[str] = []
        for a in atoms:
            if a == _SPACE and not cur:
                continue
            trial = cur + [a]
            too_long = _width(_join(trial), language) > cap or _wrap(trial, language, max_chars, max_lines) is None
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


@dataclass
class Segment:
    """One cue's worth of narration: what is shown and what is spoken."""

    display: str  # at most `max_lines` lines joined by a newline; line-end commas dropped
    spoken: str  # the same words with their punctuation, for the voice's intonation


def split_segments(text: str, language: str, max_chars: int, max_lines: int = 2) -> list[Segment]:
    """Cut narration into cue-sized segments (see `segment_text`), keeping the spoken text."""
    if max_chars < 2:
        raise InputError(f"max_chars must be at least 2, got {max_chars}")
    if max_lines not in (1, 2):
        raise InputError(f"max_lines must be 1 or 2, got {max_lines}")
    atoms = _hard_split(_atoms(text), language, max_chars)
    out: list[Segment] = []
    for sentence in _split_after(atoms, _ends_sentence):
        if _wrap(sentence, language, max_chars, max_lines) is not None:
            groups = [sentence]
        else:
            groups = _pack(_split_after(sentence, _ends_clause), language, max_chars, max_lines)
        for group in groups:
            lines = _wrap(group, language, max_chars, max_lines) or [_join(group)]
            if _is_cjk(language):
                # Chinese subtitles drop commas and full stops at every line end
                lines = [_strip_end(line, language) for line in lines]
            else:
                lines[-1] = _strip_end(lines[-1], language)
            out.append(Segment(display="\n".join(lines), spoken=_join(group)))
    return out


def segment_text(text: str, language: str, max_chars: int, max_lines: int = 2) -> list[str]:
    """Cut narration into cue texts of at most `max_lines` (1 or 2) lines of `max_chars` each.

    Splits on sentence punctuation first, then on clause punctuation (，、；：,;:); Chinese
    may wrap between any two characters but never before closing punctuation, English
    wraps between words. Trailing commas (and Chinese full stops) are dropped; ？！ stay.
    """
    return [s.display for s in split_segments(text, language, max_chars, max_lines)]


# --- timing ----------------------------------------------------------------------------


def cues_from_segments(
    segments: list[SpokenSegment], voice_start_s: float, min_cue_s: float = MIN_CUE_S
) -> list[Cue]:
    """Cues for one narration clip from its MEASURED spoken segments.

    Each cue starts when its segment's speech starts (`voice_start_s` + offset) and ends
    when it ends; a cue shorter than `min_cue_s` is held into the pause after it (never
    past the next segment's start, and at most 0.3 s past the clip's last word).
    """
    cues: list[Cue] = []
    for i, seg in enumerate(segments):
        start = voice_start_s + seg.offset_s
        end = voice_start_s + seg.end_s
        if end - start < min_cue_s:
            limit = (voice_start_s + segments[i + 1].offset_s if i + 1 < len(segments)
                     else end + _HOLD_AFTER_VOICE_S)
            end = max(end, min(start + min_cue_s, limit))
        if seg.text.strip() and end > start:
            cues.append(Cue(start=round(start, 3), end=round(end, 3), text=seg.text))
    return cues


def episode_cues(slots: list[Slot], segments_per_shot: list[list[SpokenSegment]], video_s: float) -> list[Cue]:
    """All cues of an episode, placed by the timeline and clamped inside the video.

    segments_per_shot: each shot's `NarrationPiece.segments`, in slot order ([] for none).
    """
    if len(slots) != len(segments_per_shot):
        raise InputError(
            f"need one list of spoken segments per shot: got {len(segments_per_shot)} for {len(slots)} shots"
        )
    cues = [c for slot, segs in zip(slots, segments_per_shot) for c in cues_from_segments(segs, slot.voice_start_s)]
    return clamp_cues(cues, video_s)


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


@dataclass
class SubtitleStyle:
    """How burned-in subtitles look; sizes are fractions so one style fits every frame size."""

    color: str = "#FFFFFF"  # #RRGGBB or #RRGGBBAA (AA: opacity)
    outline_color: str = "#000000"
    outline: float = 0.08  # outline width, fraction of the font size
    shadow_color: str = "#00000080"
    shadow: float = 0.04  # shadow offset, fraction of the font size
    margin_bottom: float = 0.08  # fraction of the frame height
    margin_side: float = 0.06  # fraction of the frame width

    @classmethod
    def from_settings(cls, settings: PostSettings) -> "SubtitleStyle":
        return cls(
            color=settings.subtitle_color,
            outline_color=settings.subtitle_outline_color,
            outline=settings.subtitle_outline,
            shadow_color=settings.subtitle_shadow_color,
            shadow=settings.subtitle_shadow,
            margin_bottom=settings.subtitle_margin_bottom,
            margin_side=settings.subtitle_margin_side,
        )


def ass_colour(colour: str) -> str:
    """'#RRGGBB[AA]' (AA = opacity) as ASS '&HAABBGGRR' (ASS alpha: 00 = opaque)."""
    m = re.fullmatch(r"#([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})?", colour)
    if m is None:
        raise InputError(f"colour {colour!r} is not #RRGGBB or #RRGGBBAA (set post.subtitle_*color)")
    r, g, b, a = m.groups()
    alpha = 255 - int(a or "FF", 16)
    return f"&H{alpha:02X}{b}{g}{r}".upper()


def write_ass(
    cues: list[Cue],
    path: Path,
    *,
    width: int,
    height: int,
    font_family: str,
    font_size: int,
    style: SubtitleStyle | None = None,
    margin_v: int | None = None,
) -> Path:
    """Write cues as an ASS file for burning in, bottom centre.

    PlayRes = the video size, so sizes are pixels. style: colours, outline, shadow and safe
    margins (default `SubtitleStyle()`, the PostSettings defaults). margin_v: bottom margin
    in pixels, overriding style.margin_bottom (kept for older callers).
    """
    style = style or SubtitleStyle()
    family = font_family.replace(",", " ")
    outline = round(font_size * style.outline, 1)
    shadow = round(font_size * style.shadow, 1)
    side = round(width * style.margin_side)
    bottom = margin_v if margin_v is not None else round(height * style.margin_bottom)
    colours = ",".join(ass_colour(c) for c in (style.color, "#FF0000", style.outline_color, style.shadow_color))
    header = (
        "[Script Info]\nScriptType: v4.00+\n"
        f"PlayResX: {width}\nPlayResY: {height}\nWrapStyle: 0\nScaledBorderAndShadow: yes\n\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
        "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Default,{family},{font_size},{colours},"
        f"0,0,0,0,100,100,0,0,1,{outline},{shadow},2,{side},{side},{bottom},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    events = "".join(
        f"Dialogue: 0,{_ass_time(c.start)},{_ass_time(c.end)},Default,,0,0,0,,{_ass_text(c.text)}\n" for c in cues
    )
    return write_text(Path(path), header + events)
