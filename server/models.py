"""Records and vocabularies shared by the context and the screens."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Role(enum.StrEnum):
    USER = "utilisateur"
    ADMIN = "admin"


class Urgency(enum.StrEnum):
    LOW = "Faible"
    MEDIUM = "Moyenne"
    HIGH = "Haute"


class Status(enum.StrEnum):
    WAITING = "En attente"
    IN_PROGRESS = "En cours"
    RESOLVED = "Résolu"


class Action(enum.StrEnum):
    """Kinds of history entries (the `historique.action` column)."""

    CREATED = "creation"
    STATUS_CHANGED = "changement_statut"


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str
    role: Role
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class TicketSummary:
    """One line of a ticket list."""

    id: int
    title: str
    urgency: Urgency
    status: Status
    author_name: str
    created_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    actor_name: str
    action: Action
    old_status: Status | None
    new_status: Status | None
    details: str
    created_at: datetime


@dataclass(frozen=True)
class Ticket:
    id: int
    title: str
    description: str
    urgency: Urgency
    status: Status
    author_id: int
    author_name: str
    created_at: datetime
    updated_at: datetime
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class SshKey:
    """One public key of an account, as its owner sees it listed."""

    id: int
    algorithm: str
    fingerprint: str
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class UserSummary:
    """One line of the admins' list of accounts."""

    user: User
    ticket_count: int


@dataclass(frozen=True)
class UserPage:
    """A page of accounts matching a search, and how many match in all."""

    users: tuple[UserSummary, ...]
    total: int
    offset: int
