"""Version 16: the requesters' ratings of their resolved tickets (avis), and the index that
counts the last days' tickets by category for the dashboard.

Revision ID: 0016
Revises: 0015

The table is new: it is created as the schema defines it before the revisions run. Tickets
resolved or closed before it are asked like the others, once, at their requester's next login.
Every change looks before it acts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "idx_tickets_date_categorie" not in {ix["name"] for ix in inspector.get_indexes("tickets")}:
        op.create_index("idx_tickets_date_categorie", "tickets", ["created_at", "categorie_id"])
