"""replays: the smaller rendition's timeline against the live one, and where the replay's files
were put in object storage

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("replays", schema=None) as batch_op:
        batch_op.add_column(sa.Column("encoded_timeline", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("playlist_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("encoded_key", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("replays", schema=None) as batch_op:
        batch_op.drop_column("encoded_key")
        batch_op.drop_column("playlist_key")
        batch_op.drop_column("encoded_timeline")
