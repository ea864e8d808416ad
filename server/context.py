"""SessionContext: the one door to the data for a connected user; it alone decides access."""

from __future__ import annotations

import asyncio
import enum
import logging
import statistics
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from time import monotonic
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from . import validation
from .audit import AuditEvent, record, record_in
from .config import SecuritySettings
from .errors import (
    AccountDeleted,
    AuthFailed,
    EmailTaken,
    Forbidden,
    KeyNotFound,
    NotFound,
    ServiceRestarting,
    Throttled,
    TooManyAccounts,
    UserNotFound,
    ValidationError,
)
from .i18n import _
from .keys import parse_public_key
from .models import (
    OPEN_STATUSES,
    Action,
    Dashboard,
    HistoryEntry,
    LiveNotice,
    Role,
    SshKey,
    Status,
    Ticket,
    TicketChange,
    TicketFilter,
    TicketPage,
    TicketSort,
    TicketSummary,
    Urgency,
    User,
    UserPage,
    UserSummary,
)
from .security import PasswordHasher
from .store import Database, history, reads, ssh_keys, statuses, tickets, users, utcnow
from .throttle import Throttle, account_key, source

log = logging.getLogger("support.context")

T = TypeVar("T")


class Access(enum.Enum):
    """What a user may ask of a ticket or of the ticket base."""

    CREATE_TICKET = "create_ticket"
    VIEW_TICKET = "view_ticket"
    LIST_ALL = "list_all"
    CHANGE_STATUS = "change_status"
    VIEW_DASHBOARD = "view_dashboard"
    # Internal notes: told of them, and unread markers count them.
    SEE_INTERNAL = "see_internal"
    # One's own name, password and SSH keys.
    OWN_ACCOUNT = "own_account"
    # One SSH key, by its owner's id: only ever its owner's, admins included.
    OWN_KEY = "own_key"
    # List accounts, change roles, delete accounts.
    MANAGE_USERS = "manage_users"
    REPLY = "reply"
    ADD_NOTE = "add_note"
    ASSIGN = "assign"
    # Be the one a ticket is assigned to (asked of the assignee, not of the one assigning).
    BE_ASSIGNED = "be_assigned"
    # Say "Le problème persiste" on a resolved ticket.
    REOPEN = "reopen"


def access_allowed(user: User | None, access: Access, author_id: int | None = None) -> bool:
    """The single access decision of the application."""
    if user is None:
        return False
    if access is Access.OWN_KEY:
        return author_id == user.id
    if access is Access.REOPEN:
        # Only the requester can say the fix did not work; admins change the status instead.
        return author_id is not None and author_id == user.id
    if user.is_admin:
        return True
    match access:
        case Access.CREATE_TICKET:
            return True
        case Access.OWN_ACCOUNT:
            return True
        case Access.VIEW_TICKET | Access.REPLY:
            return author_id == user.id
        case _:
            return False


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


@dataclass(frozen=True)
class Services:
    """What every session shares: the database, the password hasher, the login limits."""

    db: Database
    hasher: PasswordHasher
    # Every open session, so that a role change or a deletion reaches the sessions it concerns.
    sessions: weakref.WeakSet[SessionContext] = field(
        default_factory=weakref.WeakSet, compare=False, repr=False
    )
    # Thresholds of login and registration throttling (config.yaml's security section).
    limits: SecuritySettings = field(default_factory=SecuritySettings)
    # What throttling takes as "now"; tests move it forward instead of waiting.
    clock: Callable[[], datetime] = utcnow

    @property
    def throttle(self) -> Throttle:
        return Throttle(self.db, self.limits, self.clock)

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


_author = users.alias("auteur")
_assignee = users.alias("assigne")

# Longest text looked for in the admin's list, and most users offered by one search.
SEARCH_TEXT_MAX = 100
USER_MATCHES_MAX = 9
# History actions that answer the requester.
RESPONSE_ACTIONS = (Action.STATUS_CHANGED.value, Action.REPLY.value)

# SSH keys one account may hold: enough for every machine one uses.
MAX_KEYS = 20
LAST_ADMIN = _("Impossible : il doit rester au moins un administrateur.")


def _summary(row) -> TicketSummary:
    """A list query's row (with its `non_lu` and `assigne_nom` columns) as one line of a list."""
    return TicketSummary(
        id=row.id,
        title=row.titre,
        urgency=Urgency(row.urgence),
        status=Status(row.libelle),
        author_name=row.nom,
        created_at=row.created_at,
        unread=bool(row.non_lu),
        assignee_name=row.assigne_nom,
    )


def _user(row) -> User:
    return User(id=row.id, name=row.nom, email=row.email, role=Role(row.role), created_at=row.created_at)


async def _status_ids(conn: AsyncConnection) -> dict[Status, int]:
    return {Status(r.libelle): r.id for r in await conn.execute(sa.select(statuses))}


def _median(delays: list[timedelta]) -> timedelta | None:
    if not delays:
        return None
    return timedelta(seconds=round(statistics.median(d.total_seconds() for d in delays)))


def _ssh_key(row) -> SshKey:
    return SshKey(
        id=row.id,
        algorithm=row.algorithme,
        fingerprint=row.empreinte,
        comment=row.commentaire,
        created_at=row.created_at,
    )


def _ticket_count():
    """An account's number of tickets, counted on the author index, as column `tickets`."""
    return (
        sa.select(sa.func.count())
        .where(tickets.c.auteur_id == users.c.id)
        .correlate(users)
        .scalar_subquery()
        .label("tickets")
    )


async def _status_id(conn: AsyncConnection, status: Status) -> int:
    return (
        await conn.execute(sa.select(statuses.c.id).where(statuses.c.libelle == status.value))
    ).scalar_one()


