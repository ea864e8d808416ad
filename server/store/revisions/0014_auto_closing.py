"""Version 14: resolved tickets closed by the service (status Fermé, tickets.resolu_depuis).

Revision ID: 0014
Revises: 0013

The status `Fermé` is seeded with the others after the revisions. Tickets resolved before
count from the upgrade: their wait starts now rather than closing them all at once. Every
change looks before it acts.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "resolu_depuis" not in {c["name"] for c in inspector.get_columns("tickets")}:
        op.add_column("tickets", sa.Column("resolu_depuis", sa.DateTime, nullable=True))
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        op.execute(
            sa.text(
                "UPDATE tickets SET resolu_depuis = :now WHERE statut_id IN "
                "(SELECT id FROM statut WHERE libelle = 'Résolu')"
            ).bindparams(now=now)
        )
    inspector = sa.inspect(op.get_bind())
    if "idx_tickets_statut_resolu" not in {ix["name"] for ix in inspector.get_indexes("tickets")}:
        op.create_index("idx_tickets_statut_resolu", "tickets", ["statut_id", "resolu_depuis"])
