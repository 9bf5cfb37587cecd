"""Alembic environment: the URL comes from calendar_app's configuration, never from a file."""

from __future__ import annotations

from alembic import context

from calendar_app.db import make_engine
from calendar_app.models import Base
from calendar_app.search import is_index_table

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, kind: str, parent: object) -> bool:
    """Autogenerate leaves the search index alone: the database maintains it (0020_search)."""
    return not (kind == "table" and is_index_table(name or ""))


def database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from config import Config

        url = Config.from_env().DATABASE_URL
    return url


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        render_as_batch=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(database_url())
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                include_name=include_name,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
