"""The suite's own guarantee: a PostgreSQL database a test leaves behind reaches the next test
only as the template was (tests/support/postgres.py, DatabasePool)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.support.postgres import DatabasePool, PostgresServer

pytestmark = pytest.mark.postgres


def users_and_next_id(server: PostgresServer, database: str) -> tuple[int, int]:
    with server.connect(database) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM users), nextval('users_id_seq')"
        ).fetchone()
        assert row is not None
        return row[0], row[1]


def database_names(server: PostgresServer) -> set[str]:
    with server.connect() as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


@pytest.fixture
def pool(pg_server: tuple[PostgresServer, Any]) -> Iterator[DatabasePool]:
    """A pool of its own on the suite's server, closed after the test."""
    server, _cast = pg_server
    made = DatabasePool(server, server.template)
    yield made
    made.close()


def test_a_database_given_back_comes_again_under_a_new_name_as_the_template_was(
    pool: DatabasePool,
) -> None:
    server = pool.server
    pool.take("pool_probe_first")
    as_made = users_and_next_id(server, "pool_probe_first")  # moves the sequence on
    with server.connect("pool_probe_first") as conn:
        conn.execute("DELETE FROM api_tokens; DELETE FROM users")
    pool.give_back("pool_probe_first")

    pool.take("pool_probe_second")

    assert users_and_next_id(server, "pool_probe_second") == as_made
    with pytest.raises(psycopg.OperationalError):  # a leftover connection finds nothing
        server.connect("pool_probe_first").close()
    pool.give_back("pool_probe_second")


def test_a_database_whose_schema_a_test_changed_is_dropped_not_used_again(
    pool: DatabasePool,
) -> None:
    server = pool.server
    pool.take("pool_probe_changed")
    with server.connect("pool_probe_changed") as conn:
        conn.execute("ALTER TABLE users ADD COLUMN nickname text")
    before = database_names(server)

    pool.give_back("pool_probe_changed")

    assert pool.free == []
    assert database_names(server) < before
