"""English: subject, action and setting of one narrated sentence, as phrases.

Words are tagged by TextBlob's Pattern lexicon tagger (prompts/segment.py). The lexicon
tags a word by its commonest use, so a verb that is mostly a noun ("leaps", "chases",
"turns") is retagged in context: after the subject's noun, before any verb.

The sentence is read left to right:
1. An opening of adverbs, prepositional phrases and "where ..." clauses sets the scene
   ("Far beyond the edge of the world, where the sea meets the sky, ..."): its place
   phrases go to the setting.
2. The subject is the noun phrase before the first verb ("a giant crab"), with "X and Y"
   kept together; "There is/are X" and an opening phrase followed by the verb
   ("Out of the reeds crawls a crab") take the noun phrase after the verb.
3. The action is the verb and what follows it, except the first place phrase after the
   verb (in, on, across, through ... with its noun phrase), which is the setting.
"""

from __future__ import annotations

import re

from prompts.keywords import inflections
from prompts.segment import en_lexicon_tag, en_tagged

_PLACE_PREPOSITIONS = set(
    """in on under at above across through beside near inside over along by into onto among around behind below
    beneath beyond toward towards past within between atop amid amidst outside upon underneath alongside against
    out""".split()
)
_NOUNISH = {"NN", "NNS", "NNP", "NNPS", "PRP", "CD"}
_NP_PARTS = {"DT", "PRP$", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "NNPS", "CD", "POS", "VBN", "VBG", "PDT"}
_VERB_TAGS = {"VB", "VBD", "VBZ", "VBP", "MD"}
_AFTER_VERB = {"IN", "DT", "RB", "TO", "PRP", "PRP$", "CC", ",", ".", "RP", "JJ", "CD"}
_PRONOUNS = {"he", "she", "it", "they", "we", "i", "you"}
_OPENERS = {"then", "suddenly", "meanwhile", "now", "soon", "later", "finally", "slowly", "quickly", "still",
            "again", "once", "far", "high", "deep", "somewhere", "here", "long", "ago", "upon", "one", "day", "time"}
# "at dawn", "by nightfall": when, not where (time_of_day has it).
_TIME_NOUNS = set("""dawn dusk night nightfall noon midnight sunset sunrise twilight daybreak morning evening afternoon
    midday daytime nighttime first light last light sundown""".split())
_BASE_VERBS = """
run fly walk swim jump dance sing play sit stand lie look watch see find meet open hold carry wait ride sail float
drift glow shine rise fall climb sleep wake smile laugh cry turn chase follow hide search reach return leave come go
rest whisper call grow bloom fade burn light write read become learn listen hear feel take give bring make build dig
paint wander gaze stare race roar shout scream blink keep curl wave sink soar swoop glide descend ascend appear vanish
weep leap crawl creep charge strike attack hunt flee escape gather pick pull push throw catch grab lift drop kneel
bow pray fight kill save rescue guard protect cross enter emerge step stride stumble slip spin twist shake tremble
hammer pour splash crash break shatter explode burst flash flicker sparkle glitter gleam hang circle spread stretch
beat pound knock open close lock seize grasp embrace kiss hug greet cheer celebrate mourn die bury plant harvest
weave spin sew cook eat drink hunt graze swim dive surface roll tumble slide skid race sprint dash dart bolt
gallop trot prowl stalk pounce lunge snap bite claw howl growl hiss sting coil slither ascend rise soar hover perch
land nest hatch shelter huddle gather scatter flock swarm march ride row paddle drift steer anchor dock sail
wander roam pace linger pause halt stop freeze glance peer point nod shrug sigh gasp whisper murmur sob grin
frown wink blush look turn lean kneel crouch squat sprawl collapse faint wake dream sleep snore yawn stretch
watch guard wait listen search track trace follow lead guide chase pursue hunt trap free release open shut
tower loom stand sit lie rest hang float hover drift glow burn shine dim fade darken brighten flare blaze
gleam shimmer ripple swirl churn surge crash break flood drown sink rise fall pour drip trickle flow stream
""".split()
_IRREGULAR = """ran flew swam fell rose saw found met held came went took gave made became grew lay woke sang drank ate
caught told said heard felt left brought began fought slept shone stood sat leapt crept struck hid rode drove
threw broke froze wept knelt spun dug hung stole spoke wore tore bore swore shook woke arose sank sprang""".split()
_VERB_FORMS = set(_BASE_VERBS) | set(_IRREGULAR) | {f for v in _BASE_VERBS for f in inflections(v)}


