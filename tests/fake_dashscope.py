"""A local, scriptable stand-in for the DashScope video-synthesis API (tests only).

It speaks the documented protocol: submit a task (`POST .../video-synthesis`, async
header required), poll it (`GET /api/v1/tasks/{id}`), download the video from the
`video_url` it hands out. It checks the headers as the real service does, records every
request, and each test scripts the faults it needs through `FakeDashScope.script`.

    with FakeDashScope(video_bytes, api_key="sk-test") as fake:
        fake.script.submit_errors = [RATE_LIMIT] * 2
        ... point generation.cloud.base_url at fake.base_url ...
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from reelgate.media import VideoWriter

SUBMIT_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"
TASKS_PREFIX = "/api/v1/tasks/"

# (HTTP status, code, message) answers as the real service gives them.
RATE_LIMIT = (429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.")
INTERNAL_ERROR = (500, "InternalError", "An internal error has occured, please try again later.")
CONTENT_REJECTED = (400, "DataInspectionFailed", "Input or output data may contain inappropriate content.")
INVALID_PARAMETER = (400, "InvalidParameter", "The size is not match the allowed size ['832*480', '480*832']")


def make_video(path: Path, width: int = 160, height: int = 96, fps: int = 30, frames: int = 30) -> Path:
    """A short real H.264 MP4 (a moving gradient) standing in for the provider's video."""
    ramp = np.linspace(0, 255, width, dtype=np.float32)
    with VideoWriter(path, width, height, fps) as writer:
        for i in range(frames):
            row = ((ramp + 8 * i) % 256).astype(np.uint8)
            frame = np.repeat(np.repeat(row[None, :, None], height, axis=0), 3, axis=2)
            writer.write(frame)
    return path


@dataclass
class Script:
    """What the fake answers; tests change it, even while a task is being polled."""

    submit_errors: list[tuple[int, str, str]] = field(default_factory=list)
    """Answered (in order, one each) to submits before any is accepted."""
    poll_errors: list[tuple[int, str, str]] = field(default_factory=list)
    """Answered (in order, one each) to polls before any is answered normally."""
    download_errors: list[int] = field(default_factory=list)
    """HTTP statuses answered to downloads before the video is served."""
    pending_polls: int = 1
    """Polls of a task answered PENDING, then..."""
    running_polls: int = 1
    """...polls answered RUNNING, then the final status."""
    final: str = "SUCCEEDED"
    """SUCCEEDED, FAILED, CANCELED, or RUNNING to never finish."""
    fail_code: str = "InternalError"
    fail_message: str = "An internal error has occured, please try again later."
    unknown_tasks: int = 0
    """The first N submitted tasks answer UNKNOWN (an expired task id)."""
    video: bytes | None = None
    """Bytes served as the video instead of the real MP4 (e.g. garbage)."""
    video_content_type: str = "video/mp4"
    """Content-Type of the video download."""
    video_redirect: str | None = None
    """Answer the download with a 302 to this URL instead of the video."""
    video_without_length: bool = False
    """Send the video without Content-Length (the body ends when the connection closes)."""
    actual_prompt: str | None = None
    """Reported as the prompt the provider generated from (prompt_extend)."""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None


@dataclass
class _Task:
    number: int
    prompt: str
    polls: int = 0


