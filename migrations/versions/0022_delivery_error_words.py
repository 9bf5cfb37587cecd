"""A delivery's error kept as words too, so pages say it in the reader's language.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: the table keeps its triggers (change stamps, search).
    op.add_column("deliveries", sa.Column("error_words", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("deliveries", "error_words")
