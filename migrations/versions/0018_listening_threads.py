"""Listening, continued: an inbox item keeps the thread reference a reply needs on networks
that ask for one (Bluesky: root and parent, each an AT-URI and a CID), and when it was first
answered (for the time to first answer). A reply's reference may be longer than a status id.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_items") as batch:
        batch.add_column(sa.Column("reply_ref", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("first_answer_at", sa.DateTime(timezone=True), nullable=True))
    # SQLite does not enforce a VARCHAR's length; rebuilding `posts` there (batch mode) would
    # drop and re-create a table that others reference, for nothing.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "posts",
            "in_reply_to",
            type_=sa.String(length=1000),
            existing_type=sa.String(length=200),
            existing_nullable=True,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "posts",
            "in_reply_to",
            type_=sa.String(length=200),
            existing_type=sa.String(length=1000),
            existing_nullable=True,
        )
    with op.batch_alter_table("inbox_items") as batch:
        batch.drop_column("first_answer_at")
        batch.drop_column("reply_ref")
