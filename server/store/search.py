"""Ticket lists: the one ticket-summary select behind every list, and the admins' search page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.due import is_late
from ..domain.models import OPEN_STATUSES, Status, TicketFilter, TicketSort, TicketSummary, Urgency
from ..domain.paging import clamp_page
from .reads import unread
from .schema import categories, places, statuses, tickets
from .tickets import assignee, author, status_ids, with_names


@dataclass(frozen=True)
class Reader:
    """Whose list it is: their unread markers, and whether internal notes count in them."""

    user_id: int
    with_internal: bool
    # What "late" is measured against.
    now: datetime | None = None


def _summary(row, now: datetime | None) -> TicketSummary:
    status = Status(row.libelle)
    return TicketSummary(
        id=row.id,
        title=row.titre,
        urgency=Urgency(row.urgence),
        status=status,
        author_name=row.nom,
        created_at=row.created_at,
        unread=bool(row.non_lu),
        assignee_name=row.assigne_nom,
        category_name=row.categorie_nom,
        place_name=row.lieu_nom,
        due_at=row.echeance,
        late=now is not None and is_late(status, row.echeance, now, row.pause_depuis),
    )


async def summaries(conn: AsyncConnection, reader: Reader, where, order) -> list[TicketSummary]:
    """The tickets matching `where`, in `order`, as lines of a list."""
    query = (
        with_names(
            sa.select(
                tickets.c.id,
                tickets.c.titre,
                tickets.c.urgence,
                statuses.c.libelle,
                author.c.nom,
                tickets.c.created_at,
                unread(reader.user_id, with_internal=reader.with_internal),
                assignee.c.nom.label("assigne_nom"),
                categories.c.nom.label("categorie_nom"),
                places.c.nom.label("lieu_nom"),
                tickets.c.echeance,
                tickets.c.pause_depuis,
            )
        )
        .where(where)
        .order_by(*order)
    )
    return [_summary(r, reader.now) for r in await conn.execute(query)]


NEWEST_FIRST = (tickets.c.created_at.desc(), tickets.c.id.desc())


async def written_by(conn: AsyncConnection, reader: Reader, author_id: int) -> list[TicketSummary]:
    return await summaries(conn, reader, tickets.c.auteur_id == author_id, NEWEST_FIRST)


async def every(conn: AsyncConnection, reader: Reader) -> list[TicketSummary]:
    return await summaries(conn, reader, sa.true(), NEWEST_FIRST)


async def open_assigned_to(conn: AsyncConnection, reader: Reader, assignee_id: int) -> list[TicketSummary]:
    """The tickets assigned to this admin that are not resolved yet, newest first."""
    resolved = (await status_ids(conn))[Status.RESOLVED]
    where = sa.and_(tickets.c.assigne_id == assignee_id, tickets.c.statut_id != resolved)
    return await summaries(conn, reader, where, NEWEST_FIRST)


def _order(conn: AsyncConnection, sort: TicketSort, late_first=None) -> list:
    # MySQL sorts an ENUM by its declared order (Faible < Moyenne < Haute) and can read it
    # from the index; SQLite stores the label as text, so it needs the rank spelled out.
    if conn.dialect.name == "mysql":
        rank = tickets.c.urgence
    else:
        rank = sa.case(
            (tickets.c.urgence == Urgency.HIGH.value, 3),
            (tickets.c.urgence == Urgency.MEDIUM.value, 2),
            else_=1,
        )
    match sort:
        case TicketSort.URGENCY_DESC:
            # The default view: late tickets first, then by urgency.
            first = [sa.case((late_first, 0), else_=1)] if late_first is not None else []
            return [*first, rank.desc(), tickets.c.created_at, tickets.c.id]
        case TicketSort.URGENCY_ASC:
            return [rank, tickets.c.created_at, tickets.c.id]
        case TicketSort.DATE_ASC:
            return [tickets.c.created_at, tickets.c.id]
        case TicketSort.DATE_DESC:
            return [tickets.c.created_at.desc(), tickets.c.id.desc()]


def late_condition(open_ids: list[int], now: datetime):
    """Open and past its due date; a ticket waiting for its requester counts from when the wait
    began (domain.due.is_late, in SQL)."""
    paused = tickets.c.pause_depuis
    return sa.and_(
        tickets.c.statut_id.in_(open_ids),
        tickets.c.echeance < now,
        sa.or_(paused.is_(None), tickets.c.echeance < paused),
    )


async def _conditions(conn: AsyncConnection, filters: TicketFilter, text: str, now: datetime | None) -> list:
    conditions = []
    if filters.late and now is not None:
        ids = await status_ids(conn)
        conditions.append(late_condition(sorted(ids[s] for s in OPEN_STATUSES), now))
    if filters.statuses:
        ids = await status_ids(conn)
        conditions.append(tickets.c.statut_id.in_(sorted(ids[s] for s in filters.statuses)))
    if filters.urgencies:
        conditions.append(tickets.c.urgence.in_(sorted(u.value for u in filters.urgencies)))
    if filters.unassigned:
        conditions.append(tickets.c.assigne_id.is_(None))
    elif filters.assignee is not None:
        conditions.append(tickets.c.assigne_id == filters.assignee.id)
    if filters.author is not None:
        conditions.append(tickets.c.auteur_id == filters.author.id)
    if filters.category is not None:
        conditions.append(tickets.c.categorie_id == filters.category.id)
    if filters.place is not None:
        conditions.append(tickets.c.lieu_id == filters.place.id)
    if text:
        # autoescape: %, _ and the escape character itself match literally.
        conditions.append(
            sa.or_(
                tickets.c.titre.contains(text, autoescape=True),
                tickets.c.description.contains(text, autoescape=True),
            )
        )
    return conditions


async def page(
    conn: AsyncConnection,
    reader: Reader,
    filters: TicketFilter,
    text: str,
    sort: TicketSort,
    page_size: int,
    page: int,
) -> tuple[list[TicketSummary], int, int]:
    """One page of the tickets matching `filters` and `text`: (its lines, how many in all, its
    number). A page past the end gives the last one.

    The page's ids are chosen first, on an index alone where the filters allow; then only those
    rows are read and joined to their names (one query with a derived table let MariaDB start
    from the users at deep pages).
    """
    conditions = await _conditions(conn, filters, text, reader.now)
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(tickets).where(*conditions))
    ).scalar_one()
    page = clamp_page(page, total, page_size)
    late_first = None
    if reader.now is not None:
        ids = await status_ids(conn)
        late_first = late_condition(sorted(ids[s] for s in OPEN_STATUSES), reader.now)
    order = _order(conn, sort, late_first)
    if total == 0:
        return [], total, page  # no second pass over the table (a text search scans it)
    ids_query = sa.select(tickets.c.id).where(*conditions).order_by(*order)
    ids = (await conn.execute(ids_query.limit(page_size).offset((page - 1) * page_size))).scalars().all()
    return await summaries(conn, reader, tickets.c.id.in_(ids), order), total, page
