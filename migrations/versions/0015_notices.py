"""Notices: a notification keeps its kind's facts (words made in the reader's language), waits
for the hourly e-mail digest, and each person chooses how they are told of each kind.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("mail_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_notifications_mail_pending", ["mail_pending", "user_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("notice_settings", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("notice_settings")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index("ix_notifications_mail_pending")
        batch.drop_column("mail_pending")
        batch.drop_column("params")
