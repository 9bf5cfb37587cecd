"""Listening: the inbox (items, cursors, routing rules, watched hashtags) and the early warning
(alerts, watch words); a delivery held by an alert names it; a reply from the inbox keeps the
status it answers.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("keyword", sa.String(length=100), nullable=False, unique=True),
        sa.Column(
            "department_id",
            sa.Integer(),
            sa.ForeignKey("departments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "channel_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("remote_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("author_handle", sa.String(length=300), nullable=False),
        sa.Column("author_name", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("in_reply_to", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "department_id", sa.Integer(), sa.ForeignKey("departments.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "assignee_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "routed_by_rule_id", sa.Integer(),
            sa.ForeignKey("routing_rules.id", ondelete="SET NULL"), nullable=True,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.UniqueConstraint("channel_id", "remote_id", name="uq_inbox_items_channel_remote"),
    )  # fmt: skip
    op.create_index("ix_inbox_items_channel_received", "inbox_items", ["channel_id", "received_at"])
    op.create_index("ix_inbox_items_received", "inbox_items", ["received_at"])
    op.create_index("ix_inbox_items_status", "inbox_items", ["status"])
    op.create_index("ix_inbox_items_department_id", "inbox_items", ["department_id"])
    op.create_index("ix_inbox_items_assignee_id", "inbox_items", ["assignee_id"])
    op.create_table(
        "listen_cursors",
        sa.Column(
            "channel_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("source", sa.String(length=120), primary_key=True),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )  # fmt: skip
    op.create_table(
        "watched_hashtags",
        sa.Column(
            "channel_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(length=100), primary_key=True),
    )  # fmt: skip
    op.create_table("watch_words", sa.Column("word", sa.String(length=100), primary_key=True))
    op.create_table(
        "spike_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column(
            "channel_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("watched_words", sa.JSON(), nullable=False),
        sa.Column("sample", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "crisis_id", sa.Integer(), sa.ForeignKey("crises.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )  # fmt: skip
    op.create_index(
        "uq_spike_alerts_open_scope",
        "spike_alerts",
        ["scope"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("in_reply_to", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("inbox_item_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_posts_inbox_item_id_inbox_items",
            "inbox_items",
            ["inbox_item_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("held_by_alert_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_deliveries_held_by_alert_id_spike_alerts",
            "spike_alerts",
            ["held_by_alert_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("fk_deliveries_held_by_alert_id_spike_alerts", type_="foreignkey")
        batch.drop_column("held_by_alert_id")
    with op.batch_alter_table("posts") as batch:
        batch.drop_constraint("fk_posts_inbox_item_id_inbox_items", type_="foreignkey")
        batch.drop_column("inbox_item_id")
        batch.drop_column("in_reply_to")
    op.drop_index("uq_spike_alerts_open_scope", table_name="spike_alerts")
    op.drop_table("spike_alerts")
    op.drop_table("watch_words")
    op.drop_table("watched_hashtags")
    op.drop_table("listen_cursors")
    for name in (
        "ix_inbox_items_assignee_id",
        "ix_inbox_items_department_id",
        "ix_inbox_items_status",
        "ix_inbox_items_received",
        "ix_inbox_items_channel_received",
    ):
        op.drop_index(name, table_name="inbox_items")
    op.drop_table("inbox_items")
    op.drop_table("routing_rules")
