"""What a shot asks for (quality/request.py): weather from the plan, fire/surf/smoke... from its words."""

from __future__ import annotations

from reelgate.records import Expansion, ShotSpec
from quality.request import asked_in_text, request_for, shot_request


def _spec(**fields: object) -> ShotSpec:
    base: dict[str, object] = {"index": 0, "text": "A quiet street.", "prompt": "a quiet street", "duration_s": 3.0,
                               "seed": 1}
    return ShotSpec(**{**base, **fields})


def test_weather_asks_for_its_layer_and_storm_for_lightning() -> None:
    assert shot_request(_spec(weather="rain")).textures == ["rain"]
    storm = shot_request(_spec(weather="storm"))
    assert storm.textures == ["rain"] and storm.flashes and storm.asks["lightning"] == "weather: storm"
    for calm in ("clear", "fog", "wind"):
        assert not shot_request(_spec(weather=calm))


def test_fire_surf_smoke_come_from_the_words() -> None:
    r = shot_request(_spec(text="The barn burns.", action="flames leap from the roof", environment="a farm at night"))
    assert r.textures == ["fire"] and r.asks["fire"] == "text: 'flames'"
    assert asked_in_text("Waves crashing on the rocks, smoke rising from a chimney") == {"surf", "smoke"}
    assert asked_in_text("篝火的火焰映红了海浪，炊烟袅袅") == {"fire", "surf", "smoke"}
    assert asked_in_text("广场上人群聚集，夜空繁星点点") == {"crowd", "stars"}
    assert shot_request(_spec(expansions=[Expansion(trigger="storm", text="lightning over the bay")])).flashes


def test_words_that_only_look_like_texture_ask_for_nothing() -> None:
    # A train (火车), romance (浪漫), wandering (流浪), a fired clerk, a film star, an umbrella (雨伞).
    assert asked_in_text("他坐火车去流浪，一路浪漫；她撑着雨伞") == set()
    assert asked_in_text("The clerk was fired. A movie star waves.") == set()


def test_the_negative_prompt_is_not_a_request() -> None:
    assert not shot_request(_spec(negative_prompt="fire, smoke, rain, blurry"))


def test_request_for_combines_weather_and_text() -> None:
    r = request_for("snow", "sparks and flames from the forge")
    assert r.textures == ["snow", "fire"] and not r.flashes
