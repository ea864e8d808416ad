"""SessionContext: the one door to the data for a connected user; it alone decides access."""

from __future__ import annotations

import enum
import logging
import weakref
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import validation
from .audit import AuditEvent, record_in
from .db import Database, history, ssh_keys, statuses, tickets, users, utcnow
from .errors import (
    AccountDeleted,
    AuthFailed,
    EmailTaken,
    Forbidden,
    KeyNotFound,
    NotFound,
    UserNotFound,
    ValidationError,
)
from .i18n import _
from .keys import parse_public_key
from .models import (
    Action,
    HistoryEntry,
    Role,
    SshKey,
    Status,
    Ticket,
    TicketSummary,
    Urgency,
    User,
    UserPage,
    UserSummary,
)
from .security import PasswordHasher

log = logging.getLogger("support.context")


class Access(enum.Enum):
    """What a user may ask of a ticket or of the ticket base."""

    CREATE_TICKET = "create_ticket"
    VIEW_TICKET = "view_ticket"
    LIST_ALL = "list_all"
    CHANGE_STATUS = "change_status"
    # One's own name, password and SSH keys.
    OWN_ACCOUNT = "own_account"
    # One SSH key, by its owner's id: only ever its owner's, admins included.
    OWN_KEY = "own_key"
    # List accounts, change roles, delete accounts.
    MANAGE_USERS = "manage_users"


def access_allowed(user: User | None, access: Access, author_id: int | None = None) -> bool:
    """The single access decision of the application."""
    if user is None:
        return False
    if access is Access.OWN_KEY:
        return author_id == user.id
    if user.is_admin:
        return True
    match access:
        case Access.CREATE_TICKET:
            return True
        case Access.OWN_ACCOUNT:
            return True
        case Access.VIEW_TICKET:
            return author_id == user.id
        case _:
            return False


@dataclass(frozen=True)
class Services:
    """What every session shares: the database and the password hasher."""

    db: Database
    hasher: PasswordHasher
    # Every open session, so that a role change or a deletion reaches the sessions it concerns.
    sessions: weakref.WeakSet[SessionContext] = field(
        default_factory=weakref.WeakSet, compare=False, repr=False
    )


_author = users.alias("auteur")

# SSH keys one account may hold: enough for every machine one uses.
MAX_KEYS = 20
LAST_ADMIN = _("Impossible : il doit rester au moins un administrateur.")


def _user(row) -> User:
    return User(
        id=row.id, name=row.nom, email=row.email, role=Role(row.role), created_at=row.created_at
    )


