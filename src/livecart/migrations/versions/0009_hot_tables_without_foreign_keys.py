"""the tables a flash sale's winners are written to lose their foreign keys (docs/adr/0004)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# table → (column, referenced table, ON DELETE) of each foreign key dropped
DROPPED: dict[str, list[tuple[str, str, str]]] = {
    "sale_buyers": [("sale_id", "flash_sales", "CASCADE"), ("buyer_id", "users", "CASCADE")],
    "sale_claims": [("sale_id", "flash_sales", "CASCADE"), ("buyer_id", "users", "CASCADE")],
    "orders": [
        ("buyer_id", "users", "RESTRICT"),
        ("merchant_id", "merchants", "RESTRICT"),
        ("show_id", "shows", "SET NULL"),
        ("host_id", "users", "SET NULL"),
        ("sale_id", "flash_sales", "SET NULL"),
        ("claim_id", "sale_claims", "SET NULL"),
    ],
    "order_items": [
        ("order_id", "orders", "CASCADE"),
        ("product_id", "products", "RESTRICT"),
        ("variant_id", "variants", "RESTRICT"),
    ],
}


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def upgrade() -> None:
    for table, keys in DROPPED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, referred, _ in keys:
                batch_op.drop_constraint(_name(table, column, referred), type_="foreignkey")


def downgrade() -> None:
    for table, keys in reversed(DROPPED.items()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, referred, on_delete in keys:
                batch_op.create_foreign_key(
                    _name(table, column, referred),
                    referred,
                    [column],
                    ["id"],
                    ondelete=on_delete,
                )
