"""A real HTTP server on loopback that plays a webhook receiver and records what arrives."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when the request arrived
    path: str
    headers: dict[str, str]
    raw: bytes
    client_port: int = 0  # the same port for two requests: the connection was kept alive

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.raw)

    @property
    def idempotency_key(self) -> str:
        return self.headers.get("Idempotency-Key", "")


@dataclass
class Reply:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    # Seconds between single bytes of the body: a receiver that answers, but ever so slowly.
    trickle: float = 0.0


class Receiver:
    """`reply` decides the answer to each request (default: 200 at once)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.reply: Callable[[Received], Reply] = lambda _r: Reply()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = Received(
                    time.monotonic(),
                    self.path,
                    dict(self.headers.items()),
                    raw,
                    int(self.client_address[1]),
                )
                with receiver.lock:
                    receiver.received.append(request)
                reply = receiver.reply(request)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if not reply.trickle:
                        self.wfile.write(reply.body)
                    for byte in reply.body if reply.trickle else b"":
                        time.sleep(reply.trickle)
                        self.wfile.write(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def bodies(self) -> list[dict[str, Any]]:
        return [r.json for r in self.snapshot()]

    def counts_by_key(self) -> Counter[str]:
        return Counter(r.idempotency_key for r in self.snapshot())
