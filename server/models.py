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
    # A message of the conversation; `details` holds its text.
    REPLY = "reponse"
    # An admin's note, written with `interne` set: never shown to the requester.
    NOTE = "note_interne"
    # `details` holds the assignee's name, or is empty when the ticket was unassigned.
    ASSIGNED = "assignation"
    # The requester said the problem persists: back from `Résolu` to `En cours`.
    REOPENED = "reouverture"


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
    # The admin who took the ticket in hand, if any.
    assignee_name: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    actor_name: str
    action: Action
    old_status: Status | None
    new_status: Status | None
    details: str
    created_at: datetime
    internal: bool = False


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
    assignee_id: int | None = None
    assignee_name: str | None = None
