"""A tiny HTTP proxy on 127.0.0.1 that injects faults in front of an OpenAI-compatible server.

Each test scripts the faults it wants (``proxy.script(Status(429, retry_after=1), PASS)``):
every incoming request takes the next step of the script, or passes through once the script
is used up. Every request is recorded (time, path, headers, JSON body), so a test can count
retries and measure the gaps between them.

The upstream is either a real server (``upstream="http://127.0.0.1:8000"``) or, with
``upstream=None``, a canned one answering ``/v1/models`` and ``/v1/chat/completions`` with a
fixed reply: enough for tests of the retry and error paths, which need no model.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(slots=True, frozen=True)
class Status:
    """Answer with this status (and optional Retry-After) instead of forwarding."""

    code: int
    body: str = '{"error": {"message": "injected fault"}}'
    retry_after: str | None = None


@dataclass(slots=True, frozen=True)
class Delay:
    """Sleep, then forward: a slow response (beyond the client's timeout when long enough)."""

    seconds: float


@dataclass(slots=True, frozen=True)
class Garbage:
    """Answer 200 with this raw body."""

    body: str = "<html>upstream exploded</html>"
    content_type: str = "text/html"


@dataclass(slots=True, frozen=True)
class Pass:
    """Forward unchanged."""


PASS = Pass()
Step = Status | Delay | Garbage | Pass


@dataclass(slots=True)
class Seen:
    at: float  # time.monotonic()
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    step: str  # what the proxy did with it


def canned_text(body: dict[str, Any]) -> str:
    """The canned upstream's reply: 'yes' to a grammar probe that constrains to yes, else 'ok'."""
    grammar = (body.get("structured_outputs") or {}).get("grammar", "")
    return "yes" if grammar.strip() == 'start: "yes"' else "ok"


@dataclass
class FaultProxy:
    upstream: str | None = None  # "http://host:port" of a real server; None: canned replies
    reply: Callable[[dict[str, Any]], str] = canned_text
    # (body, reply text) -> (prompt tokens, completion tokens) of the canned upstream's usage
    usage: Callable[[dict[str, Any], str], tuple[int, int]] | None = None
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0  # most requests open at once since the last script()
    _steps: list[Step] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    # ----- control ------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *steps: Step) -> None:
        with self._lock:
            self._steps = list(steps)
            self.seen.clear()
            self.max_in_flight = 0

    def chat_requests(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.endswith("/chat/completions")]

    # ----- used by the handler -------------------------------------------------------------
    def _next(self, seen: Seen) -> Step:
        with self._lock:
            step = self._steps.pop(0) if self._steps else PASS
            seen.step = type(step).__name__
            self.seen.append(seen)
            return step

    def _enter(self, delta: int) -> None:
        with self._lock:
            self.in_flight += delta
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _forward(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.upstream is None:
            return self._canned(path, raw)
        keep = {k: v for k, v in headers.items() if k.lower() in ("authorization", "content-type", "accept")}
        req = urllib.request.Request(self.upstream + path, data=raw or None, headers=keep, method=method)
        try:
            with urllib.request.urlopen(req, timeout=600) as resp:
                return resp.status, {"Content-Type": resp.headers.get("Content-Type", "application/json")}, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, {"Content-Type": "application/json"}, err.read()

    def _canned(self, path: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if path.endswith("/models"):
            return 200, _JSON, json.dumps({"object": "list", "data": [{"id": "canned", "object": "model"}]}).encode()
        if not path.endswith("/chat/completions"):
            return 404, _JSON, b'{"error": {"message": "no such route"}}'
        body = json.loads(raw or b"{}")
        n = int(body.get("n") or 1)
        text = self.reply(body)
        choices = [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"} for i in range(n)]
        prompt, completion = self.usage(body, text) if self.usage else (7, 2)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion * n, "total_tokens": prompt + completion * n}
        out = {"id": "canned", "object": "chat.completion", "model": body.get("model"), "choices": choices, "usage": usage}
        return 200, _JSON, json.dumps(out).encode()


_JSON = {"Content-Type": "application/json"}


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _handle(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k: v for k, v in self.headers.items()}
        step = self.proxy._next(Seen(time.monotonic(), method, self.path, headers, body, ""))
        self.proxy._enter(1)
        try:
            self._answer(step, method, headers, raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer
        finally:
            self.proxy._enter(-1)

    def _answer(self, step: Step, method: str, headers: dict[str, str], raw: bytes) -> None:
        if isinstance(step, Status):
            extra = {"Retry-After": step.retry_after} if step.retry_after is not None else {}
            return self._send(step.code, _JSON | extra, step.body.encode())
        if isinstance(step, Garbage):
            return self._send(200, {"Content-Type": step.content_type}, step.body.encode())
        if isinstance(step, Delay):
            self.proxy._sleep(step.seconds)
            if self.proxy._stop.is_set():
                return
        self._send(*self.proxy._forward(method, self.path, headers, raw))

    def _send(self, code: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
