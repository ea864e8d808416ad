"""Version 11: due dates (tickets.echeance).

Revision ID: 0011
Revises: 0010

Tickets filed before have no due date (NULL): they are never counted late. Every change looks
before it acts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "echeance" not in {c["name"] for c in inspector.get_columns("tickets")}:
        op.add_column("tickets", sa.Column("echeance", sa.DateTime, nullable=True))
    inspector = sa.inspect(op.get_bind())
    if "idx_tickets_statut_echeance" not in {ix["name"] for ix in inspector.get_indexes("tickets")}:
        op.create_index("idx_tickets_statut_echeance", "tickets", ["statut_id", "echeance"])
