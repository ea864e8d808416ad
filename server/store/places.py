"""Places: the `lieux` rows and their networks (`reseaux_lieux`), read, added, changed."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import Place
from . import catalogue
from .schema import place_networks, places


async def listed(conn: AsyncConnection, *, active_only: bool) -> list[Place]:
    """The places in the order they were made, each with its networks."""
    query = sa.select(places).order_by(places.c.id)
    if active_only:
        query = query.where(places.c.active == sa.true())
    rows = (await conn.execute(query)).all()
    networks = await networks_by_place(conn, [r.id for r in rows])
    return [Place(r.id, r.nom, bool(r.active), tuple(networks.get(r.id, ()))) for r in rows]


async def networks_by_place(conn: AsyncConnection, place_ids: list[int]) -> dict[int, list[str]]:
    if not place_ids:
        return {}
    query = (
        sa.select(place_networks.c.lieu_id, place_networks.c.reseau)
        .where(place_networks.c.lieu_id.in_(place_ids))
        .order_by(place_networks.c.id)
    )
    found: dict[int, list[str]] = {}
    for r in await conn.execute(query):
        found.setdefault(r.lieu_id, []).append(r.reseau)
    return found


async def by_id(conn: AsyncConnection, place_id: int, *, lock: bool = False) -> Place | None:
    """One place with its networks (None if there is no such one); `lock` holds it."""
    query = sa.select(places).where(places.c.id == place_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    networks = await networks_by_place(conn, [row.id])
    return Place(row.id, row.nom, bool(row.active), tuple(networks.get(row.id, ())))


# names(conn), insert(conn, name), update(conn, id, …): nom or active.
_named = catalogue.Named(places)
names, insert, update = _named.names, _named.insert, _named.update


async def active_networks(conn: AsyncConnection) -> list[tuple[str, int, str]]:
    """(network, place id, place name) of every active place's networks."""
    query = sa.select(place_networks.c.reseau, places.c.id, places.c.nom).join(
        places, places.c.id == place_networks.c.lieu_id
    )
    rows = await conn.execute(query.where(places.c.active == sa.true()))
    return [(r.reseau, r.id, r.nom) for r in rows]


async def network_owner(conn: AsyncConnection, network: str) -> int | None:
    """The place that holds this network already (None: none), locked."""
    query = sa.select(place_networks.c.lieu_id).where(place_networks.c.reseau == network).with_for_update()
    return (await conn.execute(query)).scalar()


async def add_network(conn: AsyncConnection, place_id: int, network: str) -> None:
    await conn.execute(place_networks.insert().values(lieu_id=place_id, reseau=network))


async def remove_network(conn: AsyncConnection, place_id: int, network: str) -> int:
    """How many rows went (0: the place has no such network)."""
    result = await conn.execute(
        place_networks.delete().where(
            place_networks.c.lieu_id == place_id, place_networks.c.reseau == network
        )
    )
    return result.rowcount


async def any_active(conn: AsyncConnection) -> bool:
    query = sa.select(places.c.id).where(places.c.active == sa.true()).limit(1)
    return (await conn.execute(query)).first() is not None


async def offered(conn: AsyncConnection, place_id: int) -> bool | None:
    """Whether a new ticket may take this place (None: no such place); locked until the end."""
    query = sa.select(places.c.active).where(places.c.id == place_id).with_for_update()
    active = (await conn.execute(query)).scalar()
    return None if active is None else bool(active)
