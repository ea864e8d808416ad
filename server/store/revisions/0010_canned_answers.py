"""Version 10: canned answers (reponses_types).

Revision ID: 0010
Revises: 0009

The table is new: it is created as the schema defines it before the revisions run, so this
revision has nothing left to change.
"""

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass
