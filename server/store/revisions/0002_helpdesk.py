"""Version 2: conversation, assignment, SSH keys, audit trail, unread markers.

Revision ID: 0002
Revises: 0001

Every change looks before it acts: MariaDB commits each DDL statement on its own, so a run cut
short simply runs again. The new tables (cles_ssh, journal_audit, lectures) are created as the
schema defines them before the revisions run; this one changes the seed's tables.
"""

import sqlalchemy as sa
from alembic import op

from server.store.schema import history

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def upgrade() -> None:
    mysql = op.get_context().dialect.name == "mysql"
    inspector = _inspector()
    if "assigne_id" not in {c["name"] for c in inspector.get_columns("tickets")}:
        if mysql:
            op.add_column("tickets", sa.Column("assigne_id", sa.Integer, nullable=True))
        else:
            # SQLite takes a foreign key only inline with a new column. Batch mode's copy would
            # drop the old `tickets`, and with foreign keys on that deletes every history row.
            op.execute(
                "ALTER TABLE tickets ADD COLUMN assigne_id INTEGER CONSTRAINT fk_tickets_assigne "
                "REFERENCES utilisateurs (id) ON DELETE SET NULL"
            )
    inspector = _inspector()
    if "idx_tickets_assigne_statut" not in {ix["name"] for ix in inspector.get_indexes("tickets")}:
        op.create_index("idx_tickets_assigne_statut", "tickets", ["assigne_id", "statut_id"])
    if mysql and "fk_tickets_assigne" not in {fk["name"] for fk in inspector.get_foreign_keys("tickets")}:
        op.create_foreign_key(
            "fk_tickets_assigne", "tickets", "utilisateurs", ["assigne_id"], ["id"], ondelete="SET NULL"
        )
    if "interne" not in {c["name"] for c in inspector.get_columns("historique")}:
        op.add_column(
            "historique", sa.Column("interne", sa.Boolean, nullable=False, server_default=sa.false())
        )
    if not mysql:
        _never_reuse_history_ids()


def _never_reuse_history_ids() -> None:
    """SQLite: rebuild `historique` with AUTOINCREMENT (batch mode), as the schema defines it.
    No table refers to it, so its copy touches nothing else."""
    created = (
        op.get_bind()
        .exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'historique'")
        .scalar_one()
    )
    if "AUTOINCREMENT" in created.upper():
        return
    with op.batch_alter_table(
        "historique", copy_from=history, recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass
