"""Version 3: ticket categories, each with a default assignee and a default urgency.

Revision ID: 0003
Revises: 0002

The `categories` table is created as the schema defines it before the revisions run, and
seeded after them; this one gives `tickets` its category. Every change looks before it acts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def upgrade() -> None:
    mysql = op.get_context().dialect.name == "mysql"
    inspector = _inspector()
    if "categorie_id" not in {c["name"] for c in inspector.get_columns("tickets")}:
        if mysql:
            op.add_column("tickets", sa.Column("categorie_id", sa.Integer, nullable=True))
        else:
            # SQLite takes a foreign key only inline with a new column; batch mode's copy of
            # `tickets` would delete, with foreign keys on, every row that refers to it.
            op.execute(
                "ALTER TABLE tickets ADD COLUMN categorie_id INTEGER CONSTRAINT fk_tickets_categorie "
                "REFERENCES categories (id) ON DELETE RESTRICT"
            )
    inspector = _inspector()
    if "idx_tickets_categorie_date" not in {ix["name"] for ix in inspector.get_indexes("tickets")}:
        op.create_index("idx_tickets_categorie_date", "tickets", ["categorie_id", "created_at"])
    if mysql and "fk_tickets_categorie" not in {fk["name"] for fk in inspector.get_foreign_keys("tickets")}:
        op.create_foreign_key(
            "fk_tickets_categorie", "tickets", "categories", ["categorie_id"], ["id"], ondelete="RESTRICT"
        )
