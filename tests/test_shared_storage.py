"""Shared data behind one fsspec URL (REELGATE_STORAGE_URL): episode folders and signed Prefect results
in a store that workers do not share as a folder.

Fast tier: memory:// and file:// stores. Integration tier: a local S3-compatible server (moto's) through
s3fs, and a run killed on one worker and resumed on another that shares nothing but the store.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from reelgate import storage
from reelgate.errors import BackendUnavailable, ConfigError, InputError
from reelgate.settings import RunOptions, Settings, refuse_run_settings

STORY = (
    "At dusk a fox runs across the snowy hills. "
    "The fox stops under a tall pine and looks up at the first stars. "
    "Then the moon rises slowly over the quiet valley."
)


def _episode(folder: Path) -> dict[str, bytes]:
    """A small episode folder as a worker leaves it: shots, a round's outputs, the manifest."""
    files = {
        "shot01_a0.mp4": os.urandom(70_000),
        "voice01.wav": os.urandom(5_000),
        "round1/episode.mp4": os.urandom(120_000),
        "round1/subtitles.srt": "1\n00:00:00,000 --> 00:00:02,000\n狐狸跑过雪山。\n".encode(),
        "manifest.json": b'{"episode_id": "fox-1"}\n',
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def _stores(tmp_path: Path) -> list[str]:
    return [f"memory://reelgate-test-{uuid.uuid4().hex}", (tmp_path / "store").as_uri()]


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_an_episode_folder_goes_through_the_store_to_a_worker_that_shares_nothing(tmp_path, kind):
    url = _stores(tmp_path)[0 if kind == "memory" else 1]
    worker_a, worker_b = tmp_path / "a", tmp_path / "b"
    made = _episode(worker_a / "episodes" / "fox-1")

    assert storage.push(url, worker_a, worker_a / "episodes" / "fox-1") == len(made)
    assert storage.pull(url, worker_b, worker_b / "episodes" / "fox-1") == []
    for name, data in made.items():
        assert (worker_b / "episodes" / "fox-1" / name).read_bytes() == data

    # Pushing again sends only what changed (a video is not uploaded again after every stage).
    assert storage.push(url, worker_a, worker_a / "episodes" / "fox-1") == 0
    (worker_a / "episodes" / "fox-1" / "manifest.json").write_bytes(b'{"episode_id": "fox-1", "status": "x"}\n')
    assert storage.push(url, worker_a, worker_a / "episodes" / "fox-1") == 1
    storage.pull(url, worker_b, worker_b / "episodes" / "fox-1")
    assert (worker_b / "episodes" / "fox-1" / "manifest.json").read_bytes().endswith(b'"x"}\n')
    assert not list((worker_b / "episodes" / "fox-1").rglob("*.partial*"))


def test_a_file_that_changed_in_the_store_or_was_never_indexed_is_not_pulled(tmp_path):
    url = (tmp_path / "store").as_uri()
    worker_a, worker_b = tmp_path / "a", tmp_path / "b"
    _episode(worker_a / "episodes" / "fox-1")
    storage.push(url, worker_a, worker_a / "episodes" / "fox-1")
    stored = tmp_path / "store" / "episodes" / "fox-1"
    (stored / "round1" / "episode.mp4").write_bytes(b"someone else's video")  # bucket write access, no index edit
    (stored / "extra.mp4").write_bytes(b"half an upload")  # a push that died before its index

    left_out = storage.pull(url, worker_b, worker_b / "episodes" / "fox-1")

    assert left_out == ["round1/episode.mp4"]
    assert not (worker_b / "episodes" / "fox-1" / "round1" / "episode.mp4").exists()
    assert not (worker_b / "episodes" / "fox-1" / "extra.mp4").exists()
    assert (worker_b / "episodes" / "fox-1" / "shot01_a0.mp4").is_file()


def test_a_reader_never_undoes_what_a_live_worker_on_its_folder_has_not_pushed_yet(tmp_path):
    url = f"memory://reelgate-test-{uuid.uuid4().hex}"
    server_side, other_worker = tmp_path / "server", tmp_path / "other"
    folder = server_side / "episodes" / "fox-1"  # the page and a local worker share this folder
    _episode(folder)
    storage.push(url, server_side, folder)
    (folder / "manifest.json").write_bytes(b'{"status": "awaiting_review"}\n')  # saved, not yet pushed

    storage.pull(url, server_side, folder, keep_local_changes=True)  # the review page lists the queue
    assert (folder / "manifest.json").read_bytes() == b'{"status": "awaiting_review"}\n'

    # Another worker pushes a newer manifest of an episode the page only ever read: the page takes it.
    storage.pull(url, other_worker, other_worker / "episodes" / "fox-1")
    (other_worker / "episodes" / "fox-1" / "voice01.wav").write_bytes(b"made on the other worker")
    storage.push(url, other_worker, other_worker / "episodes" / "fox-1")
    storage.pull(url, server_side, folder, keep_local_changes=True)
    assert (folder / "voice01.wav").read_bytes() == b"made on the other worker"
    assert (folder / "manifest.json").read_bytes() == b'{"status": "awaiting_review"}\n'

    # A run that starts takes the store's state: what a crashed run left unpushed is not the truth.
    storage.pull(url, server_side, folder)
    assert (folder / "manifest.json").read_bytes() == b'{"episode_id": "fox-1"}\n'


def test_a_replaced_episode_moves_in_the_store_and_on_a_worker_that_had_the_old_one(tmp_path):
    from editorial.review import supersede

    url = f"memory://reelgate-test-{uuid.uuid4().hex}"
    worker, submitter = tmp_path / "worker", tmp_path / "submitter"
    folder = worker / "episodes" / "fox-1"
    made = _episode(folder)
    storage.push(url, worker, folder)
    mine = submitter / "episodes" / "fox-1"
    storage.pull(url, submitter, mine, keep_local_changes=True)  # what flows.runs.replace_episode does
    supersede(mine)
    storage.push(url, submitter, mine, prune=True)

    storage.pull(url, worker, folder)  # the next run of the new request, on the worker that made the old one
    assert not (folder / "manifest.json").exists() and not (folder / "round1" / "episode.mp4").exists()
    assert (folder / "versions" / "1" / "round1" / "episode.mp4").read_bytes() == made["round1/episode.mp4"]
    assert (folder / "versions" / "1" / "manifest.json").read_bytes() == made["manifest.json"]


def test_a_push_that_dies_midway_leaves_the_index_as_it_was(tmp_path, monkeypatch):
    url = f"memory://reelgate-test-{uuid.uuid4().hex}"
    worker_a, worker_b = tmp_path / "a", tmp_path / "b"
    folder = worker_a / "episodes" / "fox-1"
    _episode(folder)
    storage.push(url, worker_a, folder)
    (folder / "round1" / "episode.mp4").write_bytes(b"round one, made again")
    (folder / "shot02_a0.mp4").write_bytes(b"a new shot")
    real_upload = storage.Store.upload
    calls = []

    def dies_on_second(self, local, rel):
        calls.append(rel)
        if len(calls) == 2:
            raise BackendUnavailable("the store went away")
        real_upload(self, local, rel)

    monkeypatch.setattr(storage.Store, "upload", dies_on_second)
    with pytest.raises(BackendUnavailable):
        storage.push(url, worker_a, folder)
    monkeypatch.undo()

    storage.pull(url, worker_b, worker_b / "episodes" / "fox-1")
    # The index still names the old bytes: the new shot is not taken, and the re-made video is refused
    # (or still the old one), never a mix of an index and files that disagree.
    assert not (worker_b / "episodes" / "fox-1" / "shot02_a0.mp4").exists()
    video = worker_b / "episodes" / "fox-1" / "round1" / "episode.mp4"
    assert not video.exists() or video.read_bytes() != b"round one, made again"


def test_prefect_results_in_the_store_are_signed_with_a_key_that_stays_on_the_worker(tmp_path, monkeypatch):
    from tasks.results import SignedResults, TamperedResult, results_key, sign

    url = f"memory://reelgate-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("REELGATE_STORAGE_URL", url)
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path / "worker"))
    monkeypatch.setenv("PREFECT_LOCAL_STORAGE_PATH", str(tmp_path / "worker" / "results"))
    results = SignedResults()
    record = b'{"metadata": {"serializer": {"type": "json"}}, "result": "1"}'

    assert results.write_path("abc123", record) == f"{url}/results/abc123"
    store = storage.open_store(url)
    stored = store.read_bytes("results/abc123")
    assert stored.startswith(b"reelgate-signed-result-v1\n") and stored.endswith(record)
    assert not (tmp_path / "worker" / "results" / "abc123").exists()  # in the store, not the folder
    assert results.read_path("abc123") == record

    key = results_key(tmp_path / "worker" / "results")
    assert (tmp_path / "worker" / "results.key").stat().st_mode & 0o777 == 0o600
    everything = b"".join(store.fs.cat_file(p) for p in store.fs.find(store.root))
    assert key.hex().encode() not in everything and key not in everything  # the key never goes to the store

    store.write_bytes("results/abc123", stored.replace(b'"1"', b'"2"'))
    with pytest.raises(TamperedResult, match="signature does not match"):
        results.read_path("abc123")
    store.write_bytes("results/abc123", sign(record, b"k" * 32))  # signed by whoever holds the bucket
    with pytest.raises(TamperedResult, match="signature does not match"):
        results.read_path("abc123")
    store.write_bytes("results/abc123", record)  # unsigned
    with pytest.raises(TamperedResult, match="not a signed reelgate result"):
        results.read_path("abc123")
    store.write_bytes("results/abc123", sign(b'{"metadata": {"serializer": {"type": "pickle"}}}', key))
    with pytest.raises(TamperedResult, match="only 'json' is read"):
        results.read_path("abc123")
    with pytest.raises(ValueError, match="does not exist"):
        results.read_path("never-written")
    with pytest.raises(ValueError):  # a key is a path inside the results, never outside
        results.write_path("../escape", record)