def can_be_verb(word: str) -> bool:
    """lemminflect's lemma tables know `word` as a form of a verb (nibbles, hurry, rock)."""
    from lemminflect import getAllLemmas

    return bool(getAllLemmas(word.lower(), upos="VERB"))


def _tags(text: str) -> list[tuple[str, str]]:
    # The lexicon reads any capitalised word as a name, so the first word is tagged in lower
    # case ("Far beyond ..."); a name it does not know still comes back as a noun.
    text = text.strip()
    tagged = [(w, t) for w, t in en_tagged(text[:1].lower() + text[1:])]
    if tagged:
        tagged[0] = (text[: len(tagged[0][0])], tagged[0][1])
    seen_verb = False
    for k, (word, tag) in enumerate(tagged):
        lower = word.lower()
        prev = tagged[k - 1][1] if k else ""
        if tag in {"VB", "VBP"} and prev in {"DT", "JJ", "PRP$", "POS"}:
            tagged[k] = (word, "NN")  # "a golden ram": no verb follows a determiner
            continue
        if tag in {"VB", "VBP"} and prev in {"NN", "NNS"} and seen_verb:
            tagged[k] = (word, "NN")  # "reaches the mountain pass": the clause has its verb
            continue
        if word == ",":
            seen_verb = False  # a new clause may have a subject of its own
            continue
        if tag in _VERB_TAGS:
            seen_verb = True
            continue
        nxt = tagged[k + 1][1] if k + 1 < len(tagged) else "."
        if tag == "NNS" and prev in {"NN", "NNP"} and not seen_verb and nxt in _AFTER_VERB:
            tagged[k] = (word, "VBZ")  # "a little fox lives in", "lightning splits the sky"
            seen_verb = True
            continue
        if lower in _VERB_FORMS and tag not in {"DT", "IN", "PRP", "PRP$", "CC", "TO", "RB"}:
            after_subject = prev in _NOUNISH and not seen_verb
            coordinated = prev == "CC" and seen_verb
            after_pronoun = k and tagged[k - 1][0].lower() in _PRONOUNS
            opening = k == 0 and lower not in _IRREGULAR and tag.startswith("VB")
            if after_subject or coordinated or after_pronoun or opening:
                tag = "VBD" if lower in _IRREGULAR or lower.endswith("ed") else "VBZ"
                tagged[k] = (word, tag)
                seen_verb = True
                continue
        # "He spots the suspect", "The camels lower their heads": after a subject pronoun,
        # or a plural subject, a word that can be a verb and takes an object is the verb.
        nxt_word_tag = tagged[k + 1][1] if k + 1 < len(tagged) else "."
        if (not seen_verb and tag in {"NN", "NNS", "JJ", "JJR"} and word.isalpha() and k
                and (tagged[k - 1][0].lower() in _PRONOUNS or tagged[k - 1][1] == "NNS")
                and nxt_word_tag in {"DT", "PRP$", "PRP", "IN", "RP", "RB", "TO", ".", ","}
                and can_be_verb(word)):
            tagged[k] = (word, "VBZ" if lower.endswith("s") and tagged[k - 1][1] != "NNS" else "VBP")
            seen_verb = True
    return _verb_of_verbless_clauses(tagged)


