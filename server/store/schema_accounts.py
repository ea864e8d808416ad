"""The tables of accounts: people, their SSH keys, reset codes, address checks, the audit log,
the account events every process follows."""

from __future__ import annotations

import sqlalchemy as sa

from ..domain.models import Role
from .schema_base import MYSQL_TABLE, metadata

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
    # Set once, by the reset that used it; an admin's new code and a reset void the others.
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

# What happened to an account that its sessions must follow in every server process sharing
# the database (a password reset ends them, a deletion, a role change): the change feed reads
# it. No foreign key: the event of a deletion outlives the account.
account_events = sa.Table(
    "evenements_compte",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # The same moment to the microsecond since 1970 (UTC): a reset ends the sessions opened
    # before it, and one opened in the same second with the new password must stay open.
    sa.Column("instant_us", sa.BigInteger, nullable=False),
    sa.Column("utilisateur_id", sa.Integer, nullable=False),
    # "reinitialisation", "suppression", "role" (AccountEventKind).
    sa.Column("evenement", sa.String(40), nullable=False),
    # The new role of a role change.
    sa.Column("role", sa.String(20), nullable=True),
    # The process that wrote it (it has already applied it to its own sessions).
    sa.Column("processus", sa.String(64), nullable=False, server_default=""),
    **MYSQL_TABLE,
)
