"""Network channels: a published delivery keeps the post's id on the network and its URL.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("remote_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("url", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("url")
        batch.drop_column("remote_id")
