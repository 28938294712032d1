"""A recording HTTP proxy in front of the real Chroma server: what the client really asks for.

The ops run unchanged against the real server; the proxy relays every request and records the
record-level ones (``get``, ``upsert``, ``update``: their body, and how many were in flight at
once). It can also answer one chosen ``get`` with a server error, as a server failing mid-copy
would, to check which step a failure is recorded against.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RECORD_CALLS = ("get", "upsert", "update")


@dataclass
class Traffic:
    """The record-level requests seen, in arrival order, and the most in flight at once."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: dict[str, int] = field(default_factory=dict)
    fail_get: Callable[[dict[str, Any]], bool] = lambda body: False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [body for k, body in self.calls if k == kind]


def _handler(upstream: tuple[str, int], traffic: Traffic) -> type[BaseHTTPRequestHandler]:
    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the Traffic, not a log."""

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = self.path.rsplit("/", 1)[-1] if self.command == "POST" else ""
            if kind not in RECORD_CALLS:
                return self._forward(body)
            parsed = json.loads(body)
            with traffic.lock:
                traffic.calls.append((kind, parsed))
                traffic.in_flight[kind] = traffic.in_flight.get(kind, 0) + 1
                traffic.most_in_flight[kind] = max(traffic.most_in_flight.get(kind, 0), traffic.in_flight[kind])
            try:
                if kind == "get" and traffic.fail_get(parsed):
                    return self._answer(500, b'{"error": "InternalError", "message": "proxy: injected failure"}')
                return self._forward(body)
            finally:
                with traffic.lock:
                    traffic.in_flight[kind] -= 1

        def _forward(self, body: bytes) -> None:
            conn = http.client.HTTPConnection(*upstream, timeout=300)
            try:
                # uncompressed answers: the relay passes the body on as it is, without its encoding
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "accept-encoding")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                self._answer(response.status, response.read(), response.getheader("Content-Type"))
            finally:
                conn.close()

        def _answer(self, status: int, payload: bytes, content_type: str | None = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type or "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _relay

    return Relay


@contextmanager
def recording_proxy(host: str, port: int) -> Iterator[tuple[int, Traffic]]:
    """(the proxy's port, its Traffic) while the proxy relays to ``host:port``."""
    traffic = Traffic()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler((host, port), traffic))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="chroma-proxy", daemon=True)
    thread.start()
    try:
        yield server.server_address[1], traffic
    finally:
        server.shutdown()
        server.server_close()
