"""What a shot asks the animatic to draw, read from the plan's words: the subject's kind and the setting.

Plain data, so a test or another renderer can read a shot the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelgate.records import ShotSpec

SUBJECT_WORDS = {
    "bird": ["bird", "eagle", "crow", "dragon", "swallow", "鸟", "鹰", "龙", "燕", "鹊", "鹤", "magpie", "crane", "owl", "phoenix", "凤"],
    "boat": ["boat", "ship", "sail", "船", "帆"],
    "house": ["house", "castle", "tower", "temple", "cabin", "lighthouse", "房", "城堡", "塔", "庙", "屋", "灯塔"],
    "tree": ["tree", "树"],
    "animal": ["cat", "dog", "fox", "wolf", "horse", "deer", "rabbit", "tiger", "bear", "animal",
               "猫", "狗", "狐", "狼", "马", "鹿", "兔", "虎", "熊"],
    "figure": ["girl", "boy", "man", "woman", "child", "person", "robot", "knight", "king", "queen",
               "maiden", "princess", "prince", "goddess", "god", "hero", "heroine", "hunter", "warrior",
               "soldier", "detective", "sailor", "fisherman", "farmer", "shepherd", "weaver", "herdsman",
               "女孩", "男孩", "人", "孩", "少年", "少女", "老人", "骑士", "机器人", "仙女", "女子", "男子",
               "侦探", "猎人", "将军", "英雄", "公主", "王子", "织女", "牛郎", "嫦娥", "后羿"],
}
# The kind is read from the subject first (a maiden chained before a sea monster is a
# maiden), then from the sentence. Names (Europa, 织女) and anything unknown are a
# neutral standing figure, never an animal drawn by chance.
GROUND_WORDS = {
    "water": ["sea", "ocean", "lake", "river", "harbor", "harbour", "海", "湖", "河", "江", "港"],
    "snow": ["snow", "winter", "ice", "雪", "冬", "冰"],
    "sand": ["desert", "beach", "dune", "沙"],
}
RAIN_WORDS = ["rain", "storm", "雨"]
CITY_WORDS = ["city", "town", "street", "village", "城市", "城", "街", "镇", "村"]
FOREST_WORDS = ["forest", "wood", "jungle", "森林", "林"]


def _has(words: list[str], text: str) -> bool:
    return any(w in text for w in words)


@dataclass(frozen=True)
class Staging:
    """The subject's kind and the setting of one shot."""

    kind: str  # a key of figures.SHAPES
    ground: str  # grass, water, snow or sand
    city: bool
    forest: bool
    weather: str  # the plan's, or rain when only the words say so (a plan older than the field)


def read_staging(shot: ShotSpec) -> Staging:
    """The staging of `shot`, from its subject first, then its other words."""
    words = " ".join([shot.subject, shot.action, shot.environment, shot.text, shot.prompt]).lower()
    weather = shot.weather
    if weather == "clear" and _has(RAIN_WORDS, words):
        weather = "rain"
    ground = next((g for g, ws in GROUND_WORDS.items() if _has(ws, words)), "grass")
    if weather == "snow" and ground != "water":
        ground = "snow"
    return Staging(kind=_kind(shot), ground=ground, city=_has(CITY_WORDS, words), forest=_has(FOREST_WORDS, words),
                   weather=weather)


def _kind(shot: ShotSpec) -> str:
    for text in (shot.subject.lower(), shot.text.lower()):
        for kind, ws in SUBJECT_WORDS.items():
            if text and _has(ws, text):
                return kind
    return "figure"
