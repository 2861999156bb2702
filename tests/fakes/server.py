"""A real HTTP server on a free local port, for fake stores that follow a public API.

Each fake store subclasses `FakeStore`, registers its routes with `route`, and keeps its
state in plain Python objects guarded by `self.lock`. Tests and benchmarks start it, point
a connector at `base_url`, and inject faults: the next N requests answer 500, 429 with a
Retry-After, or hang past the client's timeout.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self):
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class Fault:
    """Answer the next `times` matching requests with `status` (or hang for `hang_seconds`)."""

    status: int = 500
    times: int = 1
    retry_after: str | None = None
    hang_seconds: float = 0.0
    path_contains: str = ""
    method: str = ""


Handler = Callable[[Request], Response]


class FakeStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.routes: list[tuple[str, re.Pattern, Handler]] = []
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.fault_hits = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Routing -------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """`pattern` is a regex on the path; named groups reach the handler as params."""
        self.routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def dispatch(self, request: Request) -> Response:
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                return handler(request)
        return self.not_found(request)

    def not_found(self, request: Request) -> Response:
        return Response(404, {"message": f"No route for {request.method} {request.path}"})

    # Faults --------------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path_contains and fault.path_contains not in request.path:
                    continue
                if fault.method and fault.method.upper() != request.method:
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                self.fault_hits += 1
                return fault
        return None

    # Lifecycle -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake store first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> FakeStore:
        """Listen on `port` (0: any free one; a fixed one to come up where a client already
        points, after it found nothing listening there)."""
        store = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                with store.lock:
                    store.requests.append(request)
                fault = store._take_fault(request)
                if fault and fault.hang_seconds:
                    time.sleep(fault.hang_seconds)
                if fault and fault.status:
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    response = Response(
                        fault.status, {"code": "fault", "message": "Injected fault"}, headers
                    )
                else:
                    response = store.dispatch(request)
                self._send(response)

            def _send(self, response: Response) -> None:
                if response.raw is not None:
                    payload = response.raw
                    content_type = response.headers.get("Content-Type", "text/plain")
                else:
                    payload = json.dumps(response.body).encode()
                    content_type = "application/json; charset=UTF-8"
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in response.headers.items():
                        if key.lower() != "content-type":
                            self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeStore:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def requests_to(self, path_contains: str, method: str | None = None) -> list[Request]:
        with self.lock:
            return [
                r
                for r in self.requests
                if path_contains in r.path and (method is None or r.method == method)
            ]
