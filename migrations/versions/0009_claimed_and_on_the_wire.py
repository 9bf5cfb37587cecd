"""Claimed is not on the wire: when a send started and by when it must end; withdrawn sends;
crisis responses tied to the crisis they answer.

(`claimed` needs no schema change: it is one more value of deliveries.status.)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("send_deadline", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("crisis_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_posts_crisis_id_crises", "crises", ["crisis_id"], ["id"], ondelete="SET NULL"
        )
    # Crisis responses written during the crisis in force answer that crisis.
    op.execute(
        """
        UPDATE posts SET crisis_id = (SELECT active_crisis_id FROM queue_state WHERE id = 1)
        WHERE crisis_response
          AND created_at >= (
            SELECT crises.declared_at FROM crises
            JOIN queue_state ON queue_state.active_crisis_id = crises.id
            WHERE queue_state.id = 1)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_constraint("fk_posts_crisis_id_crises", type_="foreignkey")
        batch.drop_column("crisis_id")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("withdrawn_at")
        batch.drop_column("send_deadline")
        batch.drop_column("started_at")
