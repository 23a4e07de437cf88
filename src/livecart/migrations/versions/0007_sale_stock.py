"""a flash sale's units come off the shelf when it opens; unsold ones go back after it closes

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("units_returned", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(
            "returned_unsold", "units_returned >= 0 AND units_returned + taken <= allotted"
        )


def downgrade() -> None:
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.drop_constraint("returned_unsold", type_="check")
        batch_op.drop_column("units_returned")
