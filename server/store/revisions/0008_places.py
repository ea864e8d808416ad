"""Version 8: places (lieux, reseaux_lieux) and the place of a ticket.

Revision ID: 0008
Revises: 0007

The `lieux` and `reseaux_lieux` tables are created as the schema defines them before the
revisions run; this one gives `tickets` its place. Every change looks before it acts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def upgrade() -> None:
    mysql = op.get_context().dialect.name == "mysql"
    inspector = _inspector()
    if "lieu_id" not in {c["name"] for c in inspector.get_columns("tickets")}:
        if mysql:
            op.add_column("tickets", sa.Column("lieu_id", sa.Integer, nullable=True))
        else:
            # As for the category (0003): SQLite takes the foreign key inline with the column.
            op.execute(
                "ALTER TABLE tickets ADD COLUMN lieu_id INTEGER CONSTRAINT fk_tickets_lieu "
                "REFERENCES lieux (id) ON DELETE RESTRICT"
            )
    inspector = _inspector()
    if "idx_tickets_lieu_date" not in {ix["name"] for ix in inspector.get_indexes("tickets")}:
        op.create_index("idx_tickets_lieu_date", "tickets", ["lieu_id", "created_at"])
    if mysql and "fk_tickets_lieu" not in {fk["name"] for fk in inspector.get_foreign_keys("tickets")}:
        op.create_foreign_key("fk_tickets_lieu", "tickets", "lieux", ["lieu_id"], ["id"], ondelete="RESTRICT")
