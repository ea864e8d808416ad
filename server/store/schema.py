"""The schema, written once: every table, column, key and index, for SQLite and MariaDB alike."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from ..domain.models import Role, Status, Urgency

# Every MariaDB table is InnoDB in utf8mb4, whatever the server's or the database's default.
MYSQL_TABLE = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# The rows every database holds: the three statuses, ids 1, 2, 3 in this order.
STATUS_ROWS = tuple({"id": i, "libelle": s.value} for i, s in enumerate(Status, 1))

# The categories every new database starts with, ids 1 to 7 in this order. Seeded by id: a
# renamed or deactivated one is never put back.
CATEGORY_NAMES = (
    "Matériel",
    "Accès à la plateforme",
    "Réseau / Wi-Fi",
    "Salles et vidéoprojecteurs",
    "Logiciels",
    "Compte et mot de passe",
    "Autre",
)
CATEGORY_ROWS = tuple({"id": i, "nom": n, "active": True} for i, n in enumerate(CATEGORY_NAMES, 1))

metadata = sa.MetaData()

users = sa.Table(
    "utilisateurs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("nom", sa.String(80), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("mot_de_passe", sa.String(60), nullable=False),
    sa.Column(
        "role",
        sa.Enum(*[r.value for r in Role], name="role", create_constraint=True),
        nullable=False,
        server_default=Role.USER.value,
    ),
    # Login protection: consecutive failures and when the last one happened.
    sa.Column("echecs_connexion", sa.Integer, nullable=False, server_default="0"),
    sa.Column("dernier_echec", sa.DateTime, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # The language chosen in Mon compte (fr, en); NULL: the client's LANG, else French.
    sa.Column("langue", sa.String(5), nullable=True),
    # Proven by a code sent to it: only a verified address receives mail.
    sa.Column("email_verifie", sa.Boolean, nullable=False, server_default=sa.false()),
    # Which mail the account wants: "reponses" (replies and status changes), "tout", "rien".
    sa.Column("notifications", sa.String(10), nullable=False, server_default="reponses"),
    sa.UniqueConstraint("email", name="uq_utilisateurs_email"),
    **MYSQL_TABLE,
)

statuses = sa.Table(
    "statut",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("libelle", sa.String(20), nullable=False),
    sa.UniqueConstraint("libelle", name="uq_statut_libelle"),
    **MYSQL_TABLE,
)

categories = sa.Table(
    "categories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("nom", sa.String(60), nullable=False),
    # A deactivated category is no longer offered for new tickets; its tickets keep it.
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    # Who takes a new ticket of this category at once; NULL: nobody.
    sa.Column(
        "assigne_defaut_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="SET NULL", name="fk_categories_assigne_defaut"),
        nullable=True,
    ),
    # The urgency preselected for a new ticket of this category; NULL: the usual one.
    sa.Column(
        "urgence_defaut",
        sa.Enum(*[u.value for u in Urgency], name="urgence_defaut", create_constraint=True),
        nullable=True,
    ),
    sa.UniqueConstraint("nom", name="uq_categories_nom"),
    sa.Index("idx_categories_assigne_defaut", "assigne_defaut_id"),
    **MYSQL_TABLE,
)

# Where requests come from: a building, a room; a deactivated place is no longer offered.
places = sa.Table(
    "lieux",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("nom", sa.String(60), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.UniqueConstraint("nom", name="uq_lieux_nom"),
    **MYSQL_TABLE,
)

# The networks of a place (CIDR, as `ipaddress` writes it): a new ticket filed from an address
# in one of them is preselected at that place, the most specific network winning.
place_networks = sa.Table(
    "reseaux_lieux",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "lieu_id",
        sa.Integer,
        sa.ForeignKey("lieux.id", ondelete="CASCADE", name="fk_reseaux_lieux_lieu"),
        nullable=False,
    ),
    sa.Column("reseau", sa.String(49), nullable=False),
    sa.UniqueConstraint("reseau", name="uq_reseaux_lieux_reseau"),
    sa.Index("idx_reseaux_lieux_lieu", "lieu_id"),
    **MYSQL_TABLE,
)

# Admins' answer templates, inserted into a reply with {nom}, {numero}, {titre}, {agent} and
# {categorie} filled in; one with a status sets it in the reply's transaction.
canned_answers = sa.Table(
    "reponses_types",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("titre", sa.String(80), nullable=False),
    sa.Column("texte", sa.Text, nullable=False),
    sa.Column(
        "statut_id",
        sa.Integer,
        sa.ForeignKey("statut.id", ondelete="RESTRICT", name="fk_reponses_types_statut"),
        nullable=True,
    ),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("titre", name="uq_reponses_types_titre"),
    sa.Index("idx_reponses_types_statut", "statut_id"),
    **MYSQL_TABLE,
)

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
    # A user's tickets, newest first.
    sa.Index("idx_tickets_auteur_date", "auteur_id", "created_at"),
    # All tickets filtered by status, then urgency, ordered by date.
    sa.Index("idx_tickets_statut_urgence_date", "statut_id", "urgence", "created_at"),
    # All tickets, newest first.
    sa.Index("idx_tickets_date", "created_at"),
    # An admin's assigned tickets by status.
    sa.Index("idx_tickets_assigne_statut", "assigne_id", "statut_id"),
    # `Tous les tickets` of one category, newest first.
    sa.Index("idx_tickets_categorie_date", "categorie_id", "created_at"),
    # `Tous les tickets` of one place, newest first.
    sa.Index("idx_tickets_lieu_date", "lieu_id", "created_at"),
    # Late open tickets, counted and filtered: by status, then due date.
    sa.Index("idx_tickets_statut_echeance", "statut_id", "echeance"),
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

ssh_keys = sa.Table(
    "cles_ssh",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "utilisateur_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="CASCADE", name="fk_cles_ssh_utilisateur"),
        nullable=False,
    ),
    # The key as OpenSSH writes it, without its comment: "ssh-ed25519 AAAA…".
    sa.Column("algorithme", sa.String(40), nullable=False),
    sa.Column("cle_publique", sa.Text, nullable=False),
    # "SHA256:…", as `ssh-keygen -l` shows it.
    sa.Column("empreinte", sa.String(64), nullable=False),
    sa.Column("commentaire", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("utilisateur_id", "empreinte", name="uq_cles_ssh_utilisateur_empreinte"),
    **MYSQL_TABLE,
)

audit_log = sa.Table(
    "journal_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # What happened: "connexion_reussie", "connexion_echouee", "cle_ajoutee"…
    sa.Column("evenement", sa.String(40), nullable=False),
    sa.Column("adresse", sa.String(64), nullable=False, server_default=""),
    # The account as typed (an unknown e-mail too), for throttling and inquiries.
    sa.Column("compte", sa.String(254), nullable=False, server_default=""),
    sa.Column(
        "utilisateur_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="SET NULL", name="fk_journal_audit_utilisateur"),
        nullable=True,
    ),
    sa.Column("details", sa.String(500), nullable=False, server_default=""),
    # Recent failures of one account, of one address; one kind of event over time.
    sa.Index("idx_journal_audit_compte_date", "compte", "created_at"),
    sa.Index("idx_journal_audit_adresse_date", "adresse", "created_at"),
    sa.Index("idx_journal_audit_evenement_date", "evenement", "created_at"),
    sa.Index("idx_journal_audit_utilisateur", "utilisateur_id"),
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

# One-time codes that let a person set a new password without the old one: issued by an admin
# (read out at the desk) or sent by mail; only their SHA-256 is kept.
reset_codes = sa.Table(
    "codes_reinitialisation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "utilisateur_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="CASCADE", name="fk_codes_reinitialisation_utilisateur"),
        nullable=False,
    ),
    # Hex SHA-256 of the code as typed once normalised (upper case, no separators).
    sa.Column("code_hash", sa.CHAR(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    # Set once, by the reset that used it; a code issued later voids the older ones.
    sa.Column("used_at", sa.DateTime, nullable=True),
    sa.Column(
        "emis_par_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="SET NULL", name="fk_codes_reinitialisation_emis_par"),
        nullable=True,
    ),
    # "admin": shown to an admin; "mail": sent to the account's verified address.
    sa.Column(
        "canal",
        sa.Enum("admin", "mail", name="canal", create_constraint=True),
        nullable=False,
        server_default="admin",
    ),
    sa.Index("idx_codes_reinitialisation_utilisateur_hash", "utilisateur_id", "code_hash"),
    sa.Index("idx_codes_reinitialisation_emis_par", "emis_par_id"),
    **MYSQL_TABLE,
)

# Codes sent to an address to prove it is the account's: at registration, or for a new
# address that replaces the account's e-mail once proven.
email_checks = sa.Table(
    "verifications_email",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "utilisateur_id",
        sa.Integer,
        sa.ForeignKey("utilisateurs.id", ondelete="CASCADE", name="fk_verifications_email_utilisateur"),
        nullable=False,
    ),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("code_hash", sa.CHAR(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("used_at", sa.DateTime, nullable=True),
    # Wrong codes typed against it: past a few, it ends.
    sa.Column("essais", sa.Integer, nullable=False, server_default="0"),
    sa.Index("idx_verifications_email_utilisateur", "utilisateur_id"),
    **MYSQL_TABLE,
)

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

# Versions of this schema applied to the database (`python -m server init-db` reads it).
schema_versions = sa.Table(
    "version_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
    **MYSQL_TABLE,
)
