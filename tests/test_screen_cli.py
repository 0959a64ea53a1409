"""`reelgate screen` and `reelgate plan`: what a user types and reads."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import yaml

from cli import main

FAST = ["--no-semantic"]  # the semantic layer has its own tests (tests/test_semantic.py)


def _run(capsys, argv: list[str], stdin: bytes | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_screen_arguments_exit_status_and_marked_spans(capsys) -> None:
    code, out, _ = _run(capsys, ["screen", *FAST, "a fox under the stars", "一只小狐狸在森林里奔跑"])
    assert code == 0 and out.count("PASS") == 2
    code, out, _ = _run(capsys, ["screen", *FAST, "the 血 腥 scene", "a fox"])
    assert code == 1
    assert "BLOCK  the [血 腥] scene" in out and "gore: '血腥' (separated) at 4-7" in out
    code, out, _ = _run(capsys, ["screen", *FAST, "the kill"])  # warn only: still exit 0
    assert code == 0 and out.startswith("WARN")


def test_screen_json_lines_in_input_order_from_stdin(capsys, monkeypatch) -> None:
    lines = "a fox\nｂｌｏｏｄｙ mess\n\nxue xing 场面\n".encode() + b"\xff\xfe broken bytes\n"
    code, out, _ = _run(capsys, ["screen", *FAST, "--json"], stdin=lines, monkeypatch=monkeypatch)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [r["text"] for r in rows] == ["a fox", "ｂｌｏｏｄｙ mess", "xue xing 场面", "\ufffd\ufffd broken bytes"]
    assert [r["action"] for r in rows] == ["pass", "warn", "block", "pass"]
    assert set(rows[1]["matches"][0]) >= {"term", "category", "action", "layer", "start", "end", "text"}
    pinyin = rows[2]["matches"][0]
    assert (pinyin["term"], pinyin["layer"], pinyin["text"]) == ("血腥", "pinyin", "xue xing")


def test_screen_blocklist_added_or_alone(capsys, tmp_path: Path) -> None:
    mine = tmp_path / "studio.txt"
    mine.write_text("# our own words\nzorblax\n", encoding="utf-8")
    code, out, _ = _run(capsys, ["screen", *FAST, "--json", "--blocklist", str(mine), "a zorblax and 血腥"])
    row = json.loads(out)
    assert code == 1 and {m["term"] for m in row["matches"]} == {"zorblax", "血腥"}
    assert {m["category"] for m in row["matches"] if m["term"] == "zorblax"} == {"custom"}  # no header: custom, block
    code, out, _ = _run(capsys, ["screen", *FAST, "--json", "--no-defaults", "--blocklist", str(mine), "a zorblax and 血腥"])
    assert [m["term"] for m in json.loads(out)["matches"]] == ["zorblax"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["screen", "--no-defaults", "x"], "--no-defaults needs at least one --blocklist"),
        (["screen", "  "], "empty text"),
    ],
)
def test_screen_bad_usage_exits_2_with_a_message(capsys, argv: list[str], needle: str) -> None:
    code, _, err = _run(capsys, argv)
    assert code == 2 and needle in err


def test_screen_malformed_list_names_file_and_line(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("ok\n#! action=destroy\nword\n", encoding="utf-8")
    code, _, err = _run(capsys, ["screen", *FAST, "--blocklist", str(bad), "hello"])
    assert code == 2 and f"{bad}:2" in err and "warn, review, block" in err


def test_plan_shows_a_table_writes_editable_yaml_and_checks_edits(capsys, tmp_path: Path) -> None:
    out_file = tmp_path / "plan.yaml"
    story = "夜晚，一只小狐狸在森林里奔跑，月光洒在湖面上。它遇到了一只猫头鹰，两个朋友一起看星星。"
    code, out, _ = _run(capsys, ["plan", story, "--preset", "ink-wash", "--id", "ep-7", "--out", str(out_file)])
    assert code == 0 and "小狐狸" in out and "2 shots" in out
    data = yaml.safe_load(out_file.read_text(encoding="utf-8"))
    assert data["episode_id"] == "ep-7" and len(data["shots"]) == 2
    assert all("水墨" in s["style"] for s in data["shots"])

    data["shots"][1]["camera"] = "zoom"
    out_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, _, err = _run(capsys, ["plan", "--from", str(out_file)])
    assert code == 2 and "shot 2" in err and "camera" in err


def test_plan_json_shows_each_shots_prompt_directions_and_expansions(capsys, tmp_path: Path) -> None:
    story = (
        "Shot on 35 mm film, warm tungsten light. Night. Lightning splits the sky above the churning river. "
        "The camera tracks Mara as she sprints along the bank."
    )
    code, out, _ = _run(capsys, ["plan", story, "--json", "--out", str(tmp_path / "plan.yaml")])
    assert code == 0
    plan = json.loads(out)  # stdout is the JSON alone; the --out message goes to stderr
    assert plan["directions"] == ["Shot on 35 mm film", "warm tungsten light"]
    first, second = plan["shots"]
    assert first["text"] == "Lightning splits the sky above the churning river."
    assert (first["time_of_day"], first["weather"], first["mood"]) == ("night", "storm", "tense")
    assert second["text"] == "Mara sprints along the bank."  # the camera clause is not narrated
    assert second["camera"] == "track" and "The camera tracks Mara" in second["directions"]
    assert all("Shot on 35 mm film" in s["directions"] and s["prompt"] for s in plan["shots"])
    river = next(e for e in first["expansions"] if e["trigger"] == "river")
    assert "churning" in river["text"] and "glinting" not in river["text"]  # agrees with the text
    assert "storybook" not in first["style"]  # the user's look wins over the default style
