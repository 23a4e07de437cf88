"""flash-sale gate: fair_window seeds and the public allocation log

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("window_ms", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("seed", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("seed_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.alter_column("window_ms", server_default=None)
    op.create_table(
        "sale_lots",
        sa.Column("sale_id", BigId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_sale_lots_quantity_positive")),
        sa.CheckConstraint(
            "outcome IN ('won', 'sold_out', 'buyer_limit_reached', 'refused')",
            name=op.f("ck_sale_lots_outcome_known"),
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_sale_lots_sale_id_flash_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sale_id", "position", name=op.f("pk_sale_lots")),
    )


def downgrade() -> None:
    op.drop_table("sale_lots")
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.drop_column("allocated_at")
        batch_op.drop_column("seed_hash")
        batch_op.drop_column("seed")
        batch_op.drop_column("window_ms")
