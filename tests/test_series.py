"""Series files: the example series, every problem reported at its line, the requests it makes."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from editorial.series import Series, SeriesFileError, load_series, next_unproduced
from prompts.screen import Screener
from cli import main
from reelgate.records import Action, EpisodeRequest
from reelgate.settings import Settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "constellations.yaml"

GOOD = """\
id: demo
title: 演示
language: zh
timezone: Asia/Shanghai
schedule: "30 7 * * 1-5"
style_preset: storybook
voice: espeak-pinyin
speech_rate: 1.2
music_mood: calm
episodes:
  - id: fox
    title: 狐狸
    title_en: The Fox
    story: 一只小狐狸在森林里奔跑。它抬头看见满天星星。
  - id: owl
    title: 猫头鹰
    story: 月亮升起来了。猫头鹰在树上唱歌。
"""

# Each broken line is marked with its problem; the test reads the expected lines from the marks.
BROKEN = """\
id: demo
title: 演示
language: zh
timezone: Mars/Olympus             # BAD timezone
schedule: "0 25 * * *"             # BAD schedule
style_preset: no-such-preset       # BAD style_preset
music_mood: gloomy                 # BAD music_mood
colour: blue                       # BAD colour
episodes:
  - id: fox
    title: 狐狸
    story: 一只小狐狸在森林里奔跑。
  - id: fox                        # BAD episodes[2].id
    title: 又一只狐狸
    story: "   "                   # BAD episodes[2].story
  - id: owl
    title: 猫头鹰
    story: 月亮升起来了。
    shots:
      - {shot: 1, camera: zoom}    # BAD episodes[3].shots[1].camera
