"""Scale-out benchmark (issue 20): the same queue of episodes on SQLite with 1 worker, then on PostgreSQL with 2.

    python bench/scale_out.py [--episodes 30] [--shot-sleep 2] [--gpu-slots 1] [--timeout 3600]

Each scenario gets its own Prefect server and data folder (tests/scaleout.py): SQLite under the
data folder, as `reelgate up` runs it, or a throwaway PostgreSQL cluster run as the postgres user.
On it: the work pool with reelgate's priority queues, the GPU concurrency limit (--gpu-slots), and
`prefect worker start --limit 1` workers, polling before anything is queued. Then N one-shot
episodes are queued at once (high, normal, low in turn) and it waits until every one waits for
review. The generator is the offline animatic as a GPU backend that holds its slot --shot-sleep
seconds longer per shot (tests.fakes.SlowGpuCountingAnimatic): with two workers and one slot, the
GPU slot is the bottleneck.

Figures, per scenario, then the ratio Postgres-2 / SQLite-1 from the same run:
- throughput: episodes reaching awaiting-review per minute of wall time, from the first queue to
  the last run suspended at the review gate;
- orchestration overhead per episode: the flow run's wall time (Running to suspended at the gate)
  minus the summed durations of its task runs (end - start, from the Prefect API); median and p90;
- API p95: the 95th percentile latency of a steady read load on the server during the scenario,
  from this process: POST /flow_runs/filter and /task_runs/filter (limit 50), one every 0.5 s;
- GPU bottleneck: over the generate_shot task runs, time waiting for the GPU slot, time generating
  (slot held: load and render; both from the line each shot logs, tasks.generation.SHOT_TIMING),
  and the rest of the task; and how much of the scenario's wall time the slots were held.

Issue 20 sets no target for these figures: the ratios are reported, no PASS/FAIL. An episode that
moderation blocks ends (Completed) without reaching review: it is listed, not counted. Exit 0 when
every episode of both scenarios reached review or was blocked, 1 when a run failed, crashed or was
cancelled, 2 when a set-up failed or a scenario ran past --timeout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POOL = "bench-scale-out"
SENTENCES = [
    "A red fox runs across the snowy hill.", "An owl watches the moon over the pines.",
    "A white hare jumps over the frozen stream.", "A small boat drifts on the calm lake.",
    "A lantern glows in the quiet village street.", "A kite rises above the green field.",
]
PROBE_EVERY_S = 0.5


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class ApiProbe(threading.Thread):
    """A steady read load on the server (two filter reads in turn, every PROBE_EVERY_S); each call's latency."""

    def __init__(self, settings) -> None:
        super().__init__(daemon=True)
        from flows.environment import api_client

        self.client = api_client(settings, timeout=60)
        self.latencies: list[float] = []
        self.errors = 0
        self.halt = threading.Event()

    def run(self) -> None:
        calls = [("/flow_runs/filter", {"limit": 50, "sort": "EXPECTED_START_TIME_DESC"}),
                 ("/task_runs/filter", {"limit": 50, "sort": "EXPECTED_START_TIME_DESC"})]
        n = 0
        while not self.halt.is_set():
            path, body = calls[n % len(calls)]
            n += 1
            began = time.perf_counter()
            try:
                self.client.post(path, json=body).raise_for_status()
                self.latencies.append(time.perf_counter() - began)
            except Exception:  # counted and said: a refused or failed read is no latency
                self.errors += 1
            self.halt.wait(PROBE_EVERY_S)

    def stop(self) -> None:
        self.halt.set()
        self.join(60)
        self.client.close()


