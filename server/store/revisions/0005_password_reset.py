"""Version 5: one-time password reset codes (codes_reinitialisation).

Revision ID: 0005
Revises: 0004

The table is new: it is created as the schema defines it before the revisions run, so this
revision has nothing left to change.
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass
