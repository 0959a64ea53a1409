"""Benchmark: wall time per stage of a 3-shot episode on the embedded defaults, and Prefect's overhead.

    python bench/episode_stages.py [--width 640 --height 360]

Runs one real episode (animatic backend, 640x360, ~10 s) through the real flow on its own
local Prefect server and data folder, then reads the task runs back from the Prefect API.

Printed figures:
  - per stage: task count and summed wall time of its task runs;
  - the animatic per shot: each generate_shot task run's wall time beside the generator's
    own time (its record's seconds_taken) and the shot's length, as seconds per video second;
  - the baseline: the summed task work (what the stages cost with no orchestration), against
    the issue's target (issue 17: under 30 s on 2 cores), PASS or FAIL;
  - orchestration overhead = flow wall time - summed task work, as a percentage of the
    flow wall time, and the ratio flow wall / task work;
  - the command's wall time (process start, server start, deployment) beside the flow's.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_TASK_WORK_S = 30.0  # issue 17: the 3-shot animatic episode's summed task work on 2 cores

STORY = (
    "At dusk a fox runs across the snowy hills. "
    "The fox stops under a tall pine and looks up at the first stars. "
    "Then the moon rises slowly over the quiet valley."
)


def print_animatic_shots(episode_dir: Path, generate_runs: list) -> None:
    """Each generation attempt: its task's wall time, the generator's own, per second of video.

    Shots are made one after another, so the generate_shot task runs in start order are the
    manifest's attempts in order (shot 1's attempts, then shot 2's...).
    """
    from editorial.manifest import load_manifest

    made = [(record.index, a.shot) for record in load_manifest(episode_dir).shots for a in record.attempts if a.shot]
    print(f"\n{'animatic shot':16s} {'video s':>7s} {'task s':>7s} {'generator s':>11s} {'task s per video s':>18s}")
    if len(made) != len(generate_runs):
        print(f"({len(generate_runs)} generate_shot runs for {len(made)} attempts in the manifest: not matched)")
        made = []
    for (index, shot), tr in zip(made, generate_runs):
        video_s = shot.frames / shot.fps
        task_s = (tr.end_time - tr.start_time).total_seconds()
        print(f"shot {index + 1} attempt {shot.attempt + 1:<3d} {video_s:7.2f} {task_s:7.2f} {shot.seconds_taken:11.2f} "
              f"{task_s / video_s:18.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="reelgate-bench-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update({
        "REELGATE_DATA_DIR": str(data), "REELGATE_SERVER_PORT": str(port),
        "REELGATE_GENERATION__WIDTH": str(args.width), "REELGATE_GENERATION__HEIGHT": str(args.height),
    })
    os.environ.pop("PREFECT_API_URL", None)
    os.chdir(ROOT)

    from flows.environment import configure_prefect
    from reelgate.settings import Settings

    settings = Settings()
    configure_prefect(settings)
    from flows import runs, server
    from cli import main as cli

    t0 = time.perf_counter()
    server.ensure_server(settings)
    server_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    code = cli(["episode", STORY, "--id", "bench"])
    command_s = time.perf_counter() - t1
    if code != 0:
        print(f"episode failed with exit code {code}", file=sys.stderr)
        server.stop_server(settings)
        return 1

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    run = runs.find_run("bench")
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    per_stage: dict[str, list[float]] = defaultdict(list)
    generate_runs = []
    for tr in sorted((tr for tr in task_runs if tr.start_time and tr.end_time), key=lambda tr: tr.start_time):
        stage = tr.name.rsplit("-", 1)[0]
        per_stage[stage].append((tr.end_time - tr.start_time).total_seconds())
        if stage == "generate_shot":
            generate_runs.append(tr)
    task_work = sum(sum(v) for v in per_stage.values())
    flow_wall = (run.state.timestamp - run.start_time).total_seconds() if run.start_time else float("nan")

    print(f"\n3-shot episode, animatic, {args.width}x{args.height} on {os.cpu_count()} cores")
    print(f"{'stage':20s} {'tasks':>5s} {'wall s':>8s}")
    for stage, times in sorted(per_stage.items(), key=lambda kv: -sum(kv[1])):
        print(f"{stage:20s} {len(times):5d} {sum(times):8.2f}")
    print_animatic_shots(runs.episode_dir_of(run), generate_runs)
    overhead = flow_wall - task_work
    verdict = "PASS" if task_work < TARGET_TASK_WORK_S else "FAIL"
    print(f"\nbaseline: summed task work      {task_work:8.2f} s  (target < {TARGET_TASK_WORK_S:.0f} s on "
          f"{os.cpu_count()} cores: {verdict}, ratio {task_work / TARGET_TASK_WORK_S:.2f})")
    print(f"flow wall time (to review gate) {flow_wall:8.2f} s")
    print(f"orchestration overhead          {overhead:8.2f} s = {100 * overhead / flow_wall:.1f} % of flow wall"
          f" (ratio flow/task work {flow_wall / task_work:.2f}x)")
    print(f"`reelgate episode` command wall {command_s:8.2f} s (server already up; first start took {server_s:.1f} s)")
    server.stop_server(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
