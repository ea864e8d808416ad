"""Accounts: the `utilisateurs` rows, read, locked, created, renamed, promoted and deleted."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import Notifications, Role, User, UserSummary
from ..domain.paging import clamp_page
from .schema import tickets, users


def user_of(row) -> User:
    return User(
        id=row.id,
        name=row.nom,
        email=row.email,
        role=Role(row.role),
        created_at=row.created_at,
        language=row.langue,
        email_verified=bool(row.email_verifie),
        notifications=Notifications(row.notifications),
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


async def by_id(conn: AsyncConnection, user_id: int, *, lock: bool = False):
    """The account's row (None if gone); `lock` holds it until the transaction ends."""
    query = sa.select(users).where(users.c.id == user_id)
    return (await conn.execute(query.with_for_update() if lock else query)).first()


async def by_email(conn: AsyncConnection, email: str):
    return (await conn.execute(sa.select(users).where(users.c.email == email))).first()


async def id_of(conn: AsyncConnection, email: str) -> int | None:
    return (await conn.execute(sa.select(users.c.id).where(users.c.email == email))).scalar()


async def password_of(conn: AsyncConnection, user_id: int) -> str | None:
    return (await conn.execute(sa.select(users.c.mot_de_passe).where(users.c.id == user_id))).scalar()


async def insert(conn: AsyncConnection, name: str, email: str, hashed: str, role: Role, now) -> int:
    """A new account's id; `IntegrityError` if the e-mail is taken (the unique index)."""
    result = await conn.execute(
        users.insert().values(nom=name, email=email, mot_de_passe=hashed, role=role.value, created_at=now)
    )
    return result.inserted_primary_key[0]


async def update(conn: AsyncConnection, user_id: int, **values) -> None:
    """Set columns of one account: nom, mot_de_passe, role, langue (as stored)."""
    await conn.execute(users.update().where(users.c.id == user_id).values(**values))


async def login_succeeded(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(users.update().where(users.c.id == user_id).values(echecs_connexion=0))


async def login_failed(conn: AsyncConnection, email: str, now) -> None:
    """One more consecutive failure on the account of `email` (none if there is no such account)."""
    await conn.execute(
        users.update()
        .where(users.c.email == email)
        .values(echecs_connexion=users.c.echecs_connexion + 1, dernier_echec=now)
    )


async def delete(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(users.delete().where(users.c.id == user_id))


async def summary(conn: AsyncConnection, user_id: int) -> UserSummary | None:
    row = (await conn.execute(sa.select(users, _ticket_count()).where(users.c.id == user_id))).first()
    return None if row is None else UserSummary(user_of(row), row.tickets)


def _containing(term: str):
    """Name (any case) or e-mail containing `term`; % and _ match literally."""
    return sa.or_(
        sa.func.lower(users.c.nom).contains(term, autoescape=True),
        users.c.email.contains(term, autoescape=True),
    )


async def page(
    conn: AsyncConnection, term: str, page: int, page_size: int
) -> tuple[list[UserSummary], int, int]:
    """Accounts whose name or e-mail contains `term` (lower case), by name: (the page's
    accounts, how many in all, its number).

    Past the end (accounts deleted meanwhile): the last page instead of an empty one.
    """
    where = _containing(term) if term else sa.true()
    total = (await conn.execute(sa.select(sa.func.count()).select_from(users).where(where))).scalar_one()
    page = clamp_page(page, total, page_size)
    rows = (
        await conn.execute(
            sa.select(users, _ticket_count())
            .where(where)
            .order_by(sa.func.lower(users.c.nom), users.c.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).all()
    return [UserSummary(user_of(r), r.tickets) for r in rows], total, page


async def matching(conn: AsyncConnection, text: str, limit: int, *, admins_only: bool = False) -> list[User]:
    """A few accounts whose name or e-mail contains `text`, by name."""
    query = sa.select(users).order_by(users.c.nom, users.c.id).limit(limit)
    if text:
        query = query.where(
            sa.or_(
                users.c.nom.contains(text, autoescape=True),
                users.c.email.contains(text.lower(), autoescape=True),
            )
        )
    if admins_only:
        query = query.where(users.c.role == Role.ADMIN.value)
    return [user_of(r) for r in await conn.execute(query)]


async def with_admin_role(conn: AsyncConnection) -> list[User]:
    """The accounts whose role is admin, by name (a read, not an access decision)."""
    rows = await conn.execute(
        sa.select(users).where(users.c.role == Role.ADMIN.value).order_by(users.c.nom, users.c.id)
    )
    return [user_of(r) for r in rows]


async def lock_admin_ids(conn: AsyncConnection) -> set[int]:
    """The admins' ids, locked until the transaction ends: role changes and deletions run one
    after the other, each seeing the others' outcome (SQLite: the write lock)."""
    query = sa.select(users.c.id).where(users.c.role == Role.ADMIN.value).with_for_update()
    return set((await conn.execute(query)).scalars())


async def rows_wanting_all(conn: AsyncConnection) -> list:
    """The admins with a verified address who asked for every mail (`notifications = tout`)."""
    query = sa.select(users).where(
        users.c.role == Role.ADMIN.value, users.c.notifications == "tout", users.c.email_verifie == sa.true()
    )
    return list((await conn.execute(query)).all())
