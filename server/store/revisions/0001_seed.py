"""Version 1: the seed's schema (users, statuses, tickets, history), which recorded no version.

Revision ID: 0001
Revises:
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing: a database at version 1 was made by the seed's own schema_support.sql."""
