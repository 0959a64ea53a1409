"""The whole pipeline under a real Prefect server: prompt -> MP4 at the review gate -> decision.

These run the `reelgate` CLI in-process (the flow itself runs in a child process, exactly
as for a user) against the session's own server and data folder (see conftest.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import srt
import yaml

from editorial.audit import read_audit
from editorial.manifest import load_manifest
from cli import main
from postprocess.audio import measure_file_loudness
from reelgate.media import probe

pytestmark = pytest.mark.integration

STORY_EN = (
    "At dusk a fox runs across the snowy hills. "
    "The fox stops under a tall pine and looks up at the first stars. "
    "Then the moon rises slowly over the quiet valley."
)
STORY_ZH = "夜空中，织女在银河边织着云锦。牛郎牵着老牛，望向河对岸的星光。喜鹊成群飞来，在银河上搭起一座桥。"


def _episode_dir(settings, episode_id: str) -> Path:
    return settings.episodes_dir / episode_id


def test_english_story_becomes_a_video_waiting_for_review_then_published(prefect_server, capsys):
    settings = prefect_server
    assert main(["episode", STORY_EN, "--id", "e2e-en", "--title", "Fox"]) == 0
    out = capsys.readouterr().out
    assert "awaiting_review" in out and "reelgate review approve e2e-en" in out

    episode = _episode_dir(settings, "e2e-en")
    manifest = load_manifest(episode)
    assert manifest.status.value == "awaiting_review"
    assert len(manifest.shots) == 3
    assert len({s.attempts[0].shot.seed for s in manifest.shots}) == 3  # one seed per shot
    video_file = episode / manifest.outputs["video"]
    assert video_file == episode / "round1" / "episode.mp4"

    info = probe(video_file)
    video, audio = info.of_kind("video"), info.of_kind("audio")
    assert video and video[0].codec == "h264" and (video[0].width, video[0].height) == (320, 180)
    assert audio and audio[0].codec == "aac"
    assert info.of_kind("subtitle"), "soft subtitle track missing"
    assert 6.0 < info.duration_s < 30.0

    cues = list(srt.parse((episode / manifest.outputs["subtitles"]).read_text(encoding="utf-8")))
    assert len(cues) >= 3
    assert cues[-1].end.total_seconds() <= info.duration_s + 0.05
    assert (episode / manifest.outputs["contact_sheet"]).stat().st_size > 10_000

    # The final file, after AAC, is at the loudness target with the peak under the ceiling,
    # and the manifest says where the music came from, who spoke, and what the AI label says.
    lufs, peak = measure_file_loudness(video_file)
    assert abs(lufs - settings.post.target_lufs) <= 1.0 and peak <= settings.post.true_peak_db + 0.5
    assert manifest.soundtrack.music and all(s.narration.voice == "piper" for s in manifest.shots)
    assert manifest.ai_label["Label"] == "1" and manifest.ai_label["ProduceID"] == "e2e-en"
    # Each shot's place in the episode is recorded, so the review page seeks where the flow put it.
    starts = [s.start_s for s in manifest.shots]
    assert starts[0] == 0.0 and starts == sorted(starts) and len(set(starts)) == 3 and starts[-1] < info.duration_s

    # Nothing is published before a decision.
    assert not (settings.publish_dir / "e2e-en").exists()
    assert main(["review", "list"]) == 0
    assert "e2e-en" in capsys.readouterr().out

    assert main(["review", "approve", "e2e-en", "--notes", "lovely fox", "--version", manifest.version.id]) == 0
    published = settings.publish_dir / "e2e-en"
    assert (published / "episode.mp4").read_bytes() == video_file.read_bytes()
    assert (published / "subtitles.srt").is_file()
    final = load_manifest(episode)
    assert final.status.value == "published"
    assert final.review is not None and final.review.reviewer == "owner" and final.review.decision.value == "approve"
    events = [e for e in read_audit(settings.data_dir / "audit.jsonl") if e["episode_id"] == "e2e-en"]
    assert [e["what"] for e in events] == ["approve"] and events[0]["who"] == "owner"

    # Running a decided episode again (the same request) redoes nothing and loses no part of its decision.
    assert main(["episode", STORY_EN, "--id", "e2e-en", "--title", "Fox"]) == 0
    again = load_manifest(episode)
    assert again.status.value == "published" and again.review == final.review
    assert len([e for e in read_audit(settings.data_dir / "audit.jsonl") if e["episode_id"] == "e2e-en"]) == 1


def test_chinese_story_gets_chinese_subtitles_and_can_be_rejected(prefect_server, capsys):
    settings = prefect_server
    assert main(["episode", STORY_ZH, "--id", "e2e-zh"]) == 0
    episode = _episode_dir(settings, "e2e-zh")
    manifest = load_manifest(episode)
    assert manifest.language == "zh" and len(manifest.shots) == 3
    text = "".join(c.content for c in srt.parse((episode / manifest.outputs["subtitles"]).read_text(encoding="utf-8")))
    assert "织女" in text and "喜鹊" in text

    assert main(["review", "show", "e2e-zh"]) == 0  # reject then decides on the version shown
    assert main(["review", "reject", "e2e-zh"]) == 2  # notes are required to reject
    assert main(["review", "reject", "e2e-zh", "--notes", "the bridge is missing"]) == 1
    final = load_manifest(episode)
    assert final.status.value == "rejected" and final.review.notes == "the bridge is missing"
    assert not (settings.publish_dir / "e2e-zh").exists()

    assert main(["episode", STORY_ZH, "--id", "e2e-zh"]) == 1  # still rejected, not re-queued
    assert load_manifest(episode).review == final.review
    assert not (settings.publish_dir / "e2e-zh").exists()


def test_blocked_prompt_ends_with_reasons_and_no_video(prefect_server, capsys):
    settings = prefect_server
    code = main(["episode", "A close-up of a bloody beheading in the market.", "--id", "e2e-blocked"])
    out = capsys.readouterr().out
    assert code == 1
    assert "blocked" in out
    manifest = load_manifest(_episode_dir(settings, "e2e-blocked"))
    assert manifest.status.value == "blocked"
    assert manifest.verdict.reasons and any("gore" in r or "violence" in r for r in manifest.verdict.reasons)
    assert not list(_episode_dir(settings, "e2e-blocked").glob("*.mp4"))


def test_a_run_killed_after_generation_does_not_generate_again(prefect_server, tmp_path):
    settings = prefect_server
    counter = tmp_path / "generator_calls.txt"
    env = {**os.environ, "REELGATE_TEST_CALLS": str(counter), "REELGATE_GENERATION__BACKEND": "tests.fakes:CountingAnimatic"}
    cmd = [sys.executable, "-m", "cli", "episode", STORY_EN, "--id", "e2e-crash"]
    episode = _episode_dir(settings, "e2e-crash")
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        # Narration starts only after every shot was generated, checked and persisted.
        while not list(episode.glob("voice*.wav")):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "generation did not finish in time"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    calls_before = counter.read_text().splitlines()
    assert len(calls_before) == 3
    assert not list(episode.glob("round*/episode.mp4"))

    restarted = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert restarted.returncode == 0, restarted.stdout[-2000:] + restarted.stderr[-2000:]
    assert counter.read_text().splitlines() == calls_before, "shots were generated again after the restart"
    resumed = load_manifest(episode)
    assert resumed.status.value == "awaiting_review"
    assert (episode / resumed.outputs["video"]).is_file()


def test_tiny_wan_pipeline_runs_the_whole_flow(prefect_server, tmp_path, monkeypatch, capsys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from generation.tiny_models import build_tiny_wan

    model = build_tiny_wan(tmp_path / "tiny-wan")
    monkeypatch.setenv("REELGATE_GENERATION__WIDTH", "96")
    monkeypatch.setenv("REELGATE_GENERATION__HEIGHT", "64")
    monkeypatch.setenv("REELGATE_GENERATION__FPS", "8")
    monkeypatch.setenv("REELGATE_GENERATION__STEPS", "2")
    monkeypatch.setenv("REELGATE_GENERATION__GPU_SLOTS", "2")
    monkeypatch.setenv("REELGATE_QUALITY__MAX_ATTEMPTS", "1")
    code = main(["episode", STORY_EN, "--id", "e2e-wan", "--backend", "wan", "--model", str(model)])
    assert code == 0, capsys.readouterr().out
    episode = _episode_dir(prefect_server, "e2e-wan")
    manifest = load_manifest(episode)
    assert manifest.backend == "wan" and manifest.status.value == "awaiting_review"
    kept = manifest.shots[0].attempts[0].shot
    assert kept.backend == "wan" and kept.frames % 4 == 1
    # The generation record: what ran, where, how long, how much memory.
    assert kept.model == str(model) and kept.pipeline == "WanPipeline" and kept.steps == 2
    assert kept.device in ("cpu", "cuda") and kept.seconds_taken > 0 and kept.peak_memory_mb > 0
    info = probe(episode / manifest.outputs["video"])
    assert info.of_kind("video")[0].width == 96 and info.of_kind("audio")

    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("reelgate-gpu")
        progress = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["e2e-wan-shot1-progress"])))
    assert limit.limit == 2
    assert progress and progress[0].type == "progress" and float(progress[0].data) == 100.0


def test_a_provider_refusal_blocks_the_episode_and_is_never_retried(prefect_server, tmp_path, monkeypatch, capsys):
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("REELGATE_TEST_CALLS", str(calls))
    monkeypatch.setenv("REELGATE_GENERATION__BACKEND", "tests.fakes:RefusingGenerator")
    code = main(["episode", STORY_EN, "--id", "e2e-refused"])
    out = capsys.readouterr().out
    assert code == 1, out
    manifest = load_manifest(_episode_dir(prefect_server, "e2e-refused"))
    assert manifest.status.value == "blocked"
    assert any("refused" in r and "DataInspectionFailed" in r for r in manifest.verdict.reasons)
    (attempt,) = manifest.shots[0].attempts
    assert attempt.shot is None and attempt.refusal.model_dump() == {
        "index": 0, "attempt": 0, "backend": "fake-cloud", "model": None, "code": "DataInspectionFailed",
        "message": "Input data may contain inappropriate content.", "request_id": "req-1"}
    assert calls.read_text().splitlines() == ["shot0 attempt0 refused"]  # no other seed, no other shot
    assert not list(_episode_dir(prefect_server, "e2e-refused").glob("round*/episode.mp4"))


def test_a_frozen_shot_is_regenerated_with_a_new_seed_and_the_reason_is_kept(prefect_server, monkeypatch, capsys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    monkeypatch.setenv("REELGATE_GENERATION__BACKEND", "tests.fakes:FreezingGenerator")
    assert main(["episode", STORY_EN, "--id", "e2e-frozen-once"]) == 0, capsys.readouterr().out
    manifest = load_manifest(_episode_dir(prefect_server, "e2e-frozen-once"))
    for shot in manifest.shots:
        first, second = shot.attempts
        assert "frozen" in first.quality["failing"] and "nearly still" in first.retry_reason
        assert second.quality["passed"] and shot.kept_attempt == 1
        assert second.shot.seed != first.shot.seed
    with get_client(sync_client=True) as client:
        table = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["e2e-frozen-once-attempts-shot1"]))
        )
    rows = json.loads(table[0].data) if isinstance(table[0].data, str) else table[0].data
    assert [r["quality"] for r in rows] == ["fail", "pass"] and rows[1]["kept"] == "yes"
    assert "nearly still" in rows[0]["retry reason"]


def test_a_shot_that_never_passes_quality_goes_to_review_flagged(prefect_server, monkeypatch, capsys):
    monkeypatch.setenv("REELGATE_GENERATION__BACKEND", "tests.fakes:FreezingGenerator")
    monkeypatch.setenv("REELGATE_TEST_ALWAYS_FROZEN", "1")
    monkeypatch.setenv("REELGATE_QUALITY__MAX_ATTEMPTS", "2")
    assert main(["episode", "The fox runs across the snowy hills.", "--id", "e2e-frozen-always"]) == 0
    manifest = load_manifest(_episode_dir(prefect_server, "e2e-frozen-always"))
    assert manifest.status.value == "awaiting_review"
    assert [len(s.attempts) for s in manifest.shots] == [2] * len(manifest.shots)
    assert manifest.verdict.action.value == "review"
    assert any("no attempt passed quality in 2 tries" in r for r in manifest.verdict.reasons)


def test_missing_model_fails_at_once_with_a_message(prefect_server, capsys, tmp_path):
    started = time.monotonic()
    code = main(["episode", STORY_EN, "--id", "e2e-nomodel", "--backend", "wan", "--model", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 2
    assert "nope" in err and "REELGATE_GENERATION__MODEL" in err
    assert time.monotonic() - started < 10
    assert not (prefect_server.episodes_dir / "e2e-nomodel").exists()


def test_every_shot_is_enhanced_before_it_is_checked_and_the_record_says_how(prefect_server, monkeypatch, capsys):
    """Issue 18: a look and shot-to-shot matching run right after generation; safety and quality
    score the enhanced file, which is the one assembled; the generator's own file is kept."""
    monkeypatch.setenv("REELGATE_ENHANCE__GRADE__LOOK", "night-blue")
    assert main(["episode", STORY_EN, "--id", "e2e-enhanced"]) == 0, capsys.readouterr().out
    manifest = load_manifest(_episode_dir(prefect_server, "e2e-enhanced"))
    for shot in manifest.shots:
        attempt = shot.attempts[shot.kept_attempt]
        steps = [s["step"] for s in attempt.enhance["steps"]]
        assert "grade" in steps or "match+grade" in "+".join(steps), attempt.enhance
        assert "clean" not in steps  # the animatic's drawn frames are not denoised
        assert attempt.shot.path.name.endswith("_enhanced.mp4") and attempt.generated.name.endswith(".mp4")
        assert attempt.shot.path.is_file() and attempt.generated.is_file()
        assert attempt.quality["passed"]
    assert not any("enhancement failed" in r for r in manifest.verdict.reasons)


