"""SessionContext: the one door to the data for a connected user; its areas do the work."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from time import monotonic
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from .. import i18n
from ..audit import AuditEvent, record_in
from ..domain.access import Access, access_allowed
from ..domain.models import Action, Status, User
from ..errors import AccountDeleted, Forbidden, NotFound, ServiceRestarting
from ..i18n import _
from ..store import Database, accounts
from ..store import history as history_store
from . import account_events, notifications
from .accounts import Accounts
from .assignment import Assignment
from .attachments import Attachments
from .canned import Canned
from .categories import Categories
from .dashboard import DashboardArea
from .exports import Exports
from .finding import Finding
from .offers import Offers
from .own_keys import OwnKeys
from .places import Places
from .recovery import Recovery
from .resources import Outcome, SessionResources
from .survey import Survey
from .tickets import Tickets
from .users_admin import UsersAdmin
from .verification import EmailArea

log = logging.getLogger("support.context")

# The name kept in history for what the service does by itself (automatic closing).
SERVICE_ACTOR = "Service"

T = TypeVar("T")
A = TypeVar("A")


class _Area(Generic[A]):
    """One of the door's areas, made for each use: they keep nothing but the session, and one
    stored in the session would refer back to it, a cycle that only a full garbage collection
    frees (collector.py)."""

    def __init__(self, area: type[A]) -> None:
        self.area = area

    def __get__(self, ctx, owner=None) -> A:
        return self.area(ctx)


class _InArea:
    """A method of the door that is its area's method of the same name."""

    def __init__(self, area: str) -> None:
        self.area = area

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, ctx, owner=None):
        if ctx is None:
            return self
        return getattr(getattr(ctx, self.area), self.name)


