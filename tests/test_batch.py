"""`reelgate batch FILE`: reading JSONL and CSV batches, dry runs, and queuing idempotent by id.

The fast tests read and check files without a server; the integration ones queue real runs
on the session's Prefect server (see conftest.py) through the same path as `reelgate episode`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli import main
from cli.batch import BAD, BLOCKED, MAX_FILE_BYTES, BatchFileError, read_batch


@pytest.fixture(autouse=True)
def _session_data_dir_restored(monkeypatch):
    """`--data-dir` exports REELGATE_DATA_DIR for the runs a command starts; put the session's back
    after each test, or every later test (and the session's Prefect server) would use this one's."""
    monkeypatch.setenv("REELGATE_DATA_DIR", os.environ["REELGATE_DATA_DIR"])

STORY = "At dusk a fox runs across the snowy hills. Then the moon rises over the quiet valley."
GORE = "A close-up of a bloody beheading in the market."


@pytest.fixture
def lists_only(monkeypatch):
    """Screen with the shipped lists alone: the semantic model loads in the integration tier's batches."""
    monkeypatch.setenv("REELGATE_SCREENING__SEMANTIC", "false")


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                    encoding="utf-8")
    return path


def _by_line(entries):
    return {e.line: e for e in entries}


# ---- reading ---------------------------------------------------------------------------------

def test_jsonl_lines_become_episode_requests(tmp_path):
    entries = read_batch(_jsonl(tmp_path / "b.jsonl", [
        {"id": "fox-1", "story": STORY, "title": "Fox", "language": "en", "preset": "ink-wash"},
        "",
        {"id": "fox-2", "story": "一只狐狸在雪地里奔跑。", "series": "night-tales"},
    ]))
    assert [(e.line, e.episode_id, e.outcome) for e in entries] == [(1, "fox-1", ""), (3, "fox-2", "")]
    first, second = entries
    assert first.request.title == "Fox" and first.request.language == "en" and first.preset == "ink-wash"
    assert first.options.preset == "ink-wash"
    assert second.request.series == "night-tales" and second.request.language == "auto" and second.options is None