def test_a_malformed_lut_stops_the_episode_before_anything_is_generated(prefect_server, monkeypatch, capsys, tmp_path):
    lut = tmp_path / "look.cube"
    lut.write_text("LUT_3D_SIZE 2\n0 0 0\n1 1\n")
    monkeypatch.setenv("REELGATE_ENHANCE__GRADE__LUT", str(lut))
    code = main(["episode", STORY_EN, "--id", "e2e-badlut"])
    err = capsys.readouterr().err
    assert code == 2 and "REELGATE_ENHANCE__GRADE__LUT" in err and "line 3" in err
    assert not (prefect_server.episodes_dir / "e2e-badlut").exists()


def test_empty_prompt_is_refused_with_a_message(capsys):
    assert main(["episode", "   "]) == 2
    assert "prompt is empty" in capsys.readouterr().err


def test_an_edited_plan_is_screened_produced_and_flagged_for_review(prefect_server, capsys, tmp_path):
    """An editor's plan file drives the episode, and what the editor typed is screened too."""
    settings = prefect_server
    plan_file = tmp_path / "plan.yaml"
    assert main(["plan", STORY_EN, "--id", "e2e-plan", "--out", str(plan_file)]) == 0
    data = yaml.safe_load(plan_file.read_text(encoding="utf-8"))
    data["shots"][1]["action"] = "tortures a rabbit under a tall pine"  # review-listed, typed in the plan
    data["shots"][2]["camera"] = "static"
    plan_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    assert main(["episode", "--plan", str(plan_file), "--id", "e2e-plan"]) == 0
    manifest = load_manifest(_episode_dir(settings, "e2e-plan"))
    assert manifest.status.value == "awaiting_review"
    assert manifest.screening["action"] == "review"
    assert any("torture" in r for r in manifest.verdict.reasons)  # kept for the reviewer
    shots = manifest.plan.shots
    assert shots[1].action.startswith("tortures a rabbit") and "tortures a rabbit" in shots[1].prompt  # prompt rebuilt
    assert shots[2].camera == "static"


def test_demo_leaves_the_example_waiting_at_the_review_gate(prefect_server, capsys):
    """`make demo` (up --until-review) exits at the gate and the episode stays reviewable."""
    assert main(["up", "--until-review"]) == 0
    out = capsys.readouterr().out
    episode_id = next(line.split()[2].rstrip(":") for line in out.splitlines() if line.startswith("example episode"))
    assert main(["review", "list"]) == 0
    assert episode_id in capsys.readouterr().out
