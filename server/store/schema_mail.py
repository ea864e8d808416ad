"""The table of mail waiting for the relay."""

from __future__ import annotations

import sqlalchemy as sa

from .schema_base import MYSQL_TABLE, metadata

# Mail waiting for the relay: written in the transaction of the event it reports, sent by the
# process that claims it (a lease), kept once sent; failed after a day of refusals.
outbox = sa.Table(
    "courriels_sortants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # The account it is for (NULL once deleted: a message already queued still goes).
    sa.Column(
        "utilisateur_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="SET NULL", name="fk_courriels_sortants_utilisateur"),
        nullable=True,
    ),
    sa.Column("to_address", sa.String(254), nullable=False),
    sa.Column("to_name", sa.String(80), nullable=False, server_default=""),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    # What it is about, so that events close together make one message ("ticket:12").
    sa.Column("about", sa.String(40), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=True),
    sa.Column("failed_at", sa.DateTime, nullable=True),
    # The relay's last answer, or why it could not be reached.
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    # The process sending it now, until when.
    sa.Column("claimed_by", sa.String(64), nullable=False, server_default=""),
    sa.Column("claimed_until", sa.DateTime, nullable=True),
    sa.Index("idx_courriels_sortants_attente", "sent_at", "failed_at", "next_attempt_at"),
    sa.Index("idx_courriels_sortants_utilisateur_sujet", "utilisateur_id", "about"),
    **MYSQL_TABLE,
)
