"""SessionContext: the one door to the data for a connected user; it alone decides access."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import validation
from .audit import AuditEvent, record
from .db import Database, history, ssh_keys, statuses, tickets, users, utcnow
from .errors import AuthFailed, EmailTaken, Forbidden, NotFound, ValidationError
from .i18n import _
from .models import Action, HistoryEntry, Role, Status, Ticket, TicketSummary, Urgency, User
from .security import PasswordHasher

log = logging.getLogger("support.context")


class Access(enum.Enum):
    """What a user may ask of a ticket or of the ticket base."""

    CREATE_TICKET = "create_ticket"
    VIEW_TICKET = "view_ticket"
    LIST_ALL = "list_all"
    CHANGE_STATUS = "change_status"


def access_allowed(user: User | None, access: Access, author_id: int | None = None) -> bool:
    """The single access decision of the application."""
    if user is None:
        return False
    if user.is_admin:
        return True
    match access:
        case Access.CREATE_TICKET:
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


_author = users.alias("auteur")


def _user(row) -> User:
    return User(
        id=row.id, name=row.nom, email=row.email, role=Role(row.role), created_at=row.created_at
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

    @property
    def db(self) -> Database:
        return self.services.db

    def _log(self, message: str, *args, level: int = logging.INFO) -> None:
        who = self.user.email if self.user else "-"
        log.log(level, "addr=%s user=%s " + message, self.address, who, *args)

    def _require(self, access: Access, author_id: int | None = None) -> User:
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


# Public keys (the SSH layer asks; the "Mon compte" screen writes them) -----------------------


def _key_text(stored: str) -> str:
    """"<algorithm> <base64>" of a stored key, whatever spacing or comment it came with."""
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
    await record(
        db, AuditEvent.LOGIN_FAILED, address, email, user_id, "ssh publickey", level=logging.WARNING
    )
