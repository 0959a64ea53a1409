"""The deployment files: the Kubernetes work pool's base job template, the worker manifests and the image.

No cluster, container runtime or GPU is here, so these check what can be checked without
one: the template passes the Prefect server's own validation of a work pool and renders,
through prefect-kubernetes' worker code, into the Job a flow run would get (a GPU, the data
volume at REELGATE_DATA_DIR, every secret from the Secret); the manifests parse and agree
with the template; the Dockerfile installs through scripts/setup.sh and nothing else.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
from uuid import uuid4
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "kubernetes"
TEMPLATE = K8S / "base-job-template.json"
MANIFESTS = ("worker.yaml", "data-pvc.yaml", "secret.example.yaml")

# Names of environment variables that hold secrets: they must come from a secretKeyRef.
SECRET_NAME = re.compile(r"(AUTH|KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
LEAK = "reelgate:leaked-worker-secret-0123456789"


def load_template() -> dict:
    return json.loads(TEMPLATE.read_text())


def load_manifests() -> dict[str, list[dict]]:
    return {name: [d for d in yaml.safe_load_all((K8S / name).read_text()) if d] for name in MANIFESTS}


def defaults(template: dict) -> dict:
    return {k: v["default"] for k, v in template["variables"]["properties"].items() if "default" in v}


def job_container(job_configuration: dict) -> dict:
    return job_configuration["job_manifest"]["spec"]["template"]["spec"]["containers"][0]


def secret_problems(template: dict) -> list[str]:
    """Every place the template would carry a secret's value instead of a reference to the Secret."""
    problems = []
    for entry in job_container(template["job_configuration"]).get("env", []):
        name = entry.get("name", "")
        if "value" in entry and SECRET_NAME.search(name):
            problems.append(f"job env {name} has a literal value; use valueFrom.secretKeyRef")
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if "valueFrom" in entry and ref is None:
            problems.append(f"job env {name} comes from somewhere else than a secretKeyRef")
    for name, value in defaults(template).get("env", {}).items():
        if SECRET_NAME.search(name):
            problems.append(f"variables.env default {name} is a secret's value; reference the Secret instead")
    return problems


def secret_refs(template: dict) -> dict[str, str]:
    """Env name -> key in the Secret, for the env entries of the job container read from the Secret."""
    return {e["name"]: e["valueFrom"]["secretKeyRef"]["key"]
            for e in job_container(template["job_configuration"]).get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})}


# -- the template, without prefect-kubernetes ----------------------------------------------------------


def test_template_is_a_valid_work_pool_template_for_the_server():
    """What `prefect work-pool create --base-job-template` sends is validated by the server this way."""
    from prefect.server.schemas.actions import WorkPoolCreate

    pool = WorkPoolCreate(name="reelgate-gpu", type="kubernetes", base_job_template=load_template())
    assert pool.base_job_template["variables"]["properties"]["gpu_count"]["default"] == 1


def test_template_placeholder_without_a_variable_is_refused():
    from prefect.server.schemas.actions import WorkPoolCreate

    template = load_template()
    job_container(template["job_configuration"])["env"].append({"name": "X", "value": "{{ not_declared }}"})
    with pytest.raises(ValueError, match="not_declared"):
        WorkPoolCreate(name="reelgate-gpu", type="kubernetes", base_job_template=template)


def test_variables_are_a_json_schema_and_their_defaults_conform():
    import jsonschema

    variables = load_template()["variables"]
    jsonschema.Draft7Validator.check_schema(variables)
    jsonschema.validate(defaults(load_template()), variables)
    for name, prop in variables["properties"].items():
        assert prop.get("description"), f"variable {name} has no description"


def test_template_requests_a_gpu_on_gpu_nodes():
    template = load_template()
    pod = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    resources = job_container(template["job_configuration"])["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == resources["requests"]["nvidia.com/gpu"] == "{{ gpu_count }}"
    assert pod["nodeSelector"] == "{{ node_selector }}" and pod["tolerations"] == "{{ tolerations }}"
    values = defaults(template)
    assert values["gpu_count"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]


def test_template_mounts_the_data_volume_where_reelgate_data_dir_points():
    template = load_template()
    pod = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    container = job_container(template["job_configuration"])
    env = {e["name"]: e for e in container["env"]}
    assert env["REELGATE_DATA_DIR"]["value"] == "{{ data_dir }}"
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "{{ data_dir }}")
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["persistentVolumeClaim"]["claimName"] == "{{ data_pvc }}"


