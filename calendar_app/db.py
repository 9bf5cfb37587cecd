"""Engine and session handling.

SQLite is the embedded default: WAL, a busy timeout and foreign keys on, and every transaction
starts with `BEGIN IMMEDIATE`, so a read-then-write transaction (the claim of due deliveries, a
crisis declaration) holds the write lock from its first statement. Python's sqlite3 driver in its
legacy mode would otherwise emit no BEGIN before SELECTs and two claims could read the same rows.

Functions that change state take a `Session` and flush; the request or the dispatch pass commits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option for a connection that only reads and must not take SQLite's write lock.
READ_ONLY = "calendar_read_only"
# One process needs a connection per web thread, per concurrent send and for each claim; the
# default pool (5 + 10) is smaller than that and would make threads wait, then fail.
POOL_SIZE = 10
MAX_OVERFLOW = 30


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", MAX_OVERFLOW)
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver; the "begin" hook below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # SQLite admits one writer at a time. Threads of this process queue on a lock for it instead
    # of polling in SQLite's busy handler, whose growing sleeps can starve a thread for seconds
    # (e.g. a dispatcher recording an outcome that a crisis declaration is waiting for).
    write_lock = threading.Lock()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            # A reader that must not queue behind (or hold up) the writers: WAL lets it read
            # the last committed state without the write lock.
            connection.exec_driver_sql("BEGIN")
            return
        write_lock.acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            write_lock.release()
            raise
        connection.info["sqlite_write_lock"] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(connection: Any) -> None:
        if connection.info.pop("sqlite_write_lock", False):
            write_lock.release()

    return engine


def locks_rows(session: Session) -> bool:
    """Whether row locks mean anything here. On SQLite a transaction holds the whole database
    from its first statement (BEGIN IMMEDIATE), so a SELECT ... FOR UPDATE (which compiles to a
    plain SELECT there) would only cost a round trip."""
    return session.get_bind().dialect.name != "sqlite"


class Database:
    """One engine and its session factory, bound to the app in the factory."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        return self.sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work outside a request: commit at the end, roll back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
