"""The tables of tickets: the tickets, their history, who read them, their attachments, the
requesters' ratings."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from ..domain.models import Urgency
from .schema_base import MYSQL_TABLE, metadata

tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("titre", sa.String(120), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column(
        "urgence",
        sa.Enum(*[u.value for u in Urgency], name="urgence", create_constraint=True),
        nullable=False,
    ),
    sa.Column(
        "auteur_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="CASCADE", name="fk_tickets_auteur"),
        nullable=False,
    ),
    sa.Column(
        "statut_id",
        sa.Integer,
        sa.ForeignKey("statut.id", ondelete="RESTRICT", name="fk_tickets_statut"),
        nullable=False,
    ),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    # The admin who took the ticket in hand; NULL while nobody has.
    sa.Column(
        "assigne_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="SET NULL", name="fk_tickets_assigne"),
        nullable=True,
    ),
    # What the ticket is about; a category in use is never deleted (the database refuses).
    sa.Column(
        "categorie_id",
        sa.Integer,
        sa.ForeignKey("categories.id", ondelete="RESTRICT", name="fk_tickets_categorie"),
        nullable=True,
    ),
    # Where the request comes from; a place in use is never deleted (the database refuses).
    sa.Column(
        "lieu_id",
        sa.Integer,
        sa.ForeignKey("lieux.id", ondelete="RESTRICT", name="fk_tickets_lieu"),
        nullable=True,
    ),
    # When the ticket is due (its urgency's target in opening hours); NULL: filed before due
    # dates existed, never late.
    sa.Column("echeance", sa.DateTime, nullable=True),
    # Since when the due date is paused, the ticket waiting for its requester (an admin's reply
    # to it `En cours`); NULL: not paused. The requester's answer adds the wait to `echeance`.
    sa.Column("pause_depuis", sa.DateTime, nullable=True),
    # Since when a `Résolu` ticket has had no answer from its requester (resolved then, or
    # their last reply since); NULL otherwise. The service closes it after autoclose_days.
    sa.Column("resolu_depuis", sa.DateTime, nullable=True),
    # The closed ticket this one follows up (« Ouvrir un ticket de suite »); NULL: none.
    sa.Column(
        "suite_de",
        sa.Integer,
        sa.ForeignKey("tickets.id", ondelete="SET NULL", name="fk_tickets_suite_de"),
        nullable=True,
    ),
    # A user's tickets, newest first.
    sa.Index("idx_tickets_auteur_date", "auteur_id", "created_at"),
    # All tickets filtered by status, then urgency, ordered by date.
    sa.Index("idx_tickets_statut_urgence_date", "statut_id", "urgence", "created_at"),
    # All tickets, newest first.
    sa.Index("idx_tickets_date", "created_at"),
    # The dashboard's tickets of the last days by category, counted from the index alone.
    sa.Index("idx_tickets_date_categorie", "created_at", "categorie_id"),
    # An admin's assigned tickets by status.
    sa.Index("idx_tickets_assigne_statut", "assigne_id", "statut_id"),
    # `Tous les tickets` of one category, newest first.
    sa.Index("idx_tickets_categorie_date", "categorie_id", "created_at"),
    # `Tous les tickets` of one place, newest first.
    sa.Index("idx_tickets_lieu_date", "lieu_id", "created_at"),
    # Late open tickets, counted and filtered: by status, then due date.
    sa.Index("idx_tickets_statut_echeance", "statut_id", "echeance"),
    # Resolved tickets left unanswered long enough to close, oldest first.
    sa.Index("idx_tickets_statut_resolu", "statut_id", "resolu_depuis"),
    # The follow-up of a ticket, shown on it.
    sa.Index("idx_tickets_suite_de", "suite_de"),
    **MYSQL_TABLE,
)

history = sa.Table(
    "historique",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "ticket_id",
        sa.Integer,
        sa.ForeignKey("tickets.id", ondelete="CASCADE", name="fk_historique_ticket"),
        nullable=False,
    ),
    sa.Column(
        "acteur_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="SET NULL", name="fk_historique_acteur"),
        nullable=True,
    ),
    # Snapshot of the actor's name: history stays readable after a rename or deletion.
    sa.Column("acteur_nom", sa.String(80), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column(
        "ancien_statut_id",
        sa.Integer,
        sa.ForeignKey("statut.id", ondelete="RESTRICT", name="fk_historique_ancien_statut"),
        nullable=True,
    ),
    sa.Column(
        "nouveau_statut_id",
        sa.Integer,
        sa.ForeignKey("statut.id", ondelete="RESTRICT", name="fk_historique_nouveau_statut"),
        nullable=True,
    ),
    sa.Column("details", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # An admin's internal note: never shown to the requester.
    sa.Column("interne", sa.Boolean, nullable=False, server_default=sa.false()),
    # A ticket's history in order.
    sa.Index("idx_historique_ticket_date", "ticket_id", "created_at"),
    # Foreign keys need an index on MySQL; naming them keeps both databases alike.
    sa.Index("idx_historique_acteur", "acteur_id"),
    sa.Index("idx_historique_ancien_statut", "ancien_statut_id"),
    sa.Index("idx_historique_nouveau_statut", "nouveau_statut_id"),
    # Ids only grow, as InnoDB's do: SQLite would otherwise hand out again the id of a newest
    # row deleted with its ticket, and the change feed (which reads ids above the last it saw)
    # would miss what comes next.
    sqlite_autoincrement=True,
    **MYSQL_TABLE,
)

reads = sa.Table(
    "lectures",
    metadata,
    sa.Column(
        "utilisateur_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="CASCADE", name="fk_lectures_utilisateur"),
        primary_key=True,
    ),
    sa.Column(
        "ticket_id",
        sa.Integer,
        sa.ForeignKey("tickets.id", ondelete="CASCADE", name="fk_lectures_ticket"),
        primary_key=True,
    ),
    # The newest history entry of the ticket the user has seen: newer ones are unread.
    sa.Column("dernier_historique_id", sa.Integer, nullable=False),
    sa.Index("idx_lectures_ticket", "ticket_id"),
    **MYSQL_TABLE,
)

# Files attached to a ticket, visible once complete (`complet`); their bytes in blocks below.
attachments = sa.Table(
    "pieces_jointes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "ticket_id",
        sa.Integer,
        sa.ForeignKey("tickets.id", ondelete="CASCADE", name="fk_pieces_jointes_ticket"),
        nullable=False,
    ),
    sa.Column("nom", sa.String(120), nullable=False),
    sa.Column("taille", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("sha256", sa.String(64), nullable=False, server_default=""),
    # Detected from the content, never from the name.
    sa.Column("type_contenu", sa.String(80), nullable=False, server_default=""),
    sa.Column(
        "auteur_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="SET NULL", name="fk_pieces_jointes_auteur"),
        nullable=True,
    ),
    sa.Column("auteur_nom", sa.String(80), nullable=False),
    # False while the upload runs: an interrupted one is deleted, never shown.
    sa.Column("complet", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("idx_pieces_jointes_ticket_nom", "ticket_id", "nom"),
    sa.Index("idx_pieces_jointes_auteur_date", "auteur_id", "created_at"),
    **MYSQL_TABLE,
)

# One attachment's bytes, in blocks of 256 KiB numbered from 0.
attachment_blocks = sa.Table(
    "pieces_jointes_blocs",
    metadata,
    sa.Column(
        "piece_id",
        sa.Integer,
        sa.ForeignKey("pieces_jointes.id", ondelete="CASCADE", name="fk_pieces_jointes_blocs_piece"),
        primary_key=True,
    ),
    sa.Column("numero", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("donnees", sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql"), nullable=False),
    **MYSQL_TABLE,
)

# The requester's satisfaction with a resolved ticket, asked once: one row per ticket (its key),
# written whether they answered or skipped. A skip is a row without a score rather than no row:
# the key alone then says "asked already" on every front end, and averages never see a skip
# (AVG ignores NULL). The CHECKs keep a score within 1..5 and tie "skipped" to "no score".
ratings = sa.Table(
    "avis",
    metadata,
    sa.Column(
        "ticket_id",
        sa.Integer,
        sa.ForeignKey("tickets.id", ondelete="CASCADE", name="fk_avis_ticket"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column(
        "utilisateur_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="CASCADE", name="fk_avis_utilisateur"),
        nullable=False,
    ),
    # 1 (not satisfied) to 5 (very satisfied); NULL: the requester skipped the question.
    sa.Column("note", sa.SmallInteger, nullable=True),
    sa.Column("commentaire", sa.Text, nullable=True),
    sa.Column("passe", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.CheckConstraint("note IS NULL OR (note >= 1 AND note <= 5)", name="ck_avis_note"),
    sa.CheckConstraint(
        "(passe = 1 AND note IS NULL) OR (passe = 0 AND note IS NOT NULL)", name="ck_avis_passe"
    ),
    # The dashboard's answers of the last days, counted and averaged from the index alone.
    sa.Index("idx_avis_date_note", "created_at", "note"),
    sa.Index("idx_avis_utilisateur", "utilisateur_id"),
    **MYSQL_TABLE,
)
