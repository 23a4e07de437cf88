"""flash sales

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:21:31.419535
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_drops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offer", sa.JSON(), nullable=True))
    op.create_table(
        "flash_sales",
        sa.Column("show_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "variant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("drop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("allotted", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("per_buyer_limit", sa.Integer(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment_window_secs", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column(
            "by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "mode IN ('first_come', 'fair_window')", name=op.f("ck_flash_sales_mode_known")
        ),
        sa.CheckConstraint("allotted > 0", name=op.f("ck_flash_sales_allotted_positive")),
        sa.CheckConstraint("per_buyer_limit > 0", name=op.f("ck_flash_sales_limit_positive")),
        sa.CheckConstraint(
            "taken >= 0 AND taken <= allotted", name=op.f("ck_flash_sales_never_oversold")
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_flash_sales_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["drop_id"], ["link_drops.id"], name=op.f("fk_flash_sales_drop_id_link_drops")
        ),
        sa.ForeignKeyConstraint(
            ["show_id"], ["shows.id"], name=op.f("fk_flash_sales_show_id_shows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variants.id"],
            name=op.f("fk_flash_sales_variant_id_variants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sales")),
    )
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flash_sales_show_id"), ["show_id"], unique=False)

    op.create_table(
        "sale_buyers",
        sa.Column("sale_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("buyer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("buyer_limit", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "taken >= 0 AND taken <= buyer_limit", name=op.f("ck_sale_buyers_within_limit")
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["users.id"],
            name=op.f("fk_sale_buyers_buyer_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_sale_buyers_sale_id_flash_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sale_id", "buyer_id", name=op.f("pk_sale_buyers")),
    )
    op.create_table(
        "sale_claims",
        sa.Column("sale_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("buyer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('awaiting_payment', 'paid', 'expired', 'cancelled')",
            name=op.f("ck_sale_claims_status_known"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_sale_claims_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["users.id"],
            name=op.f("fk_sale_claims_buyer_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_sale_claims_sale_id_flash_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_claims")),
        sa.UniqueConstraint(
            "sale_id", "buyer_id", "idempotency_key", name="uq_sale_claims_request"
        ),
    )
    with op.batch_alter_table("sale_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sale_claims_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sale_claims_sale_id"), ["sale_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sale_claims_status"), ["status"], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table("link_drops", schema=None) as batch_op:
        batch_op.drop_column("offer")
    with op.batch_alter_table("sale_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sale_claims_status"))
        batch_op.drop_index(batch_op.f("ix_sale_claims_sale_id"))
        batch_op.drop_index(batch_op.f("ix_sale_claims_expires_at"))

    op.drop_table("sale_claims")
    op.drop_table("sale_buyers")
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flash_sales_show_id"))

    op.drop_table("flash_sales")
    # ### end Alembic commands ###
