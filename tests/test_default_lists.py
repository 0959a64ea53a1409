"""The shipped blocklists (prompts/blocklists/*.txt) against the screen: what a myth and
fairy-tale studio needs to pass, what it must stop, and the lists' own consistency."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompts.blocklist import Blocklist, Term
from prompts.normalize import is_cjk, normalize
from prompts.screen import ScreenResult, screen
from reelgate.records import Action

CATEGORIES = (
    "sexual", "violence", "gore", "hate", "self_harm", "minors",
    "illegal", "political", "religious", "real_people", "ip",
)  # fmt: skip


@pytest.fixture(scope="module")
def defaults() -> Blocklist:
    return Blocklist.load()


def _found(result: ScreenResult) -> list[tuple[str, str, str, str, str]]:
    return [(m.term, m.category, m.action.value, m.layer, m.text) for m in result.matches]


def _language(term: Term) -> str:
    """zh for a Chinese term (or one listed in a zh*.txt file: 八九六四 folds to 8964), else en."""
    file = Path(term.source.rsplit(":", 1)[0]).name
    return "zh" if any(is_cjk(c) for c in term.term) or file.startswith("zh") else "en"


# ------------------------------------------------------------------ benign near-misses pass

BENIGN_EN = [
    "a skill to learn",
    "the therapist owl listens to the sad rabbit",
    "Scunthorpe market square at Christmas",
    "a menu designed for a feast of giants",
    "s k i l l",
    "a killer whale leaps out of the waves",
    "a blood orange sunset over the sea",
    "a blood moon rises over the temple",
    "the healer checks his blood pressure",
    "the sniper's shot list for the western",
    "shoot the wide shot first, then cut to the close-up",
    "kill the lights before the ghost appears",
    "execute a slow dolly move toward the throne",
    "the villain photobombs the royal portrait",
    "a bath bomb fizzes in the witch's tub",
    "the hero slays the dragon and saves the village",
    "Saint George fights the dragon with a long spear",
    "Hercules battles the nine-headed Hydra",
    "Perseus defeats Medusa with a mirrored shield",
    "Snow White bites the poisoned apple",
    "the dragon breathes fire over the burning castle",
    "the topless towers of Ilium glow at dusk",
    "he raps on the wooden door three times",
    "spiced apples and honey cakes on the table",
    "Adonis is gored by a wild boar",
    "the emperor marvels at the golden bird",
    "she will marvel at the stars",
    "the minions of the dark lord march at night",
    "a chink of light through the cave wall",
    "the only chink in the armour of the giant",
    "dragon's blood resin glows in the lamp",
    "the wenge wood table holds an old map",
    "grapes and heroines follow the method",
    "a sextant on the captain's desk",
    "oilseed rape fields in bloom",
    "a Gore-Tex cloak for the mountain guide",
    "the mermaid trades her voice for legs",
    # issue 16: joins never cross a word of two or more letters, nor a contraction's tail;
    # an English word with a double letter is that word, not an elongated term
    "the class, assessment and homework",
    "grapes, expo and market stalls",
    "it's ex-wife who owns the bakery",
    "the rapper rapped on the door of the bidden guest",
]

BENIGN_ZH = [
    "景色情调很美",
    "抹杀人性的制度",
    "流了血，腥味很重",
    "流了血…腥味很重",
    "杀人鲸在海里游",
    "这是一个特色情节，角色情绪饱满",
    "老爷爷在路口交通灯下等待",
    "个性交流活动让孩子们更自信",
    "异性交往要互相尊重",
    "大家暴雨中躲进了山洞",
    "这是一支那么长的箭",
    "漆黑鬼影在古庙里一闪而过",
    "他们各自杀出一条路",
    "大家各自尽力完成了任务",
    "年轻生命充满了希望",
    "城堡上吊桥缓缓放下",
    "天花板上吊着一盏红灯笼",
    "商店打出了跳楼价",
    "一只大麻雀落在树枝上",
    "真是个大麻烦",
    "他认真主持了祭祀仪式",
    "真主角终于登场了",
    "人文革新带来了新的风气",
    "剖腹产后，母亲抱着婴儿微笑",
    "森林中共有三只小熊和一只猫头鹰",
    "舞台独舞的仙女在月光下旋转",
    "他往东突然跑去，追赶那只金色的鹿",
    "一匹高头大马驮着将军走过草原",
    "祖母把传家宝交给了小孙女",
    "两个孩子抱头痛哭",
    "林荫道上落满了金黄的树叶",
    "各自为政的部落最终团结在一起",
    "从前有一户人家，家有女儿名叫小花",
    "小鸡和雏鸡在院子里啄米",
    "自今日起，村里的人都要守护这片森林",
    "中宫娘娘在御花园里赏花",
    "一只灰色狼在雪地里奔跑",
    "他脸色狼狈地逃出了山洞",
    "这一集是第64集，讲的是龙王的故事",
    "一九六四年的冬天",
    "妈妈做爱心便当",
    "他得了流行性感冒",
    "每个人都有独特的个性感觉",
    "她怀恋童年的时光",
    "盘古开天辟地，他的血液化作江河",
    "后羿射下九个太阳",
    "哪吒闹海，打败了东海龙王的三太子",
    "孙悟空大闹天宫，玉皇大帝派天兵天将捉拿他",
    "镜头推近，拍摄英雄挥剑斩妖的瞬间",
    "夜空中，织女在银河边织着云锦。牛郎牵着老牛，望向河对岸的星光。",
]


@pytest.mark.parametrize("text", BENIGN_EN + BENIGN_ZH)
def test_benign_near_misses_pass(defaults: Blocklist, text: str) -> None:
    result = screen(text, defaults)
    assert result.action is Action.ALLOW, f"{text!r} matched {_found(result)}"


# ------------------------------------------------------------------ myth vocabulary: the chosen actions


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("The hero slays the dragon", Action.ALLOW),  # slay: storybook verb, not listed
        ("A great battle between the gods and the giants", Action.ALLOW),
        ("The knight kills the troll", Action.WARN),  # kill: a note, never a stop
        ("后羿杀死了九头怪兽", Action.WARN),
        ("武松打死了一只老虎", Action.WARN),
        ("Pangu's blood became the rivers", Action.WARN),  # blood: a note
        ("盘古的鲜血化作江河", Action.WARN),
        ("屈原投江自尽", Action.REVIEW),  # suicide in a legend: a person decides
        ("Dido's suicide on the pyre", Action.REVIEW),
        ("the villagers were massacred", Action.REVIEW),  # beyond a storybook fight
        ("Perseus beheads Medusa", Action.BLOCK),  # graphic gore stays blocked: write "defeats"
        ("刑天被斩首", Action.BLOCK),
    ],
)
def test_myth_vocabulary_actions(defaults: Blocklist, text: str, action: Action) -> None:
    result = screen(text, defaults)
    assert result.action is action, f"{text!r} matched {_found(result)}"


# ------------------------------------------------------------------ clearly bad prompts are caught

BAD = [
    # Chinese, plain and with the obfuscations prompts.screen documents
    ("画面很血 腥", "gore", Action.BLOCK),
    ("一个血腥場面", "gore", Action.BLOCK),  # traditional characters
    ("血血血腥的战场", "gore", Action.BLOCK),  # repeated characters collapse
    ("斬首示眾", "gore", Action.BLOCK),
    ("肢解尸体的特写", "gore", Action.BLOCK),
    ("xue xing de hua mian", "gore", Action.BLOCK),  # pinyin keeps the term's action
    ("色 情 片", "sexual", Action.BLOCK),
    ("裸\u200b体的女人", "sexual", Action.BLOCK),  # zero-width space
    ("强@奸场景", "sexual", Action.BLOCK),
    ("儿童色情图片", "minors", Action.BLOCK),
    ("萝莉控漫画", "minors", Action.BLOCK),
    ("支那人", "hate", Action.BLOCK),
    ("教你如何自杀", "self_harm", Action.BLOCK),
    ("割*腕的画面", "self_harm", Action.BLOCK),
    ("在厨房里制毒", "illegal", Action.BLOCK),
    ("制作炸弹的步骤", "illegal", Action.BLOCK),
    ("校园枪击案", "violence", Action.BLOCK),
    ("他们屠⃝杀了村民", "violence", Action.REVIEW),  # enclosing combining mark
    ("天安门事件的坦克", "political", Action.REVIEW),
    ("法轮功学员", "political", Action.REVIEW),
    ("先知穆罕默德的画像", "religious", Action.REVIEW),
    ("习近平在跳舞", "real_people", Action.REVIEW),
    ("皮卡丘和米老鼠在森林里", "ip", Action.REVIEW),
    ("宫崎骏风格的森林", "ip", Action.REVIEW),
    # English
    ("A close-up of a bloody beheading in the market.", "gore", Action.BLOCK),
    ("ｂｌｏｏｄｙ gore everywhere", "gore", Action.BLOCK),  # full-width letters
    ("a disemboweled soldier", "gore", Action.BLOCK),
    ("a n u d e woman on the beach", "sexual", Action.BLOCK),  # spaced-out letters
    ("a p0rnography site", "sexual", Action.BLOCK),  # leetspeak
    ("Νudе statue", "sexual", Action.BLOCK),  # Greek capital nu, Cyrillic e
    ("loli art", "minors", Action.BLOCK),
    ("sexy kids in a pool", "minors", Action.BLOCK),
    ("heil hitler salute", "hate", Action.BLOCK),
    ("a crowd shouting white power", "hate", Action.BLOCK),
    ("how to commit suicide quietly", "self_harm", Action.BLOCK),
    ("I want to kill myself", "self_harm", Action.BLOCK),
    ("cooking meth in a trailer", "illegal", Action.BLOCK),
    ("how to build a bomb", "illegal", Action.BLOCK),
    ("a mass shooting at a mall", "violence", Action.BLOCK),
    ("they murdered the king's guards", "violence", Action.REVIEW),
    ("torturing a prisoner", "violence", Action.REVIEW),
    ("falun gong protest", "political", Action.REVIEW),
    ("a taiwan independence rally", "political", Action.REVIEW),
    ("burning the quran", "religious", Action.REVIEW),
    ("Elon  Musk riding a dragon", "real_people", Action.REVIEW),
    ("Pikachu in the forest", "ip", Action.REVIEW),
    ("a castle in the style of studio ghibli", "ip", Action.REVIEW),
    ("his b1oody sword", "gore", Action.WARN),  # leet 1 read as l
    # issue 16: elongated letters, inflections of short terms, pieces joined by single letters
    ("a nuuude woman on the beach", "sexual", Action.BLOCK),
    ("a porrn site", "sexual", Action.BLOCK),
    ("orgies in the palace", "sexual", Action.BLOCK),
    ("a p o rn site", "sexual", Action.BLOCK),
    ("a s ex scene", "sexual", Action.REVIEW),
    ("he kiills the guard", "violence", Action.WARN),
]


@pytest.mark.parametrize(("text", "category", "minimum"), BAD)
def test_bad_prompts_are_caught(defaults: Blocklist, text: str, category: str, minimum: Action) -> None:
    result = screen(text, defaults)
    assert any(m.category == category for m in result.matches), f"{text!r}: no {category} match in {_found(result)}"
    assert result.action.rank >= minimum.rank, f"{text!r}: {result.action.value} < {minimum.value}: {_found(result)}"


# ------------------------------------------------------------------ the lists themselves


def test_every_category_has_terms_in_both_languages(defaults: Blocklist) -> None:
    counts: dict[tuple[str, str], int] = {}
    for term in defaults.terms:
        key = (term.category, _language(term))
        counts[key] = counts.get(key, 0) + 1
        assert term.action in (Action.WARN, Action.REVIEW, Action.BLOCK), term
    thin = {f"{c}/{lang}": counts.get((c, lang), 0) for c in CATEGORIES for lang in ("en", "zh")}
    assert all(n >= 5 for n in thin.values()), {k: n for k, n in thin.items() if n < 5}


def test_category_actions_follow_the_policy(defaults: Blocklist) -> None:
    actions: dict[str, set[Action]] = {}
    for term in defaults.terms:
        actions.setdefault(term.category, set()).add(term.action)
    assert actions["minors"] == {Action.BLOCK}
    for category in ("political", "religious", "real_people", "ip"):
        assert actions[category] == {Action.REVIEW}, category
    for category in ("sexual", "gore", "hate", "self_harm", "illegal", "violence"):
        assert Action.BLOCK in actions[category], category


def test_no_term_is_excused_by_the_allow_list(defaults: Blocklist) -> None:
    swallowed = []
    for term in defaults.terms:
        result = screen(term.term, defaults)
        if not any(m.term == term.term and m.category == term.category for m in result.matches):
            swallowed.append(f"{term.source}: {term.term!r} -> {_found(result)}")
    assert not swallowed, swallowed


def test_every_allow_entry_excuses_something(defaults: Blocklist) -> None:
    # An entry that holds no listed term (as written, or spelled out: "s k i l l") is dead weight.
    bare = Blocklist(defaults.terms, [])
    dead = []
    for entry in defaults.allow:
        forms = [entry] + ([" ".join(entry.replace(" ", ""))] if entry.isascii() else [])
        if not any(screen(form, bare).matches for form in forms):
            dead.append(entry)
    assert not dead, dead


# ------------------------------------------------------------------ matcher behaviour the lists rely on


def test_e_dropping_inflection_does_not_invent_words() -> None:
    bare = Blocklist([Term(normalize("rape").text, "test", Action.BLOCK, "test:1")], [])
    assert screen("he raps on the door", bare).action is Action.ALLOW
    assert screen("raping", bare).action is Action.BLOCK


def test_a_number_term_matches_the_number_in_any_writing(defaults: Blocklist) -> None:
    """Numbers fold to digits, so a bare number term would flag every "64": the default lists
    write such terms with context (六四事件, 八九六四 -> 8964) and never as a short bare number."""
    bare = Blocklist([Term(normalize("六四").text, "test", Action.REVIEW, "test:1")], [])
    for text in ("陆肆", "⑥④", "6四", "render 64 frames"):
        assert screen(text, bare).action is Action.REVIEW, text
    assert not [t.term for t in defaults.terms if t.term.isdigit() and len(t.term) < 4]
