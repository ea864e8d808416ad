"""Version 4: attachments (pieces_jointes, pieces_jointes_blocs).

Revision ID: 0004
Revises: 0003

Both tables are new: they are created as the schema defines them before the revisions run,
so this revision has nothing left to change.
"""

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass
