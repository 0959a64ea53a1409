"""Text-to-video through Alibaba Cloud Model Studio (DashScope) video synthesis, for Wan models.

For users without a GPU. The protocol is plain HTTP (no SDK): submit an asynchronous task,
poll it until it ends, download the MP4 it made. What can go wrong is sorted into the three
families of `reelgate.errors`:

- transient (rate limit, 5xx, network, a task that failed inside the provider, a slow
  task): retried here a few times per request with exponential backoff, then raised as
  BackendUnavailable so the Prefect task retries later;
- the provider's moderation declining the prompt: a `Refusal` result, never retried;
- a bad key, region, account or parameter: ConfigError saying what to change.

A submitted task costs money, so the task id is written to a sidecar file beside the output
(`<out>.dashscope.json`) before any waiting: a retried or resumed `generate` for the same
output and the same request polls that task again instead of paying for a new one.
The API key is sent only in the Authorization header to `base_url`; it is never logged,
raised, recorded or written.

Weights (a keyword's strength: `ShotSpec.weights`, or "(storm:1.5)" in a written prompt): the
provider reads no weight syntax, so the prompt sent is `ShotSpec.model_prompt()`: the syntax
removed, then each weight away from 1 as fixed emphasis words ("strong storm", "slow motion").
Those words come from the screened weight's word and a fixed vocabulary, so what is sent is
still what was screened; with no weights the prompt is sent exactly as written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from generation.base import ProgressFn
from reelgate.errors import BackendUnavailable, ConfigError, MediaError
from reelgate.files import atomic_path, write_json
from reelgate.media import video_info
from reelgate.records import GeneratedShot, Refusal, ShotSpec
from reelgate.settings import GenerationSettings

log = logging.getLogger(__name__)

DEFAULT_MODEL = "wan2.2-t2v-plus"
SUBMIT_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"
TASK_PATH = "/api/v1/tasks/{task_id}"
KEY_ENV_VARS = ("REELGATE_GENERATION__CLOUD__API_KEY", "DASHSCOPE_API_KEY")

_480P = ((832, 480), (480, 832), (624, 624))
_720P = ((1280, 720), (720, 1280), (960, 960), (1088, 832), (832, 1088))
_1080P = ((1920, 1080), (1080, 1920), (1440, 1440), (1632, 1248), (1248, 1632))
MODEL_SIZES: dict[str, tuple[tuple[int, int], ...]] = {
    "wan2.2-t2v-plus": _480P + _1080P,
    "wanx2.1-t2v-turbo": _480P + _720P,
    "wanx2.1-t2v-plus": _720P,
    "wan2.5-t2v-preview": _480P + _720P + _1080P,
}
"""Frame sizes (width, height) each known model accepts."""
MODEL_DURATIONS: dict[str, tuple[int, ...]] = {"wan2.5-t2v-preview": (5, 10)}
"""Clip lengths in seconds a model accepts; models not listed make 5 s clips."""

_FINAL = {"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"}
_PROGRESS_TOTAL = 4  # submitted, running, succeeded, downloaded
_SEED_RANGE = 2**31  # the API takes seeds in [0, 2147483647]
_MAX_RETRY_AFTER_S = 60.0  # a provider asking for longer is better served by Prefect's retry


def is_content_code(code: str | None) -> bool:
    """Whether a provider error code is a moderation decision (a Refusal), not a fault."""
    return bool(code) and (code.startswith("DataInspection") or code == "IPInfringementSuspect")


def _is_auth_problem(status: int, code: str) -> bool:
    return status in (401, 403) or code in ("InvalidApiKey", "Arrearage") or code.startswith("AccessDenied")


def resolve_api_key(settings: GenerationSettings) -> str:
    """The API key: generation.cloud.api_key, else $REELGATE_GENERATION__CLOUD__API_KEY, else $DASHSCOPE_API_KEY."""
    if settings.cloud.api_key is not None and settings.cloud.api_key.get_secret_value().strip():
        return settings.cloud.api_key.get_secret_value().strip()
    for var in KEY_ENV_VARS:
        if os.environ.get(var, "").strip():
            return os.environ[var].strip()
    raise ConfigError(
        "the dashscope backend needs an API key: set " + " or ".join(KEY_ENV_VARS)
        + " in the environment of the process that generates (a key from Model Studio in the region of "
        "generation.cloud.base_url)"
    )


def model_name(settings: GenerationSettings) -> str:
    return settings.model or DEFAULT_MODEL


def check_model_size(model: str, width: int, height: int) -> None:
    """Raise ConfigError if a known `model` cannot make width x height, naming the nearest allowed sizes."""
    allowed = MODEL_SIZES.get(model)
    if allowed is None:
        log.warning("unknown DashScope model %r: sending size %d*%d unchecked", model, width, height)
        return
    if (width, height) in allowed:
        return

    def distance(size: tuple[int, int]) -> float:
        # Aspect ratio first (a wrong shape is worse than a wrong resolution), then pixel count.
        return abs(size[0] / size[1] - width / height) * 10 + abs(size[0] * size[1] - width * height) / (width * height)

    nearest = sorted(allowed, key=distance)[:2]
    raise ConfigError(
        f"DashScope model {model} cannot make {width}x{height} frames; nearest allowed: "
        + " or ".join(f"{w}x{h}" for w, h in nearest)
        + f" (all allowed: {', '.join(f'{w}x{h}' for w, h in allowed)}). "
        "Set REELGATE_GENERATION__WIDTH and REELGATE_GENERATION__HEIGHT, or leave both unset for 832x480"
    )


def clip_seconds(model: str, shot_seconds: float) -> int:
    """The clip length to ask for: the allowed duration nearest the shot's (the muxer trims the rest)."""
    allowed = MODEL_DURATIONS.get(model, (5,))
    return min(allowed, key=lambda d: (abs(d - shot_seconds), -d))


