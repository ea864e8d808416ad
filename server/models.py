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
    REPLY = "reponse"


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
    # Changed since the user last opened it, by someone else (see SessionContext.unread).
    unread: bool = False


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
class TicketChange:
    """One new history row as the change feed sees it, with what deciding who to tell needs."""

    history_id: int
    ticket_id: int
    ticket_title: str
    author_id: int
    actor_id: int | None
    # Kept as written: a newer process sharing the database may write actions this one lacks.
    action: str
    internal: bool
    new_status: Status | None


class LiveNotice(enum.Enum):
    """What a connected user is told about a change they may see."""

    QUIET = "quiet"  # their lists refresh, no message
    STATUS_CHANGED = "status_changed"  # « Votre ticket #12 est passé à En cours »
    REPLY = "reply"  # « Nouvelle réponse sur votre ticket #12 »
    NEW_TICKET = "new_ticket"  # « Nouveau ticket #N : titre » (admins)
