"""Version 16: the requesters' ratings of their resolved tickets (avis).

Revision ID: 0016
Revises: 0015

The table is new: it is created as the schema defines it before the revisions run, so this
revision has nothing left to change. Tickets resolved or closed before it are asked like the
others, once, at their requester's next login.
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass
