"""Posts and deliveries carry a change stamp (seconds since 1970) that every change moves forward,
also two changes within one second: the calendar feed's SEQUENCE and LAST-MODIFIED. Existing rows
start from the moments they last changed as far as they are recorded.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_POST_MOMENTS = ("created_at", "updated_at", "approved_at")
_DELIVERY_MOMENTS = ("held_at", "published_at", "claimed_at")


def _seconds(*moments: datetime | str | None) -> int:
    stamps = [0]
    for moment in moments:
        if isinstance(moment, str):  # SQLite: naive UTC text
            moment = datetime.fromisoformat(moment)
        if moment is not None:
            aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            stamps.append(int(aware.timestamp()))
    return max(stamps)


def _backfill(table: str, moments: tuple[str, ...]) -> None:
    bind = op.get_bind()
    columns = ", ".join(moments)
    rows = bind.execute(sa.text(f"SELECT id, {columns} FROM {table}")).all()  # noqa: S608
    update = sa.text(f"UPDATE {table} SET changed = :changed WHERE id = :id")  # noqa: S608
    for row in rows:
        bind.execute(update, {"id": row[0], "changed": _seconds(*row[1:])})


def upgrade() -> None:
    for table in ("posts", "deliveries"):
        op.add_column(table, sa.Column("changed", sa.Integer(), nullable=False, server_default="0"))
    _backfill("posts", _POST_MOMENTS)
    _backfill("deliveries", _DELIVERY_MOMENTS)


def downgrade() -> None:
    for table in ("deliveries", "posts"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("changed")
