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

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        )

    def execute(self, sql: str, params: tuple[object, ...] | None = None) -> None:
        with self.connect() as conn:
            conn.execute(sql, params)  # type: ignore[arg-type]

    def create_database(self, name: str, template: str | None = None) -> str:
        suffix = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{suffix}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# What a test may leave behind in its database's schema. A database whose schema no longer
# matches the template's is dropped, not used again.
SCHEMA = """
SELECT md5(string_agg(item, '|' ORDER BY item)) FROM (
    SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '
           || is_nullable || ' ' || coalesce(column_default, '')
      FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger
      WHERE NOT tgisinternal AND tgrelid IN (
          SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
    UNION ALL SELECT 'function ' || proname FROM pg_proc
      WHERE pronamespace = 'public'::regnamespace
    UNION ALL SELECT 'setting ' || array_to_string(setconfig, ',') FROM pg_db_role_setting
      WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) AS schema(item)
"""


class DatabasePool:
    """A database per test, each a copy of one template. A database a test has finished with is
    emptied and given the template's rows again, then handed to a later test under a new name:
    that costs a third of copying the template (CREATE DATABASE copies the whole catalog).

    The new name matters: a connection a finished test left behind that reconnects finds no
    database, as it would after a drop, instead of writing into the next test's."""

    def __init__(self, server: PostgresServer, template: str) -> None:
        self.server = server
        self.template = template
        self._spares = 0
        # What a database is given again is read from a fresh copy, not from the template: a
        # session connected to the template would make another's CREATE DATABASE from it fail.
        first = self._spare_name()
        server.create_database(first, template=template)
        self.free: list[str] = [first]
        with self.server.connect(first) as conn:
            self.schema = conn.execute(SCHEMA).fetchone()[0]  # type: ignore[index]
            self.tables = [
                row[0]
                for row in conn.execute(
                    "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
                )
            ]
            self.rows: dict[str, bytes] = {}
            for table in self.tables:
                with conn.cursor().copy(f"COPY {table} TO STDOUT") as copy:  # type: ignore[arg-type]
                    rows = b"".join(bytes(chunk) for chunk in copy)
                if rows:
                    self.rows[table] = rows
            self.sequences = conn.execute(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value "
                "FROM pg_sequences WHERE schemaname = 'public'"
            ).fetchall()

    def _spare_name(self) -> str:
        self._spares += 1
        return f"calendar_spare_{os.getpid()}_{self._spares}"

    def take(self, name: str) -> str:
        if self.free:
            self.server.execute(f"ALTER DATABASE {self.free.pop()} RENAME TO {name}")
            return self.server.url(name)
        return self.server.create_database(name, template=self.template)

    def give_back(self, name: str) -> None:
        spare = self._spare_name()
        try:
            self.server.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            self.server.execute(f"ALTER DATABASE {name} RENAME TO {spare}")
        except psycopg.Error:
            self.server.drop_database(name)
            return
        try:
            self._refill(spare)
        except psycopg.Error:
            self.server.drop_database(spare)
            return
        self.free.append(spare)

    def _refill(self, database: str) -> None:
        with self.server.connect(database) as conn:
            if conn.execute(SCHEMA).fetchone()[0] != self.schema:  # type: ignore[index]
                raise psycopg.DataError(f"{database}: a test changed its schema")
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")  # no foreign keys
                # the names come from the catalog, quoted there
                conn.execute("; ".join(f"DELETE FROM {table}" for table in self.tables))  # noqa: S608
                for table, rows in self.rows.items():
                    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:  # type: ignore[arg-type]
                        copy.write(rows)
                for sequence, last_value in self.sequences:
                    if last_value is None:
                        conn.execute(f"ALTER SEQUENCE {sequence} RESTART")
                    else:
                        conn.execute("SELECT setval(%s, %s)", (sequence, last_value))

    def close(self) -> None:
        for name in self.free:
            self.server.drop_database(name)
        self.free.clear()