class SessionContext:
    """The data a connected person may reach, and the rules around it.

    Screens call these methods and render what they return; they never see SQL or roles.
    """

    def __init__(self, services: Services, address: str, user: User | None = None) -> None:
        self.services = services
        self.address = address
        self.user = user
        # The user as they were when an admin deleted their account while they were connected.
        self._deleted_user: User | None = None
        # The outcome of the user's last write, and when it ended (time.monotonic()).
        self.last_write: Outcome | None = None
        self.last_write_at = 0.0
        services.sessions.add(self)

    @property
    def db(self) -> Database:
        return self.services.db

    def _log(self, message: str, *args, level: int = logging.INFO) -> None:
        who = self.user.email if self.user else "-"
        log.log(level, "addr=%s user=%s " + message, self.address, who, *args)

    async def _write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """One of the user's own actions, written whole; its outcome is remembered."""
        try:
            result = await self.db.write(work)
        except ServiceRestarting:
            self._outcome(Outcome.REFUSED)
            raise
        except Exception:
            self._outcome(Outcome.FAILED)
            raise
        self._outcome(Outcome.COMMITTED)
        return result

    def _outcome(self, outcome: Outcome) -> None:
        self.last_write, self.last_write_at = outcome, monotonic()

    def _require(self, access: Access, author_id: int | None = None) -> User:
        self._check_not_deleted()
        if not access_allowed(self.user, access, author_id):
            if access is Access.VIEW_TICKET:
                raise NotFound()
            if access is Access.REOPEN:
                raise Forbidden(_("Seul le demandeur peut signaler que le problème persiste."))
            raise Forbidden()
        assert self.user is not None
        return self.user

    def can_list_all(self) -> bool:
        """Whether to offer `Tous les tickets` in the main menu."""
        return access_allowed(self.user, Access.LIST_ALL)

    def can_view_dashboard(self) -> bool:
        """Whether to offer `Tableau de bord` in the main menu."""
        return access_allowed(self.user, Access.VIEW_DASHBOARD)

    def can_change_status(self, ticket: Ticket) -> bool:
        """Whether to offer `Changer le statut` on this ticket's screen."""
        return access_allowed(self.user, Access.CHANGE_STATUS, ticket.author_id)

    def can_reply(self, ticket: Ticket) -> bool:
        """Whether to offer `Répondre` on this ticket's screen."""
        return access_allowed(self.user, Access.REPLY, ticket.author_id)

    def can_add_note(self, ticket: Ticket) -> bool:
        """Whether to offer `Note interne` on this ticket's screen."""
        return access_allowed(self.user, Access.ADD_NOTE, ticket.author_id)

    def can_assign(self, ticket: Ticket) -> bool:
        """Whether to offer `Prendre en charge` and `Assigner à…` on this ticket's screen."""
        return access_allowed(self.user, Access.ASSIGN, ticket.author_id)

    def can_take(self, ticket: Ticket) -> bool:
        """Whether to offer `Prendre en charge`: to an admin who does not have it already."""
        return (
            self.can_assign(ticket)
            and self.user is not None
            and ticket.assignee_id != self.user.id
            and access_allowed(self.user, Access.BE_ASSIGNED)
        )

    def can_reopen(self, ticket: Ticket) -> bool:
        """Whether to offer `Le problème persiste`: to the requester of a resolved ticket."""
        return ticket.status is Status.RESOLVED and access_allowed(self.user, Access.REOPEN, ticket.author_id)

    def can_have_assignments(self) -> bool:
        """Whether to offer `Mes tickets assignés` in the main menu."""
        return access_allowed(self.user, Access.BE_ASSIGNED)

    def _notes_hidden(self, author_id: int | None):
        """A WHERE clause on `historique` that keeps internal notes from those who may not read
        them (every query showing history, counts or last activity must use it)."""
        if access_allowed(self.user, Access.SEE_INTERNAL, author_id):
            return sa.true()
        return history.c.interne == sa.false()

    # Accounts ---------------------------------------------------------------------------

    async def may_register(self, email: str = "") -> None:
        """`TooManyAccounts` (audited) if this address has created its quota of accounts lately."""
        wait = await self.services.throttle.registration_wait(self.address)
        if wait:
            await record(
                self.db,
                AuditEvent.ACCOUNT_CREATION_THROTTLED,
                self.address,
                account_key(email),
                details=f"attente={wait}s",
                level=logging.WARNING,
            )
            raise TooManyAccounts(wait)

    async def register(self, name: str, email: str, password: str) -> User:
        """Create an ordinary account and log it in; limited per source address."""
        name = validation.name(name)
        email = validation.email(email)
        validation.new_password(password)
        await self.may_register(email)  # before bcrypt: a refusal costs nothing
        hashed = await self.services.hasher.hash(password)
        async with self.services.one_at_a_time("register:" + source(self.address)):
            # Again under the lock: registrations started together are counted one by one.
            await self.may_register(email)
            user = await create_user(
                self.db,
                name,
                email,
                hashed,
                Role.USER,
                # In the insert's transaction: the account and the count of creations agree.
                audit=lambda conn, user_id: record_in(
                    conn, AuditEvent.ACCOUNT_CREATED, self.address, email, user_id
                ),
            )
        self.user = user
        return user

    async def login(self, email: str, password: str) -> User:
        """Check an e-mail and password; the same work and answer for an unknown e-mail."""
        user = await authenticate(self.services, email, password, self.address)
        if user is None:
            raise AuthFailed()
        self.user = user
        return user

    def logout(self) -> None:
        self._log("logout")
        self.user = None

    # Own account: name, password, SSH keys ------------------------------------------------

    def _check_not_deleted(self) -> None:
        """After an admin deleted this session's account, every action logs it out and says so."""
        if self._deleted_user is None:
            return
        if self.user is not None and self.user != self._deleted_user:
            self._deleted_user = None  # someone has logged in since, on this connection
            return
        if self.user is not None:
            self._log("session ended: account deleted", level=logging.WARNING)
            self.user = None
        raise AccountDeleted()

    def _account_gone(self) -> AccountDeleted:
        self._deleted_user = self.user
        return AccountDeleted()

    async def _lock_own_account(self, conn: AsyncConnection):
        """The session's own row, locked until the transaction ends; gone means deleted."""
        assert self.user is not None
        row = (
            await conn.execute(sa.select(users).where(users.c.id == self.user.id).with_for_update())
        ).first()
        if row is None:
            raise self._account_gone()
        return row

    def _sessions_of(self, user_id: int) -> list[SessionContext]:
        return [s for s in self.services.sessions if s.user is not None and s.user.id == user_id]

    async def my_account(self) -> User:
        """The session's account as the database holds it now."""
        user = self._require(Access.OWN_ACCOUNT)
        async with self.db.transaction() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.id == user.id))).first()
        if row is None:
            raise self._account_gone()
        self.user = _user(row)
        return self.user

    async def change_name(self, name: str) -> User:
        """Rename the session's account; history keeps the name each entry was written under."""
        user = self._require(Access.OWN_ACCOUNT)
        name = validation.name(name)

        async def update(conn: AsyncConnection) -> str:
            row = await self._lock_own_account(conn)
            if row.nom != name:
                await conn.execute(users.update().where(users.c.id == user.id).values(nom=name))
                await record_in(
                    conn,
                    AuditEvent.NAME_CHANGED,
                    self.address,
                    user.email,
                    user.id,
                    f"{row.nom} -> {name}",
                )
            return row.nom

        await self._write(update)
        for session in self._sessions_of(user.id):
            session.user = replace(session.user, name=name)
        return self.user or replace(user, name=name)

    async def change_password(self, current: str, new: str) -> None:
        """Replace the password once the current one is proven; bcrypt runs off the event loop."""
        user = self._require(Access.OWN_ACCOUNT)
        validation.new_password(new)
        # Guessing the current password from an open session is guessing a login: the same
        # throttle, one attempt at a time, the same audit trail, no bcrypt while it must wait.
        account = account_key(user.email)
        async with self.services.one_at_a_time("login:" + account):
            async with self.db.transaction() as conn:
                stored = (
                    await conn.execute(sa.select(users.c.mot_de_passe).where(users.c.id == user.id))
                ).scalar()
            if stored is None:
                raise self._account_gone()
            wait = await self.services.throttle.login_wait(account, self.address)
            if wait:
                await record(
                    self.db,
                    AuditEvent.LOGIN_THROTTLED,
                    self.address,
                    account,
                    user.id,
                    details="mot de passe actuel",
                    level=logging.WARNING,
                )
                raise Throttled(wait)
            if not await self.services.hasher.verify(current, stored):
                await record(
                    self.db,
                    AuditEvent.LOGIN_FAILED,
                    self.address,
                    account,
                    user.id,
                    details="mot de passe actuel",
                    level=logging.WARNING,
                )
                raise ValidationError(_("Mot de passe actuel incorrect."))
            if new == current:
                raise ValidationError(_("Le nouveau mot de passe doit être différent de l'actuel."))
            hashed = await self.services.hasher.hash(new)

            async def update(conn: AsyncConnection) -> None:
                await self._lock_own_account(conn)
                now_stored = (
                    await conn.execute(sa.select(users.c.mot_de_passe).where(users.c.id == user.id))
                ).scalar()
                if now_stored != stored:
                    # Changed meanwhile (another session, another server): the proof is stale.
                    raise ValidationError(_("Le mot de passe vient d'être changé ailleurs : recommencez."))
                await conn.execute(users.update().where(users.c.id == user.id).values(mot_de_passe=hashed))
                await record_in(conn, AuditEvent.PASSWORD_CHANGED, self.address, user.email, user.id)

            await self._write(update)

    async def my_keys(self) -> list[SshKey]:
        """The session's own SSH public keys, oldest first."""
        user = self._require(Access.OWN_ACCOUNT)
        async with self.db.transaction() as conn:
            rows = (
                await conn.execute(
                    sa.select(ssh_keys)
                    .where(ssh_keys.c.utilisateur_id == user.id)
                    .order_by(ssh_keys.c.created_at, ssh_keys.c.id)
                )
            ).all()
        return [_ssh_key(r) for r in rows]

    async def add_key(self, text: str) -> SshKey:
        """Register one pasted OpenSSH public key line on the session's own account."""
        user = self._require(Access.OWN_ACCOUNT)
        key = parse_public_key(text)
        now = utcnow()
        duplicate = _("Cette clé est déjà enregistrée sur votre compte.")

        async def insert(conn: AsyncConnection) -> int:
            # The account row locked: two pastes at once count keys one after the other.
            await self._lock_own_account(conn)
            mine = ssh_keys.c.utilisateur_id == user.id
            fingerprints = set((await conn.execute(sa.select(ssh_keys.c.empreinte).where(mine))).scalars())
            if key.fingerprint in fingerprints:
                raise ValidationError(duplicate)
            if len(fingerprints) >= MAX_KEYS:
                raise ValidationError(
                    _("Vous avez déjà {max} clés : supprimez-en une avant d'en ajouter.").format(max=MAX_KEYS)
                )
            result = await conn.execute(
                ssh_keys.insert().values(
                    utilisateur_id=user.id,
                    algorithme=key.algorithm,
                    cle_publique=key.openssh,
                    empreinte=key.fingerprint,
                    commentaire=key.comment,
                    created_at=now,
                )
            )
            await record_in(
                conn,
                AuditEvent.KEY_ADDED,
                self.address,
                user.email,
                user.id,
                f"{key.algorithm} {key.fingerprint}",
            )
            return result.inserted_primary_key[0]

        try:
            key_id = await self._write(insert)
        except sa.exc.IntegrityError:  # the unique index, should a check ever be bypassed
            raise ValidationError(duplicate) from None
        return SshKey(key_id, key.algorithm, key.fingerprint, key.comment, now)

    async def remove_key(self, key_id: int) -> SshKey:
        """Remove one of the session's own keys; anyone else's is `Clé introuvable.` as a missing one."""
        user = self._require(Access.OWN_ACCOUNT)

        async def delete(conn: AsyncConnection) -> SshKey:
            row = (
                await conn.execute(sa.select(ssh_keys).where(ssh_keys.c.id == key_id).with_for_update())
            ).first()
            if row is None or not access_allowed(self.user, Access.OWN_KEY, row.utilisateur_id):
                raise KeyNotFound()
            await conn.execute(ssh_keys.delete().where(ssh_keys.c.id == key_id))
            await record_in(
                conn,
                AuditEvent.KEY_REMOVED,
                self.address,
                user.email,
                user.id,
                f"{row.algorithme} {row.empreinte}",
            )
            return _ssh_key(row)

        return await self._write(delete)

    # Accounts, for admins ------------------------------------------------------------------

    def can_manage_users(self) -> bool:
        """Whether to offer `Utilisateurs` in the main menu."""
        return access_allowed(self.user, Access.MANAGE_USERS)

    def is_self(self, user: User) -> bool:
        """Whether `user` is the session's own account (an admin can't delete it from the list)."""
        return self.user is not None and self.user.id == user.id

    async def list_users(self, search: str = "", offset: int = 0, limit: int = 10) -> UserPage:
        """One page of accounts whose name or e-mail contains `search`, by name."""
        self._require(Access.MANAGE_USERS)
        term = search.strip().lower()[: validation.EMAIL_MAX]
        where = (
            sa.or_(
                sa.func.lower(users.c.nom).contains(term, autoescape=True),
                users.c.email.contains(term, autoescape=True),
            )
            if term
            else sa.true()
        )
        async with self.db.transaction() as conn:
            total = (
                await conn.execute(sa.select(sa.func.count()).select_from(users).where(where))
            ).scalar_one()
            # Past the end (accounts deleted meanwhile): the last page instead of an empty one.
            offset = max(0, min(offset, (total - 1) // limit * limit if total else 0))
            rows = (
                await conn.execute(
                    sa.select(users, _ticket_count())
                    .where(where)
                    .order_by(sa.func.lower(users.c.nom), users.c.id)
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
        return UserPage(tuple(UserSummary(_user(r), r.tickets) for r in rows), total, offset)

    async def user_summary(self, user_id: int) -> UserSummary:
        self._require(Access.MANAGE_USERS)
        async with self.db.transaction() as conn:
            return await self._user_summary(conn, user_id)

    async def _user_summary(self, conn: AsyncConnection, user_id: int) -> UserSummary:
        row = (await conn.execute(sa.select(users, _ticket_count()).where(users.c.id == user_id))).first()
        if row is None:
            raise UserNotFound()
        return UserSummary(_user(row), row.tickets)

    async def _lock_admins(self, conn: AsyncConnection) -> set[int]:
        """The admins' ids, locked until the transaction ends: role changes and deletions run
        one after the other, each seeing the others' outcome (SQLite: the write lock)."""
        admins = set(
            (
                await conn.execute(
                    sa.select(users.c.id).where(users.c.role == Role.ADMIN.value).with_for_update()
                )
            ).scalars()
        )
        # The acting admin may have been demoted by another one a moment ago.
        assert self.user is not None
        if self.user.id not in admins:
            raise Forbidden()
        return admins

    async def set_role(self, user_id: int, role: Role | str) -> UserSummary:
        """Promote or demote an account; there is always at least one admin left."""
        actor = self._require(Access.MANAGE_USERS)
        role = Role(role)

        async def update(conn: AsyncConnection) -> UserSummary:
            admins = await self._lock_admins(conn)
            target = (await self._user_summary(conn, user_id)).user
            if target.role is role:
                raise ValidationError(
                    (
                        _("{name} est déjà administrateur.")
                        if role is Role.ADMIN
                        else _("{name} n'est pas administrateur.")
                    ).format(name=target.name)
                )
            if role is Role.USER and not admins - {target.id}:
                raise ValidationError(LAST_ADMIN)
            await conn.execute(users.update().where(users.c.id == target.id).values(role=role.value))
            what = "promotion administrateur" if role is Role.ADMIN else "retrait du rôle administrateur"
            await record_in(
                conn,
                AuditEvent.ADMIN_ACTION,
                self.address,
                actor.email,
                actor.id,
                f"{what} : {target.email} (id {target.id})",
            )
            return await self._user_summary(conn, user_id)

        summary = await self._write(update)
        # Sessions of that account follow at once: a demoted admin loses the admin screens.
        for session in self._sessions_of(user_id):
            session.user = replace(session.user, role=role)
        return summary

    async def delete_user(self, user_id: int, typed_email: str) -> UserSummary:
        """Delete an account once its e-mail is typed back: its tickets go with it, what it did
        on others' tickets stays in their history under its name."""
        actor = self._require(Access.MANAGE_USERS)
        if user_id == actor.id:
            raise ValidationError(_("Vous ne pouvez pas supprimer votre propre compte."))

        async def delete(conn: AsyncConnection) -> UserSummary:
            # Its tickets first, then accounts: the order in which a status change locks them.
            await conn.execute(
                # Their tickets and those assigned to them (set NULL by the deletion), locked
                # before the account as every ticket change locks them: no deadlock.
                sa.select(tickets.c.id)
                .where(sa.or_(tickets.c.auteur_id == user_id, tickets.c.assigne_id == user_id))
                .with_for_update()
            )
            admins = await self._lock_admins(conn)
            summary = await self._user_summary(conn, user_id)
            target = summary.user
            if typed_email.strip().lower() != target.email:
                raise ValidationError(_("Suppression annulée : l'e-mail saisi n'est pas celui du compte."))
            if target.id in admins and not admins - {target.id}:
                raise ValidationError(LAST_ADMIN)
            await conn.execute(users.delete().where(users.c.id == target.id))
            await record_in(
                conn,
                AuditEvent.ADMIN_ACTION,
                self.address,
                actor.email,
                actor.id,
                f"suppression du compte : {target.email} (id {target.id}, {summary.ticket_count} tickets)",
            )
            return summary

        summary = await self._write(delete)
        for session in self._sessions_of(user_id):
            session._deleted_user = session.user
        return summary

    # Tickets ----------------------------------------------------------------------------

    async def create_ticket(
        self, title: str, description: str, urgency: Urgency | str, form: TicketForm | None = None
    ) -> int:
        """A new ticket `En attente`, with its history entry; its id.

        With `form`, sending the same form again (a second Enter, a retry after an error)
        returns the ticket it already made instead of making another.
        """
        user = self._require(Access.CREATE_TICKET)
        title = validation.title(title)
        description = validation.description(description)
        urgency = validation.urgency(urgency)
        form = form or TicketForm()
        if form.committed and form.ticket_id is not None:
            return form.ticket_id
        if form.ticket_id is not None:
            # The last try inserted this id, then failed: if its commit went through after all
            # (the answer was lost with the connection), that is the form's ticket.
            made = await self._made_by(form, user)
            if made is not None:
                return made
        now = utcnow()

        async def insert(conn: AsyncConnection) -> int:
            waiting = await _status_id(conn, Status.WAITING)
            result = await conn.execute(
                tickets.insert().values(
                    titre=title,
                    description=description,
                    urgence=urgency.value,
                    auteur_id=user.id,
                    statut_id=waiting,
                    created_at=now,
                    updated_at=now,
                )
            )
            ticket_id = result.inserted_primary_key[0]
            form.ticket_id, form.created_at, form.committed = ticket_id, now, False
            await self._write_history(conn, ticket_id, Action.CREATED, None, waiting, urgency.value, now)
            return ticket_id

        ticket_id = await self._write(insert)
        form.committed = True
        self._log("ticket created id=%s urgency=%s", ticket_id, urgency.value)
        return ticket_id

    async def _made_by(self, form: TicketForm, user: User) -> int | None:
        """The ticket of `form`'s last try if it is in the database, else None."""
        async with self.db.transaction() as conn:
            found = (
                await conn.execute(
                    sa.select(tickets.c.id).where(
                        tickets.c.id == form.ticket_id,
                        tickets.c.auteur_id == user.id,
                        tickets.c.created_at == form.created_at,
                    )
                )
            ).scalar()
        if found is None:
            form.ticket_id = None
            return None
        form.committed = True
        self._log("ticket created id=%s (found after a failed answer)", found)
        return found

    async def my_tickets(self) -> list[TicketSummary]:
        user = self._require(Access.CREATE_TICKET)
        return await self._list(tickets.c.auteur_id == user.id)

    async def all_tickets(self) -> list[TicketSummary]:
        self._require(Access.LIST_ALL)
        return await self._list(None)

    async def assigned_tickets(self) -> list[TicketSummary]:
        """The tickets assigned to this admin that are not resolved yet, newest first."""
        user = self._require(Access.BE_ASSIGNED)
        resolved = (
            sa.select(statuses.c.id).where(statuses.c.libelle == Status.RESOLVED.value).scalar_subquery()
        )
        return await self._list(sa.and_(tickets.c.assigne_id == user.id, tickets.c.statut_id != resolved))

    async def _list(self, where) -> list[TicketSummary]:
        query = (
            sa.select(
                tickets.c.id,
                tickets.c.titre,
                tickets.c.urgence,
                statuses.c.libelle,
                _author.c.nom,
                tickets.c.created_at,
                self._unread(),
                _assignee.c.nom.label("assigne_nom"),
            )
            .join(statuses, statuses.c.id == tickets.c.statut_id)
            .join(_author, _author.c.id == tickets.c.auteur_id)
            .outerjoin(_assignee, _assignee.c.id == tickets.c.assigne_id)
            .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
        )
        if where is not None:
            query = query.where(where)
        async with self.db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_summary(r) for r in rows]

    # Finding tickets (admins) -----------------------------------------------------------

    async def search_tickets(
        self,
        filters: TicketFilter | None = None,
        sort: TicketSort = TicketSort.URGENCY_DESC,
        page: int = 1,
        page_size: int = 20,
    ) -> TicketPage:
        """One page of every user's tickets matching `filters`, and how many match in all.

        A page past the end gives the last one. The page's ids are chosen first, on an index
        alone where the filters allow; then only those rows are read and joined to their names
        (one query with a derived table let MariaDB start from the users at deep pages).
        """
        self._require(Access.LIST_ALL)
        filters = filters or TicketFilter()
        page_size = max(1, min(page_size, 200))
        text = filters.text.strip()[:SEARCH_TEXT_MAX]
        async with self.db.transaction() as conn:
            conditions = []
            if filters.statuses:
                ids = await _status_ids(conn)
                conditions.append(tickets.c.statut_id.in_(sorted(ids[s] for s in filters.statuses)))
            if filters.urgencies:
                conditions.append(tickets.c.urgence.in_(sorted(u.value for u in filters.urgencies)))
            if filters.unassigned:
                conditions.append(tickets.c.assigne_id.is_(None))
            elif filters.assignee is not None:
                conditions.append(tickets.c.assigne_id == filters.assignee.id)
            if filters.author is not None:
                conditions.append(tickets.c.auteur_id == filters.author.id)
            if text:
                # autoescape: %, _ and the escape character itself match literally.
                conditions.append(
                    sa.or_(
                        tickets.c.titre.contains(text, autoescape=True),
                        tickets.c.description.contains(text, autoescape=True),
                    )
                )
            total = (
                await conn.execute(sa.select(sa.func.count()).select_from(tickets).where(*conditions))
            ).scalar_one()
            pages = max(1, -(-total // page_size))
            page = max(1, min(page, pages))
            order = self._ticket_order(tickets, sort)
            # No match: no second pass over the table (a text search scans it).
            page_ids = (
                []
                if total == 0
                else (
                    await conn.execute(
                        sa.select(tickets.c.id)
                        .where(*conditions)
                        .order_by(*order)
                        .limit(page_size)
                        .offset((page - 1) * page_size)
                    )
                )
                .scalars()
                .all()
            )
            query = (
                sa.select(
                    tickets.c.id,
                    tickets.c.titre,
                    tickets.c.urgence,
                    statuses.c.libelle,
                    _author.c.nom,
                    tickets.c.created_at,
                    _assignee.c.nom.label("assigne_nom"),
                    self._unread(),
                )
                .join(statuses, statuses.c.id == tickets.c.statut_id)
                .join(_author, _author.c.id == tickets.c.auteur_id)
                .outerjoin(_assignee, _assignee.c.id == tickets.c.assigne_id)
                .where(tickets.c.id.in_(page_ids))
                .order_by(*order)
            )
            rows = (await conn.execute(query)).all()
        items = tuple(_summary(r) for r in rows)
        return TicketPage(items=items, total=total, page=page, page_size=page_size)

    def _ticket_order(self, table: sa.Table, sort: TicketSort) -> list:
        # MySQL sorts an ENUM by its declared order (Faible < Moyenne < Haute) and can read it
        # from the index; SQLite stores the label as text, so it needs the rank spelled out.
        if self.db.mysql:
            rank = table.c.urgence
        else:
            rank = sa.case(
                (table.c.urgence == Urgency.HIGH.value, 3),
                (table.c.urgence == Urgency.MEDIUM.value, 2),
                else_=1,
            )
        match sort:
            case TicketSort.URGENCY_DESC:
                return [rank.desc(), table.c.created_at, table.c.id]
            case TicketSort.URGENCY_ASC:
                return [rank, table.c.created_at, table.c.id]
            case TicketSort.DATE_ASC:
                return [table.c.created_at, table.c.id]
            case TicketSort.DATE_DESC:
                return [table.c.created_at.desc(), table.c.id.desc()]

    async def find_users(self, text: str, *, admins_only: bool = False) -> list[User]:
        """Accounts whose name or e-mail contains `text` (admins), a few, by name."""
        self._require(Access.LIST_ALL)
        text = text.strip()[:SEARCH_TEXT_MAX]
        query = sa.select(users).order_by(users.c.nom, users.c.id).limit(USER_MATCHES_MAX)
        if text:
            query = query.where(
                sa.or_(
                    users.c.nom.contains(text, autoescape=True),
                    users.c.email.contains(text.lower(), autoescape=True),
                )
            )
        if admins_only:
            query = query.where(users.c.role == Role.ADMIN.value)
        async with self.db.transaction() as conn:
            return [_user(r) for r in await conn.execute(query)]

    # Dashboard (admins) -----------------------------------------------------------------

    async def dashboard(
        self, *, days: int = 14, window_days: int = 30, now: datetime | None = None
    ) -> Dashboard:
        """Open tickets by status and urgency, tickets created per day, median delays."""
        self._require(Access.VIEW_DASHBOARD)
        now = now or utcnow()
        today = now.date()
        first_day = today - timedelta(days=days - 1)
        first_moment = datetime.combine(first_day, time())
        since = now - timedelta(days=window_days)
        async with self.db.transaction() as conn:
            ids = await _status_ids(conn)
            open_ids = sorted(ids[s] for s in OPEN_STATUSES)
            by_status = dict(
                (
                    await conn.execute(
                        sa.select(tickets.c.statut_id, sa.func.count())
                        .where(tickets.c.statut_id.in_(open_ids))
                        .group_by(tickets.c.statut_id)
                    )
                ).all()
            )
            by_urgency = dict(
                (
                    await conn.execute(
                        sa.select(tickets.c.urgence, sa.func.count())
                        .where(tickets.c.statut_id.in_(open_ids))
                        .group_by(tickets.c.urgence)
                    )
                ).all()
            )
            day = sa.func.date(tickets.c.created_at)
            per_day = {
                str(d): n
                for d, n in await conn.execute(
                    sa.select(day, sa.func.count()).where(tickets.c.created_at >= first_moment).group_by(day)
                )
            }
            delays = (await conn.execute(self._delays_query(ids[Status.RESOLVED], since))).all()
        first_responses = [r.first_response - r.created_at for r in delays if r.first_response]
        resolutions = [r.resolved - r.created_at for r in delays if r.resolved]
        return Dashboard(
            open_by_status=tuple((s, by_status.get(ids[s], 0)) for s in (Status.WAITING, Status.IN_PROGRESS)),
            open_by_urgency=tuple(
                (u, by_urgency.get(u.value, 0)) for u in (Urgency.HIGH, Urgency.MEDIUM, Urgency.LOW)
            ),
            created_per_day=tuple(
                (d, per_day.get(d.isoformat(), 0))
                for d in (first_day + timedelta(days=i) for i in range(days))
            ),
            median_first_response=_median(first_responses),
            median_resolution=_median(resolutions),
            window_days=window_days,
        )

    def _delays_query(self, resolved_id: int, since: datetime) -> sa.Select:
        """Per ticket created since `since`: its first answer by someone else, its first `Résolu`."""
        answer = sa.and_(
            history.c.action.in_(RESPONSE_ACTIONS),
            history.c.interne == sa.false(),
            # A deleted admin's entries (acteur_id NULL) were answers all the same.
            sa.or_(history.c.acteur_id.is_(None), history.c.acteur_id != tickets.c.auteur_id),
        )
        resolved = sa.and_(
            history.c.action == Action.STATUS_CHANGED.value,
            history.c.nouveau_statut_id == resolved_id,
        )
        return (
            sa.select(
                tickets.c.id,
                tickets.c.created_at,
                sa.func.min(sa.case((answer, history.c.created_at)), type_=sa.DateTime).label(
                    "first_response"
                ),
                sa.func.min(sa.case((resolved, history.c.created_at)), type_=sa.DateTime).label("resolved"),
            )
            .join(history, history.c.ticket_id == tickets.c.id)
            .where(tickets.c.created_at >= since)
            .group_by(tickets.c.id, tickets.c.created_at)
        )

    def _unread(self) -> sa.Label:
        """For a list query: whether the ticket has history the user has not seen.

        Unseen means newer than what `lectures` remembers of their last opening, written by
        someone else, and, for those who may not see internal notes, not one of those.
        """
        user = self.user
        assert user is not None
        seen = (
            sa.select(reads.c.dernier_historique_id)
            .where(reads.c.utilisateur_id == user.id, reads.c.ticket_id == history.c.ticket_id)
            .scalar_subquery()
        )
        newer = sa.select(history.c.id).where(
            history.c.ticket_id == tickets.c.id,
            history.c.id > sa.func.coalesce(seen, 0),
            sa.or_(history.c.acteur_id.is_(None), history.c.acteur_id != user.id),
        )
        if not access_allowed(user, Access.SEE_INTERNAL):
            newer = newer.where(history.c.interne == sa.false())
        return sa.exists(newer).label("non_lu")

    async def open_ticket(self, ticket_id: int) -> Ticket:
        """`ticket`, remembered as read up to its newest entry: its unread marker goes."""
        ticket = await self.ticket(ticket_id)
        await self.mark_read(ticket)
        return ticket

    async def mark_read(self, ticket: Ticket) -> None:
        """Remember that the user has seen this ticket's history as loaded (never backwards)."""
        user = self.user
        if user is None or not ticket.history:
            return
        newest = max(entry.id for entry in ticket.history)
        mine = (reads.c.utilisateur_id == user.id, reads.c.ticket_id == ticket.id)
        try:
            async with self.db.transaction() as conn:
                seen = (
                    await conn.execute(sa.select(reads.c.dernier_historique_id).where(*mine))
                ).scalar_one_or_none()
        except ServiceRestarting:
            return
        # Reading a ticket again is common: no write (no lock) when nothing new was seen.
        if seen is not None and seen >= newest:
            return
        values = {"utilisateur_id": user.id, "ticket_id": ticket.id, "dernier_historique_id": newest}
        if self.db.mysql:
            upsert = mysql.insert(reads).values(values)
            upsert = upsert.on_duplicate_key_update(
                dernier_historique_id=sa.func.greatest(
                    reads.c.dernier_historique_id, upsert.inserted.dernier_historique_id
                )
            )
        else:
            upsert = sqlite.insert(reads).values(values)
            upsert = upsert.on_conflict_do_update(
                index_elements=[reads.c.utilisateur_id, reads.c.ticket_id],
                set_={
                    "dernier_historique_id": sa.func.max(
                        reads.c.dernier_historique_id, upsert.excluded.dernier_historique_id
                    )
                },
            )
        try:
            await self.db.write(lambda conn: conn.execute(upsert))
        except ServiceRestarting:
            # A marker, not the user's action: left for the next time the ticket is opened.
            return

    def live_notice(self, change: TicketChange) -> LiveNotice | None:
        """What this user is told of a change read from the feed; None: not theirs to know.

        The change feed asks every session this, so the access rule stays the one above.
        """
        user = self.user
        if user is None or change.actor_id == user.id:
            return None
        if not access_allowed(user, Access.VIEW_TICKET, change.author_id):
            return None
        if change.internal and not access_allowed(user, Access.SEE_INTERNAL, change.author_id):
            return None
        if change.author_id == user.id:
            if change.action == Action.STATUS_CHANGED and change.new_status is not None:
                return LiveNotice.STATUS_CHANGED
            if change.action == Action.REPLY:
                return LiveNotice.REPLY
        elif change.action == Action.CREATED and access_allowed(user, Access.LIST_ALL):
            return LiveNotice.NEW_TICKET
        return LiveNotice.QUIET

    async def ticket(self, ticket_id: int) -> Ticket:
        """One ticket with its history; `Ticket introuvable` if missing or not the user's."""
        async with self.db.transaction() as conn:
            return await self._ticket(conn, ticket_id)

    async def _ticket(self, conn: AsyncConnection, ticket_id: int) -> Ticket:
        row = (
            await conn.execute(
                sa.select(
                    tickets,
                    statuses.c.libelle,
                    _author.c.nom.label("auteur_nom"),
                    _assignee.c.nom.label("assigne_nom"),
                )
                .join(statuses, statuses.c.id == tickets.c.statut_id)
                .join(_author, _author.c.id == tickets.c.auteur_id)
                .outerjoin(_assignee, _assignee.c.id == tickets.c.assigne_id)
                .where(tickets.c.id == ticket_id)
            )
        ).first()
        self._require(Access.VIEW_TICKET, row.auteur_id if row else None)
        if row is None:
            raise NotFound()
        old = statuses.alias("ancien")
        new = statuses.alias("nouveau")
        entries = (
            await conn.execute(
                sa.select(
                    history,
                    old.c.libelle.label("ancien"),
                    new.c.libelle.label("nouveau"),
                )
                .outerjoin(old, old.c.id == history.c.ancien_statut_id)
                .outerjoin(new, new.c.id == history.c.nouveau_statut_id)
                .where(history.c.ticket_id == ticket_id, self._notes_hidden(row.auteur_id))
                .order_by(history.c.created_at, history.c.id)
            )
        ).all()
        return Ticket(
            id=row.id,
            title=row.titre,
            description=row.description,
            urgency=Urgency(row.urgence),
            status=Status(row.libelle),
            author_id=row.auteur_id,
            author_name=row.auteur_nom,
            created_at=row.created_at,
            updated_at=row.updated_at,
            history=tuple(
                HistoryEntry(
                    id=e.id,
                    actor_name=e.acteur_nom,
                    action=Action(e.action),
                    old_status=Status(e.ancien) if e.ancien else None,
                    new_status=Status(e.nouveau) if e.nouveau else None,
                    details=e.details or "",
                    created_at=e.created_at,
                    internal=bool(e.interne),
                )
                for e in entries
            ),
            assignee_id=row.assigne_id,
            assignee_name=row.assigne_nom,
        )

    async def change_status(self, ticket_id: int, new_status: Status | str) -> Ticket:
        """Set a ticket's status (admins), with its history entry in the same transaction."""
        new_status = validation.status(new_status)
        now = utcnow()

        async def update(conn: AsyncConnection) -> tuple[str, Ticket]:
            row = await self._locked(conn, ticket_id, Access.CHANGE_STATUS)
            if row.libelle == new_status.value:
                raise ValidationError(_("Le ticket est déjà « {status} ».").format(status=new_status.value))
            new_id = await _status_id(conn, new_status)
            await conn.execute(
                tickets.update().where(tickets.c.id == ticket_id).values(statut_id=new_id, updated_at=now)
            )
            await self._write_history(conn, ticket_id, Action.STATUS_CHANGED, row.statut_id, new_id, "", now)
            await self._audit_admin_action(
                conn, f"status ticket={ticket_id} from={row.libelle} to={new_status.value}"
            )
            return row.libelle, await self._ticket(conn, ticket_id)

        old_label, ticket = await self._write(update)
        self._log("status changed id=%s from=%r to=%r", ticket_id, old_label, new_status.value)
        return ticket

    # Conversation and assignment --------------------------------------------------------

    async def reply(self, ticket_id: int, text: str) -> Ticket:
        """Add a message to the ticket's conversation (its requester and admins)."""
        text = validation.reply(text)
        now = utcnow()

        async def write(conn: AsyncConnection) -> Ticket:
            row = await self._locked(conn, ticket_id, Access.REPLY)
            await self._touch(conn, ticket_id, now)
            await self._write_history(conn, ticket_id, Action.REPLY, None, None, text, now)
            if row.auteur_id != self.user.id:  # staff answering someone: an admin action
                await self._audit_admin_action(conn, f"reply ticket={ticket_id}")
            return await self._ticket(conn, ticket_id)

        ticket = await self._write(write)
        self._log("reply id=%s length=%s", ticket_id, len(text))
        return ticket

    async def add_note(self, ticket_id: int, text: str) -> Ticket:
        """An admin's internal note: in the history, never shown to the requester."""
        text = validation.note(text)
        now = utcnow()

        async def write(conn: AsyncConnection) -> Ticket:
            await self._locked(conn, ticket_id, Access.ADD_NOTE)
            # `updated_at` is left alone: the requester sees it, and must not learn of the note.
            await self._write_history(conn, ticket_id, Action.NOTE, None, None, text, now, internal=True)
            await self._audit_admin_action(conn, f"note ticket={ticket_id}")
            return await self._ticket(conn, ticket_id)

        ticket = await self._write(write)
        self._log("internal note id=%s length=%s", ticket_id, len(text))
        return ticket

    async def assignees(self) -> list[User]:
        """Who a ticket can be assigned to (the admins), by name."""
        self._require(Access.ASSIGN)
        async with self.db.transaction() as conn:
            rows = (
                await conn.execute(
                    # The role filter only narrows the read; access_allowed decides below.
                    sa.select(users).where(users.c.role == Role.ADMIN.value).order_by(users.c.nom, users.c.id)
                )
            ).all()
        return [u for u in map(_user, rows) if access_allowed(u, Access.BE_ASSIGNED)]

    async def take(self, ticket_id: int) -> Ticket:
        """`Prendre en charge`: assign the ticket to oneself."""
        user = self._require(Access.ASSIGN)
        return await self.assign(ticket_id, user.id)

    async def assign(self, ticket_id: int, assignee_id: int | None) -> Ticket:
        """Assign a ticket to an admin, or unassign it (None), with its history entry."""
        now = utcnow()

        async def write(conn: AsyncConnection) -> tuple[str, Ticket]:
            row = await self._locked(conn, ticket_id, Access.ASSIGN)
            name = ""
            if assignee_id is not None:
                # Locked: a simultaneous demotion waits for this assignment, or comes first
                # and is seen here.
                target = (
                    await conn.execute(sa.select(users).where(users.c.id == assignee_id).with_for_update())
                ).first()
                if target is None or not access_allowed(_user(target), Access.BE_ASSIGNED):
                    raise ValidationError(_("Seul un administrateur peut prendre un ticket en charge."))
                name = target.nom
            if row.assigne_id == assignee_id:
                if assignee_id is None:
                    raise ValidationError(_("Le ticket n'est assigné à personne."))
                raise ValidationError(_("Le ticket est déjà pris en charge par {name}.").format(name=name))
            await conn.execute(
                tickets.update()
                .where(tickets.c.id == ticket_id)
                .values(assigne_id=assignee_id, updated_at=now)
            )
            await self._write_history(conn, ticket_id, Action.ASSIGNED, None, None, name, now)
            await self._audit_admin_action(
                conn, f"assign ticket={ticket_id} to={assignee_id if assignee_id else '-'}"
            )
            return name, await self._ticket(conn, ticket_id)

        name, ticket = await self._write(write)
        self._log("assigned id=%s to=%r", ticket_id, name or None)
        return ticket

    async def reopen(self, ticket_id: int, text: str) -> Ticket:
        """`Le problème persiste`: the requester's reply puts a resolved ticket back `En cours`."""
        text = validation.reply(text)
        now = utcnow()

        async def write(conn: AsyncConnection) -> Ticket:
            row = await self._locked(conn, ticket_id, Access.REOPEN)
            if row.libelle != Status.RESOLVED.value:
                raise ValidationError(_("Le ticket n'est pas « Résolu » : répondez-y simplement."))
            in_progress = await _status_id(conn, Status.IN_PROGRESS)
            await conn.execute(
                tickets.update()
                .where(tickets.c.id == ticket_id)
                .values(statut_id=in_progress, updated_at=now)
            )
            await self._write_history(conn, ticket_id, Action.REPLY, None, None, text, now)
            await self._write_history(conn, ticket_id, Action.REOPENED, row.statut_id, in_progress, "", now)
            return await self._ticket(conn, ticket_id)

        ticket = await self._write(write)
        self._log("reopened id=%s length=%s", ticket_id, len(text))
        return ticket

    async def _locked(self, conn: AsyncConnection, ticket_id: int, access: Access):
        """The ticket's row, locked until the transaction ends, once `access` is allowed."""
        row = (
            await conn.execute(
                sa.select(
                    tickets.c.auteur_id,
                    tickets.c.statut_id,
                    tickets.c.assigne_id,
                    statuses.c.libelle,
                )
                .join(statuses, statuses.c.id == tickets.c.statut_id)
                .where(tickets.c.id == ticket_id)
                .with_for_update(of=tickets)
            )
        ).first()
        self._require(Access.VIEW_TICKET, row.auteur_id if row else None)
        if row is None:
            raise NotFound()
        self._require(access, row.auteur_id)
        return row

    async def _touch(self, conn: AsyncConnection, ticket_id: int, now) -> None:
        await conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(updated_at=now))

    async def _audit_admin_action(self, conn: AsyncConnection, details: str) -> None:
        assert self.user is not None
        await record_in(conn, AuditEvent.ADMIN_ACTION, self.address, self.user.email, self.user.id, details)

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
    ) -> None:
        assert self.user is not None
        await conn.execute(
            history.insert().values(
                ticket_id=ticket_id,
                acteur_id=self.user.id,
                acteur_nom=self.user.name,
                action=action.value,
                ancien_statut_id=old_status_id,
                nouveau_statut_id=new_status_id,
                details=details,
                created_at=now,
                interne=internal,
            )
        )


async def create_user(
    db: Database,
    name: str,
    email: str,
    hashed: str,
    role: Role,
    audit: Callable[[AsyncConnection, int], Awaitable[None]] | None = None,
) -> User:
    """Insert an account; `ValidationError` if the e-mail is taken (checked by the unique index).

    `audit` records the creation in the same transaction.
    """
    now = utcnow()

    async def insert(conn: AsyncConnection) -> int:
        result = await conn.execute(
            users.insert().values(nom=name, email=email, mot_de_passe=hashed, role=role.value, created_at=now)
        )
        user_id = result.inserted_primary_key[0]
        if audit is not None:
            await audit(conn, user_id)
        return user_id

    try:
        user_id = await db.write(insert)
    except sa.exc.IntegrityError:
        raise EmailTaken() from None
    return User(id=user_id, name=name, email=email, role=role, created_at=now)


async def authenticate(services: Services, email: str, password: str, address: str) -> User | None:
    """The account for this e-mail and password, or None; bcrypt runs either way.

    `Throttled`, without running bcrypt, while the account or the address has to wait. Every
    outcome is audited; an unknown e-mail takes the same path, the same work and the same
    writes as a wrong password, so neither the answer nor the time tells them apart.
    """
    # One attempt at a time per account, each counted before the next is weighed.
    async with services.one_at_a_time("login:" + account_key(email)):
        return await _authenticate(services, email, password, address)


async def _authenticate(services: Services, email: str, password: str, address: str) -> User | None:
    email = email.strip().lower()
    account = account_key(email)
    wait = await services.throttle.login_wait(account, address)
    if wait:
        await record(
            services.db,
            AuditEvent.LOGIN_THROTTLED,
            address,
            account,
            details=f"attente={wait}s",
            level=logging.WARNING,
        )
        raise Throttled(wait)
    async with services.db.transaction() as conn:
        row = (await conn.execute(sa.select(users).where(users.c.email == email))).first()
    ok = await services.hasher.verify(password, row.mot_de_passe if row else None)
    user = _user(row) if ok and row is not None else None

    async def outcome(conn: AsyncConnection) -> None:
        # The per-account columns follow the audit trail (an unknown e-mail updates no row).
        if user is not None:
            await conn.execute(users.update().where(users.c.id == user.id).values(echecs_connexion=0))
            await record_in(conn, AuditEvent.LOGIN_SUCCEEDED, address, account, user.id)
        else:
            await conn.execute(
                users.update()
                .where(users.c.email == email)
                .values(echecs_connexion=users.c.echecs_connexion + 1, dernier_echec=utcnow())
            )
            await record_in(
                conn,
                AuditEvent.LOGIN_FAILED,
                address,
                account,
                row.id if row else None,
                level=logging.WARNING,
            )

    await services.db.write(outcome)
    return user


# Public keys (the SSH layer asks; the "Mon compte" screen writes them) -----------------------


def _key_text(stored: str) -> str:
    """ "<algorithm> <base64>" of a stored key, whatever spacing or comment it came with."""
    return " ".join(stored.split()[:2])


async def key_owner(db: Database, email: str, key: str) -> User | None:
    """The account of this e-mail if `key` is one of its registered keys, else None.

    The SSH layer asks before it has checked the key's signature: the answer is a candidate,
    attached to the connection only once asyncssh has verified that signature.
    """
    email = email.strip().lower()
    async with db.transaction() as conn:
        rows = (
            await conn.execute(
                sa.select(users, ssh_keys.c.cle_publique.label("cle"))
                .join(ssh_keys, ssh_keys.c.utilisateur_id == users.c.id)
                .where(users.c.email == email)
            )
        ).all()
    row = next((r for r in rows if _key_text(r.cle) == _key_text(key)), None)
    return _user(row) if row is not None else None


async def key_login_succeeded(db: Database, address: str, user: User) -> None:
    await record(db, AuditEvent.LOGIN_SUCCEEDED, address, user.email, user.id, "ssh publickey")


async def key_login_failed(db: Database, address: str, email: str) -> None:
    """A signature made for a registered key was refused: an audited login failure."""
    email = email.strip().lower()
    async with db.transaction() as conn:
        user_id = (await conn.execute(sa.select(users.c.id).where(users.c.email == email))).scalar()
    await record(db, AuditEvent.LOGIN_FAILED, address, email, user_id, "ssh publickey", level=logging.WARNING)
