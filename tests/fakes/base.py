"""A loopback HTTP server with routes and fault injection, the base of every fake."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Fault:
    """What to do instead of (or after) answering a matching request."""

    method: str
    pattern: re.Pattern[str]
    times: int
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # "respond": send status/body; "drop": close without answering;
    # "drop_after": do the real work, then close without answering (answer lost);
    # "slow": do the real work after the delay and answer (only the delay is the fault).
    mode: str = "respond"
    # Only requests whose body holds these bytes (None: any).
    body_contains: bytes | None = None


Handler = Callable[[Request, re.Match[str]], Reply]


# How often an idle fake's loop wakes to look for a stop request: stop() wakes it at once,
# so this costs nothing, while at 50 ms three fakes were a third of an idle bot's CPU.
IDLE_POLL = 5.0


class FakeServer:
    """Routes requests to handlers; records every request; injects faults on demand."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.connections = 0
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._wake = threading.Event()  # set: delayed replies stop waiting
        self.latency = 0.0  # seconds every request takes, as a real service's round trip

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + r"$"), handler))

    def fail(
        self,
        method: str,
        pattern: str,
        *,
        status: int = 503,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delay: float = 0.0,
        mode: str = "respond",
        body_contains: bytes | None = None,
    ) -> None:
        """Make the next `times` matching requests fail in the given way."""
        with self.lock:
            self.faults.append(
                Fault(
                    method,
                    re.compile(pattern + r"$"),
                    times,
                    status,
                    body,
                    headers or {},
                    delay,
                    mode,
                    body_contains,
                )
            )

    def clear_faults(self) -> None:
        """Behave again, and let replies held back by a delay go at once (a test that
        hangs a call ends without waiting out the bot's read timeout)."""
        with self.lock:
            self.faults.clear()
            self._wake.set()
            self._wake = threading.Event()

    def requests_to(self, method: str, pattern: str) -> list[Request]:
        regex = re.compile(pattern + r"$")
        with self.lock:
            return [r for r in self.requests if r.method == method and regex.match(r.path)]

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = _host_port(self._server)
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        assert self._server is not None
        return _host_port(self._server)[1]

    def start(self, host: str = "127.0.0.1") -> Self:
        """Serve on loopback; the container test binds every address, for the containers."""
        fake = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes; with Nagle on, the body waits for the
            # client's delayed ACK (40 ms) on every kept-alive call. Real servers do not.
            disable_nagle_algorithm = True

            def log_message(self, *_args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with fake.lock:
                    fake.connections += 1  # a new TCP connection (keep-alive reuses one)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                fake._dispatch(request, self)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self._server = ThreadingHTTPServer((host, 0), RequestHandler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(IDLE_POLL,), daemon=True).start()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        stopping = threading.Thread(target=server.shutdown, daemon=True)
        stopping.start()
        while stopping.is_alive():
            # A connection wakes the loop's select, so it sees the stop now rather than at
            # its next look.
            with contextlib.suppress(OSError):
                socket.create_connection(_host_port(server), timeout=0.5).close()
            stopping.join(0.02)
        server.server_close()

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if (
                    fault.times > 0
                    and fault.method == request.method
                    and fault.pattern.match(request.path)
                    and (fault.body_contains is None or fault.body_contains in request.body)
                ):
                    fault.times -= 1
                    return fault
        return None

    def _dispatch(self, request: Request, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append(request)
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(request)
        if fault and fault.delay:
            with self.lock:
                wake = self._wake
            wake.wait(fault.delay)
        if fault and fault.mode == "respond":
            self._send(handler, Reply(fault.status, fault.body, fault.headers))
            return
        reply = self._route(request) if not (fault and fault.mode == "drop") else None
        if fault and fault.mode in ("drop", "drop_after"):
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        assert reply is not None
        self._send(handler, reply)

    def _route(self, request: Request) -> Reply:
        for method, pattern, route in self.routes:
            if method != request.method:
                continue
            match = pattern.match(request.path)
            if match:
                try:
                    return route(request, match)
                except Exception as error:  # a bug in a fake must show, not hang the bot
                    return Reply(500, {"error": f"fake crashed: {error!r}"})
        return Reply(404, {"errors": [{"status": "404", "title": "not found"}]})

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        data = reply.encoded()
        handler.send_response(reply.status)
        if data:
            handler.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        # A reply held back by a delay may find its caller gone (it timed out, or was
        # killed): a real server drops it, and socketserver's traceback is only noise.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.end_headers()
            handler.wfile.write(data)


def _host_port(server: ThreadingHTTPServer) -> tuple[str, int]:
    """The loopback address a fake serves on (typeshed allows bytes for other families)."""
    host, port = server.server_address[:2]
    assert isinstance(host, str)
    return host, int(port)