"""


def _write(tmp_path: Path, text: str, name: str = "series.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _marked_lines(text: str) -> dict[str, int]:
    return {m[1]: n for n, row in enumerate(text.splitlines(), start=1) if (m := re.search(r"# BAD (\S+)", row))}


# ------------------------------------------------------------------ the example series


@pytest.fixture(scope="module")
def example() -> Series:
    return load_series(EXAMPLE)


def test_example_has_twelve_episodes_with_unique_ids_and_english_titles(example: Series) -> None:
    assert (example.language, example.timezone, example.schedule) == ("zh", "Asia/Shanghai", "0 8 * * *")
    assert (example.style_preset, example.voice) == ("constellation-myth", "espeak-pinyin")
    assert len(example.episodes) == 12
    assert len({e.id for e in example.episodes}) == 12
    for e in example.episodes:
        assert re.search(r"[\u4e00-\u9fff]", e.title) and re.fullmatch(r"[A-Za-z][A-Za-z ,'-]+", e.title_en)
        sentences = [s for s in re.split(r"[。！？]", e.story) if s.strip()]
        assert 3 <= len(sentences) <= 5, e.id
        assert " " not in e.story  # folded YAML lines joined without a space between Chinese sentences


def test_example_schedule_fires_at_eight_in_shanghai(example: Series) -> None:
    fire = example.next_fire(datetime(2025, 3, 1, 0, 30, tzinfo=timezone.utc))  # 08:30 in Shanghai
    assert fire.isoformat() == "2025-03-02T08:00:00+08:00"
    assert fire.astimezone(timezone.utc).hour == 0


def _texts(example: Series) -> list[str]:
    return [example.episode_request(e).screening_text() for e in example.episodes]


def test_every_example_story_and_title_passes_the_prompt_screen(example: Series) -> None:
    # The keyword layers (blocklists, pinyin, homophones); the semantic model in the integration test below.
    screening = Settings().screening.model_copy(update={"semantic": False})
    screener = Screener.from_settings(screening)
    for text in _texts(example):
        result = screener.screen(text)
        assert result.action is Action.ALLOW, (text, result.verdict().reasons)


@pytest.mark.integration
def test_every_example_story_passes_the_full_default_screen(example: Series, tmp_path: Path) -> None:
    screener = Screener.from_settings(Settings().screening, tmp_path)
    for text in _texts(example):
        assert screener.screen(text).action is Action.ALLOW, text


# ------------------------------------------------------------------ problems, each at its line


def test_every_problem_is_reported_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(SeriesFileError) as caught:
        load_series(_write(tmp_path, BROKEN))
    found = {(p.where, p.line) for p in caught.value.problems}
    expected = _marked_lines(BROKEN)
    # An unknown key is reported at the key, under the mapping that holds it ("" is the top).
    expected[""] = expected.pop("colour")
    assert found == {(where, line) for where, line in expected.items()}
    by_where = {p.where: p.message for p in caught.value.problems}
    assert "the hour field '25'" in by_where["schedule"] and "0 8 * * *" in by_where["schedule"]
    assert "IANA" in by_where["timezone"]
    assert "constellation-myth" in by_where["style_preset"]  # lists the known presets
    assert "calm" in by_where["music_mood"]
    assert "already used by episode 1" in by_where["episodes[2].id"]
    assert "empty" in by_where["episodes[2].story"]
    assert "tilt_up" in by_where["episodes[3].shots[1].camera"]
    assert "unknown key 'colour'" in by_where[""]
    # The message names the file and every problem with its line, in line order.
    lines = [int(m) for m in re.findall(r"series\.yaml:(\d+):", str(caught.value))]
    assert lines == sorted(expected.values())


def test_yaml_syntax_error_names_the_line_that_opened_it(tmp_path: Path) -> None:
    text = GOOD.replace("title: 狐狸", "title: [狐狸")
    with pytest.raises(SeriesFileError) as caught:
        load_series(_write(tmp_path, text))
    (problem,) = caught.value.problems
    assert problem.line == text.splitlines().index("    title: [狐狸") + 1
    assert "not valid YAML" in problem.message


@pytest.mark.parametrize(
    ("edit", "where", "line", "says"),
    [
        (("  - id: owl", "  - id: 007"), "episodes[2].id", 15, 'quote it: "007"'),
        (("    title: 狐狸\n", "    title: 狐狸\n    title: 小狐狸\n"), "episodes[1].title", 13, "appears twice (first at line 12)"),
        (('schedule: "30 7 * * 1-5"\n', ""), "", 1, "missing key 'schedule'"),
        (("schedule: \"30 7 * * 1-5\"", "schedule: \"*/5 * * * * *\""), "schedule", 5, "has 6 field(s)"),
        (("voice: espeak-pinyin", "voice: piper"), "voice", 7, "espeak-pinyin"),
        (("id: demo", "id: Demo Series"), "id", 1, "folder-safe"),
        (("    story: 月亮", "    shots: [{shot: 5, camera: push}]\n    story: 月亮"), "episodes[2].shots[1].shot", 17,
         "plans into 2 shot(s)"),
    ],
)
def test_single_problems(tmp_path: Path, edit: tuple[str, str], where: str, line: int, says: str) -> None:
    assert edit[0] in GOOD
    with pytest.raises(SeriesFileError) as caught:
        load_series(_write(tmp_path, GOOD.replace(edit[0], edit[1])))
    (problem,) = caught.value.problems
    assert (problem.where, problem.line) == (where, line) and says in problem.message, problem


def test_a_preset_file_is_found_beside_the_series_file(tmp_path: Path) -> None:
    preset = (Path(__file__).resolve().parent.parent / "prompts" / "presets" / "ink-wash.yaml").read_text(encoding="utf-8")
    _write(tmp_path, preset.replace("name: ink-wash", "name: my-look"), "my-look.yaml")
    series = load_series(_write(tmp_path, GOOD.replace("style_preset: storybook", "style_preset: ./my-look.yaml")))
    assert series.planning().preset == str(tmp_path / "my-look.yaml")
    assert "ink" in series.plan(series.episodes[0]).style


def test_duplicate_ids_are_refused_without_a_file_too(tmp_path: Path) -> None:
    series = load_series(_write(tmp_path, GOOD))
    data = series.model_dump()
    data["episodes"][1]["id"] = "fox"
    with pytest.raises(ValidationError, match="used more than once: fox"):
        Series(**data)


# ------------------------------------------------------------------ requests and the next episode


def test_episode_request_maps_the_series_fields(tmp_path: Path) -> None:
    series = load_series(_write(tmp_path, GOOD))
    request = series.episode_request(series.episodes[0])
    assert isinstance(request, EpisodeRequest)
    assert request.episode_id == "demo-fox" and request.prompt == "一只小狐狸在森林里奔跑。它抬头看见满天星星。"
    assert (request.title, request.series, request.language) == ("狐狸", "演示", "zh")
    assert (request.voice, request.speech_rate, request.plan) == ("espeak-pinyin", 1.2, None)
    assert series.planning().preset == "storybook"
    assert series.episode("demo-owl") is series.episodes[1] is series.episode("owl")


def test_shot_overrides_reach_the_plan_in_the_series_look(example: Series) -> None:
    weaver = example.episode("weaver-and-herdsman")
    request = example.episode_request(weaver)
    plain = example.plan(weaver.model_copy(update={"shots": []}))
    assert request.plan is not None and len(request.plan.shots) == len(plain.shots)
    shot = request.plan.shots[2]
    assert shot.camera == "tilt_up" and shot.prompt.endswith("slow tilt up")
    assert plain.shots[2].camera != "tilt_up" and "celestial star map" in shot.prompt
    assert request.plan.shots[:2] == plain.shots[:2]  # the other shots are untouched


def test_text_and_prompt_overrides(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    story: 一只小狐狸",
        "    shots:\n      - {shot: 2, text: 小狐狸在河边喝水。}\n      - {shot: 1, prompt: a red fox running, duration_s: 5}\n"
        "    story: 一只小狐狸",
    )
    series = load_series(_write(tmp_path, text))
    plan = series.episode_request(series.episodes[0]).plan
    assert (plan.shots[0].prompt, plan.shots[0].duration_s) == ("a red fox running", 5)
    assert plan.shots[1].text == "小狐狸在河边喝水。" and "河边" in plan.shots[1].prompt


def test_next_unproduced_skips_produced_ids_in_file_order(example: Series) -> None:
    ids = [example.episode_id(e) for e in example.episodes]
    assert next_unproduced(example, set()).id == "weaver-and-herdsman"
    assert next_unproduced(example, {ids[0], ids[2]}).id == "shen-and-shang"
    assert next_unproduced(example, {"weaver-and-herdsman"}).id == "weaver-and-herdsman"  # bare ids are not pipeline ids
    assert next_unproduced(example, set(ids)) is None


# ------------------------------------------------------------------ the command


def test_series_validate_command(capsys, tmp_path: Path) -> None:
    assert main(["series", "validate", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "12 episodes" in out

    broken = _write(tmp_path, BROKEN)
    assert main(["series", "validate", str(broken)]) == 2
    out, err = capsys.readouterr()
    printed = [int(n) for n in re.findall(rf"^{re.escape(str(broken))}:(\d+): ", out, re.M)]
    assert printed == sorted(_marked_lines(BROKEN).values())
    assert f"{len(printed)} problem(s)" in err and len(printed) == 8

    assert main(["series", "show", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "织女与牛郎  The Weaver and the Herdsman" in out and " 12  pisces" in out
