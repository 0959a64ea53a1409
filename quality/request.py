"""What a shot asked for that the quality checks must not count against it.

Rain, snow, fire, surf, smoke, crowds and starfields are texture the flow cannot follow: on
a shot that asked for them, flow stability is judged with that layer masked out
(quality.metrics.texture_layer); on a shot that did not, the same texture is still a
defect. A lightning flash in a storm shot is not a flicker (quality.metrics.flash_runs).

How a shot asks: its plan's `weather` (rain, snow, storm: rain and lightning), and for what
weather does not cover (fire, surf, smoke, crowds, stars) the words of its text, subject,
action, environment and prompt, matched against the small lexicon below (English words on
word boundaries, Chinese characters with the compounds that mean something else left out:
火车 is a train, 浪漫 romance, 流浪 wandering). The negative prompt is never read: a word
there is something the shot asked *not* to show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reelgate.records import ShotSpec

# Layers the stability check can mask (textures) and events the flicker check can excuse.
TEXTURES = ("rain", "snow", "fire", "surf", "smoke", "crowd", "stars")
FLASHES = ("lightning",)

# The plan's weather -> what it asks for. fog and wind move slowly and smoothly: no layer.
WEATHER_ASKS: dict[str, tuple[str, ...]] = {
    "rain": ("rain",),
    "snow": ("snow",),
    "storm": ("rain", "lightning"),
}

# texture -> (English words, matched whole and case-insensitively; Chinese pattern).
LEXICON: dict[str, tuple[tuple[str, ...], str]] = {
    "rain": (("rain", "rains", "raining", "rainy", "rainfall", "downpour", "drizzle", "drizzling", "raindrops"),
             r"雨(?!伞|衣|林|后)|下雨"),
    "snow": (("snow", "snows", "snowing", "snowfall", "snowflakes", "blizzard", "snowstorm"),
             r"(?<!白)雪(?!糕|碧)|下雪"),
    "lightning": (("lightning", "thunderstorm", "thunderstorms", "thunder"), r"闪电|雷电|雷雨|打雷"),
    "fire": (("fire", "fires", "flame", "flames", "flaming", "blaze", "blazing", "burning", "bonfire",
              "campfire", "embers", "inferno", "wildfire"),
             r"火(?!车|锅|腿|星|柴盒|鸡)|火焰|燃烧"),
    "surf": (("surf", "breakers", "breaking waves", "crashing waves", "waves crashing", "waves crash",
              "waves break", "whitecaps", "spray"),
             r"(?<![流放])浪(?!漫|费|人|子)|海浪|浪花|波涛"),
    "smoke": (("smoke", "smoky", "smoking", "smoulder", "smoulders", "smoldering", "steam", "steaming"),
              r"烟(?!台)|烟雾|蒸汽"),
    "crowd": (("crowd", "crowds", "crowded", "throng", "throngs", "multitude", "spectators", "audience"),
              r"人群|人山人海|人潮|观众|群众"),
    "stars": (("starfield", "starry", "starlit", "stars twinkle", "stars twinkling", "field of stars",
               "milky way"),
              r"星空|繁星|银河|星星"),
}

_PATTERNS: dict[str, re.Pattern[str]] = {
    kind: re.compile(
        r"\b(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words) + r")\b|" + chinese,
        re.IGNORECASE,
    )
    for kind, (words, chinese) in LEXICON.items()
}


def asked_in_text(text: str) -> set[str]:
    """The textures and flashes the lexicon finds in `text` (e.g. {"fire", "smoke"})."""
    return {kind for kind, pattern in _PATTERNS.items() if pattern.search(text)}


@dataclass(frozen=True)
class ShotRequest:
    """The texture and events a shot asked for, and why (for the report's reasons).

    asks: kind -> what asked for it ("weather: storm", "text: 'flames'").
    """

    asks: dict[str, str] = field(default_factory=dict)

    @property
    def textures(self) -> list[str]:
        """Requested layers the stability check masks, in TEXTURES order."""
        return [k for k in TEXTURES if k in self.asks]

    @property
    def flashes(self) -> bool:
        """True when the shot asked for lightning (storm weather or the words)."""
        return any(k in self.asks for k in FLASHES)

    def __bool__(self) -> bool:
        return bool(self.asks)


def shot_request(shot: ShotSpec) -> ShotRequest:
    """What a planned shot asked for: its weather, then the lexicon on its words."""
    texts = [shot.text, shot.subject, shot.action, shot.environment, shot.prompt, *(e.text for e in shot.expansions)]
    return _request(shot.weather, texts)


def request_for(weather: str = "clear", text: str = "") -> ShotRequest:
    """A ShotRequest from a weather word and free text (the CLI and tests, without a plan)."""
    return _request(weather, [text])


def _request(weather: str, texts: list[str]) -> ShotRequest:
    asks: dict[str, str] = {}
    for kind in WEATHER_ASKS.get(weather, ()):
        asks[kind] = f"weather: {weather}"
    for text in texts:
        for kind, pattern in _PATTERNS.items():
            if kind in asks:
                continue
            found = pattern.search(text)
            if found:
                asks[kind] = f"text: '{found.group(0)}'"
    return ShotRequest(asks)