def _ssh_key(row) -> SshKey:
    return SshKey(
        id=row.id, algorithm=row.algorithme, fingerprint=row.empreinte,
        comment=row.commentaire, created_at=row.created_at,
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
        services.sessions.add(self)

    @property
    def db(self) -> Database:
        return self.services.db

    def _log(self, message: str, *args, level: int = logging.INFO) -> None:
        who = self.user.email if self.user else "-"
        log.log(level, "addr=%s user=%s " + message, self.address, who, *args)

    def _require(self, access: Access, author_id: int | None = None) -> User:
        self._check_not_deleted()
        if not access_allowed(self.user, access, author_id):
            if access is Access.VIEW_TICKET:
                raise NotFound()
            raise Forbidden()
        assert self.user is not None
        return self.user

    def can_list_all(self) -> bool:
        """Whether to offer `Tous les tickets` in the main menu."""
        return access_allowed(self.user, Access.LIST_ALL)

    def can_change_status(self, ticket: Ticket) -> bool:
        """Whether to offer `Changer le statut` on this ticket's screen."""
        return access_allowed(self.user, Access.CHANGE_STATUS, ticket.author_id)

    # Accounts ---------------------------------------------------------------------------

    async def register(self, name: str, email: str, password: str) -> User:
        """Create an ordinary account and log it in."""
        name = validation.name(name)
        email = validation.email(email)
        validation.new_password(password)
        hashed = await self.services.hasher.hash(password)
        user = await create_user(self.db, name, email, hashed, Role.USER)
        self.user = user
        self._log("registered")
        return user

    async def login(self, email: str, password: str) -> User:
        """Check an e-mail and password; the same work and answer for an unknown e-mail."""
        user = await authenticate(self.services, email, password)
        if user is None:
            self._log("login failed email=%r", email[:254], level=logging.WARNING)
            raise AuthFailed()
        self.user = user
        self._log("login succeeded")
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
                    conn, AuditEvent.NAME_CHANGED, self.address, user.email, user.id,
                    f"{row.nom} -> {name}",
                )
            return row.nom

        await self.db.write(update)
        for session in self._sessions_of(user.id):
            session.user = replace(session.user, name=name)
        return self.user or replace(user, name=name)

    async def change_password(self, current: str, new: str) -> None:
        """Replace the password once the current one is proven; bcrypt runs off the event loop."""
        user = self._require(Access.OWN_ACCOUNT)
        validation.new_password(new)
        async with self.db.transaction() as conn:
            stored = (
                await conn.execute(sa.select(users.c.mot_de_passe).where(users.c.id == user.id))
            ).scalar()
        if stored is None:
            raise self._account_gone()
        if not await self.services.hasher.verify(current, stored):
            self._log("password change refused: wrong current password", level=logging.WARNING)
            raise ValidationError(_("Mot de passe actuel incorrect."))
        if new == current:
            raise ValidationError(_("Le nouveau mot de passe doit être différent de l'actuel."))
        hashed = await self.services.hasher.hash(new)

        async def update(conn: AsyncConnection) -> None:
            await self._lock_own_account(conn)
            await conn.execute(users.update().where(users.c.id == user.id).values(mot_de_passe=hashed))
            await record_in(conn, AuditEvent.PASSWORD_CHANGED, self.address, user.email, user.id)

        await self.db.write(update)

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
            fingerprints = set(
                (await conn.execute(sa.select(ssh_keys.c.empreinte).where(mine))).scalars()
            )
            if key.fingerprint in fingerprints:
                raise ValidationError(duplicate)
            if len(fingerprints) >= MAX_KEYS:
                raise ValidationError(
                    _("Vous avez déjà {max} clés : supprimez-en une avant d'en ajouter.").format(
                        max=MAX_KEYS
                    )
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
                conn, AuditEvent.KEY_ADDED, self.address, user.email, user.id,
                f"{key.algorithm} {key.fingerprint}",
            )
            return result.inserted_primary_key[0]

        try:
            key_id = await self.db.write(insert)
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
                conn, AuditEvent.KEY_REMOVED, self.address, user.email, user.id,
                f"{row.algorithme} {row.empreinte}",
            )
            return _ssh_key(row)

        return await self.db.write(delete)

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
        row = (
            await conn.execute(sa.select(users, _ticket_count()).where(users.c.id == user_id))
        ).first()
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
                    (_("{name} est déjà administrateur.") if role is Role.ADMIN
                     else _("{name} n'est pas administrateur.")).format(name=target.name)
                )
            if role is Role.USER and not admins - {target.id}:
                raise ValidationError(LAST_ADMIN)
            await conn.execute(users.update().where(users.c.id == target.id).values(role=role.value))
            what = "promotion administrateur" if role is Role.ADMIN else "retrait du rôle administrateur"
            await record_in(
                conn, AuditEvent.ADMIN_ACTION, self.address, actor.email, actor.id,
                f"{what} : {target.email} (id {target.id})",
            )
            return await self._user_summary(conn, user_id)

        summary = await self.db.write(update)
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
                sa.select(tickets.c.id).where(tickets.c.auteur_id == user_id).with_for_update()
            )
            admins = await self._lock_admins(conn)
            summary = await self._user_summary(conn, user_id)
            target = summary.user
            if typed_email.strip().lower() != target.email:
                raise ValidationError(
                    _("Suppression annulée : l'e-mail saisi n'est pas celui du compte.")
                )
            if target.id in admins and not admins - {target.id}:
                raise ValidationError(LAST_ADMIN)
            await conn.execute(users.delete().where(users.c.id == target.id))
            await record_in(
                conn, AuditEvent.ADMIN_ACTION, self.address, actor.email, actor.id,
                f"suppression du compte : {target.email} (id {target.id}, {summary.ticket_count} tickets)",
            )
            return summary

        summary = await self.db.write(delete)
        for session in self._sessions_of(user_id):
            session._deleted_user = session.user
        return summary

    # Tickets ----------------------------------------------------------------------------

    async def create_ticket(self, title: str, description: str, urgency: Urgency | str) -> int:
        user = self._require(Access.CREATE_TICKET)
        title = validation.title(title)
        description = validation.description(description)
        urgency = validation.urgency(urgency)
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
            await self._write_history(conn, ticket_id, Action.CREATED, None, waiting, urgency.value, now)
            return ticket_id

        ticket_id = await self.db.write(insert)
        self._log("ticket created id=%s urgency=%s", ticket_id, urgency.value)
        return ticket_id

    async def my_tickets(self) -> list[TicketSummary]:
        user = self._require(Access.CREATE_TICKET)
        return await self._list(tickets.c.auteur_id == user.id)

    async def all_tickets(self) -> list[TicketSummary]:
        self._require(Access.LIST_ALL)
        return await self._list(None)

    async def _list(self, where) -> list[TicketSummary]:
        query = (
            sa.select(
                tickets.c.id,
                tickets.c.titre,
                tickets.c.urgence,
                statuses.c.libelle,
                _author.c.nom,
                tickets.c.created_at,
            )
            .join(statuses, statuses.c.id == tickets.c.statut_id)
            .join(_author, _author.c.id == tickets.c.auteur_id)
            .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
        )
        if where is not None:
            query = query.where(where)
        async with self.db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [
            TicketSummary(
                id=r.id,
                title=r.titre,
                urgency=Urgency(r.urgence),
                status=Status(r.libelle),
                author_name=r.nom,
                created_at=r.created_at,
            )
            for r in rows
        ]

    async def ticket(self, ticket_id: int) -> Ticket:
        """One ticket with its history; `Ticket introuvable` if missing or not the user's."""
        async with self.db.transaction() as conn:
            return await self._ticket(conn, ticket_id)

    async def _ticket(self, conn: AsyncConnection, ticket_id: int) -> Ticket:
        row = (
            await conn.execute(
                sa.select(tickets, statuses.c.libelle, _author.c.nom.label("auteur_nom"))
                .join(statuses, statuses.c.id == tickets.c.statut_id)
                .join(_author, _author.c.id == tickets.c.auteur_id)
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
                .where(history.c.ticket_id == ticket_id)
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
                )
                for e in entries
            ),
        )

    async def change_status(self, ticket_id: int, new_status: Status | str) -> Ticket:
        """Set a ticket's status (admins), with its history entry in the same transaction."""
        new_status = validation.status(new_status)
        now = utcnow()

        async def update(conn: AsyncConnection) -> tuple[str, Ticket]:
            row = (
                await conn.execute(
                    sa.select(tickets.c.auteur_id, tickets.c.statut_id, statuses.c.libelle)
                    .join(statuses, statuses.c.id == tickets.c.statut_id)
                    .where(tickets.c.id == ticket_id)
                    .with_for_update(of=tickets)
                )
            ).first()
            self._require(Access.VIEW_TICKET, row.auteur_id if row else None)
            if row is None:
                raise NotFound()
            self._require(Access.CHANGE_STATUS, row.auteur_id)
            if row.libelle == new_status.value:
                raise ValidationError(
                    _("Le ticket est déjà « {status} ».").format(status=new_status.value)
                )
            new_id = await _status_id(conn, new_status)
            await conn.execute(
                tickets.update()
                .where(tickets.c.id == ticket_id)
                .values(statut_id=new_id, updated_at=now)
            )
            await self._write_history(
                conn, ticket_id, Action.STATUS_CHANGED, row.statut_id, new_id, "", now
            )
            return row.libelle, await self._ticket(conn, ticket_id)

        old_label, ticket = await self.db.write(update)
        self._log(
            "status changed id=%s from=%r to=%r", ticket_id, old_label, new_status.value
        )
        return ticket

    async def _write_history(
        self,
        conn: AsyncConnection,
        ticket_id: int,
        action: Action,
        old_status_id: int | None,
        new_status_id: int | None,
        details: str,
        now,
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
            )
        )


