"""A local, scriptable stand-in for an OpenAI-compatible chat endpoint (tests only).

It serves `POST /v1/chat/completions` (and the same under /compatible-mode/v1, as DashScope
does), records every request, checks the key when it is given one, and answers whatever the
test scripts: a good completion, a hostile one, raw bytes, an error, a redirect, a delay.

    with FakeLLM(api_key="sk-test") as fake:
        fake.replies.append(Reply(content=shots_json([...])))
        ... point planning.rewriter.endpoint at fake.base_url ...

Each request takes the next scripted reply; when none is left, `fake.default` answers.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMPLETIONS_PATHS = ("/v1/chat/completions", "/compatible-mode/v1/chat/completions")


@dataclass
class Reply:
    """One scripted answer. With neither `body` nor `content`, an empty completion."""

    content: str | None = None
    """The assistant message, wrapped in a chat completion."""
    body: bytes | None = None
    """Raw bytes sent as the whole body instead (broken JSON, non-UTF-8, a huge body)."""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    """Wait this long before answering (a slow server)."""
    drip_s: float = 0.0
    """Send the body one small piece at a time, this long apart (a server that trickles)."""
    finish_reason: str = "stop"
    no_length: bool = False
    """Send no Content-Length: the body ends when the connection closes."""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None


def completion(content: str, finish_reason: str = "stop", model: str = "fake-model") -> bytes:
    """A chat completion as OpenAI-compatible servers answer it."""
    return json.dumps({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_790_000_000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }, ensure_ascii=False).encode()


def shots_json(shots: list[dict[str, Any]]) -> str:
    return json.dumps({"shots": shots}, ensure_ascii=False)


class FakeLLM:
    """The fake endpoint on 127.0.0.1 (a free port) in a background thread; a context manager."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.replies: list[Reply] = []
        self.default = Reply(status=500, body=b'{"error": {"message": "no reply scripted"}}')
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "FakeLLM":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()  # cuts scripted delays short
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait(self, seconds: float) -> None:
        self._closing.wait(seconds)

    def answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(Request(method, path, headers, body))
            if method != "POST" or path not in COMPLETIONS_PATHS:
                return Reply(status=404, body=json.dumps({"error": {"message": f"no route {method} {path}"}}).encode())
            if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
                # As OpenAI does: the refusal quotes the key it was sent.
                sent = headers.get("authorization", "").removeprefix("Bearer ")
                return Reply(status=401, body=json.dumps(
                    {"error": {"message": f"Incorrect API key provided: {sent}", "code": "invalid_api_key"}}).encode())
            return self.replies.pop(0) if self.replies else self.default


def _handler_for(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall each

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake.answer(self.command, self.path.split("?", 1)[0], headers, raw)
            if reply.delay_s:
                fake.wait(reply.delay_s)
            payload = reply.body if reply.body is not None else completion(reply.content or "", reply.finish_reason)
            try:
                self.send_response(reply.status)
                out = {"Content-Type": "application/json", **reply.headers}
                for name, value in out.items():
                    self.send_header(name, value)
                if reply.no_length:
                    self.close_connection = True
                    self.send_header("Connection", "close")
                elif "Content-Length" not in out:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if reply.drip_s:
                    for i in range(0, len(payload), 16):
                        self.wfile.write(payload[i:i + 16])
                        self.wfile.flush()
                        fake.wait(reply.drip_s)
                else:
                    self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout, a refused reply): what the test wanted

        do_GET = do_POST = _serve

        def handle(self) -> None:
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):
                pass  # a client that hung up mid-reply resets the kept-alive connection

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler
