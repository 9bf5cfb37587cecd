"""Images on posts: uploaded media (content-addressed files) and their place on a post with
alt text; a post may waive alt text only with a reason.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mime_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("animated", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "uploaded_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_media_sha256", "media", ["sha256"])
    op.create_table(
        "post_media",
        sa.Column(
            "post_id",
            sa.Integer(),
            sa.ForeignKey("posts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("media_id", sa.Integer(), sa.ForeignKey("media.id"), nullable=False),
        sa.Column("alt", sa.Text(), nullable=False),
    )
    op.create_index("ix_post_media_media_id", "post_media", ["media_id"])
    with op.batch_alter_table("posts") as batch:
        batch.add_column(
            sa.Column("alt_text_waived", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("alt_text_waiver_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("alt_text_waiver_reason")
        batch.drop_column("alt_text_waived")
    op.drop_index("ix_post_media_media_id", table_name="post_media")
    op.drop_table("post_media")
    op.drop_index("ix_media_sha256", table_name="media")
    op.drop_table("media")