def test_every_secret_comes_from_the_secret():
    template = load_template()
    assert secret_problems(template) == []
    refs = secret_refs(template)
    assert refs["PREFECT_API_AUTH_STRING"] == "prefect-api-auth-string"
    assert {"DASHSCOPE_API_KEY", "REELGATE_REWRITER_API_KEY"} <= set(refs)


@pytest.mark.parametrize("where", ["job env", "variables env"])
def test_a_literal_secret_in_the_template_is_caught(where):
    template = load_template()
    if where == "job env":
        job_container(template["job_configuration"])["env"].append({"name": "DASHSCOPE_API_KEY", "value": "sk-123"})
    else:
        template["variables"]["properties"]["env"]["default"]["PREFECT_API_AUTH_STRING"] = "reelgate:hunter2"
    assert secret_problems(template), "a literal secret went unnoticed"


def test_template_uses_the_worker_image_and_stays_portable():
    template = load_template()
    values = defaults(template)
    assert job_container(template["job_configuration"])["image"] == "{{ image }}"
    assert values["image"].endswith(":cuda") and "reelgate-worker" in values["image"]
    text = TEMPLATE.read_text()
    assert "/home/" not in text and "/root/" not in text and "/work/" not in text


# -- the template through prefect-kubernetes' worker code ----------------------------------------------

def _kubernetes():
    return pytest.importorskip(
        "prefect_kubernetes.worker",
        reason="prefect-kubernetes is not installed: pip install -e '.[kubernetes]' to check the template "
               "against the Kubernetes worker itself",
    )


@pytest.mark.integration  # runs prefect-kubernetes' worker code
def test_template_keeps_everything_of_the_workers_default_template():
    worker = _kubernetes()
    default = worker.KubernetesWorker.get_default_base_job_template()
    template = load_template()
    assert set(default["job_configuration"]) <= set(template["job_configuration"])
    assert set(default["variables"]["properties"]) <= set(template["variables"]["properties"])
    ours = template["job_configuration"]["job_manifest"]
    for key in ("apiVersion", "kind"):
        assert ours[key] == default["job_configuration"]["job_manifest"][key]