def _verb_of_verbless_clauses(tagged: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A clause with no verb tagged ("The rabbit nibbles clover", "Fishing boats rock") has
    one the lexicon read as a noun: the first word after the subject's noun that can be a
    verb (lemminflect) becomes one."""
    bounds = [*(k for k, (w, _) in enumerate(tagged) if w in {",", ";", ":"}), len(tagged)]
    clauses = []
    start = 0
    for end in bounds:
        clauses.append(range(start, end))
        start = end + 1
    has_verb = [any(tagged[k][1] in _VERB_TAGS for k in c) for c in clauses]
    for n, clause in enumerate(clauses):
        if has_verb[n] or not clause:
            continue
        first = tagged[clause.start]
        if first[1] in {"IN", "TO"} or first[0].lower() in _PLACE_PREPOSITIONS:
            continue  # "Out of the desert sand," sets the scene
        if any(has_verb[n + 1 :]) and len(clause) <= 5 and first[1] != "DT":
            continue  # "Half goat and half fish," "Heartbroken," before the clause that acts
        candidates = [
            k for k in clause
            if k > clause.start and tagged[k - 1][1] in _NOUNISH | {"NNP"} and tagged[k][0].isalpha()
            and tagged[k][1] in {"NN", "NNS", "JJ", "JJR", "RB", "VBN", "VBG", "VBZ", "VBP"} and can_be_verb(tagged[k][0])
        ]
        # "Fishing boats rock": the verb is the candidate no noun follows.
        pick = next((k for k in candidates if not (k + 1 < len(tagged) and tagged[k + 1][1] in {"NN", "NNS"}
                                                    and (k + 1) in candidates)), None)
        if pick is not None:
            word = tagged[pick][0]
            tagged[pick] = (word, "VBZ" if word.lower().endswith("s") else "VBP")
            for k in candidates:
                if k < pick and tagged[k][1].startswith("VB"):
                    tagged[k] = (tagged[k][0], "NNS" if tagged[k][0].lower().endswith("s") else "NN")
    return tagged


def finite_verbs(text: str) -> list[str]:
    """The words acting as verbs in `text` once the lexicon's tags are corrected in context
    (a past participle after a comma, "felt and paper textures", is no verb)."""
    tagged = _tags(text)
    return [w for k, (w, t) in enumerate(tagged) if t in _VERB_TAGS and not (t == "VBD" and k and tagged[k - 1][0] == ",")]


def _noun_phrase(tagged: list[tuple[str, str]], i: int) -> int:
    """End (exclusive) of the noun phrase starting at i, with "of the X" chains."""
    if i < len(tagged) and tagged[i][1] == "PRP":
        return i + 1
    j = i
    while j < len(tagged) and (tagged[j][1] in _NP_PARTS and not (
        j > i and tagged[j][1] in {"DT", "PDT"} and tagged[j - 1][1] in {"NN", "NNS", "NNP", "NNPS"}
    ) or tagged[j][0] == "'s" or (
        tagged[j][1] == "RB" and j > i and j + 1 < len(tagged) and tagged[j + 1][1] in {"JJ", "NN", "NNS"}
    )):  # "the far shore"
        if tagged[j][1] in {"VBN", "VBG"} and not (j + 1 < len(tagged) and tagged[j + 1][1].startswith("NN")):
            break  # a participle counts only as a modifier: "the frozen lake"
        j += 1
    if j > i and j + 1 < len(tagged) and tagged[j][0].lower() == "of" and tagged[j + 1][1] in _NP_PARTS:
        return _noun_phrase(tagged, j + 1)
    return j


def _place_phrase(tagged: list[tuple[str, str]], i: int) -> int:
    """End of the prepositional phrase at i ("across the frozen lake", "out of the reeds"), or i."""
    j = i
    if tagged[j][0].lower() not in _PLACE_PREPOSITIONS:
        return i
    if tagged[j][0].lower() == "out" and j + 1 < len(tagged) and tagged[j + 1][0].lower() == "of":
        j += 1  # "out of the reeds"
    end = _noun_phrase(tagged, j + 1)
    if end > j + 1 and all(t == "PRP" for _, t in tagged[j + 1 : end]):
        return i  # "at him", "toward her": a person, not a place
    return end if end > j + 1 else i


_TIME_WORDS = _TIME_NOUNS | set("""day days night nights evening year years time times moment spring summer autumn winter
    week month hour""".split())


def _is_opener(span: list[tuple[str, str]]) -> bool:
    """A phrase before a comma that only says when or how ("One day", "Late at night",
    "Heartbroken", "Half goat and half fish"): it has no verb, and no noun but time words,
    or it is a descriptive phrase (adjectives, participles) before the subject."""
    if not span:
        return False
    words = [w.lower() for w, _ in span]
    if len(span) <= 3 and any(w in _TIME_WORDS for w in words) and all(t != "PRP" for _, t in span):
        return True  # "One evening" (the lexicon reads "evening" as a verb)
    if len(span) == 1 and en_lexicon_tag(words[0]) not in {"NN", "NNS", "NNP", "PRP"}:
        return True  # "Heartbroken," "Weeping," "Thrilled,"
    if any(t in _VERB_TAGS for _, t in span):
        return False
    nouns = [w.lower() for w, t in span if t.startswith("NN") or t == "PRP"]
    if not nouns:
        return True
    if all(n in _TIME_WORDS for n in nouns):
        return True
    return span[0][0].lower() in {"half", "part"}


def _is_time(phrase: list[tuple[str, str]]) -> bool:
    words = [w.lower() for w, t in phrase if t not in {"IN", "DT", "TO"}]
    return bool(words) and all(w in _TIME_NOUNS or w in {"first", "last", "early", "late"} for w in words)


# Nouns of places: "walks his field", "roams the forests" name the setting as an object.
_PLACE_NOUNS = set("""field fields hill hills forest forests wood woods sea seas ocean river rivers lake shore beach
    coast city town village street streets alley road roads desert cave mountain mountains valley plain plains sky
    skies heavens stars island harbour harbor port dock docks station platform square market palace castle temple
    garden meadow meadows orchard vineyard farm bridge rooftop rooftops roof tower camp battlefield kingdom land
    lands world earth strait bay cliff cliffs canyon jungle swamp marsh reeds grassland steppe tundra glacier
    ice snowfield corridor hall room kitchen studio office ward hospital museum stadium pitch court arena stage
    olympus underworld sand dunes lot gate gates floor pass clearing bar pub tavern inn yard courtyard hallway
    staircase stairs terrace balcony platform deck cabin attic cellar basement library church cathedral shrine pond
    well ridge peak summit slope hillside riverbank bank waterfall spring grove thicket reeds cave den nest""".split())


def _object_place(tagged: list[tuple[str, str]]) -> str:
    """The first noun phrase after the verb whose head is a place ("the hills of Nemea")."""
    k = 1
    while k < len(tagged):
        end = _noun_phrase(tagged, k)
        if end > k:
            heads = [w.lower() for w, t in tagged[k:end] if t.startswith("NN")]
            if any(h in _PLACE_NOUNS for h in heads):
                return _join(tagged[k:end])
            k = end
        else:
            k += 1
    return ""


def _join(tagged: list[tuple[str, str]]) -> str:
    text = " ".join(w for w, _ in tagged)
    return re.sub(r"\s+([,;:.!?'])", r"\1", text).replace(" 's", "'s").strip(" ,;:.")


_SUBORDINATORS = {"as", "while", "when", "until", "because", "but", "so", "although", "though", "before", "after",
                  "that", "whereupon", "where", "which", "who"}


_PARTICLES = {"up", "down", "out", "off", "away", "back", "in", "on", "over", "ahead", "around", "forward", "apart",
              "together", "aside", "open", "free", "into"}


def _core(rest: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The verb group, its particle and its object: "wrestles it", "turns into", "gives up".
    What follows (adjunct phrases, further clauses) is left to the prompt's narration."""
    k = 1
    while k < len(rest) and (rest[k][1] in {"RB", "RP", "VB", "VBN", "VBG", "VBZ", "VBD", "TO", "MD"} and rest[k][0].lower()
                             not in _SUBORDINATORS or rest[k][0].lower() in _PARTICLES and k + 1 >= len(rest)):
        if rest[k][1] == "TO" and not (k + 1 < len(rest) and rest[k + 1][1].startswith("VB")):
            break
        k += 1
    if k < len(rest) and (rest[k][0].lower() in _PHRASAL or rest[k][0].lower() in _PARTICLES and rest[k][1] in {"RP", "RB", "IN"} and (
        k + 1 >= len(rest) or rest[k + 1][1] not in {"DT", "PRP$", "JJ", "NN", "NNS", "NNP", "CD"}
    )):
        k += 1  # "gives up", "cries out", "burst out"
    end = _noun_phrase(rest, k)
    if end > k and rest[k][1] != "IN":
        k = end
        if k < len(rest) and rest[k][0].lower() in _PHRASAL and rest[k - 1][1] == "PRP":
            k += 1  # "picks it up"
    if k < len(rest) and rest[k][1] == "VBG" and rest[k - 1][0].lower() in _PARTICLES:
        k += 1  # "burst out laughing"
    return rest[:k]


_PHRASAL = {"up", "out", "off", "away", "back"}  # never a place of their own right after a verb


def _main_clause(rest: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The verb's own clause: up to a comma, a subordinate clause ("as the rain falls"), a
    purpose ("to rescue ..."), or "and" opening a clause with a subject of its own."""
    for k in range(1, len(rest)):
        word, tag = rest[k][0].lower(), rest[k][1]
        nxt = rest[k + 1][1] if k + 1 < len(rest) else ""
        if word in {",", ";", ":"} or word in _SUBORDINATORS and tag in {"IN", "CC", "WRB", "WDT", "WP", "RB"}:
            return rest[:k]
        if tag == "TO" and nxt in {"VB", "VBP"}:
            return rest[:k]
        if word == "and" and nxt in {"DT", "PRP", "NNP", "PRP$"}:  # "... and the cheese falls"
            return rest[:k]
    return rest


def parse_en(sentence: str) -> tuple[str, str, str]:
    """(subject, action, setting) of one English sentence; "" where it has none.

    A sentence joined from pieces ("Night. Rain hammers the lot.") is read from its first
    piece with a verb; a verbless heading before it only says when or where.
    """
    pieces = [p for p in re.split(r"(?<=[.!?])\s+", sentence.strip()) if p.strip()]
    tagged_pieces = [_tags(p) for p in pieces]
    main = next((t for t in tagged_pieces if any(tag in _VERB_TAGS for _, tag in t)), tagged_pieces[0] if tagged_pieces else [])
    tagged = [t for t in main if t[0] not in {".", "!", "?", '"', "“", "”"}]
    n, i = len(tagged), 0
    setting: list[str] = []
    # 1. The opening sets the scene.
    while i < n:
        word, tag = tagged[i][0].lower(), tagged[i][1]
        if word == "," or tag in {"RB", "UH", "CC"} or word in _OPENERS and tag not in _NOUNISH:
            i += 1
            continue
        end = _place_phrase(tagged, i)
        if end > i:
            if not _is_time(tagged[i:end]):
                setting.append(_join(tagged[i:end]))
            i = end
            continue
        if tag in {"IN", "TO"} and i + 1 < n:  # "After the storm," "As night falls,": to the comma
            comma = next((k for k in range(i, n) if tagged[k][0] == ","), -1)
            if comma > 0:
                i = comma + 1
                continue
        comma = next((k for k in range(i, min(n, i + 6)) if tagged[k][0] == ","), -1)
        if comma > i and _is_opener(tagged[i:comma]):  # "One day," "Heartbroken," "Late at night,"
            i = comma + 1
            continue
        if word == "there" and i + 1 < n and tagged[i + 1][1] in {"PRP", "NNP"}:  # "There he pours"
            i += 1
            continue
        if tag in {"WRB", "WDT"}:  # ", where the sea meets the sky,"
            comma = next((k for k in range(i, n) if tagged[k][0] == ","), n)
            i = comma + 1
            continue
        break
    # 2. The subject.
    subject_end = _noun_phrase(tagged, i)
    while subject_end < n - 1 and tagged[subject_end][0].lower() in {"and", "&"} and tagged[subject_end + 1][1] in _NP_PARTS | {"NNP"}:
        subject_end = _noun_phrase(tagged, subject_end + 1)
    subject = _join(tagged[i:subject_end])
    verb = next((k for k in range(subject_end, n) if tagged[k][1] in _VERB_TAGS), -1)
    if verb < 0 and subject_end < n and tagged[subject_end][1] in {"VBG", "VBN"}:
        verb = subject_end
    if verb < 0:  # "Dawn over a frozen fjord.": a noun and where it is
        for k in range(subject_end, n):
            end = _place_phrase(tagged, k)
            if end > k:
                setting.append(_join(tagged[k:end]))
                break
        return subject, "", _one_setting(setting)
    rest = tagged[verb:]
    opens_with_verb = verb == i and not setting
    if (not subject and not opens_with_verb) or subject.lower() == "there":
        # "There are two stars", "Out of the reeds crawls a crab": the subject follows the verb.
        k = 1
        while k < len(rest) and rest[k][1] in {"VB", "VBD", "VBZ", "VBP", "RB"}:
            k += 1
        end = _noun_phrase(rest, k)
        if end > k:
            subject = _join(rest[k:end])
            rest = rest[:k] + rest[end:]
    # 3. The action, less the first place phrase after the verb.
    rest = _main_clause(rest)
    placed = False
    k = 1
    while k < len(rest):
        end = _place_phrase(rest, k)
        if end > k and _is_time(rest[k:end]):
            rest = rest[:k] + rest[end:]  # "at dusk" is the time of day's
            continue
        if end > k and not placed:
            setting.append(_join(rest[k:end]))
            rest = rest[:k] + rest[end:]
            placed = True
            continue
        k += 1
    if not setting:
        place = _object_place(rest)
        if place:
            setting.append(place)
    return subject, _join(_core(rest)), _one_setting(setting)


def _one_setting(phrases: list[str]) -> str:
    """The place among the scene phrases: the first naming a place noun ("across the rooftops"
    over "under a full moon"), else the first."""
    for phrase in phrases:
        if any(w.lower() in _PLACE_NOUNS for w in re.findall(r"[A-Za-z]+", phrase)):
            return phrase
    return phrases[0] if phrases else ""
