"""Version 13: the due date paused while a ticket waits for its requester (tickets.pause_depuis).

Revision ID: 0013
Revises: 0012

Tickets waiting before have no pause (NULL): their due date runs as before. Every change looks
before it acts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "pause_depuis" not in {c["name"] for c in inspector.get_columns("tickets")}:
        op.add_column("tickets", sa.Column("pause_depuis", sa.DateTime, nullable=True))