def test_a_run_cannot_choose_the_store():
    with pytest.raises(ValidationError):
        RunOptions.model_validate({"storage_url": "s3://someone-elses-bucket/x"})
    assert "storage_url (set REELGATE_STORAGE_URL on the worker)" in refuse_run_settings(
        {"storage_url": "s3://someone-elses-bucket/x"})
    from flows.episode import produce_episode
    from reelgate.records import EpisodeRequest

    with pytest.raises(InputError, match="REELGATE_STORAGE_URL"):
        produce_episode.fn(EpisodeRequest(prompt="A fox.", episode_id="fox-1"),
                           settings={"storage_url": "s3://someone-elses-bucket/x"})


def test_a_storage_url_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(ValidationError) as caught:
        Settings(storage_url="s3://AKIAEXAMPLE:s3cr3t-key@bucket/reelgate")
    assert "carries credentials" in str(caught.value) and "s3cr3t-key" not in str(caught.value)
    with pytest.raises(ValidationError, match="must be an fsspec URL"):
        Settings(storage_url="bucket/reelgate")
    assert Settings(storage_url="s3://bucket/reelgate/").storage_url == "s3://bucket/reelgate"


def test_a_store_that_cannot_be_used_fails_at_worker_start_with_the_url_and_the_reason(tmp_path, monkeypatch):
    from flows.workers import check_storage

    with pytest.raises(ConfigError, match=r"gs:// protocol needs gcsfs"):
        storage.open_store("gs://bucket/reelgate")
    with pytest.raises(BackendUnavailable, match=r"the store file:///proc/reelgate could not write"):
        check_storage("file:///proc/reelgate", tmp_path)


