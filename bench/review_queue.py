"""Load benchmark: 30 small episodes queued at once behind a GPU concurrency limit of 1.

    python bench/review_queue.py [--episodes 30] [--parallel 4]

Serves the flows exactly as `reelgate up` does (a child `reelgate up --series`, with its
own Prefect server on a free port and a temporary data folder), queues every episode at
once (each twice, to prove the idempotency key), waits until all wait for review, and
checks: none lost, none produced twice. Generation is the animatic declared a GPU backend
(tests.fakes:FakeGpuGenerator), so every shot takes the one slot of `reelgate-gpu`.

Prints the wall time, the queue's throughput (episodes per minute) and the orchestration
overhead per episode: the run's time from start to the review gate minus the sum of its
task times (from the Prefect API).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "A red fox runs across the snowy hill.", "An owl watches the moon over the pines.",
    "A white hare jumps over the frozen stream.", "A small boat drifts on the calm lake.",
    "A lantern glows in the quiet village street.", "A kite rises above the green field.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--parallel", type=int, default=4, help="flow runs the runner executes at once")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the whole queue")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="reelgate-bench-queue-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({
        "REELGATE_DATA_DIR": str(data), "REELGATE_SERVER_PORT": str(port), "REELGATE_REVIEW_PORT": "0",
        "REELGATE_GENERATION__BACKEND": "tests.fakes:FakeGpuGenerator", "REELGATE_GENERATION__GPU_SLOTS": "1",
        "REELGATE_GENERATION__WIDTH": "320", "REELGATE_GENERATION__HEIGHT": "180", "REELGATE_GENERATION__FPS": "12",
        "REELGATE_PLANNING__SHOT_SECONDS": "2", "PYTHONUNBUFFERED": "1",
    })
    for key in [k for k in os.environ if k.startswith("PREFECT_")]:
        del os.environ[key]
    os.environ.update(env)  # this process builds its requests with the same settings
    from flows.environment import configure_prefect
    from reelgate.settings import RunOptions, Settings

    settings = Settings()
    configure_prefect(settings)  # before anything imports Prefect, which reads it at import
    from editorial.series import load_series
    from flows.series import episode_idempotency_key
    series_file = data / "bench.yaml"
    # A schedule that never fires during the bench: the queue is filled by hand, at once.
    lines = ["id: bench", "title: Bench", "language: en", "timezone: UTC", 'schedule: "0 0 1 1 *"',
             "style_preset: storybook", "episodes:"]
    lines += [f"  - {{id: ep{i:02d}, title: Ep {i}, story: {SENTENCES[i % len(SENTENCES)]}}}" for i in range(args.episodes)]
    series_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    series = load_series(series_file, settings.planning)

    log = data / "up.log"
    with open(log, "wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "cli", "up", "--series", str(series_file),
                               "--parallel", str(args.parallel)],
                              env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    from flows.environment import api_client

    api = api_client(settings)  # the server `up` starts asks for its secret
    try:
        while "serving the episode" not in log.read_text():
            if up.poll() is not None:
                print(log.read_text()[-3000:])
                return 2
            time.sleep(1)
        from flows import runs

        deployment_id = runs.episode_deployment_id()
        options = RunOptions(preset=series.style_preset)
        requests = [series.episode_request(e, settings.planning) for e in series.episodes]
        t0 = time.monotonic()
        run_ids = set()
        for _ in range(2):  # the second round must get the same runs back
            for request in requests:
                run = runs.create_episode_run(deployment_id, request, options,
                                                 idempotency_key=episode_idempotency_key(request.episode_id))
                run_ids.add(run.id)
        queued_s = time.monotonic() - t0
        assert len(run_ids) == args.episodes, f"{len(run_ids)} runs for {args.episodes} episodes"

        ids = [str(i) for i in run_ids]
        while True:
            runs = api.post("/flow_runs/filter", json={"flow_runs": {"id": {"any_": ids}}, "limit": 200}).json()
            states = [r["state_type"] for r in runs]
            if all(s in ("PAUSED", "COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states):
                break
            if time.monotonic() - t0 > args.timeout:
                print(f"timed out; states: { {s: states.count(s) for s in set(states)} }")
                return 1
            time.sleep(2)
        wall_s = time.monotonic() - t0

        from editorial.manifest import load_manifest

        statuses = [load_manifest(settings.episodes_dir / r.episode_id).status.value for r in requests]
        tasks: list[dict] = []
        while batch := api.post("/task_runs/filter", json={"flow_runs": {"id": {"any_": ids}}, "limit": 200,
                                                            "offset": len(tasks)}).raise_for_status().json():
            tasks += batch
        task_s: dict[str, float] = {}
        for t in tasks:
            task_s[t["flow_run_id"]] = task_s.get(t["flow_run_id"], 0.0) + (t["total_run_time"] or 0.0)
        overheads, waits = [], []
        for r in runs:
            run_s = _seconds(r["state"]["timestamp"]) - _seconds(r["start_time"])
            overheads.append(run_s - task_s.get(r["id"], 0.0))
            waits.append(_seconds(r["start_time"]) - _seconds(r["created"]))
        names = [r["name"] for r in runs]
        twice = sorted({n for n in names if names.count(n) > 1})
        generated = [len(load_manifest(settings.episodes_dir / r.episode_id).shots[0].attempts) for r in requests]

        print(f"episodes          {args.episodes} (runner parallel {args.parallel}, GPU slots 1)")
        print(f"queued in         {queued_s:.1f} s (each twice; {len(run_ids)} runs)")
        print(f"states            { {s: states.count(s) for s in set(states)} }")
        print(f"manifests         { {s: statuses.count(s) for s in set(statuses)} }")
        print(f"lost / twice      {args.episodes - len(set(names))} / {len(twice)}")
        print(f"wall time         {wall_s:.1f} s")
        print(f"throughput        {args.episodes / wall_s * 60:.2f} episodes/minute")
        print(f"task time         {sum(task_s.values()):.1f} s in all, {sum(task_s.values()) / args.episodes:.1f} s per episode")
        print(f"overhead/episode  mean {sum(overheads) / len(overheads):.1f} s, max {max(overheads):.1f} s "
              "(run start to review gate, minus its task times)")
        print(f"queue wait        mean {sum(waits) / len(waits):.1f} s, max {max(waits):.1f} s (created to started)")
        print(f"attempts/shot     mean {sum(generated) / len(generated):.2f}")
        ok = statuses.count("awaiting_review") == args.episodes and not twice
        print("OK: all reached review, none lost, none produced twice" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        from flows import server

        server.stop_server(settings)
        print(f"data and up's log in {data}")


if __name__ == "__main__":
    sys.exit(main())
