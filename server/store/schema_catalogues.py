"""The tables of what tickets are filed under, kept by admins: statuses, categories, places
and their networks, canned answers; and the rows every database starts with."""

from __future__ import annotations

import sqlalchemy as sa

from ..domain.models import Status, Urgency
from .schema_base import MYSQL_TABLE, metadata

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
