"""Set up reelgate's Kubernetes work pool: the pool from base-job-template.json, its priority
queues high/normal/low, and the episode and variants deployments on it.

The Kubernetes twin of `reelgate pool`, which sets up process pools only (flows.deployments.setup_pool
refuses a pool of another type). The deployments are the same objects `reelgate pool` applies
(entrypoints by module path, imported from the worker image), on the same queues. Run it in a
checkout, against the shared server:

    PREFECT_API_URL=... PREFECT_API_AUTH_STRING=... python deploy/kubernetes/pool.py [NAME] [--image IMAGE]

Idempotent. An existing pool keeps its template (replace it with
`prefect work-pool update NAME --base-job-template deploy/kubernetes/base-job-template.json`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # run as a script from a checkout

POOL = "reelgate-gpu"
POOL_TYPE = "kubernetes"


def set_up(name: str, template: dict, table: dict[str, int], image: str | None = None) -> dict:
    """Create the pool if missing, its queues with these priorities, and apply the deployments.

    Returns what was done: {"created": bool, "queues": {name: priority}, "deployments": {full name: queue}}.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    from flows.deployments import EPISODE_QUEUE, SWEEP_QUEUE, episode_deployment, sweep_deployment
    from reelgate.errors import ConfigError

    created = False
    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            pool = client.create_work_pool(WorkPoolCreate(
                name=name, type=POOL_TYPE, base_job_template=template,
                description="reelgate on Kubernetes GPU nodes; queues high, normal, low (README, Scale-out)"))
            created = True
        if pool.type != POOL_TYPE:
            raise ConfigError(f"the work pool {name!r} is of type {pool.type!r}, not {POOL_TYPE!r}: "
                              "give this script another pool name")
        existing = {q.name: q for q in client.read_work_queues(work_pool_name=name)}
        for queue, priority in sorted(table.items(), key=lambda item: item[1]):  # most urgent first
            if queue not in existing:
                client.create_work_queue(name=queue, work_pool_name=name, priority=priority,
                                         description=f"reelgate priority {queue}")
            elif existing[queue].priority != priority:
                client.update_work_queue(existing[queue].id, priority=priority)
        queues = {q.name: q.priority for q in client.read_work_queues(work_pool_name=name)}
    applied = {}
    for deployment, queue in ((episode_deployment(), EPISODE_QUEUE), (sweep_deployment(), SWEEP_QUEUE)):
        deployment.work_queue_name = queue
        deployment.apply(work_pool_name=name, image=image)
        applied[deployment.full_name] = queue
    return {"created": created, "queues": {q: queues[q] for q in table}, "deployments": applied}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default=POOL, help=f"the work pool (default {POOL})")
    parser.add_argument("--template", type=Path, default=HERE / "base-job-template.json",
                        help="the base job template of a new pool")
    parser.add_argument("--image", help="the worker image the deployments run in (default: the template's)")
    args = parser.parse_args(argv)

    from flows.environment import configure_prefect
    from reelgate.settings import Settings

    settings = Settings()
    configure_prefect(settings)  # before Prefect is imported, as the CLI does
    done = set_up(args.name, json.loads(args.template.read_text()), settings.priorities.table(), args.image)
    print(f"work pool {args.name}: {'created' if done['created'] else 'already there (template kept)'} (type {POOL_TYPE})")
    for queue, priority in done["queues"].items():
        print(f"  queue {queue:7s} priority {priority}")
    for deployment, queue in done["deployments"].items():
        print(f"  deployment {deployment} (its own runs wait in {queue})")
    print(f"then: kubectl apply -f deploy/kubernetes/worker.yaml (its --pool is {POOL}; edit it for another name)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