def sidecar_path(out_path: Path) -> Path:
    """Where the task of `out_path` is remembered between attempts."""
    return Path(out_path).with_suffix(".dashscope.json")


class _Answer:
    """A provider answer that is not a success and not transient: code, message, request id."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        self.code = str(data.get("code") or f"HTTP{self.status}")
        self.message = str(data.get("message") or response.text[:200]).strip()
        self.request_id = data.get("request_id")

    def describe(self) -> str:
        return f"{self.code}: {self.message or 'no message'}; HTTP {self.status}, request {self.request_id or '?'}"


class DashScopeGenerator:
    """Generates shots with a Wan model on Alibaba Cloud Model Studio (DashScope)."""

    name = "dashscope"
    uses_gpu = False

    def __init__(self, settings: GenerationSettings) -> None:
        self.preflight(settings)
        self.settings = settings
        self.cloud = settings.cloud
        self.model = model_name(settings)
        self.base_url = self.cloud.base_url.rstrip("/")
        self._key = resolve_api_key(settings)
        # The client is shared by parallel shots (httpx.Client is thread-safe); it never
        # carries the key itself, so the download from the provider's storage host cannot leak it.
        self._client = httpx.Client(timeout=self.cloud.request_timeout_s)

    def __repr__(self) -> str:
        return f"DashScopeGenerator(model={self.model!r}, base_url={self.base_url!r})"

    @classmethod
    def preflight(cls, settings: GenerationSettings) -> None:
        """Refuse a missing API key or a frame size the model cannot make. No network."""
        resolve_api_key(settings)
        assert settings.width is not None and settings.height is not None  # filled by GenerationSettings
        check_model_size(model_name(settings), settings.width, settings.height)

    def request_body(self, shot: ShotSpec, seed: int) -> dict[str, Any]:
        """The JSON body submitted for `shot`: the prompt as screened, its weights as plain words (see above)."""
        s = self.settings
        inputs = {"prompt": shot.model_prompt()}
        negative = shot.negative_prompt or s.negative_prompt
        if negative:
            inputs["negative_prompt"] = negative
        return {
            "model": self.model,
            "input": inputs,
            "parameters": {
                "size": f"{s.width}*{s.height}",
                "duration": clip_seconds(self.model, shot.duration_s),
                "seed": seed % _SEED_RANGE,
                "prompt_extend": self.cloud.prompt_extend,
                "watermark": self.cloud.watermark,
            },
        }

    def generate(
        self,
        shot: ShotSpec,
        *,
        seed: int,
        attempt: int,
        out_path: Path,
        progress: ProgressFn | None = None,
    ) -> GeneratedShot | Refusal:
        """Render `shot` on DashScope into `out_path`, resuming a task already paid for.

        Raises BackendUnavailable (transient: Prefect retries) or ConfigError (key, region, parameters).
        """
        started = time.perf_counter()
        out_path = Path(out_path)
        sidecar = sidecar_path(out_path)
        body = self.request_body(shot, seed)
        digest = hashlib.sha256(
            json.dumps({"base_url": self.base_url, "body": body}, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()

        def report(done: int) -> None:
            if progress is not None:
                progress(done, _PROGRESS_TOTAL)

        def refusal(code: str, message: str, request_id: str | None) -> Refusal:
            log.warning("shot %d: DashScope refused the prompt (%s: %s)", shot.index + 1, code, message)
            return Refusal(index=shot.index, attempt=attempt, backend=self.name, model=self.model,
                           code=code, message=message, request_id=request_id)

        task = self._remembered(sidecar, digest)
        if task is not None and task.get("status") == "SUCCEEDED" and out_path.is_file():
            try:
                return self._record(shot, seed, attempt, out_path, task["task_id"], started)
            except MediaError:
                pass  # a damaged earlier download: fetch it again below
        if task is not None:
            log.info("shot %d: resuming DashScope task %s (submitted %s)",
                     shot.index + 1, task["task_id"], task["submitted_at"])
        else:
            submitted = self._submit(body, shot)
            if isinstance(submitted, _Answer):
                return refusal(submitted.code, submitted.message, submitted.request_id)
            task = self._remember(sidecar, submitted, digest)
        report(1)

        for resubmitted in (False, True):
            output = self._wait(task["task_id"], shot, sidecar, report)
            if output.get("task_status") != "UNKNOWN":
                break
            sidecar.unlink(missing_ok=True)
            if resubmitted:
                raise BackendUnavailable(
                    f"DashScope does not know task {task['task_id']} (UNKNOWN) even after a resubmit"
                )
            # Task ids expire after 24 h; the task was never finished for us, so asking again is not paying twice.
            log.warning("shot %d: DashScope task %s is UNKNOWN (expired); submitting once more",
                        shot.index + 1, task["task_id"])
            submitted = self._submit(body, shot)
            if isinstance(submitted, _Answer):
                return refusal(submitted.code, submitted.message, submitted.request_id)
            task = self._remember(sidecar, submitted, digest)

        status = output.get("task_status")
        code, message = str(output.get("code") or ""), str(output.get("message") or "")
        if status != "SUCCEEDED":
            sidecar.unlink(missing_ok=True)  # ended for good: a retry must submit anew
            if status == "FAILED" and is_content_code(code):
                return refusal(code, message, task.get("request_id"))
            raise BackendUnavailable(
                f"DashScope task {task['task_id']} ended {status} ({code or 'no code'}: {message or 'no message'})"
            )
        report(3)
        actual = output.get("actual_prompt")
        if actual and actual != body["input"]["prompt"]:
            log.warning("shot %d: DashScope rewrote the prompt (prompt_extend) to: %s", shot.index + 1, actual)
        url = output.get("video_url")
        if not url:
            raise BackendUnavailable(f"DashScope task {task['task_id']} succeeded without a video_url")
        self._download(str(url), out_path, sidecar, task["task_id"])
        record = self._record(shot, seed, attempt, out_path, task["task_id"], started)
        write_json(sidecar, {**task, "status": "SUCCEEDED", "actual_prompt": actual, "usage": output.get("_usage")})
        report(4)
        return record

    # --- steps -----------------------------------------------------------------------------

    def _submit(self, body: dict[str, Any], shot: ShotSpec) -> dict[str, Any] | _Answer:
        """Submit the task: its output and request id, or the provider's content refusal."""
        url = self.base_url + SUBMIT_PATH
        response = self._request("POST", url, "submitting the task", json=body, asynchronous=True)
        if response.status_code == 200:
            data = response.json()
            output = data.get("output") or {}
            if not output.get("task_id"):
                raise BackendUnavailable(
                    f"DashScope accepted the task without a task id (request {data.get('request_id')})"
                )
            log.info("shot %d: DashScope task %s submitted (%s)",
                     shot.index + 1, output["task_id"], output.get("task_status"))
            return {"task_id": output["task_id"], "request_id": data.get("request_id")}
        answer = _Answer(response)
        if is_content_code(answer.code):
            return answer
        raise self._config_error(answer, "submitting the task")

    def _wait(self, task_id: str, shot: ShotSpec, sidecar: Path, report: Callable[[int], None]) -> dict[str, Any]:
        """Poll the task until it ends (or its time is up): the task's final output."""
        deadline = time.monotonic() + self.cloud.task_timeout_s
        last = None
        while True:
            url = self.base_url + TASK_PATH.format(task_id=task_id)
            response = self._request("GET", url, f"polling task {task_id}")
            if response.status_code != 200:
                answer = _Answer(response)
                if _is_auth_problem(answer.status, answer.code):
                    raise self._config_error(answer, f"polling task {task_id}")
                sidecar.unlink(missing_ok=True)
                raise BackendUnavailable(
                    f"DashScope refused polling task {task_id} ({answer.describe()}); the retry submits anew"
                )
            data = response.json()
            output = dict(data.get("output") or {})
            output["_usage"] = data.get("usage")
            status = output.setdefault("task_status", "UNKNOWN")
            if status != last:
                log.info("shot %d: DashScope task %s %s", shot.index + 1, task_id, status)
                if status == "RUNNING":
                    report(2)
                last = status
            if status in _FINAL:
                return output
            if time.monotonic() + self.cloud.poll_interval_s > deadline:
                raise BackendUnavailable(
                    f"DashScope task {task_id} still {status} after {self.cloud.task_timeout_s:g} s "
                    f"(generation.cloud.task_timeout_s); it is kept in {sidecar.name} and the retry polls it again"
                )
            time.sleep(self.cloud.poll_interval_s)

    def _download(self, url: str, out_path: Path, sidecar: Path, task_id: str) -> None:
        """Fetch the video into `out_path` atomically and check it is a readable video.

        The link is fetched as given, never through a redirect; the answer must say it is a
        video (video/* or application/octet-stream) and stay under cloud.max_download_mb,
        counted while it streams to disk (a lying Content-Length changes nothing).
        """
        what = f"downloading the video of task {task_id}"
        cap = int(self.cloud.max_download_mb * 1024 * 1024)
        tries = 1 + self.cloud.request_retries
        problem = ""
        for n in range(tries):
            wait = min(self.cloud.poll_interval_s, 1.0) * 2**n
            try:
                # No Authorization header: the URL is a signed link on the provider's storage host.
                with self._client.stream("GET", url, follow_redirects=False) as response:
                    status = response.status_code
                    if status == 429 or status >= 500:
                        problem, wait = f"HTTP {status}", _retry_after(response, wait)
                    elif status != 200:
                        self._refuse_answer(response, sidecar, task_id)
                    else:
                        self._save_video(response, out_path, cap, task_id)
                        return
            except httpx.TransportError as exc:  # connection refused, DNS, timeouts, a cut stream
                problem = f"{type(exc).__name__}: {exc}"
            if n + 1 < tries:
                log.warning("DashScope %s: %s; retry %d/%d in %.2f s", what, problem, n + 1, tries - 1, wait)
                time.sleep(wait)
        raise BackendUnavailable(f"DashScope {what} failed {tries} times; last: {problem}")

    def _refuse_answer(self, response: httpx.Response, sidecar: Path, task_id: str) -> None:
        status = response.status_code
        if 300 <= status < 400:
            where = httpx.URL(response.headers.get("location", "")).host or "another address"
            raise BackendUnavailable(
                f"DashScope video link of task {task_id} answered a redirect (HTTP {status}) to {where}; "
                "reelgate does not follow redirects from the download link. The task is kept and the retry "
                "asks for the link again"
            )
        # An expired link (24 h) will not come back; a retry must submit anew.
        sidecar.unlink(missing_ok=True)
        raise BackendUnavailable(f"DashScope video of task {task_id} could not be downloaded (HTTP {status})")

    def _save_video(self, response: httpx.Response, out_path: Path, cap: int, task_id: str) -> None:
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not (kind.startswith("video/") or kind == "application/octet-stream"):
            raise BackendUnavailable(
                f"DashScope video of task {task_id} came as {kind or 'no content type'!r}, not a video "
                "(video/* or application/octet-stream); nothing was saved"
            )
        too_large = (f"DashScope video of task {task_id} is larger than {self.cloud.max_download_mb:g} MiB "
                     "(generation.cloud.max_download_mb, REELGATE_GENERATION__CLOUD__MAX_DOWNLOAD_MB); "
                     "nothing was saved: raise the limit if such videos are expected")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise MediaError(too_large + f" (it announced {int(declared):,} bytes)")
        with atomic_path(out_path) as tmp:
            size = 0
            with open(tmp, "wb") as handle:
                for block in response.iter_bytes(1 << 20):
                    size += len(block)
                    if size > cap:
                        raise MediaError(too_large)
                    handle.write(block)
            try:
                width, height, fps, seconds = video_info(tmp)
            except MediaError as exc:
                raise BackendUnavailable(
                    f"DashScope video of task {task_id} is not a readable video ({size} bytes): {exc}"
                ) from exc
            if not (width and height and fps and seconds > 0):
                raise BackendUnavailable(f"DashScope video of task {task_id} is empty ({width}x{height}, {seconds} s)")

    def _record(
        self, shot: ShotSpec, seed: int, attempt: int, out_path: Path, task_id: str, started: float
    ) -> GeneratedShot:
        width, height, fps, seconds = video_info(out_path)
        return GeneratedShot(
            index=shot.index,
            attempt=attempt,
            path=out_path,
            backend=self.name,
            model=self.model,
            pipeline=f"dashscope task {task_id}",
            seed=seed,
            steps=None,
            width=width,
            height=height,
            fps=fps,
            frames=max(1, round(seconds * fps)),
            seconds_taken=round(time.perf_counter() - started, 3),
            peak_memory_mb=None,
            device="dashscope",
        )

    # --- sidecar ---------------------------------------------------------------------------

    def _remembered(self, sidecar: Path, digest: str) -> dict[str, Any] | None:
        """The task recorded for this output and this exact request, if any."""
        try:
            task = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(task, dict) or task.get("request_hash") != digest or not task.get("task_id"):
            log.info("%s records another request; submitting anew", sidecar.name)
            return None
        return task

    def _remember(self, sidecar: Path, submitted: dict[str, Any], digest: str) -> dict[str, Any]:
        task = {
            "task_id": submitted["task_id"],
            "request_id": submitted.get("request_id"),
            "model": self.model,
            "base_url": self.base_url,
            "request_hash": digest,
            "submitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "status": "SUBMITTED",
        }
        write_json(sidecar, task)
        return task

    # --- HTTP ------------------------------------------------------------------------------

    def _request(
        self, method: str, url: str, what: str, *, json: Any = None, asynchronous: bool = False
    ) -> httpx.Response:
        """One request, retried on transient faults (429, 5xx, network) with exponential backoff.

        Returns the first answer that is not transient; raises BackendUnavailable when retries run out.
        """
        headers = {"Authorization": f"Bearer {self._key}"}
        if json is not None:
            headers["Content-Type"] = "application/json"
        if asynchronous:
            headers["X-DashScope-Async"] = "enable"
        base_delay = min(self.cloud.poll_interval_s, 1.0)
        tries = 1 + self.cloud.request_retries
        problem = ""
        for n in range(tries):
            wait = base_delay * 2**n
            try:
                # Never a redirect: a request that carries the key must not be sent on elsewhere.
                response = self._client.request(method, url, json=json, headers=headers, follow_redirects=False)
            except httpx.TransportError as exc:  # connection refused, DNS, timeouts
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                problem = _Answer(response).describe()
                wait = _retry_after(response, wait)
            if n + 1 < tries:
                log.warning("DashScope %s: %s; retry %d/%d in %.2f s", what, problem, n + 1, tries - 1, wait)
                time.sleep(wait)
        raise BackendUnavailable(f"DashScope {what} failed {tries} times; last: {problem}")

    def _config_error(self, answer: _Answer, what: str) -> ConfigError:
        if _is_auth_problem(answer.status, answer.code):
            return ConfigError(
                f"DashScope refused the API key while {what} ({answer.describe()}). Check the key "
                f"({' or '.join(KEY_ENV_VARS)}), that its region matches generation.cloud.base_url={self.base_url} "
                "(REELGATE_GENERATION__CLOUD__BASE_URL: dashscope-intl.aliyuncs.com for Singapore, "
                "dashscope-us.aliyuncs.com for Virginia, dashscope.aliyuncs.com for Beijing; keys do not work "
                f"across regions), and that the account is paid up and may use {self.model}"
            )
        return ConfigError(
            f"DashScope rejected the request while {what} ({answer.describe()}); check generation.model "
            f"({self.model}), generation.width/height and generation.cloud settings"
        )


def _retry_after(response: httpx.Response, default: float) -> float:
    """The wait the provider asked for (Retry-After seconds), capped; else `default`."""
    try:
        return min(max(float(response.headers["Retry-After"]), 0.0), _MAX_RETRY_AFTER_S)
    except (KeyError, ValueError):
        return default
