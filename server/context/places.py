"""Places: those offered to a new ticket, the one an address is at, their management by admins."""

from __future__ import annotations

import ipaddress

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import validation
from ..domain.access import Access
from ..domain.models import Action, Place, Ticket
from ..errors import ValidationError
from ..i18n import N_, _
from ..store import places
from .catalogue import Catalogue

UNKNOWN = N_("Ce lieu n'existe plus.")


def client_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP of a session's address (`10.1.2.3:51000`, `2001:db8::5:51000`, relabelled by the
    PROXY header when there is one); an IPv4 client seen through IPv6 as its IPv4 address."""
    host = address.rsplit(":", 1)[0].strip("[]").split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def most_specific(ip, networks: list[tuple[str, int, str]]) -> tuple[int, str] | None:
    """(place id, name) of the longest-prefix network holding `ip`; None when none does."""
    best: tuple[int, int, str] | None = None
    for text, place_id, name in networks:
        network = ipaddress.ip_network(text)
        fits = network.version == ip.version and ip in network
        if fits and (best is None or network.prefixlen > best[0]):
            best = (network.prefixlen, place_id, name)
    return (best[1], best[2]) if best else None


class Places(Catalogue):
    """`Lieu` of `Nouveau ticket`, the admins' `Lieux` screen, a ticket's place."""

    access = Access.MANAGE_PLACES
    kind = "place"
    store = places
    rule = staticmethod(validation.place_name)
    unknown = UNKNOWN
    taken = N_("Un lieu porte déjà ce nom.")
    already_active = N_("Le lieu est déjà actif.")
    already_inactive = N_("Le lieu est déjà désactivé.")

    ticket_column = "lieu_id"
    moved = Action.PLACE_CHANGED

    offered_places = Catalogue._offered
    all_places = Catalogue._all

    async def place_of_address(self) -> Place | None:
        """The active place whose most specific network holds the session's address."""
        self.ctx.require(Access.CREATE_TICKET)
        ip = client_ip(self.ctx.address)
        if ip is None:
            return None
        async with self.ctx.db.transaction() as conn:
            found = most_specific(ip, await places.active_networks(conn))
        return Place(found[0], found[1]) if found else None

    add_place = Catalogue._add
    rename_place = Catalogue._rename
    set_place_active = Catalogue._set_active

    async def add_network(self, place_id: int, network: str) -> Place:
        """A network (CIDR) of this place; one network belongs to one place only."""
        cidr = validation.network(network)

        async def change(conn: AsyncConnection) -> int:
            await self._existing(conn, place_id)
            owner = await places.network_owner(conn, cidr)
            if owner == place_id:
                raise ValidationError(_("Ce réseau est déjà celui de ce lieu."))
            if owner is not None:
                raise ValidationError(_("Ce réseau est déjà celui d'un autre lieu."))
            await places.add_network(conn, place_id, cidr)
            return place_id

        return await self._write(f"network added {cidr}", change)

    async def remove_network(self, place_id: int, network: str) -> Place:
        async def change(conn: AsyncConnection) -> int:
            await self._existing(conn, place_id)
            if not await places.remove_network(conn, place_id, network):
                raise ValidationError(_("Ce lieu n'a pas ce réseau."))
            return place_id

        return await self._write(f"network removed {network}", change)

    async def change_place(self, ticket_id: int, place_id: int | None) -> Ticket:
        """An admin gives a ticket another place (None: no place), with its history entry."""
        return await self._move(ticket_id, place_id, Access.CHANGE_PLACE, N_("Le ticket est déjà à ce lieu."))
