"""Version 6: the mail outbox (courriels_sortants).

Revision ID: 0006
Revises: 0005

The table is new: it is created as the schema defines it before the revisions run, so this
revision has nothing left to change.
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass
