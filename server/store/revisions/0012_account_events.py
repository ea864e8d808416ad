"""Version 12: account events (evenements_compte), read by every server process's change feed.

Revision ID: 0012
Revises: 0011

The table is new: it is created as the schema defines it before the revisions run, so this
revision has nothing left to change.
"""

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass
