"""The schema comes from Alembic only, and the models agree with it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from calendar_app.db import make_engine
from calendar_app.models import Base
from calendar_app.search import is_index_table


def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": False,
                    # The search index is the database's own (triggers), not a model.
                    "include_name": lambda name, kind, parent: (
                        not (kind == "table" and is_index_table(name or ""))
                    ),
                },
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_busy_timeout(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    finally:
        engine.dispose()


def test_audit_log_is_append_only(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO audit_entries (at, action, subject_type, detail) "
                    "VALUES (:at, 'declare_crisis', 'crisis', '{}')"
                ),
                {"at": "2026-11-23 10:00:00.000000"},
            )
        for statement in (
            "UPDATE audit_entries SET reason = 'rewritten'",
            "DELETE FROM audit_entries",
        ):
            with (
                pytest.raises(sa.exc.DBAPIError, match="append-only"),
                engine.begin() as connection,
            ):
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()