def test_csv_rows_keep_their_file_line_numbers(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text('id,story,title\nfox-1,"A fox runs.\nIt stops at the river.",Fox\ncat-1,A cat sleeps.,\n',
                    encoding="utf-8")
    entries = read_batch(path)
    assert [(e.line, e.episode_id) for e in entries] == [(2, "fox-1"), (4, "cat-1")]
    assert entries[0].request.prompt == "A fox runs.\nIt stops at the river."
    assert entries[1].request.title == ""


def test_a_csv_header_with_an_unknown_column_is_refused_naming_it(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("id,story,backend\nx,A fox.,wan\n", encoding="utf-8")
    with pytest.raises(BatchFileError, match="'backend'"):
        read_batch(path)


def test_malformed_lines_are_reported_with_their_numbers_and_the_rest_still_read(tmp_path):
    entries = _by_line(read_batch(_jsonl(tmp_path / "b.jsonl", [
        {"id": "ok-1", "story": STORY},
        "{not json",
        {"story": STORY},
        {"id": "ok-2"},
        {"id": "lang", "story": STORY, "language": "fr"},
        {"id": "pre", "story": STORY, "preset": "no-such-look"},
        {"id": "ok-1", "story": "another story"},
        {"id": "extra", "story": STORY, "backend": "evil", "settings": {"x": 1}},
        ["a", "list"],
        {"id": "ok-3", "story": STORY},
    ])))
    assert {n for n, e in entries.items() if e.outcome == BAD} == {2, 3, 4, 5, 6, 7, 8, 9}
    assert {n for n, e in entries.items() if not e.outcome} == {1, 10}
    assert "not valid JSON" in entries[2].reasons[0]
    assert entries[3].reasons == ["id is missing"]
    assert entries[4].reasons == ["story is missing"]
    assert "'fr'" in entries[5].reasons[0]
    assert "unknown preset 'no-such-look'" in entries[6].reasons[0] and "ink-wash" in entries[6].reasons[0]
    assert "duplicate id 'ok-1': line 1" in entries[7].reasons[0]
    assert "'backend', 'settings'" in entries[8].reasons[0]


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", ".hidden", "", " ", "x" * 101, "名字"])
def test_an_id_is_a_folder_name_and_is_validated_like_episode_ids(tmp_path, bad_id):
    (entry,) = read_batch(_jsonl(tmp_path / "b.jsonl", [{"id": bad_id, "story": STORY}]))
    assert entry.outcome == BAD and entry.request is None
    assert entry.reasons[0].startswith("id ")


@pytest.mark.parametrize("preset", ["../../etc/passwd.yaml", "/tmp/look.yaml", "ink-wash/../x"])
def test_a_preset_is_only_a_shipped_name_never_a_file(tmp_path, preset):
    (entry,) = read_batch(_jsonl(tmp_path / "b.jsonl", [{"id": "x", "story": STORY, "preset": preset}]))
    assert entry.outcome == BAD and "unknown preset" in entry.reasons[0]


def test_a_value_that_is_not_text_is_refused(tmp_path):
    (entry,) = read_batch(_jsonl(tmp_path / "b.jsonl", [{"id": "x", "story": STORY, "title": {"a": 1}}]))
    assert entry.outcome == BAD and entry.reasons == ["title must be text, got dict"]


def test_bounded_input_a_huge_file_is_refused_and_a_huge_line_named(tmp_path):
    from prompts.plan import MAX_PROMPT_CHARS

    big = tmp_path / "big.jsonl"
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(BatchFileError, match="at most"):
        read_batch(big)
    entries = _by_line(read_batch(_jsonl(tmp_path / "b.jsonl", [
        {"id": "long", "story": "a fox runs. " * (MAX_PROMPT_CHARS // 10)},
        {"id": "fine", "story": STORY},
    ])))
    assert entries[1].outcome == BAD and "characters; the limit is" in entries[1].reasons[0]
    assert not entries[2].outcome


def test_bounded_input_a_huge_csv_row_is_named_and_the_next_rows_still_read(tmp_path):
    from prompts.plan import MAX_PROMPT_CHARS

    path = tmp_path / "b.csv"
    path.write_text("id,story\nhuge," + "x" * (MAX_PROMPT_CHARS * 8) + "\nlong,\"a\n" + "y" * (MAX_PROMPT_CHARS + 5000)
                    + "\"\nfine,A fox runs.\n", encoding="utf-8")
    entries = _by_line(read_batch(path))
    assert entries[2].outcome == BAD and "characters; the limit is" in entries[2].reasons[0]
    assert entries[3].outcome == BAD and "characters; the limit is" in entries[3].reasons[0]
    assert entries[5].episode_id == "fine" and not entries[5].outcome


def test_a_story_just_over_the_prompt_limit_is_refused_by_the_request_itself(tmp_path):
    from prompts.plan import MAX_PROMPT_CHARS

    (entry,) = read_batch(_jsonl(tmp_path / "b.jsonl", [{"id": "x", "story": "a" * (MAX_PROMPT_CHARS + 1)}]))
    assert entry.outcome == BAD and entry.reasons[0].startswith("story:")


# ---- dry run ---------------------------------------------------------------------------------

def test_dry_run_reports_every_problem_and_queues_nothing(tmp_path, capsys, monkeypatch, lists_only):
    import cli.batch

    monkeypatch.setattr(cli.batch, "import_flows", lambda *_: pytest.fail("a dry run touched Prefect"))
    path = _jsonl(tmp_path / "b.jsonl", [
        {"id": "fine", "story": STORY},
        "nope",
        {"id": "gore", "story": GORE},
        {"id": "fine", "story": STORY},
    ])
    code = main(["--data-dir", str(tmp_path / "data"), "batch", str(path), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 2
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert "ok" in rows["1"] and "bad line" in rows["2"] and "blocked" in rows["3"] and "bad line" in rows["4"]
    assert "'behead'" in out  # the blocked line says why
    assert "duplicate id 'fine': line 1" in out
    assert not (tmp_path / "data" / "episodes").exists() or not any((tmp_path / "data" / "episodes").iterdir())


def test_dry_run_of_a_clean_file_exits_0_and_a_blocked_story_exits_1(tmp_path, capsys, lists_only):
    clean = _jsonl(tmp_path / "clean.jsonl", [{"id": "a", "story": STORY}, {"id": "b", "story": "一只狐狸在雪地里奔跑。"}])
    assert main(["--data-dir", str(tmp_path / "data"), "batch", str(clean), "--dry-run"]) == 0
    blocked = _jsonl(tmp_path / "blocked.jsonl", [{"id": "a", "story": STORY}, {"id": "g", "story": GORE}])
    assert main(["--data-dir", str(tmp_path / "data"), "batch", str(blocked), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert BLOCKED in out and "behead" in out


def test_dry_run_reports_a_story_over_the_plan_limits(tmp_path, capsys, monkeypatch, lists_only):
    monkeypatch.setenv("REELGATE_PLANNING__LIMITS__MAX_EPISODE_S", "20")
    story = " ".join(f"The fox crosses hill number {k} at dusk and keeps running." for k in range(12))
    path = _jsonl(tmp_path / "b.jsonl", [{"id": "long", "story": story}, {"id": "short", "story": "A fox runs."}])
    assert main(["--data-dir", str(tmp_path / "data"), "batch", str(path), "--dry-run"]) == 2
    out = capsys.readouterr().out
    assert "REELGATE_PLANNING__LIMITS__MAX_EPISODE_S" in out
    assert [line.split()[2] for line in out.splitlines() if line.strip()[:1].isdigit()] == ["bad", "ok"]


def test_a_file_that_is_not_there_is_a_usage_error(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "missing.jsonl"), "--dry-run"]) == 2
    assert "cannot read the batch file" in capsys.readouterr().err


# ---- queuing (a real Prefect server) -----------------------------------------------------------

@pytest.mark.integration
def test_a_batch_queues_each_line_reports_outcomes_and_a_second_run_queues_nothing(prefect_server, tmp_path, capsys):
    from editorial.manifest import load_manifest

    path = _jsonl(tmp_path / "b.jsonl", [
        {"id": "batch-fox", "story": STORY, "title": "Fox"},
        "{broken",
        {"id": "batch-gore", "story": GORE},
    ])
    code = main(["batch", str(path)])
    out = capsys.readouterr().out
    assert code == 2, out  # line 2 is bad; the others still ran
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert "waiting for review" in rows["1"], out
    assert "bad line" in rows["2"] and "blocked" in rows["3"], out
    assert load_manifest(prefect_server.episodes_dir / "batch-fox").status.value == "awaiting_review"
    assert not (prefect_server.episodes_dir / "batch-gore").exists()  # blocked before queuing

    # Again, the broken line fixed and one new line: only the new one is queued.
    _jsonl(path, [
        {"id": "batch-fox", "story": STORY, "title": "Fox"},
        {"id": "batch-fox-2", "story": "A small boat drifts on the calm lake at dawn."},
        {"id": "batch-gore", "story": GORE},
    ])
    from flows import runs

    before = len(runs.episode_runs("batch-fox"))
    code = main(["batch", str(path), "--no-wait"])
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert code == 1, out  # the gore line is blocked still
    assert "waiting for review" in rows["1"] and "already" in rows["1"], out
    assert "queued" in rows["2"], out
    assert len(runs.episode_runs("batch-fox")) == before  # nothing new for an id already waiting
    assert len(runs.episode_runs("batch-fox-2")) == 1

    # A different story under an id that exists is a conflict on its line, never a replacement;
    # a line whose run is still queued is reported running, not queued twice.
    _jsonl(path, [
        {"id": "batch-fox", "story": "A different tale about a heron."},
        {"id": "batch-fox-2", "story": "A small boat drifts on the calm lake at dawn."},
    ])
    assert main(["batch", str(path), "--no-wait"]) == 2
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert "conflict" in rows["1"] and "another request" in out, out
    assert "running" in rows["2"] and "already" in rows["2"], out
    assert len(runs.episode_runs("batch-fox-2")) == 1
    assert load_manifest(prefect_server.episodes_dir / "batch-fox").request.prompt == STORY
