"""A throwaway PostgreSQL server for the test suite: initdb into a temporary folder, start it on
a free loopback port, stop it at the end. As root, the server runs as the `postgres` user.

`make mutate` runs the tests hundreds of times; it starts one server for all of them and names
it in CALENDAR_TEST_POSTGRES_PORT (PostgresServer.shared): then a test session uses that one
and neither starts nor stops it."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

SHARED_PORT = "CALENDAR_TEST_POSTGRES_PORT"


def find_bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bin_dir: Path, port: int | None = None) -> None:
        self.bin_dir = bin_dir
        self.owned = port is None  # started (and so stopped) by this process
        self.base = Path(tempfile.mkdtemp(prefix="calendar-pg-")) if self.owned else Path()
        self.data = self.base / "data"
        self.port = free_port() if port is None else port
        self.as_root = os.geteuid() == 0
        self.template = ""  # the migrated, seeded database a test's database is copied from

    @classmethod
    def shared(cls, bin_dir: Path) -> PostgresServer | None:
        """The server another process runs for this one, if CALENDAR_TEST_POSTGRES_PORT names it."""
        port = os.environ.get(SHARED_PORT)
        return cls(bin_dir, int(port)) if port else None

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--locale=C")  # fmt: skip
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.base / "server.log"), "-w", "-t", "60", "start")  # fmt: skip
        return self

    def restart(self) -> None:
        """A database outage as schedulers see it: every connection is cut."""
        if not self.owned:
            raise RuntimeError("a shared server is not restarted by one of its users")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"),
                  "-m", "fast", "-w", "-t", "60", "restart")  # fmt: skip

    def stop(self) -> None:
        if not self.owned:
            return
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str, template: str | None = None) -> str:
        suffix = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{suffix}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
