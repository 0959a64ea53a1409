"""Nobody runs commands or skips review through the back door: the server, run parameters, result files.

Integration tier: the session's real Prefect server (conftest.py), started the way reelgate
starts it.
"""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_the_local_server_refuses_callers_without_its_secret(prefect_server):
    from flows.environment import auth_file, server_secret

    settings = prefect_server
    api = settings.local_api_url
    run_id = uuid.uuid4()
    # Without the secret: no CSRF token to be had, no resume, no read.
    assert httpx.get(f"{api}/csrf-token", params={"client": "x"}).status_code == 401
    assert httpx.get(f"{api}/flows/{uuid.UUID(int=0)}").status_code == 401
    resume = httpx.post(f"{api}/flow_runs/{run_id}/resume", json={"run_input": {"decision": "approve"}},
                        headers={"Prefect-Csrf-Token": "forged", "Prefect-Csrf-Client": "x"})
    assert resume.status_code in (401, 403)  # Prefect's CSRF check may answer first; neither lets it in
    wrong = {"Authorization": "Basic " + base64.b64encode(b"reelgate:guess").decode()}
    assert httpx.get(f"{api}/csrf-token", params={"client": "x"}, headers=wrong).status_code == 401
    # With it: in (a missing flow is a 404, not a 401).
    secret = server_secret(settings)
    right = {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}
    assert httpx.get(f"{api}/flows/{uuid.UUID(int=0)}", headers=right).status_code == 404
    # The secret is the owner's alone, and so is the data folder.
    assert auth_file(settings).stat().st_mode & 0o777 == 0o600
    assert settings.data_dir.stat().st_mode & 0o777 == 0o700
    assert (settings.data_dir / "results").stat().st_mode & 0o777 == 0o700


class _Marker:
    """Unpickling this creates a file: what a tampered result would do if it were ever decoded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_a_result_file_someone_else_wrote_is_never_decoded_and_the_task_runs_again(prefect_server, tmp_path):
    from prefect import flow
    from prefect._internal.result_records import ResultRecord, ResultRecordMetadata
    from prefect.serializers import PickleSerializer

    from tasks.common import stage_task
    from tasks.results import RESULTS, SERIALIZER, TamperedResult, SignedResults

    calls = tmp_path / "calls"
    marker = tmp_path / "pwned"

    @stage_task(("reelgate",))
    def count_calls(token: str) -> str:
        with open(calls, "a") as handle:
            handle.write("call\n")
        return token.upper()

    @flow(result_storage=RESULTS, result_serializer=SERIALIZER, persist_result=True)
    def tiny(token: str) -> str:
        return count_calls(token)

    results = prefect_server.data_dir / "results"
    before = set(results.iterdir())
    token = uuid.uuid4().hex
    assert tiny(token) == token.upper()
    assert tiny(token) == token.upper() and calls.read_text().count("call") == 1  # the cache works
    written = [p for p in results.iterdir() if p not in before and p.is_file()]
    assert written and all(p.read_bytes().startswith(b"reelgate-signed-result-v1\n") for p in written)
    records = [p for p in written if b'{"metadata"' in p.read_bytes()]
    assert records and all(b'"serializer":{"type":"json"' in p.read_bytes() for p in records)

    # Someone who can write the results folder swaps every new file for a pickle that would run a command.
    for path in written:
        evil = ResultRecord(metadata=ResultRecordMetadata(serializer=PickleSerializer(), storage_key=str(path)),
                            result=_Marker(str(marker)))
        path.write_bytes(evil.serialize())
    assert tiny(token) == token.upper()
    assert not marker.exists(), "a tampered result was decoded"
    assert calls.read_text().count("call") == 2  # a cache miss: the task ran again

    # The storage says why it refused, naming the file.
    path = written[0]
    path.write_bytes(ResultRecord(metadata=ResultRecordMetadata(serializer=PickleSerializer(),
                                                                storage_key=str(path)),
                                  result=_Marker(str(marker))).serialize())
    with pytest.raises(TamperedResult, match="not a signed reelgate result"):
        SignedResults().read_path(str(path))
    assert not marker.exists()


def test_a_forged_signature_or_another_serializer_is_refused(tmp_path, monkeypatch):
    from tasks.results import SignedResults, TamperedResult, results_key, sign

    monkeypatch.setenv("PREFECT_LOCAL_STORAGE_PATH", str(tmp_path / "results"))
    storage = SignedResults()
    record = b'{"metadata": {"serializer": {"type": "json"}}, "result": "1"}'
    storage.write_path("ok", record)
    assert storage.read_path("ok") == record
    assert (tmp_path / "results.key").stat().st_mode & 0o777 == 0o600
    target = Path(tmp_path / "results" / "ok")
    target.write_bytes(target.read_bytes().replace(b'"1"', b'"2"'))
    with pytest.raises(TamperedResult, match="signature does not match"):
        storage.read_path("ok")
    pickled = b'{"metadata": {"serializer": {"type": "pickle"}}, "result": "x"}'
    target.write_bytes(sign(pickled, results_key(tmp_path / "results")))  # even signed: only JSON is read
    with pytest.raises(TamperedResult, match="only 'json' is read"):
        storage.read_path("ok")


def _create_or_refusal(deployment_id, parameters: dict, name: str):
    """A run created from the deployment, or the server's refusal message (the schema may refuse at once)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError

    try:
        with get_client(sync_client=True) as client:
            return client.create_flow_run_from_deployment(deployment_id, parameters=parameters, name=name), None
    except PrefectHTTPStatusError as exc:
        return None, exc.response.text


@pytest.mark.parametrize(("parameters", "says"), [
    ({"settings": {"post": {"tts_command": "touch {marker}"},
                   "generation": {"cloud": {"base_url": "http://127.0.0.1:9/steal"}}}},
     "post.tts_command"),
    ({"options": {"backend": "tests.fakes:TouchingGenerator"}}, "names code to import"),
    ({"options": {"tts_command": "touch {marker}"}}, "tts_command"),
])
def test_run_parameters_cannot_carry_commands_urls_or_code(prefect_server, tmp_path, parameters, says):
    """Whoever may create a run (the API, a deployment's parameters) still cannot make the worker run a command."""
    import json

    from flows import deployments, runs
    from reelgate.records import EpisodeRequest

    settings = prefect_server
    marker = tmp_path / "ran"
    episode_id = f"cp-{uuid.uuid4().hex[:8]}"
    request = EpisodeRequest(prompt="A fox runs across the snowy hills.", episode_id=episode_id)
    parameters = json.loads(json.dumps(parameters).replace("{marker}", str(marker)))
    deployment_id = deployments.ensure_deployment()
    run, refusal = _create_or_refusal(deployment_id, {"request": request.model_dump(mode="json"), **parameters},
                                      episode_id)
    if run is None:
        assert says in refusal
    else:
        settled = runs.drive_run(run.id, deployment_id, timeout_s=300)
        assert settled.state.type.value == "FAILED", settled.state
        assert says in settled.state.message
    assert not marker.exists(), "a run parameter ran a command on the worker"
    assert not (settings.episodes_dir / episode_id).exists()  # nothing was made
