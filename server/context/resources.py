"""What every session shares (database, hasher, login thresholds), and small session records."""

from __future__ import annotations

import asyncio
import enum
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..config import AttachmentSettings, DueSettings, MailSettings, SecuritySettings
from ..security import PasswordHasher
from ..store import Database, utcnow
from ..throttle import Throttle

if TYPE_CHECKING:
    from .session import SessionContext


class Outcome(enum.Enum):
    """How a user's last write ended: what a shutdown tells them before closing."""

    COMMITTED = "committed"
    # Refused before it started (the service is stopping): nothing written.
    REFUSED = "refused"
    # Rolled back (the database, a lock past its bound, a rule): nothing written.
    FAILED = "failed"


class TicketForm:
    """One `Nouveau ticket` form on screen: however often it is sent, at most one ticket."""

    def __init__(self) -> None:
        # The id inserted by the last try (committed or not), and whether it committed.
        self.ticket_id: int | None = None
        self.committed = False
        self.created_at: datetime | None = None


@dataclass
class FilesAddress:
    """Where users reach the service, for the scp commands shown with attachments; the port is
    known once the listener runs."""

    host: str = "localhost"
    port: int = 22


@dataclass(frozen=True)
class SessionResources:
    """What every session shares: the database, the password hasher, the login thresholds.

    (Not the SSH `Service` of app.py, which runs the listener and holds one of these.)
    """

    db: Database
    hasher: PasswordHasher
    # Every open session, so that a role change or a deletion reaches the sessions it concerns.
    sessions: weakref.WeakSet[SessionContext] = field(
        default_factory=weakref.WeakSet, compare=False, repr=False
    )
    # Thresholds of login and registration throttling (config.yaml's security section); the
    # connection caps are the SSH gate's `Limits`, another thing.
    thresholds: SecuritySettings = field(default_factory=SecuritySettings)
    # Sizes of attachments (config.yaml's attachments section).
    attachment_limits: AttachmentSettings = field(default_factory=AttachmentSettings)
    files_address: FilesAddress = field(default_factory=FilesAddress, compare=False)
    # The mail settings (off unless mail.host is set), and what tells this process's sender
    # that a message was just queued.
    mail: MailSettings = field(default_factory=MailSettings)
    mail_wake: Callable[[], None] = field(default=lambda: None, compare=False, repr=False)
    # The name that reaches the welcome menu (ssh.guest_user), in the commands mail shows.
    guest_user: str = "support"
    # Due dates: each urgency's target and the centre's opening hours (config.yaml's due).
    due: DueSettings = field(default_factory=DueSettings)
    # What throttling takes as "now"; tests move it forward instead of waiting.
    clock: Callable[[], datetime] = utcnow
    # This process among those sharing the database: the account events it wrote, its change
    # feed skips (it applied them when it wrote them).
    process: str = field(default_factory=lambda: secrets.token_hex(8), compare=False)

    @property
    def throttle(self) -> Throttle:
        return Throttle(self.db, self.thresholds, self.clock)

    # Attempts that must not overlap: a login per account, a registration per address. Run
    # together, they would all read the count of failures from before any of them failed.
    _locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary, compare=False, repr=False
    )

    def one_at_a_time(self, key: str) -> asyncio.Lock:
        """The lock of one account's logins ("login:e-mail") or one address's registrations."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock
