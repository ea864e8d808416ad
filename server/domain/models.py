"""Records and vocabularies shared by the context and the screens."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..i18n import N_, _
from .paging import Page


class Role(enum.StrEnum):
    USER = "utilisateur"
    ADMIN = "admin"


class Urgency(enum.StrEnum):
    """Stored, and given to scripts (JSON, CSV), by its French value; shown by its `label`."""

    LOW = N_("Faible")
    MEDIUM = N_("Moyenne")
    HIGH = N_("Haute")

    @property
    def label(self) -> str:
        """The value in the session's language, for screens and text output."""
        return _(self.value)


class Status(enum.StrEnum):
    """Stored, and given to scripts (JSON, CSV), by its French value; shown by its `label`."""

    WAITING = N_("En attente")
    IN_PROGRESS = N_("En cours")
    RESOLVED = N_("Résolu")
    # Set by the service alone, after days without an answer from the requester: final.
    CLOSED = N_("Fermé")

    @property
    def label(self) -> str:
        """The value in the session's language, for screens and text output."""
        return _(self.value)


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
    # A new ticket taken at once by its category's default assignee; `details` holds the name.
    CATEGORY_ASSIGNED = "assignation_categorie"
    # An admin changed the ticket's category; `details` holds "old → new".
    CATEGORY_CHANGED = "changement_categorie"
    # A file attached over scp/sftp; `details` holds its name.
    ATTACHED = "piece_jointe"
    # An admin deleted an attachment; `details` holds its name.
    ATTACHMENT_DELETED = "piece_jointe_supprimee"
    # An admin changed the ticket's place; `details` holds "old → new".
    PLACE_CHANGED = "changement_lieu"
    # The service closed a resolved ticket its requester left unanswered; `details` holds the
    # number of days, the actor is the service (no account).
    AUTO_CLOSED = "fermeture_auto"
    # The requester rated the resolved ticket; `details` holds the score (1 to 5).
    RATED = "avis"


class Notifications(enum.StrEnum):
    """Which mail an account wants (`utilisateurs.notifications`)."""

    REPLIES = "reponses"
    # Admins: new tickets and tickets assigned to them too.
    ALL = "tout"
    NONE = "rien"


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str
    role: Role
    created_at: datetime
    # The language chosen in Mon compte ("fr", "en"); None: never chosen.
    language: str | None = None
    email_verified: bool = False
    notifications: Notifications = Notifications.REPLIES

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class ExportedTicket:
    """One line of the admins' export: the ticket, its people, its dates and its counts."""

    id: int
    title: str
    urgency: Urgency
    status: Status
    author_name: str
    author_email: str
    assignee_email: str | None
    created_at: datetime
    updated_at: datetime
    replies: int
    notes: int


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
    # The admin who took the ticket in hand, if any.
    assignee_name: str | None = None
    category_name: str | None = None
    place_name: str | None = None
    due_at: datetime | None = None
    # Open and past its due date, as the list was read.
    late: bool = False


@dataclass(frozen=True)
class Attachment:
    """A complete file of a ticket (scp/sftp); its bytes stay in the database."""

    id: int
    ticket_id: int
    name: str
    size: int
    sha256: str
    kind: str
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
    internal: bool = False


@dataclass(frozen=True)
class Rating:
    """The requester's `Votre avis (1 à 5)` on a ticket; `score` None: they skipped it."""

    score: int | None
    comment: str = ""


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
    category_id: int | None = None
    category_name: str | None = None
    # Its complete attachments, oldest first.
    attachments: tuple[Attachment, ...] = ()
    place_id: int | None = None
    place_name: str | None = None
    # Whether any active place exists (read for those who may change the ticket's place only):
    # without one, `Changer le lieu` is not offered and the ticket's menu keeps its room.
    places_offered: bool = False
    due_at: datetime | None = None
    late: bool = False
    # Open and waiting for its requester since an admin's answer: its due date stands still.
    due_paused: bool = False
    # The closed ticket this one follows up, and the ticket that follows this one up.
    follows_id: int | None = None
    follow_up_id: int | None = None
    # None: its requester was never asked (see `SessionContext.survey_due`).
    rating: Rating | None = None


@dataclass(frozen=True)
class Category:
    """What a ticket is about, and who takes its new tickets at once."""

    id: int
    name: str
    active: bool = True
    default_assignee_id: int | None = None
    default_assignee_name: str | None = None
    default_urgency: Urgency | None = None


@dataclass(frozen=True)
class Place:
    """Where a request comes from, and the networks (CIDR) whose addresses are there."""

    id: int
    name: str
    active: bool = True
    networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class CannedAnswer:
    """An admins' answer template; with a status, sending it sets that status too."""

    id: int
    title: str
    text: str
    status: Status | None = None


# The fields a canned answer's text may name, filled in for the ticket being answered.
CANNED_FIELDS = ("nom", "numero", "titre", "agent", "categorie")


def fill_canned(text: str, ticket: Ticket, agent: str) -> str:
    """The text with {nom}, {numero}, {titre}, {agent} and {categorie} replaced; any other
    brace left as written (a template is text, never a format string)."""
    values = {
        "nom": ticket.author_name,
        "numero": str(ticket.id),
        "titre": ticket.title,
        "agent": agent,
        "categorie": ticket.category_name or "",
    }
    # One pass: a value holding a field's braces (a name typed « {agent} ») stays as typed.
    return re.sub(r"\{(" + "|".join(CANNED_FIELDS) + r")\}", lambda m: values[m.group(1)], text)


# Finding tickets and the dashboard (admins) ---------------------------------------------------

OPEN_STATUSES = frozenset({Status.WAITING, Status.IN_PROGRESS})
# What an admin (or a canned answer) may set; `Fermé` is the service's.
SETTABLE_STATUSES = (Status.WAITING, Status.IN_PROGRESS, Status.RESOLVED)


class TicketSort(enum.StrEnum):
    """Orders of the admin's ticket list; each ends on the ticket number so pages never overlap."""

    URGENCY_DESC = "urgence_desc"  # most urgent first, then oldest: the default
    URGENCY_ASC = "urgence_asc"  # least urgent first, then oldest
    DATE_ASC = "date_asc"  # oldest first
    DATE_DESC = "date_desc"  # newest first


@dataclass(frozen=True)
class TicketFilter:
    """What the admin's ticket list shows; an empty set means no condition on that field."""

    statuses: frozenset[Status] = OPEN_STATUSES
    urgencies: frozenset[Urgency] = frozenset()
    # One admin's tickets, or (unassigned) the ones nobody has taken; neither: everyone's.
    assignee: User | None = None
    unassigned: bool = False
    author: User | None = None
    # Words looked for in the title or the description, literally (no wildcards).
    text: str = ""
    # One category's tickets; None: every category's (and those without one).
    category: Category | None = None
    # One place's tickets; None: every place's (and those without one).
    place: Place | None = None
    # Only the open tickets past their due date.
    late: bool = False


# One page of a search, with the number of tickets found in all.
TicketPage = Page[TicketSummary]


@dataclass(frozen=True)
class Dashboard:
    """The admins' overview: open tickets, tickets created per day, median response times."""

    open_by_status: tuple[tuple[Status, int], ...]
    open_by_urgency: tuple[tuple[Urgency, int], ...]
    # The last days, oldest first, today last (UTC days).
    created_per_day: tuple[tuple[date, int], ...]
    # Over the tickets created in the last `window_days` days; None when none qualifies.
    median_first_response: timedelta | None
    median_resolution: timedelta | None
    window_days: int
    # Messages of the outbox not sent yet and those the relay refused for a day; None: no relay.
    mail_waiting: int | None = None
    # Open tickets past their due date.
    late_open: int = 0
    mail_failed: int | None = None
    # Over the last `window_days` days: ratings given, their average (None: none), tickets
    # created by category name (None: without one), most first.
    ratings: int = 0
    average_rating: float | None = None
    by_category: tuple[tuple[str | None, int], ...] = ()

    @property
    def open_total(self) -> int:
        return sum(n for _s, n in self.open_by_status)


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


class AccountEventKind(enum.StrEnum):
    """What happened to an account that its open sessions, in every process, must follow."""

    PASSWORD_RESET = "reinitialisation"
    DELETED = "suppression"
    ROLE_CHANGED = "role"


@dataclass(frozen=True)
class AccountEvent:
    """One account event (`evenements_compte`), written here or read by the change feed."""

    user_id: int
    kind: AccountEventKind
    at: datetime
    # The account's new role, for ROLE_CHANGED.
    role: Role | None = None


class LiveNotice(enum.Enum):
    """What a connected user is told about a change they may see."""

    QUIET = "quiet"  # their lists refresh, no message
    STATUS_CHANGED = "status_changed"  # « Votre ticket #12 est passé à En cours »
    REPLY = "reply"  # « Nouvelle réponse sur votre ticket #12 »
    NEW_TICKET = "new_ticket"  # « Nouveau ticket #N : titre » (admins)


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
class UserPage(Page[UserSummary]):
    """A page of accounts matching a search, and how many match in all."""

    @property
    def users(self) -> tuple[UserSummary, ...]:
        return self.items
