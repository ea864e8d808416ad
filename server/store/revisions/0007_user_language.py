"""Version 7: each account's language (utilisateurs.langue), chosen in Mon compte.

Revision ID: 0007
Revises: 0006

NULL until the user chooses: the session then follows the client's LANG, else French.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("utilisateurs")}
    if "langue" not in columns:
        op.add_column("utilisateurs", sa.Column("langue", sa.String(5), nullable=True))
