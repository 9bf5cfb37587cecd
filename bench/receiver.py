"""A webhook receiver on loopback in its own process, so it never competes with the sender for
the GIL. It answers every POST with 200 at once and records when it arrived (wall clock, so the
benchmark process can compare it with its own clock) and which path it went to. A path that
begins `/slow/<seconds>/` is answered after that many seconds (a slow channel, not a broken one).

`python -m bench.receiver` prints its port on the first line of stdout.
GET /stats?since=N returns the arrivals from index N; POST /reset forgets them.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY = b'{"ok": true}'


def serve() -> None:
    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes; with Nagle on, the second one waits for the
        # client's delayed ACK (about 40 ms) and caps each connection near 25 requests/s.
        disable_nagle_algorithm = True

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/reset":
                with lock:
                    arrivals.clear()
            else:
                at = time.time()
                with lock:
                    arrivals.append((at, self.path))
                if self.path.startswith("/slow/"):
                    time.sleep(float(self.path.split("/")[2]))
            self._answer(REPLY)

        def do_GET(self) -> None:
            since = int(self.path.partition("since=")[2] or 0)
            with lock:
                body = json.dumps({"count": len(arrivals), "arrivals": arrivals[since:]})
            self._answer(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    serve()