def _worker_env_from_manifest() -> dict[str, str]:
    deployment = next(d for d in load_manifests()["worker.yaml"] if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


RENDER = """
import asyncio, copy, json, sys, uuid
import prefect_kubernetes.worker as worker
from prefect.client.schemas.objects import FlowRun

template = json.loads(sys.argv[1])
values = json.loads(sys.argv[2])
created = []

class Batch:  # the Kubernetes API call, replaced: it keeps the manifest
    def __init__(self, client):
        pass

    async def create_namespaced_job(self, namespace, manifest):
        created.append({"namespace": namespace, "manifest": copy.deepcopy(manifest)})
        return manifest

worker.BatchV1Api = Batch

async def render():
    config = await worker.KubernetesWorkerJobConfiguration.from_template_and_values(template, values)
    config.prepare_for_flow_run(FlowRun(id=uuid.uuid4(), name="brave-lighthouse", flow_id=uuid.uuid4()))
    await worker.KubernetesWorker(work_pool_name="reelgate-gpu")._create_job(config, client=None)

asyncio.run(render())
print(json.dumps(created))
"""


def _render_job(tmp_path, worker_env: dict[str, str] | None = None) -> dict:
    """The Job manifest the worker of worker.yaml would create for one flow run, with the template's defaults.

    Run in a process with only the worker pod's environment (worker.yaml's variables and the auth
    string its Secret gives it, LEAK here), as prefect-kubernetes copies the worker's own Prefect
    settings into every Job. Only the Kubernetes API call is replaced, by a stub that keeps the manifest.
    """
    import sys

    _kubernetes()
    template = load_template()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           **(_worker_env_from_manifest() if worker_env is None else worker_env),
           "PREFECT_API_AUTH_STRING": LEAK}
    result = subprocess.run([sys.executable, "-c", RENDER, json.dumps(template), json.dumps(defaults(template))],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    created = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(created) == 1
    return created[0]


@pytest.fixture(scope="module")
def rendered_job(tmp_path_factory) -> dict:
    """The Job of worker.yaml's worker for one flow run (rendered once: a Python start each)."""
    return _render_job(tmp_path_factory.mktemp("worker-home"))


@pytest.mark.integration  # runs prefect-kubernetes' worker code
def test_rendered_job_has_a_gpu_the_data_volume_and_no_secret_value(rendered_job):
    job = copy.deepcopy(rendered_job)
    manifest = job["manifest"]
    values = defaults(load_template())
    assert job["namespace"] == values["namespace"] == "reelgate"
    pod = manifest["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 1
    # A null quantity reaches Kubernetes as 0: a CPU limit of 0 under a request of 4 is refused.
    for kind in ("requests", "limits"):
        for name, quantity in container["resources"][kind].items():
            assert quantity not in (None, ""), f"resources.{kind}.{name} renders empty"
    assert pod["nodeSelector"] == values["node_selector"] and pod["tolerations"] == values["tolerations"]
    assert container["image"] == values["image"]
    assert container["args"][:3] == ["prefect", "flow-run", "execute"]

    env = {}
    for entry in container["env"]:
        assert entry["name"] not in env, f"{entry['name']} set twice in the Job"
        env[entry["name"]] = entry
    assert env["REELGATE_DATA_DIR"]["value"] == values["data_dir"]
    assert {"name": "reelgate-data", "mountPath": values["data_dir"]} in container["volumeMounts"]
    assert {"name": "reelgate-data", "persistentVolumeClaim": {"claimName": values["data_pvc"]}} in pod["volumes"]
    assert env["PREFECT_API_URL"]["value"] == "http://prefect.internal:4200/api"
    # The worker's auth string reaches the Job only as a reference to the Secret.
    assert env["PREFECT_API_AUTH_STRING"]["valueFrom"]["secretKeyRef"] == {
        "name": values["secret_name"], "key": "prefect-api-auth-string"}
    assert LEAK not in json.dumps(manifest)
    for name, entry in env.items():
        if SECRET_NAME.search(name):
            assert "secretKeyRef" in entry.get("valueFrom", {}), f"{name} is not read from the Secret"


@pytest.mark.integration  # runs prefect-kubernetes' worker code
def test_rendered_job_is_a_kubernetes_job_with_no_unknown_field(rendered_job):
    """Read into the Kubernetes client's V1Job model and written back: a misspelt or misplaced field
    (e.g. volumeMount, a toleration under the container) would be dropped and show as a difference."""
    import asyncio

    manifest = copy.deepcopy(rendered_job["manifest"])  # skipped without prefect-kubernetes
    from kubernetes_asyncio.client import ApiClient

    async def round_trip():
        async with ApiClient() as client:
            class Response:
                data = json.dumps(manifest)

            return client.sanitize_for_serialization(client.deserialize(Response(), "V1Job"))

    back = asyncio.run(round_trip())
    expected = json.loads(json.dumps(manifest))
    pod = expected["spec"]["template"]["spec"]
    # prefect-kubernetes' own default template puts these two Job fields in the pod spec, and its
    # validation requires them there; Kubernetes ignores them. Quantities may be numbers or strings.
    pod.pop("completions"), pod.pop("parallelism")
    for kind in ("requests", "limits"):
        resources = pod["containers"][0]["resources"][kind]
        resources.update({k: str(v) for k, v in resources.items()})
    assert back == expected


@pytest.mark.integration  # runs prefect-kubernetes' worker code
def test_without_the_worker_secret_setting_the_auth_string_would_leak(tmp_path):
    """Why worker.yaml sets PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_*: the
    worker copies its own settings into every Job it creates."""
    worker_env = {k: v for k, v in _worker_env_from_manifest().items() if "API_AUTH_STRING_SECRET" not in k}
    assert LEAK in json.dumps(_render_job(tmp_path, worker_env)["manifest"])


# -- the manifests -------------------------------------------------------------------------------------


def test_manifests_parse_and_agree_with_the_template():
    docs = load_manifests()
    values = defaults(load_template())
    everything = [d for ds in docs.values() for d in ds]
    for doc in everything:
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == values["namespace"]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in everything}
    assert {("ServiceAccount", "reelgate-worker"), ("Role", "reelgate-worker"), ("RoleBinding", "reelgate-worker"),
            ("Deployment", "reelgate-worker"), ("ServiceAccount", values["service_account_name"]),
            ("PersistentVolumeClaim", values["data_pvc"]), ("Secret", values["secret_name"])} <= kinds

    pvc = next(d for d in everything if d["kind"] == "PersistentVolumeClaim")
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]
    secret = next(d for d in everything if d["kind"] == "Secret")
    assert set(secret_refs(load_template()).values()) >= set(secret["stringData"])
    for key, value in secret["stringData"].items():
        assert value.startswith("<") and value.endswith(">"), f"secret.example.yaml {key} is not a placeholder"