async def create_user(db: Database, name: str, email: str, hashed: str, role: Role) -> User:
    """Insert an account; `ValidationError` if the e-mail is taken (checked by the unique index)."""
    now = utcnow()

    async def insert(conn: AsyncConnection) -> int:
        result = await conn.execute(
            users.insert().values(
                nom=name, email=email, mot_de_passe=hashed, role=role.value, created_at=now
            )
        )
        return result.inserted_primary_key[0]

    try:
        user_id = await db.write(insert)
    except sa.exc.IntegrityError:
        raise EmailTaken() from None
    return User(id=user_id, name=name, email=email, role=role, created_at=now)


async def authenticate(services: Services, email: str, password: str) -> User | None:
    """The account for this e-mail and password, or None; bcrypt runs either way."""
    email = email.strip().lower()
    async with services.db.transaction() as conn:
        row = (await conn.execute(sa.select(users).where(users.c.email == email))).first()
    ok = await services.hasher.verify(password, row.mot_de_passe if row else None)
    if row is None:
        return None
    # Count consecutive failures per account; a success clears the count.
    if not ok or row.echecs_connexion:
        values = (
            {"echecs_connexion": 0}
            if ok
            else {"echecs_connexion": users.c.echecs_connexion + 1, "dernier_echec": utcnow()}
        )
        await services.db.write(
            lambda conn: conn.execute(users.update().where(users.c.id == row.id).values(**values))
        )
    return _user(row) if ok else None
