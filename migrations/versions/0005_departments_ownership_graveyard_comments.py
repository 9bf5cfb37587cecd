"""Departments (the six standard ones), channel owners and graveyard settings, graveyard alerts,
comments on posts; every existing post gets a department.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# slug, name, colour: the departments every installation starts with (departments.py names them).
STANDARD_DEPARTMENTS = (
    ("marketing", "Marketing", "#d9480f"),
    ("pr", "PR", "#1c7ed6"),
    ("hr", "HR", "#2f9e44"),
    ("customer-service", "Customer service", "#ae3ec9"),
    ("media", "Media", "#f08c00"),
    ("corporate-communications", "Corporate communications", "#0b7285"),
)
FALLBACK = "corporate-communications"


def _seed_departments() -> None:
    connection = op.get_bind()
    departments = sa.table(
        "departments",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("slug", sa.String),
        sa.column("color", sa.String),
    )
    for slug, name, color in STANDARD_DEPARTMENTS:
        taken = connection.execute(
            sa.select(departments.c.id).where(
                sa.or_(departments.c.slug == slug, departments.c.name == name)
            )
        ).first()
        if taken is None:
            connection.execute(departments.insert().values(name=name, slug=slug, color=color))
    fallback = connection.execute(
        sa.select(departments.c.id).where(departments.c.slug == FALLBACK)
    ).scalar()
    if fallback is not None:
        connection.execute(
            sa.text("UPDATE posts SET department_id = :d WHERE department_id IS NULL"),
            {"d": fallback},
        )


def upgrade() -> None:
    # Plain ADD COLUMN ... REFERENCES works on both engines; SQLite's batch mode would rebuild the
    # table, and dropping the old copy with foreign keys on would touch the rows pointing at it.
    for column in ("owner_id", "deputy_id"):
        op.execute(f"ALTER TABLE channels ADD COLUMN {column} INTEGER REFERENCES users (id)")
    with op.batch_alter_table("channels") as batch_op:
        batch_op.add_column(
            sa.Column("silent_after_days", sa.Integer(), server_default="14", nullable=False)
        )
        batch_op.add_column(
            sa.Column("plan_ahead_days", sa.Integer(), server_default="7", nullable=False)
        )
    op.create_table(
        "graveyard_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("problem", sa.String(length=20), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_graveyard_alerts_channel_open", "graveyard_alerts", ["channel_id", "resolved_at"]
    )
    op.create_table(
        "post_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_post_comments_post_id", "post_comments", ["post_id"])
    _seed_departments()


def downgrade() -> None:
    op.drop_index("ix_post_comments_post_id", table_name="post_comments")
    op.drop_table("post_comments")
    op.drop_index("ix_graveyard_alerts_channel_open", table_name="graveyard_alerts")
    op.drop_table("graveyard_alerts")
    with op.batch_alter_table("channels") as batch_op:
        batch_op.drop_column("plan_ahead_days")
        batch_op.drop_column("silent_after_days")
        batch_op.drop_column("deputy_id")
        batch_op.drop_column("owner_id")