@pytest.mark.integration  # runs prefect-kubernetes' worker code
def test_manifests_are_kubernetes_objects_with_no_unknown_field():
    """Each manifest read into the Kubernetes client's model of its kind and written back unchanged:
    a misspelt or misplaced field would be dropped and show as a difference."""
    import asyncio

    _kubernetes()  # kubernetes_asyncio comes with it
    from kubernetes_asyncio.client import ApiClient

    docs = [d for ds in load_manifests().values() for d in ds]

    async def round_trip():
        async with ApiClient() as client:
            for doc in docs:
                class Response:
                    data = json.dumps(doc)

                yield doc, client.sanitize_for_serialization(client.deserialize(Response(), f"V1{doc['kind']}"))

    async def check():
        async for doc, back in round_trip():
            assert back == doc, f"{doc['kind']} {doc['metadata']['name']} changed in the round trip"

    asyncio.run(check())


def test_worker_role_can_create_jobs_and_the_worker_runs_the_kubernetes_pool():
    docs = load_manifests()["worker.yaml"]
    role = next(d for d in docs if d["kind"] == "Role")
    jobs = next(r for r in role["rules"] if "jobs" in r["resources"])
    assert jobs["apiGroups"] == ["batch"] and {"create", "get", "list", "watch", "delete"} <= set(jobs["verbs"])
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert binding["subjects"][0]["name"] == pod["serviceAccountName"] == "reelgate-worker"
    container = pod["containers"][0]
    args = container["args"]
    assert args[:3] == ["prefect", "worker", "start"]
    assert args[args.index("--type") + 1] == "kubernetes" and args[args.index("--pool") + 1] == "reelgate-gpu"
    import prefect

    assert container["image"].startswith(f"prefecthq/prefect:{prefect.__version__}-") and container["image"].endswith("-kubernetes")
    env = {e["name"]: e for e in container["env"]}
    assert env["PREFECT_API_AUTH_STRING"]["valueFrom"]["secretKeyRef"]["key"] == "prefect-api-auth-string"
    assert env["PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_KEY"]["value"] == "prefect-api-auth-string"
    for entry in container["env"]:
        if SECRET_NAME.search(entry["name"]) and "SECRET_NAME" not in entry["name"] and "SECRET_KEY" not in entry["name"]:
            assert "valueFrom" in entry, f"worker env {entry['name']} has a literal value"