class SessionContext(Offers):
    """The data a connected person may reach, and the rules around it.

    Screens call these methods and render what they return; they never see SQL or roles.
    Each area (accounts, keys, users, tickets, assignment, finding, dashboard) asks `require`.
    """

    accounts = _Area(Accounts)
    keys = _Area(OwnKeys)
    users = _Area(UsersAdmin)
    tickets = _Area(Tickets)
    assignment = _Area(Assignment)
    categories = _Area(Categories)
    places = _Area(Places)
    canned = _Area(Canned)
    finding = _Area(Finding)
    dashboards = _Area(DashboardArea)
    exports = _Area(Exports)
    files = _Area(Attachments)
    recovery = _Area(Recovery)
    addresses = _Area(EmailArea)
    survey = _Area(Survey)

    def __init__(self, services: SessionResources, address: str, user: User | None = None) -> None:
        self.services = services
        self.address = address
        # The session's language (its SSH channel's): what other sessions prepare for this one
        # is written in it (i18n.speaking).
        self.language = i18n.current() or i18n.Language()
        # What the client asked for (LANG…), for when no account's choice applies.
        self._client_language = self.language.code
        self._user: User | None = None
        # When the session's account logged in (a reset ends only the sessions opened before).
        self.since: datetime | None = None
        self.user = user
        # The user as they were when an admin deleted their account while they were connected.
        self._deleted_user: User | None = None
        # The outcome of the user's last write, and when it ended (time.monotonic()).
        self.last_write: Outcome | None = None
        self.last_write_at = 0.0
        # Set by the terminal showing this session: closes it with a last sentence.
        self.on_end: Callable[[str], None] | None = None
        services.sessions.add(self)

    @property
    def user(self) -> User | None:
        return self._user

    @user.setter
    def user(self, user: User | None) -> None:
        """The session's account; the session speaks the account's language if it chose one,
        else the client's (at logout too)."""
        if user is not None and (self._user is None or self._user.id != user.id):
            self.since = account_events.moment()
        self._user = user
        chosen = user.language if user is not None else None
        self.language.set(chosen or self._client_language)

    @property
    def db(self) -> Database:
        return self.services.db

    # Access: every area asks here --------------------------------------------------------

    def allowed(
        self,
        access: Access,
        author_id: int | None = None,
        *,
        user: User | None = None,
        status: Status | None = None,
    ) -> bool:
        """Whether the session's user (or `user`) may; the one caller of the access function."""
        return access_allowed(self.user if user is None else user, access, author_id, status)

    def require(self, access: Access, author_id: int | None = None, status: Status | None = None) -> User:
        """The session's user once `access` is allowed; else the refusal the user is shown."""
        self._check_not_deleted()
        if not self.allowed(access, author_id, status=status):
            if access is Access.VIEW_TICKET:
                raise NotFound()
            if status is Status.CLOSED and self.allowed(access, author_id):
                raise Forbidden(_("Ce ticket est fermé : il ne reçoit plus de réponse."))
            if access is Access.REOPEN:
                raise Forbidden(_("Seul le demandeur peut signaler que le problème persiste."))
            raise Forbidden()
        assert self.user is not None
        return self.user

    def sees_internal(self, author_id: int | None = None) -> bool:
        """Whether internal notes are shown to, and counted for, this user."""
        return self.allowed(Access.SEE_INTERNAL, author_id)

    def is_self(self, user: User) -> bool:
        """Whether `user` is the session's own account (an admin can't delete it from the list)."""
        return self.user is not None and self.user.id == user.id

    # The areas' methods, under the names screens and tests know ---------------------------

    may_register = _InArea("accounts")
    register = _InArea("accounts")
    login = _InArea("accounts")
    my_account = _InArea("accounts")
    change_name = _InArea("accounts")
    change_language = _InArea("accounts")
    change_password = _InArea("accounts")
    my_keys = _InArea("keys")
    add_key = _InArea("keys")
    remove_key = _InArea("keys")
    list_users = _InArea("users")
    user_summary = _InArea("users")
    set_role = _InArea("users")
    delete_user = _InArea("users")
    create_ticket = _InArea("tickets")
    ticket = _InArea("tickets")
    open_ticket = _InArea("tickets")
    mark_read = _InArea("tickets")
    live_notice = _InArea("tickets")
    change_status = _InArea("tickets")
    reply = _InArea("tickets")
    add_note = _InArea("tickets")
    reopen = _InArea("tickets")
    offered_categories = _InArea("categories")
    all_categories = _InArea("categories")
    add_category = _InArea("categories")
    rename_category = _InArea("categories")
    set_category_active = _InArea("categories")
    set_category_defaults = _InArea("categories")
    change_category = _InArea("categories")
    canned_answers = _InArea("canned")
    filled_canned = _InArea("canned")
    add_canned = _InArea("canned")
    rename_canned = _InArea("canned")
    rewrite_canned = _InArea("canned")
    set_canned_status = _InArea("canned")
    delete_canned = _InArea("canned")
    offered_places = _InArea("places")
    place_of_address = _InArea("places")
    all_places = _InArea("places")
    add_place = _InArea("places")
    rename_place = _InArea("places")
    set_place_active = _InArea("places")
    add_network = _InArea("places")
    remove_network = _InArea("places")
    change_place = _InArea("places")
    assignees = _InArea("assignment")
    take = _InArea("assignment")
    assign = _InArea("assignment")
    my_tickets = _InArea("finding")
    all_tickets = _InArea("finding")
    assigned_tickets = _InArea("finding")
    search_tickets = _InArea("finding")
    find_users = _InArea("finding")
    dashboard = _InArea("dashboards")
    export_tickets = _InArea("exports")
    issue_reset_code = _InArea("recovery")
    reset_password = _InArea("recovery")
    request_reset_code = _InArea("recovery")
    mail_enabled = _InArea("addresses")
    pending_address = _InArea("addresses")
    send_verification = _InArea("addresses")
    verify_email = _InArea("addresses")
    change_email = _InArea("addresses")
    set_notifications = _InArea("addresses")
    rate = _InArea("survey")
    skip_rating = _InArea("survey")
    waiting_ratings = _InArea("survey")

    def logout(self) -> None:
        self.log("logout")
        self.user = None

    def end(self, text: str) -> None:
        """Log out at once, from elsewhere (the account's password was reset): a terminal says
        `text` and closes; a command or file transfer is refused from its next request on.
        `text` is marked with N_(): it is said in this session's language, not the caller's."""
        self.log("session ended: %s", "password reset", level=logging.WARNING)
        # Said in the language of the account being logged out, not the client's it falls back to.
        language = i18n.Language(self.language.code)
        self.user = None
        if self.on_end is not None:
            with i18n.speaking(language):
                self.on_end(_(text))

    # What the areas share: writes, the log, the account's own row, other sessions ----------

    def log(self, message: str, *args, level: int = logging.INFO) -> None:
        who = self.user.email if self.user else "-"
        log.log(level, "addr=%s user=%s " + message, self.address, who, *args)

    async def write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """One of the user's own actions, written whole; its outcome is remembered."""

        async def run(conn: AsyncConnection) -> tuple[T, bool]:
            result = await work(conn)
            # A message queued by this work: the sender looks as soon as it has committed.
            return result, bool(conn.info.pop("mail_queued", False))

        try:
            result, queued = await self.db.write(run)
        except ServiceRestarting:
            self._outcome(Outcome.REFUSED)
            raise
        except Exception:
            self._outcome(Outcome.FAILED)
            raise
        self._outcome(Outcome.COMMITTED)
        if queued:
            self.services.mail_wake()
        return result

    def _outcome(self, outcome: Outcome) -> None:
        self.last_write, self.last_write_at = outcome, monotonic()

    def _check_not_deleted(self) -> None:
        """After an admin deleted this session's account, every action logs it out and says so."""
        if self._deleted_user is None:
            return
        if self.user is not None and self.user != self._deleted_user:
            self._deleted_user = None  # someone has logged in since, on this connection
            return
        if self.user is not None:
            self.log("session ended: account deleted", level=logging.WARNING)
            self.user = None
        raise AccountDeleted()

    def account_gone(self) -> AccountDeleted:
        """The session's account was deleted meanwhile: what to raise (later actions say so too)."""
        self._deleted_user = self.user
        return AccountDeleted()

    async def lock_own_account(self, conn: AsyncConnection):
        """The session's own row, locked until the transaction ends; gone means deleted."""
        assert self.user is not None
        row = await accounts.by_id(conn, self.user.id, lock=True)
        if row is None:
            raise self.account_gone()
        return row

    def sessions_of(self, user_id: int) -> list[SessionContext]:
        return [s for s in self.services.sessions if s.user is not None and s.user.id == user_id]

    async def audit(self, conn: AsyncConnection, event: AuditEvent, details: str = "") -> None:
        """Record an event of the session's user inside the transaction writing it."""
        assert self.user is not None
        await record_in(conn, event, self.address, self.user.email, self.user.id, details)

    async def _write_history(
        self,
        conn: AsyncConnection,
        ticket_id: int,
        action: Action,
        old_status_id: int | None,
        new_status_id: int | None,
        details: str,
        now,
        *,
        internal: bool = False,
        by_service: bool = False,
    ) -> None:
        """The one writer of history: an entry under the session's user (or, `by_service`, the
        service's own, with no account), in `conn`'s transaction."""
        if by_service:
            actor_id, actor_name = None, SERVICE_ACTOR
        else:
            assert self.user is not None
            actor_id, actor_name = self.user.id, self.user.name
        entry = history_store.Entry(
            ticket_id, actor_id, actor_name, action, old_status_id, new_status_id, details, internal
        )
        await history_store.insert(conn, entry, now)
        # Mail about it, in the same transaction: sent if and once this entry commits.
        await notifications.ticket_event(conn, self.services, ticket_id, action, actor_id, internal, now)