class FakeDashScope:
    """The fake service on 127.0.0.1 (a free port) in a background thread; a context manager."""

    def __init__(self, video: bytes, api_key: str = "sk-fake-key") -> None:
        self.video = video
        self.api_key = api_key
        self.script = Script()
        self.requests: list[Request] = []
        self.tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll interval so that shutting the fake down takes milliseconds, not 0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeDashScope":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- what tests read --------------------------------------------------------------

    def calls(self, method: str, prefix: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    @property
    def submits(self) -> list[Request]:
        return self.calls("POST", SUBMIT_PATH)

    @property
    def polls(self) -> list[Request]:
        return self.calls("GET", TASKS_PREFIX)

    @property
    def downloads(self) -> list[Request]:
        return self.calls("GET", "/videos/")

    # --- the protocol -------------------------------------------------------------------

    def answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(Request(method, path, headers, body))
            if method == "GET" and path.startswith("/videos/"):
                return self._video()
            if path == SUBMIT_PATH or path.startswith(TASKS_PREFIX):
                if headers.get("authorization") != f"Bearer {self.api_key}":
                    return _error(401, "InvalidApiKey", "Invalid API-key provided.")
            if method == "POST" and path == SUBMIT_PATH:
                return self._submit(headers, body)
            if method == "GET" and path.startswith(TASKS_PREFIX):
                return self._poll(path[len(TASKS_PREFIX):])
        return _error(404, "NotFound", f"no route {method} {path}")

    def _submit(self, headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], bytes]:
        if headers.get("x-dashscope-async") != "enable":
            return _error(403, "AccessDenied", "current user api does not support synchronous calls")
        if not isinstance(body, dict) or "application/json" not in headers.get("content-type", ""):
            return _error(400, "InvalidParameter", "The request body must be JSON.")
        prompt = (body.get("input") or {}).get("prompt")
        if not body.get("model") or not prompt:
            return _error(400, "InvalidParameter", "Field required: model, input.prompt")
        if self.script.submit_errors:
            return _error(*self.script.submit_errors.pop(0))
        task_id = str(uuid.uuid4())
        self.tasks[task_id] = _Task(number=len(self.tasks), prompt=prompt)
        return _json(200, {"output": {"task_status": "PENDING", "task_id": task_id}, "request_id": _rid()})

    def _poll(self, task_id: str) -> tuple[int, dict[str, str], bytes]:
        if self.script.poll_errors:
            return _error(*self.script.poll_errors.pop(0))
        task = self.tasks.get(task_id)
        output: dict[str, Any] = {"task_id": task_id}
        if task is None or task.number < self.script.unknown_tasks:
            output["task_status"] = "UNKNOWN"
            return _json(200, {"request_id": _rid(), "output": output})
        task.polls += 1
        s = self.script
        if task.polls <= s.pending_polls:
            status = "PENDING"
        elif task.polls <= s.pending_polls + s.running_polls:
            status = "RUNNING"
        else:
            status = s.final
        output.update(task_status=status, submit_time="2026-11-02 10:00:00.000", orig_prompt=task.prompt)
        data: dict[str, Any] = {"request_id": _rid(), "output": output}
        if status in ("SUCCEEDED", "FAILED", "CANCELED"):
            output["end_time"] = "2026-11-02 10:01:00.000"
        if status == "SUCCEEDED":
            output["video_url"] = f"{self.base_url}/videos/{task_id}.mp4?Expires=1&Signature=x"
            if s.actual_prompt:
                output["actual_prompt"] = s.actual_prompt
            data["usage"] = {"video_duration": 5, "video_count": 1, "SR": 480}
        elif status == "FAILED":
            output.update(code=s.fail_code, message=s.fail_message)
        return _json(200, data)

    def _video(self) -> tuple[int, dict[str, str], bytes]:
        if self.script.download_errors:
            return self.script.download_errors.pop(0), {"Content-Type": "text/plain"}, b"error"
        if self.script.video_redirect:
            return 302, {"Location": self.script.video_redirect}, b""
        payload = self.script.video if self.script.video is not None else self.video
        return 200, {"Content-Type": self.script.video_content_type}, payload


def _rid() -> str:
    return str(uuid.uuid4())


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode()


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    headers = {"Retry-After": "0"} if status == 429 else {}
    return _json(status, {"code": code, "message": message, "request_id": _rid()}, headers)


def _handler_for(fake: FakeDashScope) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall each

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = self.path.split("?", 1)[0]
            status, out_headers, payload = fake.answer(self.command, path, headers, raw)
            self.send_response(status)
            for name, value in out_headers.items():
                self.send_header(name, value)
            if fake.script.video_without_length and path.startswith("/videos/") and status == 200:
                self.close_connection = True  # the client reads until the connection closes
                self.send_header("Connection", "close")
            else:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler
