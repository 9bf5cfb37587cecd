"""Relays on loopback between the app and a server, for what the servers under test do not do by
themselves: a TCP relay a test can cut (every open connection dropped, new ones refused until it
is mended: what a network does to a long-lived stream), and an HTTP relay that answers some
requests itself (a server under load)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx


class CuttableProxy:
    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cut = False
        self._closed = False
        self.accepted = 0

    def start(self) -> CuttableProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    client.close()
                    continue
                self.accepted += 1
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                self._shut(sock)

    def _shut(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        with self._lock:
            self._open.discard(sock)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        with self._lock:
            self._cut = True
            open_now = list(self._open)
        for sock in open_now:
            self._shut(sock)

    def mend(self) -> None:
        with self._lock:
            self._cut = False

    def stop(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


class AnsweringProxy:
    """An HTTP relay on loopback in front of a server: every request goes through to it, except
    those whose path starts with one of `answers`' prefixes, which the relay answers itself with
    (status, headers, JSON body), as an overloaded or rate-limiting server would. For answers the
    server under test gives only under load."""

    def __init__(self, target_url: str) -> None:
        self.target = target_url.rstrip("/")
        self.answers: dict[str, tuple[int, dict[str, str], dict[str, Any]]] = {}
        self.seen: list[str] = []  # every request's path, in order
        self.answered: list[str] = []
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                relay.seen.append(self.path)
                for prefix, (status, headers, answer) in relay.answers.items():
                    if self.path.startswith(prefix):
                        relay.answered.append(self.path)
                        self._answer(status, headers, json.dumps(answer).encode())
                        return
                passed = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in ("host", "content-length", "connection")
                }
                upstream = httpx.request(
                    self.command, relay.target + self.path, headers=passed, content=body,
                    timeout=30,
                )  # fmt: skip
                kept = {
                    name: value
                    for name, value in upstream.headers.items()
                    if name.lower()
                    not in ("content-length", "content-encoding", "transfer-encoding", "connection")
                }
                self._answer(upstream.status_code, kept, upstream.content)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if not any(name.lower() == "content-type" for name in headers):
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _relay

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> AnsweringProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
