"""A real `calendar-app serve` process on a free loopback port, as the browser tests use it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.postgres import free_port


@contextmanager
def serving(folder: Path, database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Serve the app (without its scheduler) on a migrated database; yield its base URL and the
    environment it runs with, so a test can run other `calendar-app` commands against it."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "browser-test-secret",
        "CALENDAR_ENV": "development",
        "CALENDAR_INSTANCE_PATH": str(folder),
        "CALENDAR_TIMEZONE": "Europe/Berlin",
    }
    command = [str(Path(sys.executable).parent / "calendar-app"), "serve", "--no-scheduler"]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                assert server.stderr is not None
                raise RuntimeError(f"the server did not start: {server.stderr.read()!r}")
            time.sleep(0.1)
        yield url, env
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stderr is not None:
            server.stderr.close()
