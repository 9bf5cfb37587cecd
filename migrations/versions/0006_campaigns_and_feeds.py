"""Campaigns (goal, KPIs, dates, departments) that posts belong to; secret iCal feeds per user.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("goal", sa.String(length=20), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "campaign_departments",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "department_id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        # Not a batch copy of `posts`: with foreign keys on, dropping the old table would cascade
        # to its deliveries. SQLite adds a nullable column with a reference in place.
        op.execute("ALTER TABLE posts ADD COLUMN campaign_id INTEGER REFERENCES campaigns (id)")
    else:
        op.add_column("posts", sa.Column("campaign_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "posts_campaign_id_fkey", "posts", "campaigns", ["campaign_id"], ["id"]
        )
    op.create_index("ix_posts_campaign_id", "posts", ["campaign_id"], unique=False)
    op.create_table(
        "calendar_feeds",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("token"),
    )


def downgrade() -> None:
    op.drop_table("calendar_feeds")
    op.drop_index("ix_posts_campaign_id", table_name="posts")
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_column("campaign_id")
    op.drop_table("campaign_departments")
    op.drop_table("campaigns")
