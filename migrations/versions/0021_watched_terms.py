"""Listening, continued: the search terms a channel watches besides its hashtags (Mastodon:
the server's status search; Bluesky: the firehose's posts, matched as words).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watched_terms",
        sa.Column(
            "channel_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("term", sa.String(length=100), primary_key=True),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("watched_terms")
