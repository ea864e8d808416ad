"""Version 15: a ticket opened as the follow-up of a closed one (tickets.suite_de).

Revision ID: 0015
Revises: 0014

Older tickets follow none (NULL). Every change looks before it acts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    mysql = op.get_context().dialect.name == "mysql"
    inspector = sa.inspect(op.get_bind())
    if "suite_de" not in {c["name"] for c in inspector.get_columns("tickets")}:
        if mysql:
            op.add_column("tickets", sa.Column("suite_de", sa.Integer, nullable=True))
        else:
            # SQLite takes the foreign key inline with the column (as 0008).
            op.execute(
                "ALTER TABLE tickets ADD COLUMN suite_de INTEGER CONSTRAINT fk_tickets_suite_de "
                "REFERENCES tickets (id) ON DELETE SET NULL"
            )
    inspector = sa.inspect(op.get_bind())
    if "idx_tickets_suite_de" not in {ix["name"] for ix in inspector.get_indexes("tickets")}:
        op.create_index("idx_tickets_suite_de", "tickets", ["suite_de"])
    if mysql and "fk_tickets_suite_de" not in {fk["name"] for fk in inspector.get_foreign_keys("tickets")}:
        op.create_foreign_key(
            "fk_tickets_suite_de", "tickets", "tickets", ["suite_de"], ["id"], ondelete="SET NULL"
        )