@pytest.mark.integration  # botocore's client, and a bound on the time it takes to give up
def test_an_s3_store_that_does_not_answer_fails_at_worker_start_within_a_minute(tmp_path, monkeypatch):
    from flows.workers import check_storage

    # A closed port where the S3 endpoint should be.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    url = f"s3://unreachable-{uuid.uuid4().hex[:8]}/reelgate"
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=rf"the store {url} could not write .*(onnect|refused)"):
        check_storage(url, tmp_path)
    assert time.monotonic() - started < 60


KEYS = ("results.key", "review.key")  # what signs the Prefect results, and the page's and the CLI's decisions


def _make_keys(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in KEYS:
        (folder / name).write_text(os.urandom(32).hex() + "\n")


def test_a_worker_needs_the_keys_the_pool_signs_with(tmp_path):
    from flows.workers import check_storage

    url = f"memory://reelgate-test-{uuid.uuid4().hex}"
    first, second = tmp_path / "first", tmp_path / "second"
    second.mkdir()
    with pytest.raises(ConfigError, match=r"results.key is missing.*copy results.key"):
        check_storage(url, second)
    _make_keys(first)
    assert check_storage(url, first).count("recorded") == 2
    _make_keys(second)
    with pytest.raises(ConfigError, match="results.key is not the pool's results.key"):
        check_storage(url, second)
    shutil.copy(first / "results.key", second / "results.key")
    with pytest.raises(ConfigError, match="review.key is not the pool's review.key.*refuses every signed review"):
        check_storage(url, second)
    shutil.copy(first / "review.key", second / "review.key")  # what setting up a worker means
    assert check_storage(url, second).count("matches") == 2


def _pool_server(recorded: dict):
    """Answers as a Prefect server whose pool `team` recorded `recorded` as its data (health, auth, variable)."""
    from flows import workers

    def answer(path, headers):
        if path.endswith("/health"):
            return 200, True
        if path.endswith("/variables/name/" + workers.data_variable("team")):
            return 200, {"name": "x", "value": recorded}
        return 404, {}

    return answer


def test_reelgate_worker_checks_the_store_and_its_key_before_it_takes_a_run(tmp_path, monkeypatch, capsys):
    from cli import main
    from flows import workers
    from tests.test_workers import tiny_server

    url = f"memory://reelgate-test-{uuid.uuid4().hex}"
    pool_side, local = tmp_path / "pool-machine", tmp_path / "worker"  # `local` does not exist yet
    _make_keys(pool_side)
    store = storage.open_store(url)
    for name in KEYS:
        storage.check_key(store, bytes.fromhex((pool_side / name).read_text()), pool_side / name)
    recorded = {"path": str(local), "mark": "of-the-pool-machine", "storage_url": url,
                "store_mark": storage.store_mark(store)}
    saved = dict(os.environ)

    def worker_check(storage_url: str | None) -> tuple[int, str]:
        env = {"REELGATE_DATA_DIR": str(local), "REELGATE_PREFECT_API_URL": api}
        for name, value in {**env, "REELGATE_STORAGE_URL": storage_url}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        try:
            code = main(["worker", "--check", "--pool", "team"])
        finally:  # configure_prefect exported the worker's environment into this process: put it back
            os.environ.clear()
            os.environ.update(saved)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    with tiny_server(_pool_server(recorded)) as api:
        code, said = worker_check(url)
        assert code == 2 and "results.key is missing" in said and str(local / "results.key") in said
        assert local.is_dir()  # with a store the data folder is a working copy: made, not refused
        for name in KEYS:
            shutil.copy(pool_side / name, local / name)
        code, said = worker_check(url)
        assert code == 0, said
        assert f"working copy of the pool team's store {url}" in said and said.count("matches") == 2

        code, said = worker_check(None)  # a worker that would write to a folder nobody else reads
        assert code == 2 and "REELGATE_STORAGE_URL=(unset) differs from the pool team's store" in said
        other = f"memory://reelgate-test-{uuid.uuid4().hex}"
        code, said = worker_check(other)
        assert code == 2 and f"set REELGATE_STORAGE_URL={url}" in said

    # The same URL, but not the store the pool recorded (a bucket made again, another endpoint).
    with tiny_server(_pool_server({**recorded, "store_mark": "another"})) as api:
        code, said = worker_check(url)
        assert code == 2 and f"the store {url} is not the pool team's store" in said
    with pytest.raises(ConfigError, match="set REELGATE_DATA_DIR=.*a local folder"):
        with tiny_server(_pool_server({**recorded, "path": str(tmp_path / "elsewhere")})) as api:
            workers.check_same_data(api, None, "team", local, storage_url=url)


# ---------------------------------------------------------------- integration: S3 and a resumed run


@pytest.fixture
def s3_server(monkeypatch):
    """A local S3-compatible endpoint (moto's server) on a free port, with its credentials in the environment."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.mark.integration
def test_an_episode_folder_and_signed_results_go_through_an_s3_server(s3_server, tmp_path, monkeypatch):
    from flows.workers import check_storage
    from tasks.results import SignedResults, TamperedResult

    bucket = f"reelgate-{uuid.uuid4().hex[:8]}"
    url = f"s3://{bucket}/shared"
    store = storage.open_store(url)
    store.fs.mkdir(bucket)
    worker_a, worker_b = tmp_path / "a", tmp_path / "b"
    _make_keys(worker_a)
    assert check_storage(url, worker_a).count("recorded") == 2

    made = _episode(worker_a / "episodes" / "fox-1")
    assert storage.push(url, worker_a, worker_a / "episodes" / "fox-1") == len(made)
    assert storage.pull(url, worker_b, worker_b / "episodes" / "fox-1") == []
    assert {n: (worker_b / "episodes" / "fox-1" / n).read_bytes() for n in made} == made
    assert storage.folders_in(store, "episodes") == ["fox-1"]

    monkeypatch.setenv("REELGATE_STORAGE_URL", url)
    monkeypatch.setenv("REELGATE_DATA_DIR", str(worker_a))
    record = b'{"metadata": {"serializer": {"type": "json"}}, "result": "1"}'
    SignedResults().write_path("k1", record)
    assert SignedResults().read_path("k1") == record
    store.write_bytes("results/k1", store.read_bytes("results/k1").replace(b'"1"', b'"2"'))
    with pytest.raises(TamperedResult):
        SignedResults().read_path("k1")


def _worker_env(settings, data_dir: Path, store_url: str, counter: Path) -> dict[str, str]:
    """A worker of the session's server with its own data folder and the shared store."""
    from flows.environment import AUTH_FILE

    (data_dir / "prefect").mkdir(parents=True, exist_ok=True)
    shutil.copy(settings.prefect_home / AUTH_FILE, data_dir / "prefect" / AUTH_FILE)  # the server's secret
    return {**os.environ, "REELGATE_DATA_DIR": str(data_dir), "REELGATE_STORAGE_URL": store_url,
            "REELGATE_TEST_CALLS": str(counter), "REELGATE_GENERATION__BACKEND": "tests.fakes:CountingAnimatic"}


@pytest.mark.integration
def test_a_run_killed_on_one_worker_resumes_on_another_from_the_store_without_generating_again(
    prefect_server, tmp_path,
):
    from editorial.manifest import load_manifest

    settings = prefect_server
    store_url = (tmp_path / "store").as_uri()
    local = tmp_path / "worker"  # the same path on every worker: cache keys name absolute paths
    counter = tmp_path / "generator_calls.txt"
    cmd = [sys.executable, "-m", "cli", "episode", STORY, "--id", "shared-crash"]
    episode = local / "episodes" / "shared-crash"
    proc = subprocess.Popen(cmd, env=_worker_env(settings, local, store_url, counter), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not list(episode.glob("voice*.wav")):  # every shot was made, checked and pushed
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "generation did not finish in time"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    calls_before = counter.read_text().splitlines()
    assert len(calls_before) == 3

    # Worker A is gone with its disk; worker B has an empty folder at the same path and the pool's key.
    local.rename(tmp_path / "worker-a-disk")
    env = _worker_env(settings, local, store_url, counter)
    shutil.copy(tmp_path / "worker-a-disk" / "results.key", local / "results.key")
    restarted = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)

    assert restarted.returncode == 0, restarted.stdout[-2000:] + restarted.stderr[-2000:]
    assert counter.read_text().splitlines() == calls_before, "shots were generated again on the second worker"
    resumed = load_manifest(episode)
    assert resumed.status.value == "awaiting_review"
    # What waits at the gate is in the store, byte for byte: a review page elsewhere pulls exactly this.
    page_side = tmp_path / "page"
    assert storage.pull(store_url, page_side, page_side / "episodes" / "shared-crash") == []
    for name in (resumed.outputs["video"], "manifest.json"):
        assert (page_side / "episodes" / "shared-crash" / name).read_bytes() == (episode / name).read_bytes()