def test_gpu_slots_match_the_runs_the_worker_starts():
    """Every flow run sets the server-wide reelgate-gpu limit to its REELGATE_GENERATION__GPU_SLOTS: with
    one GPU per run it must be the runs the worker starts at once, or GPUs sit idle (or shots queue)."""
    deployment = next(d for d in load_manifests()["worker.yaml"] if d["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    values = defaults(load_template())
    assert values["gpu_count"] == 1
    assert int(values["env"]["REELGATE_GENERATION__GPU_SLOTS"]) == int(args[args.index("--limit") + 1])


# -- the image -----------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += " " + line.rstrip("\\").strip()
        if not line.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def test_dockerfile_installs_through_the_setup_script_and_nothing_else():
    instructions = dockerfile_instructions()
    runs = [args for word, args in instructions if word == "RUN"]
    assert sum("scripts/setup.sh" in r for r in runs) == 1
    setup_run = next(r for r in runs if "scripts/setup.sh" in r)
    assert shlex.split(setup_run)[:3] == ["REELGATE_SETUP_BROWSER=0", "bash", "scripts/setup.sh"]
    for run in runs:
        words = shlex.split(run.replace("&&", " && "))
        for i, word in enumerate(words):
            # Nothing may install Python packages beside the script (pip, uv, poetry, setup.py).
            assert word not in ("pip", "pip3", "uv", "poetry", "pipx", "setup.py"), f"RUN bypasses setup.sh: {run}"
            assert not (word == "-m" and i + 1 < len(words) and words[i + 1] == "pip"), f"RUN bypasses setup.sh: {run}"
    # The whole repository goes in before the script runs, as in a fresh clone.
    copy_at = next(i for i, (w, a) in enumerate(instructions) if w == "COPY" and a.split() == [".", "."])
    setup_at = next(i for i, (w, a) in enumerate(instructions) if w == "RUN" and "scripts/setup.sh" in a)
    assert copy_at < setup_at


def test_dockerfile_offers_a_cpu_and_a_cuda_base_with_python_3_11():
    instructions = dockerfile_instructions()
    froms = [a for w, a in instructions if w == "FROM"]
    assert "python:3.11-slim-bookworm AS base-cpu" in froms
    cuda = next(a for a in froms if a.endswith("AS base-cuda"))
    assert cuda.startswith("nvidia/cuda:") and "runtime" in cuda
    assert froms[-1] == "base-${BASE}"
    assert ("ARG", "BASE=cpu") in instructions
    assert any(w == "RUN" and a.startswith("python3.11 -m venv") for w, a in instructions)


def test_setup_script_is_what_make_setup_runs():
    assert (ROOT / "scripts" / "setup.sh").is_file()
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^setup:\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert target and [line.strip().lstrip("@") for line in target.group(1).splitlines()] == ["bash scripts/setup.sh"]


def test_dockerignore_keeps_data_caches_and_git_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", "reelgate-data", "**/__pycache__", ".pytest_cache", ".venv"} <= ignored
    # Nothing the install needs is ignored.
    for needed in ("scripts", "pyproject.toml", "reelgate", "flows"):
        assert needed not in ignored


@pytest.mark.parametrize("browser", ["1", "0"])
def test_setup_script_leaves_the_browser_out_only_when_asked(tmp_path, browser):
    """The script run with stand-ins for apt-get and Python: which Debian packages it would install."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    log = tmp_path / "apt.log"
    (stubs / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    (stubs / "id").write_text("#!/bin/sh\necho 0\n")
    (stubs / "dpkg").write_text("#!/bin/sh\nexit 1\n")
    # The Python stand-in: every import check passes and the install is where the script runs.
    (stubs / "python3").write_text("#!/bin/sh\ncase \"$*\" in *dirname*) pwd;; esac\nexit 0\n")
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    for tool in ("dirname", "cat"):
        real = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        (stubs / tool).symlink_to(real)
    result = subprocess.run(["/bin/bash", str(ROOT / "scripts" / "setup.sh")], capture_output=True, text=True,
                            env={"PATH": str(stubs), "PYTHON": str(stubs / "python3"), "REELGATE_SETUP_BROWSER": browser},
                            timeout=60)
    assert result.returncode == 0, result.stderr
    installed = log.read_text()
    assert "espeak-ng" in installed and "libopenblas-dev" in installed
    assert ("chromium" in installed) == (browser == "1")


def test_setup_script_installs_into_the_checkouts_virtual_environment(tmp_path):
    """With no PYTHON given, the script makes .venv (with the system's site packages, so wheels the
    machine has are reused) and installs into it: never into the interpreter it was made from."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    log = tmp_path / "calls.log"
    venv = tmp_path / "checkout" / ".venv"
    # The venv's interpreter: the import check fails (nothing installed yet), everything else works.
    venv_python = f'#!/bin/sh\necho "venv-python $*" >> {log}\ncase "$*" in -c*) exit 1;; esac\nexit 0\n'
    (stubs / "python3").write_text(
        f'#!/bin/sh\necho "base-python $*" >> {log}\n'
        'if [ "$1 $2" = "-m venv" ]; then for d; do :; done; mkdir -p "$d/bin"\n'
        f"  cat > \"$d/bin/python\" <<'X'\n{venv_python}X\n  chmod 755 \"$d/bin/python\"; fi\nexit 0\n")
    (stubs / "apt-get").write_text("#!/bin/sh\nexit 0\n")
    (stubs / "id").write_text("#!/bin/sh\necho 0\n")
    (stubs / "dpkg").write_text("#!/bin/sh\nexit 0\n")
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    for tool in ("dirname", "cat", "mkdir", "chmod"):
        real = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        (stubs / tool).symlink_to(real)
    env = {"PATH": str(stubs), "REELGATE_VENV": str(venv), "REELGATE_SETUP_BROWSER": "0"}
    result = subprocess.run(["/bin/bash", str(ROOT / "scripts" / "setup.sh")], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert f"base-python -m venv --system-site-packages {venv}" in calls
    assert "venv-python -m pip install -q --disable-pip-version-check -e .[dev]" in calls
    assert not any(c.startswith("base-python -m pip") for c in calls), calls
    # A second run finds the environment and does not make it again; with nothing changed since (its
    # stamp is newer than pyproject.toml and the script) it runs no Python at all.
    assert (venv / ".reelgate-setup").is_file()
    log.unlink()
    again = subprocess.run(["/bin/bash", str(ROOT / "scripts" / "setup.sh")], check=True, capture_output=True,
                           text=True, env=env, timeout=60)
    assert "no change since the last set-up" in again.stdout
    assert not log.exists() or not any("-m venv" in c for c in log.read_text().splitlines())
    # Without the stamp it checks (and installs) again, still without making the environment again.
    (venv / ".reelgate-setup").unlink()
    subprocess.run(["/bin/bash", str(ROOT / "scripts" / "setup.sh")], check=True, capture_output=True, env=env,
                   timeout=60)
    calls = log.read_text().splitlines()
    assert not any("-m venv" in c for c in calls) and any(c.startswith("venv-python") for c in calls), calls


def test_make_runs_every_command_with_the_checkouts_virtual_environment():
    """`make run`, `make test`, ...: the .venv interpreter, and .venv/bin first on PATH for what they spawn."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "MAKEFLAGS", "REELGATE_VENV")}
    venv_bin = ROOT / ".venv" / "bin"
    for target, command in (("run", "-m cli up"), ("demo", "-m cli up --until-review"), ("test", "-m pytest -q")):
        dry = subprocess.run(["make", "-n", "-C", str(ROOT), target], capture_output=True, text=True, env=env,
                             check=True).stdout.splitlines()
        assert f"{venv_bin / 'python'} {command}" in dry, dry
    path = subprocess.run(["make", "-s", "-C", str(ROOT), "-f", "Makefile", "-f", "-", "show-path"],
                          input="show-path:\n\t@echo $$PATH\n", capture_output=True, text=True, env=env, check=True)
    assert path.stdout.split(":")[0] == str(venv_bin)


# -- the pool on a real Prefect server -----------------------------------------------------------------


@pytest.mark.integration
def test_pool_script_sets_up_the_kubernetes_pool_its_queues_and_deployments(prefect_server, capsys):
    """deploy/kubernetes/pool.py against the session's server: the server takes the template as it
    is, the queues get reelgate's priorities, and the episode and variants deployments land on the pool."""
    import importlib.util

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from flows import deployments, runs
    from reelgate.settings import Settings

    spec = importlib.util.spec_from_file_location("k8s_pool", K8S / "pool.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    name, image = f"test-k8s-{uuid4().hex[:6]}", "registry.example.com/reelgate-worker:test"
    table = Settings().priorities.table()
    try:
        first = script.set_up(name, load_template(), table, image=image)
        second = script.set_up(name, load_template(), table, image=image)
        assert first["created"] and not second["created"]
        assert first["queues"] == second["queues"] == table
        with get_client(sync_client=True) as client:
            pool = client.read_work_pool(name)
            assert pool.type == "kubernetes" and pool.base_job_template == load_template()
            for full_name, queue in second["deployments"].items():
                deployment = client.read_deployment_by_name(full_name)
                assert (deployment.work_pool_name, deployment.work_queue_name) == (name, queue)
                assert deployment.job_variables == {"image": image}
        assert set(second["deployments"].values()) == {deployments.EPISODE_QUEUE, deployments.SWEEP_QUEUE}
        # The command line, as the README runs it.
        capsys.readouterr()
        assert script.main([name, "--image", image]) == 0
        out = capsys.readouterr().out
        assert f"work pool {name}: already there (template kept) (type kubernetes)" in out
        assert f"deployment {runs.DEPLOYMENT} (its own runs wait in normal)" in out
    finally:
        # The session's other tests apply these deployments afresh, on no pool.
        with get_client(sync_client=True) as client:
            for full_name in (runs.DEPLOYMENT, runs.SWEEP_DEPLOYMENT):
                try:
                    client.delete_deployment(client.read_deployment_by_name(full_name).id)
                except ObjectNotFound:
                    pass
            try:
                client.delete_work_pool(name)
            except ObjectNotFound:
                pass