def run_scenario(label: str, database: str, workers: int, args, root: Path) -> dict:
    """One server, its workers and N episodes; the figures of the module docstring."""
    from tests.scaleout import ScaleOut

    calls = root / f"{label}-calls.txt"
    scale = ScaleOut(
        env={
            "REELGATE_GENERATION__BACKEND": "tests.fakes:SlowGpuCountingAnimatic",
            "REELGATE_GENERATION__GPU_SLOTS": str(args.gpu_slots),
            "REELGATE_GENERATION__WIDTH": "192", "REELGATE_GENERATION__HEIGHT": "108",
            "REELGATE_GENERATION__FPS": "8",
            "REELGATE_PLANNING__SHOT_SECONDS": "1", "REELGATE_PLANNING__MAX_SHOTS": "1",
            "REELGATE_REVIEW_PORT": "0", "REELGATE_PRIORITIES__POOL": POOL,
            "REELGATE_TEST_CALLS": str(calls), "REELGATE_TEST_SHOT_SLEEP": str(args.shot_sleep),
        },
        database=database,
    )
    probe = None
    try:
        t_setup = time.monotonic()
        scale.start_server()
        settings = scale.settings()
        from flows import deployments, runs
        from reelgate.records import EpisodeRequest
        from tasks.generation import ensure_gpu_limit

        with scale.client_settings():
            deployment_id = deployments.apply_to_pool([], settings, POOL).deployments[runs.DEPLOYMENT]
            ensure_gpu_limit(args.gpu_slots)
        names = [f"{label}-w{i + 1}" for i in range(workers)]
        for name in names:
            scale.start_worker(name, POOL, limit=1)
        scale.wait_started(names)
        print(f"{label}: server on {database} and {workers} worker(s) polling in {time.monotonic() - t_setup:.0f} s; "
              f"queueing {args.episodes} episodes", flush=True)

        probe = ApiProbe(settings)
        probe.start()
        queued: dict[str, object] = {}
        first_queued = time.time()
        with scale.client_settings():
            for i in range(args.episodes):
                request = EpisodeRequest(episode_id=f"{label}-{i + 1:02d}", prompt=SENTENCES[i % len(SENTENCES)],
                                         language="en")
                run, _ = runs.start_episode(deployment_id, request, settings,
                                            priority=("high", "normal", "low")[i % 3])
                queued[request.episode_id] = run.id
            settled, bad, ended = wait_for_review(label, queued, args.timeout, scale, names[0])
        probe.stop()
        with scale.client_settings():
            figures = collect(label, queued, settled, first_queued, args)
        figures.update(database=database, workers=workers, failed=bad, ended=ended, api=probe.latencies,
                       api_errors=probe.errors)
        return figures
    finally:
        if probe is not None and probe.is_alive():
            probe.stop()
        scale.close()


def wait_for_review(label: str, queued: dict, timeout_s: float, scale, worker: str) -> tuple[dict, dict, list]:
    """Wait until every run is suspended at the review gate (PAUSED) or has ended; (at review, failed, ended
    without review: Completed, e.g. an episode moderation blocked, which never reaches the gate)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    ids = list(queued.values())
    deadline = time.monotonic() + timeout_s
    last_said = 0
    with get_client(sync_client=True) as client:
        while True:
            found = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)),
                                          limit=len(ids))
            at_review = {r.id: r for r in found if r.state and r.state.type.value == "PAUSED"}
            bad = {r.name: f"{r.state_name}: {(r.state.message or '')[:200]}" for r in found
                   if r.state and r.state.type.value in ("FAILED", "CRASHED", "CANCELLED")}
            ended = [r.name for r in found if r.state and r.state.type.value == "COMPLETED"]
            if len(at_review) + len(bad) + len(ended) == len(ids):
                return at_review, bad, ended
            if len(at_review) >= last_said + max(1, len(ids) // 6):
                last_said = len(at_review)
                print(f"{label}: {len(at_review)}/{len(ids)} at review", flush=True)
            if time.monotonic() > deadline:
                names = ", ".join(f"{r.name} {r.state_name}" for r in found if r.id not in at_review)
                raise TimeoutError(f"{label}: not every episode reached review in {timeout_s:.0f} s: {names}\n"
                                   + scale.tail(worker))
            time.sleep(1.0)


def collect(label: str, queued: dict, settled: dict, first_queued: float, args) -> dict:
    """Read the settled runs' task runs and shot logs back from the API: the scenario's figures."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    from tasks.generation import SHOT_TIMING

    overheads, walls, reviews = [], [], []
    shots = []  # (wait, generating, task) per generate_shot task run
    with get_client(sync_client=True) as client:
        for run in settled.values():
            reviews.append(run.state.timestamp.timestamp())
            wall = (run.state.timestamp - run.start_time).total_seconds()
            task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
            spans = {tr.id: (tr.end_time - tr.start_time).total_seconds() for tr in task_runs
                     if tr.start_time and tr.end_time}
            walls.append(wall)
            overheads.append(wall - sum(spans.values()))
            logs, offset = [], 0
            while True:  # the server answers at most 200 a call
                page = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])),
                                        limit=200, offset=offset)
                logs += page
                offset += len(page)
                if len(page) < 200:
                    break
            for log in logs:
                found = SHOT_TIMING.search(log.message)
                if found and log.task_run_id in spans:
                    shots.append((float(found["wait"]), float(found["held"]), spans[log.task_run_id]))
    span = max(reviews) - first_queued if reviews else float("nan")
    return {"label": label, "episodes": len(queued), "at_review": len(settled), "span": span,
            "throughput": 60 * len(settled) / span if reviews else 0.0,
            "overheads": overheads, "walls": walls, "shots": shots}


