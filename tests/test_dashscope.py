"""The DashScope cloud backend against a local fake of the documented protocol, faults included."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from generation.dashscope import DashScopeGenerator, sidecar_path
from reelgate.errors import BackendUnavailable, ConfigError, TransientError
from reelgate.media import read_frames
from reelgate.records import GeneratedShot, Refusal, ShotSpec
from reelgate.settings import CloudSettings, GenerationSettings
from tests.fake_dashscope import (
    CONTENT_REJECTED,
    INTERNAL_ERROR,
    INVALID_PARAMETER,
    RATE_LIMIT,
    SUBMIT_PATH,
    FakeDashScope,
    make_video,
)

KEY = "sk-7c1d-secret-test-key-93f0"
ENV_VARS = ("REELGATE_GENERATION__CLOUD__API_KEY", "DASHSCOPE_API_KEY")


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory) -> bytes:
    return make_video(tmp_path_factory.mktemp("fake") / "clip.mp4").read_bytes()


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fake(video_bytes):
    with FakeDashScope(video_bytes, api_key=KEY) as server:
        yield server


def make_settings(fake: FakeDashScope | None = None, key: str | None = KEY, **cloud) -> GenerationSettings:
    options = dict(poll_interval_s=0.01, task_timeout_s=5, request_timeout_s=5, request_retries=2)
    options.update(cloud)
    if fake is not None:
        options["base_url"] = fake.base_url
    return GenerationSettings(backend="dashscope", cloud=CloudSettings(api_key=key, **options))


def make_shot(**fields) -> ShotSpec:
    base = dict(index=2, text="A fox runs.", prompt="A red fox runs through fresh snow, storybook",
                duration_s=3.5, seed=7)
    base.update(fields)
    return ShotSpec(**base)


def run(fake: FakeDashScope, out: Path, *, seed: int = 11, progress=None, **cloud) -> GeneratedShot | Refusal:
    return DashScopeGenerator(make_settings(fake, **cloud)).generate(
        make_shot(), seed=seed, attempt=1, out_path=out, progress=progress
    )


def test_success_sends_the_documented_request_and_records_the_video(fake, tmp_path):
    out = tmp_path / "shot03_try2.mp4"
    calls: list[tuple[int, int]] = []
    record = run(fake, out, progress=lambda done, total: calls.append((done, total)))

    [submit] = fake.submits
    assert submit.headers["authorization"] == f"Bearer {KEY}"
    assert submit.headers["content-type"] == "application/json"
    assert submit.headers["x-dashscope-async"] == "enable"
    assert submit.body == {
        "model": "wan2.2-t2v-plus",
        "input": {
            "prompt": "A red fox runs through fresh snow, storybook",
            "negative_prompt": GenerationSettings().negative_prompt,
        },
        "parameters": {"size": "832*480", "duration": 5, "seed": 11, "prompt_extend": False, "watermark": False},
    }
    task_id = next(iter(fake.tasks))
    assert {p.path for p in fake.polls} == {f"/api/v1/tasks/{task_id}"}
    assert all(p.headers["authorization"] == f"Bearer {KEY}" for p in fake.polls)
    assert len(fake.polls) == 3  # PENDING, RUNNING, SUCCEEDED
    # The signed download link is another host in production: the key must not travel there.
    [download] = fake.downloads
    assert "authorization" not in download.headers

    assert isinstance(record, GeneratedShot)
    assert (record.index, record.attempt, record.seed) == (2, 1, 11)
    assert (record.backend, record.model, record.device) == ("dashscope", "wan2.2-t2v-plus", "dashscope")
    assert record.pipeline == f"dashscope task {task_id}"
    assert record.steps is None and record.peak_memory_mb is None
    # Native size and rate of the provider's file (the muxer scales), not the settings' 832x480.
    assert (record.width, record.height, record.fps, record.frames) == (160, 96, 30, 30)
    assert record.path == out and len(list(read_frames(out))) == 30
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    sidecar = json.loads(sidecar_path(out).read_text())
    assert sidecar["task_id"] == task_id and sidecar["model"] == "wan2.2-t2v-plus"
    assert len(sidecar["request_hash"]) == 64 and sidecar["submitted_at"]
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_shot_negative_prompt_and_cloud_options_are_sent_as_given(fake, tmp_path):
    settings = make_settings(fake, prompt_extend=True, watermark=True)
    settings.model = "wan2.5-t2v-preview"
    shot = make_shot(negative_prompt="ink blots", duration_s=9.0)
    DashScopeGenerator(settings).generate(shot, seed=2**40 + 3, attempt=0, out_path=tmp_path / "a.mp4")
    body = fake.submits[0].body
    assert body["model"] == "wan2.5-t2v-preview"
    assert body["input"] == {"prompt": shot.prompt, "negative_prompt": "ink blots"}
    # wan2.5 makes 5 or 10 s; the API takes seeds below 2**31.
    assert body["parameters"] == {
        "size": "832*480", "duration": 10, "seed": 3, "prompt_extend": True, "watermark": True
    }


def test_provider_rewritten_prompt_is_logged(fake, tmp_path, caplog):
    fake.script.actual_prompt = "A majestic red fox sprints across a snowy meadow at dawn"
    with caplog.at_level(logging.INFO, logger="generation.dashscope"):
        assert isinstance(run(fake, tmp_path / "a.mp4", prompt_extend=True), GeneratedShot)
    assert "A majestic red fox sprints" in caplog.text
    assert fake.submits[0].body["input"]["prompt"] == "A red fox runs through fresh snow, storybook"


def test_rate_limit_is_retried_then_succeeds(fake, tmp_path):
    fake.script.submit_errors = [RATE_LIMIT] * 2
    assert isinstance(run(fake, tmp_path / "a.mp4", request_retries=2), GeneratedShot)
    assert len(fake.submits) == 3 and len(fake.tasks) == 1


def test_rate_limit_exhausted_raises_transient_after_every_retry(fake, tmp_path):
    fake.script.submit_errors = [RATE_LIMIT] * 10
    out = tmp_path / "a.mp4"
    with pytest.raises(BackendUnavailable, match="Throttling.RateQuota") as info:
        run(fake, out, request_retries=3)
    assert isinstance(info.value, TransientError)
    assert len(fake.submits) == 1 + 3
    assert not out.exists() and not sidecar_path(out).exists()


def test_server_errors_on_poll_are_retried(fake, tmp_path):
    fake.script.poll_errors = [INTERNAL_ERROR] * 2
    assert isinstance(run(fake, tmp_path / "a.mp4", request_retries=2), GeneratedShot)
    assert len(fake.submits) == 1
    assert len(fake.polls) == 2 + 3


def test_poll_errors_exhausted_keep_the_task_for_the_retry(fake, tmp_path):
    fake.script.poll_errors = [INTERNAL_ERROR] * 3
    out = tmp_path / "a.mp4"
    with pytest.raises(BackendUnavailable, match="InternalError"):
        run(fake, out, request_retries=2)
    assert sidecar_path(out).exists()
    assert isinstance(run(fake, out), GeneratedShot) and len(fake.submits) == 1


def test_connection_refused_is_transient(tmp_path):
    settings = make_settings(base_url="http://127.0.0.1:9", request_retries=1)
    with pytest.raises(BackendUnavailable, match="failed 2 times"):
        DashScopeGenerator(settings).generate(make_shot(), seed=1, attempt=0, out_path=tmp_path / "a.mp4")


@pytest.mark.parametrize("code", ["DataInspectionFailed", "IPInfringementSuspect", "DataInspection.Audio"])
def test_content_rejected_at_submit_is_a_refusal_submitted_once(fake, tmp_path, code):
    fake.script.submit_errors = [(400, code, CONTENT_REJECTED[2])]
    out = tmp_path / "a.mp4"
    refusal = run(fake, out)
    assert isinstance(refusal, Refusal)
    assert (refusal.code, refusal.message) == (code, CONTENT_REJECTED[2])
    assert (refusal.index, refusal.attempt, refusal.backend, refusal.model) == (2, 1, "dashscope", "wan2.2-t2v-plus")
    assert refusal.request_id
    assert code in refusal.reason()
    assert len(fake.submits) == 1 and not fake.polls
    assert not out.exists() and not sidecar_path(out).exists()


def test_content_rejected_inside_the_task_is_a_refusal_never_resubmitted(fake, tmp_path):
    fake.script.final, fake.script.fail_code, fake.script.fail_message = "FAILED", *CONTENT_REJECTED[1:]
    out = tmp_path / "a.mp4"
    refusal = run(fake, out)
    assert isinstance(refusal, Refusal) and refusal.code == "DataInspectionFailed"
    assert refusal.message == CONTENT_REJECTED[2] and refusal.request_id
    assert len(fake.submits) == 1 and not fake.downloads and not out.exists()


def test_task_failed_inside_the_provider_is_transient_and_the_retry_resubmits(fake, tmp_path):
    fake.script.final = "FAILED"
    out = tmp_path / "a.mp4"
    with pytest.raises(BackendUnavailable, match="FAILED.*InternalError"):
        run(fake, out)
    assert not sidecar_path(out).exists()
    fake.script.final = "SUCCEEDED"
    assert isinstance(run(fake, out), GeneratedShot)
    assert len(fake.submits) == 2


def test_cancelled_task_is_transient(fake, tmp_path):
    fake.script.final = "CANCELED"
    with pytest.raises(BackendUnavailable, match="CANCELED"):
        run(fake, tmp_path / "a.mp4")


def test_expired_task_is_resubmitted_once(fake, tmp_path):
    fake.script.unknown_tasks = 1
    record = run(fake, tmp_path / "a.mp4")
    assert isinstance(record, GeneratedShot) and len(fake.submits) == 2
    assert record.pipeline == f"dashscope task {list(fake.tasks)[1]}"


def test_expired_twice_gives_up(fake, tmp_path):
    fake.script.unknown_tasks = 5
    with pytest.raises(BackendUnavailable, match="UNKNOWN"):
        run(fake, tmp_path / "a.mp4")
    assert len(fake.submits) == 2


def test_rejected_key_is_a_config_error_naming_key_and_region(video_bytes, tmp_path):
    with FakeDashScope(video_bytes, api_key="sk-other-region") as fake:
        with pytest.raises(ConfigError) as info:
            run(fake, tmp_path / "a.mp4")
        message = str(info.value)
        assert "InvalidApiKey" in message and "API key" in message
        assert f"base_url={fake.base_url}" in message and "region" in message
        assert "DASHSCOPE_API_KEY" in message
        assert len(fake.submits) == 1  # never retried


def test_invalid_parameter_is_a_config_error_with_the_provider_message(fake, tmp_path):
    fake.script.submit_errors = [INVALID_PARAMETER]
    with pytest.raises(ConfigError, match="size is not match"):
        run(fake, tmp_path / "a.mp4")
    assert len(fake.submits) == 1


def test_missing_key_fails_preflight_naming_both_variables():
    with pytest.raises(ConfigError) as info:
        DashScopeGenerator.preflight(make_settings(key=None))
    assert "REELGATE_GENERATION__CLOUD__API_KEY" in str(info.value) and "DASHSCOPE_API_KEY" in str(info.value)


@pytest.mark.parametrize("var", ENV_VARS)
def test_key_from_the_environment_is_used(fake, tmp_path, monkeypatch, var):
    monkeypatch.setenv(var, KEY)
    settings = make_settings(fake, key=None)
    DashScopeGenerator.preflight(settings)
    record = DashScopeGenerator(settings).generate(make_shot(), seed=1, attempt=0, out_path=tmp_path / "a.mp4")
    assert isinstance(record, GeneratedShot)
    assert fake.submits[0].headers["authorization"] == f"Bearer {KEY}"


def test_unsupported_size_fails_preflight_naming_allowed_sizes():
    settings = GenerationSettings(backend="dashscope", width=1280, height=720, cloud=CloudSettings(api_key=KEY))
    with pytest.raises(ConfigError) as info:
        DashScopeGenerator.preflight(settings)
    message = str(info.value)
    assert "nearest allowed: 832x480 or 1920x1080" in message  # same shape, the sizes around it
    assert "REELGATE_GENERATION__WIDTH" in message and "REELGATE_GENERATION__HEIGHT" in message
    settings.model = "wanx2.1-t2v-turbo"
    DashScopeGenerator.preflight(settings)  # the 720p model takes it


def test_unknown_model_passes_size_through_with_a_warning(caplog):
    settings = GenerationSettings(
        backend="dashscope", model="wan9-t2v", width=320, height=180, cloud=CloudSettings(api_key=KEY)
    )
    with caplog.at_level(logging.WARNING, logger="generation.dashscope"):
        DashScopeGenerator.preflight(settings)
    assert "wan9-t2v" in caplog.text


def test_timeout_keeps_the_task_and_the_retry_polls_it_without_paying_again(fake, tmp_path):
    fake.script.final = "RUNNING"
    out = tmp_path / "a.mp4"
    with pytest.raises(BackendUnavailable, match="still RUNNING"):
        run(fake, out, task_timeout_s=0.1)
    [task_id] = fake.tasks
    assert json.loads(sidecar_path(out).read_text())["task_id"] == task_id

    fake.script.final = "SUCCEEDED"
    calls: list[tuple[int, int]] = []
    record = run(fake, out, progress=lambda d, t: calls.append((d, t)))
    assert isinstance(record, GeneratedShot) and record.pipeline == f"dashscope task {task_id}"
    assert len(fake.submits) == 1
    assert {p.path for p in fake.polls} == {f"/api/v1/tasks/{task_id}"}
    assert calls[0] == (1, 4) and calls[-1] == (4, 4)


def test_changed_request_is_submitted_anew(fake, tmp_path):
    out = tmp_path / "a.mp4"
    fake.script.final = "RUNNING"
    with pytest.raises(BackendUnavailable):
        run(fake, out, seed=1, task_timeout_s=0.05)
    fake.script.final = "SUCCEEDED"
    record = run(fake, out, seed=2)
    assert len(fake.submits) == 2 and record.pipeline == f"dashscope task {list(fake.tasks)[1]}"


def test_finished_shot_is_not_fetched_again(fake, tmp_path):
    out = tmp_path / "a.mp4"
    first = run(fake, out)
    requests = len(fake.requests)
    again = run(fake, out)
    assert isinstance(again, GeneratedShot) and again.pipeline == first.pipeline
    assert len(fake.requests) == requests


def test_garbage_download_is_transient_and_leaves_no_file(fake, tmp_path):
    fake.script.video = b"<html>not a video</html>" * 10
    out = tmp_path / "a.mp4"
    with pytest.raises(BackendUnavailable, match="not a readable video"):
        run(fake, out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [sidecar_path(out).name]
    # The link is still good: the retry polls the same task and downloads again.
    fake.script.video = None
    assert isinstance(run(fake, out), GeneratedShot) and len(fake.submits) == 1


def test_download_server_error_is_retried(fake, tmp_path):
    fake.script.download_errors = [503]
    assert isinstance(run(fake, tmp_path / "a.mp4"), GeneratedShot)
    assert len(fake.downloads) == 2


def test_the_key_never_leaves_the_authorization_header(video_bytes, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    with FakeDashScope(video_bytes, api_key=KEY) as fake:
        record = run(fake, tmp_path / "ok.mp4", prompt_extend=True)
        seen += [record.model_dump_json(), sidecar_path(tmp_path / "ok.mp4").read_text()]
        generator = DashScopeGenerator(make_settings(fake))
        seen += [repr(generator), make_settings(fake).model_dump_json()]
        for script in (dict(submit_errors=[RATE_LIMIT] * 9), dict(final="FAILED"), dict(video=b"junk"),
                       dict(final="RUNNING"), dict(poll_errors=[INTERNAL_ERROR] * 9)):
            fake.script = type(fake.script)(**script)
            with pytest.raises(BackendUnavailable) as info:
                run(fake, tmp_path / "bad.mp4", request_retries=1, task_timeout_s=0.05)
            seen += [str(info.value), repr(info.value)]
        assert fake.submits[0].headers["authorization"] == f"Bearer {KEY}"  # the check below is meaningful
    with FakeDashScope(video_bytes, api_key="sk-other") as wrong:
        with pytest.raises(ConfigError) as info:
            run(wrong, tmp_path / "wrong.mp4")
        seen.append(str(info.value))
    seen.append(caplog.text)
    seen += [p.read_text(errors="replace") for p in tmp_path.iterdir() if p.suffix == ".json"]
    assert all(KEY not in text and KEY[3:] not in text for text in seen)
    assert "DashScope" in caplog.text  # the logs were captured at all


def test_backend_is_registered_and_needs_no_gpu():
    from generation.base import BACKENDS, uses_gpu

    assert BACKENDS["dashscope"] == "generation.dashscope:DashScopeGenerator"
    assert uses_gpu(make_settings()) is False
    assert SUBMIT_PATH == "/api/v1/services/aigc/video-generation/video-synthesis"
