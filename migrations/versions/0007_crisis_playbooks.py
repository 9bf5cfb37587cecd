"""Crisis playbooks: tags on posts, topic and keyword holds, holding statements, escalation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _fold(text: str) -> str:
    # The same folding as calendar_app.holds.fold, frozen here as this migration ran.
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _index_existing_texts() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT d.id, p.title, p.body, d.body_override FROM deliveries d "
            "JOIN posts p ON p.id = d.post_id"
        )
    ).all()
    for delivery_id, title, body, override in rows:
        text = _fold("\n".join(part for part in (title, body, override or "") if part))
        connection.execute(
            sa.text("UPDATE deliveries SET hold_text = :t WHERE id = :i"),
            {"t": text, "i": delivery_id},
        )


def upgrade() -> None:
    op.create_table(
        "post_tags",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id", "tag"),
    )
    op.create_index("ix_post_tags_tag", "post_tags", ["tag"], unique=False)
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("hold_text", sa.Text(), server_default="", nullable=False))
    _index_existing_texts()

    op.create_table(
        "playbooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("all_channels", sa.Boolean(), nullable=False),
        sa.Column("hold_topics", sa.JSON(), nullable=False),
        sa.Column("hold_keywords", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "playbook_channels",
        sa.Column("playbook_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["playbook_id"], ["playbooks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("playbook_id", "channel_id"),
    )
    op.create_table(
        "holding_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playbook_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["playbook_id"], ["playbooks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("playbook_id", "channel_id"),
    )
    op.create_table(
        "escalation_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playbook_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(["playbook_id"], ["playbooks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("crises") as batch:
        batch.add_column(sa.Column("hold_topics", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("hold_keywords", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("playbook_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_crises_playbook_id", "playbooks", ["playbook_id"], ["id"], ondelete="SET NULL"
        )
    op.execute("UPDATE crises SET hold_topics = '[]', hold_keywords = '[]'")
    with op.batch_alter_table("crises") as batch:
        batch.alter_column("hold_topics", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("hold_keywords", existing_type=sa.JSON(), nullable=False)
    op.create_table(
        "acknowledgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crisis_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["crisis_id"], ["crises.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_acknowledgements_crisis", "acknowledgements", ["crisis_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_acknowledgements_crisis", table_name="acknowledgements")
    op.drop_table("acknowledgements")
    with op.batch_alter_table("crises") as batch:
        batch.drop_constraint("fk_crises_playbook_id", type_="foreignkey")
        batch.drop_column("playbook_id")
        batch.drop_column("hold_keywords")
        batch.drop_column("hold_topics")
    op.drop_table("escalation_contacts")
    op.drop_table("holding_statements")
    op.drop_table("playbook_channels")
    op.drop_table("playbooks")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("hold_text")
    op.drop_index("ix_post_tags_tag", table_name="post_tags")
    op.drop_table("post_tags")
