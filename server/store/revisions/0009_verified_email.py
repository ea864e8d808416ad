"""Version 9: verified addresses and mail preferences (utilisateurs), verifications_email.

Revision ID: 0009
Revises: 0008

`verifications_email` is created as the schema defines it before the revisions run; this one
gives `utilisateurs` its two columns. Every change looks before it acts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("utilisateurs")}
    if "email_verifie" not in columns:
        op.add_column(
            "utilisateurs", sa.Column("email_verifie", sa.Boolean, nullable=False, server_default=sa.false())
        )
    if "notifications" not in columns:
        op.add_column(
            "utilisateurs",
            sa.Column("notifications", sa.String(10), nullable=False, server_default="reponses"),
        )