def report(results: list[dict], args) -> None:
    print(f"\n{args.episodes} one-shot episodes per scenario (animatic 192x108 as a GPU backend, +{args.shot_sleep:g} s "
          f"per shot), GPU limit {args.gpu_slots} slot(s), each worker --limit 1, {os.cpu_count()} cores")
    print(f"{'scenario':22s} {'at review':>9s} {'wall s':>7s} {'per min':>7s} {'episode s':>9s} "
          f"{'overhead s med / p90':>20s} {'API p95 ms':>10s} {'calls':>5s}")
    for r in results:
        print(f"{r['label']:22s} {r['at_review']:>4d}/{r['episodes']:<4d} {r['span']:7.0f} {r['throughput']:7.2f} "
              f"{statistics.median(r['walls']) if r['walls'] else float('nan'):9.1f} "
              f"{statistics.median(r['overheads']) if r['overheads'] else float('nan'):10.2f} / "
              f"{percentile(r['overheads'], 90):7.2f} {1000 * percentile(r['api'], 95):10.0f} "
              f"{len(r['api']):5d}" + (f"  ({r['api_errors']} failed reads)" if r["api_errors"] else ""))
    print("\nwhere generate_shot's time goes (summed over its task runs):")
    print(f"{'scenario':22s} {'shots':>5s} {'slot wait s':>15s} {'generating s':>15s} {'rest s':>14s} "
          f"{'slots held':>10s}")
    for r in results:
        if not r["shots"]:
            print(f"{r['label']:22s} no shot logged its timing (tasks.generation.SHOT_TIMING): not measured")
            continue
        wait, held, task = (sum(s[i] for s in r["shots"]) for i in range(3))
        rest = task - wait - held
        busy = held / (r["span"] * args.gpu_slots)
        print(f"{r['label']:22s} {len(r['shots']):5d} {wait:8.1f} ({100 * wait / task:3.0f}%) "
              f"{held:8.1f} ({100 * held / task:3.0f}%) {rest:7.1f} ({100 * rest / task:3.0f}%) {100 * busy:9.0f}%"
              f"  (of {r['span']:.0f} s wall)")
    base, scaled = results
    if base["at_review"] and scaled["at_review"]:
        def ratio(a: float, b: float) -> str:
            return f"{a / b:.2f}" if b else "n/a"

        print(f"\nratio {scaled['label']} / {base['label']} (same run): "
              f"throughput {ratio(scaled['throughput'], base['throughput'])}, "
              f"overhead per episode (median) {ratio(statistics.median(scaled['overheads']), statistics.median(base['overheads']))}, "
              f"API p95 {ratio(percentile(scaled['api'], 95), percentile(base['api'], 95))}")
    print("issue 20 sets no target for these figures: ratios reported, no PASS/FAIL")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=30, help="episodes queued per scenario (default 30)")
    parser.add_argument("--shot-sleep", type=float, default=2.0,
                        help="seconds each shot holds its GPU slot on top of rendering (default 2)")
    parser.add_argument("--gpu-slots", type=int, default=1, help="slots of the GPU concurrency limit (default 1)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for one scenario's episodes")
    args = parser.parse_args()
    if args.episodes < 1 or args.gpu_slots < 1:
        parser.error("--episodes and --gpu-slots must be 1 or more")

    from tests.scaleout import why_no_postgres

    reason = why_no_postgres()
    if reason:
        print(f"cannot run the Postgres scenario: {reason}")
        return 2
    root = Path(tempfile.mkdtemp(prefix="reelgate-bench-scale-out-"))
    # This process only talks to the scenarios' servers (tests.scaleout.ScaleOut.client_settings):
    # Prefect's own files and settings go to a folder of its own, read when Prefect is first imported.
    for key in [k for k in os.environ if k.startswith(("PREFECT_", "REELGATE_"))]:
        del os.environ[key]
    # A closed port as the default API: a call outside client_settings fails at once instead of
    # starting Prefect's temporary server.
    os.environ.update({"PREFECT_HOME": str(root / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                       "DO_NOT_TRACK": "1", "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    t0 = time.monotonic()
    results = []
    try:
        for label, database, workers in (("sqlite-1-worker", "sqlite", 1), ("postgres-2-workers", "postgres", 2)):
            results.append(run_scenario(label, database, workers, args, root))
    except Exception as exc:
        print(f"set-up or run failed: {exc!r}")
        return 2
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(results, args)
    for r in results:
        if r["ended"]:
            print(f"{r['label']}: {len(r['ended'])} ended without review (Completed: blocked by moderation, see "
                  f"their manifests; not counted as reaching review): {', '.join(sorted(r['ended']))}")
        for name, why in r["failed"].items():
            print(f"{r['label']}: {name} ended {why}")
    print(f"bench wall time {time.monotonic() - t0:.0f} s")
    return 0 if not any(r["failed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
