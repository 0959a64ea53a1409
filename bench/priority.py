"""Load benchmark: a high-priority episode queued behind a backlog of scheduled ones reaches review first.

    python bench/priority.py [--backlog 4] [--timeout 600]

Against its own Prefect server (a free port, a temporary data folder), sets the work pool up
as `reelgate pool` does (queues high 1, normal 2, low 3; the episode deployment on the pool),
starts ONE real process worker with `--limit 1` (`prefect worker start` in this checkout), and
runs the same load twice:

- priorities: a backlog of N episodes on the `low` queue (as series fires queue them); once
  the worker has started the first, one episode on the `high` queue (as `reelgate episode`);
- baseline (FIFO): the same load with everything on one queue (`low`).

Episodes are the offline animatic at 192x108, 8 fps, one 1-second shot, so an episode's time
is mostly a flow run's fixed cost (a process, imports, the stages). It records when each
episode reaches the review gate (its run suspends: PAUSED), prints a table per scenario, the
high-priority episode's position and time to review with priorities and FIFO and their ratio,
and PASS when, with priorities, it reaches review before every backlog episode that had not
started when it was queued. Exit 0 on PASS, 1 on FAIL, 2 when the set-up failed.
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
POOL = "bench-priority"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stamp(value: datetime | None) -> float | None:
    return value.timestamp() if value else None


def run_scenario(label: str, backlog: int, high_queue: str, runs, settings, deployment_id, timeout_s: float,
                 t_origin: float) -> dict:
    """Queue `backlog` low episodes, then (once the worker started one) one on `high_queue`; wait for all at review."""
    from reelgate.records import EpisodeRequest

    rows = []
    for i in range(backlog):
        request = EpisodeRequest(episode_id=f"{label}-backlog-{i + 1}", prompt=SENTENCES[i % len(SENTENCES)],
                                 language="en")
        run, _ = runs.start_episode(deployment_id, request, settings, priority="low")
        rows.append({"episode": request.episode_id, "queue": run.work_queue_name, "id": run.id,
                     "queued": time.time()})
    # The worker is busy with the first backlog episode: now someone starts one by hand.
    deadline = time.monotonic() + timeout_s
    while runs.read_run(rows[0]["id"]).state_name not in ("Running", "Paused", "Suspended", "Completed"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{label}: the worker never started the first backlog episode")
        time.sleep(0.5)
    not_started = {r["episode"] for r in rows
                   if (state := runs.read_run(r["id"]).state) is not None and state.type.value == "SCHEDULED"}
    request = EpisodeRequest(episode_id=f"{label}-high", prompt="A fox looks up at the falling star.", language="en")
    run, _ = runs.start_episode(deployment_id, request, settings, priority=high_queue)
    high = {"episode": request.episode_id, "queue": run.work_queue_name, "id": run.id, "queued": time.time()}
    rows.append(high)
    while True:
        states = {r["episode"]: runs.read_run(r["id"]) for r in rows}
        for r in rows:
            state = states[r["episode"]].state
            if "review" not in r and state is not None and state.type.value == "PAUSED":
                r["review"] = _stamp(state.timestamp)
                r["started"] = _stamp(states[r["episode"]].start_time)
            if state is not None and state.type.value in ("FAILED", "CRASHED", "CANCELLED"):
                raise RuntimeError(f"{label}: {r['episode']} ended {state.type.value}: {state.message}")
        if all("review" in r for r in rows):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{label}: not all episodes reached review in {timeout_s:.0f} s: "
                               + ", ".join(f"{e} {s.state_name}" for e, s in states.items()))
        time.sleep(1.0)
    order = sorted(rows, key=lambda r: r["review"])
    print(f"\n{label}: high episode queued on '{high['queue']}', backlog on 'low'")
    print(f"  {'#':>2}  {'episode':22s} {'queue':7s} {'queued at':>9s} {'started':>9s} {'at review':>9s}")
    for n, r in enumerate(order, start=1):
        print(f"  {n:>2}  {r['episode']:22s} {r['queue']:7s} {r['queued'] - t_origin:8.1f}s "
              f"{r['started'] - t_origin:8.1f}s {r['review'] - t_origin:8.1f}s")
    position = order.index(high) + 1
    overtaken = [r["episode"] for r in order[:position - 1] if r["episode"] in not_started]
    return {"position": position, "of": len(rows), "ttr": high["review"] - high["queued"],
            "not_started": sorted(not_started), "overtaken_by": overtaken,
            "episode_s": sorted(r["review"] - r["started"] for r in rows)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=4, help="low-priority episodes queued first (2 or more)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for one scenario")
    args = parser.parse_args()
    if args.backlog < 2:
        parser.error("--backlog must be 2 or more (one runs while the others wait)")

    data = Path(tempfile.mkdtemp(prefix="reelgate-bench-priority-"))
    port = _free_port()
    for key in [k for k in os.environ if k.startswith("PREFECT_")]:
        del os.environ[key]
    os.environ.update({
        "REELGATE_DATA_DIR": str(data), "REELGATE_SERVER_PORT": str(port), "REELGATE_REVIEW_PORT": "0",
        "REELGATE_GENERATION__WIDTH": "192", "REELGATE_GENERATION__HEIGHT": "108", "REELGATE_GENERATION__FPS": "8",
        "REELGATE_PLANNING__SHOT_SECONDS": "1", "REELGATE_PLANNING__MAX_SHOTS": "1",
        "REELGATE_PRIORITIES__POOL": POOL, "PYTHONUNBUFFERED": "1",
    })
    from flows.environment import configure_prefect
    from reelgate.settings import Settings

    settings = Settings()
    env = configure_prefect(settings)  # before anything imports Prefect, which reads it at import
    from flows import deployments, runs, server

    worker = None
    log = data / "worker.log"
    t0 = time.monotonic()
    try:
        server.ensure_server(settings)
        setup = deployments.apply_to_pool([], settings, POOL)
        print(f"server on port {port}, data {data}; pool {POOL} queues {deployments.pool_queues(POOL)} "
              f"(set up in {time.monotonic() - t0:.1f} s)")
        deployment_id = setup.deployments[runs.DEPLOYMENT]
        worker_env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "PREFECT_WORKER_QUERY_SECONDS": "1",
                      "PREFECT_WORKER_PREFETCH_SECONDS": "1"}
        with open(log, "wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process",
                 "--limit", "1", "--name", f"bench-{port}"],
                env=worker_env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        t_origin = time.time()
        results = {}
        for label, high_queue in (("fifo", "low"), ("prio", "high")):
            results[label] = run_scenario(label, args.backlog, high_queue, runs, settings, deployment_id,
                                          args.timeout, t_origin)
    except Exception as exc:
        print(f"set-up or run failed: {exc!r}\n--- worker log (tail) ---")
        print(log.read_text(errors="replace")[-3000:] if log.exists() else "(none)")
        return 2
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        server.stop_server(settings)

    prio, fifo = results["prio"], results["fifo"]
    episode_s = prio["episode_s"] + fifo["episode_s"]
    print(f"\nbacklog {args.backlog} low episodes + 1 high, one worker (--limit 1); "
          f"one episode start-to-review median {episode_s[len(episode_s) // 2]:.1f} s")
    print(f"high episode position   with priorities {prio['position']} of {prio['of']}, "
          f"FIFO {fifo['position']} of {fifo['of']}")
    print(f"high time to review     with priorities {prio['ttr']:.1f} s, FIFO {fifo['ttr']:.1f} s, "
          f"ratio {prio['ttr'] / fifo['ttr']:.2f}")
    print(f"not started when it was queued (priorities): {', '.join(prio['not_started']) or 'none'}; "
          f"reached review before it: {', '.join(prio['overtaken_by']) or 'none'}")
    print(f"wall time {time.monotonic() - t0:.0f} s; data and worker log in {data}")
    ok = bool(prio["not_started"]) and not prio["overtaken_by"]
    print("PASS: the high-priority episode reached review before the backlog" if ok else
          "FAIL: a backlog episode that had not started reached review before the high-priority one")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
