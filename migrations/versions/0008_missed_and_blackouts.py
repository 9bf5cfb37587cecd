"""Blackout dates: planned quiet periods, and which blackout held a delivery.

(Missed deliveries need no schema change: `missed` is one more value of deliveries.status.)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blackouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("all_channels", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_blackouts_period", "blackouts", ["starts_at", "ends_at"], unique=False)
    op.create_table(
        "blackout_channels",
        sa.Column("blackout_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["blackout_id"], ["blackouts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("blackout_id", "channel_id"),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("held_by_blackout_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_deliveries_held_by_blackout_id_blackouts",
            "blackouts",
            ["held_by_blackout_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("fk_deliveries_held_by_blackout_id_blackouts", type_="foreignkey")
        batch.drop_column("held_by_blackout_id")
    op.drop_table("blackout_channels")
    op.drop_index("ix_blackouts_period", table_name="blackouts")
    op.drop_table("blackouts")
