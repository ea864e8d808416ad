"""Places: `Lieu` of a new ticket, the admins' `Lieux` screen and its networks, a ticket's place."""

from __future__ import annotations

from typing import Literal

from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..context import SessionContext
from ..domain import validation
from ..domain.models import Place, Ticket
from ..errors import DatabaseUnavailable, ServiceRestarting, UserError
from ..i18n import _
from ..ui.screens import menu
from ..ui.terminal import Terminal
from ..ui.text import plain
from .catalogue import Settings, detail_lines, settings_screen
from .common import Notice, ask_valid


async def ask_place(
    term: Terminal, ctx: SessionContext, title_text: str, done: list[tuple[str, str]]
) -> Place | Literal[False] | None:
    """`Lieu` of `Nouveau ticket`: the active places, the one of the client's address selected
    first; None when none is offered or the user leaves it empty, False if the user cancels."""
    try:
        offered = await ctx.offered_places()
        here = await ctx.place_of_address() if offered else None
    except (DatabaseUnavailable, ServiceRestarting):
        # As for the category: the form goes on, an admin can set the place later.
        return None
    if not offered:
        return None
    items: list[tuple[Place | str, str]] = [(p, p.name) for p in offered]
    items.append(("none", _("Aucun lieu")))
    start = next((i for i, p in enumerate(offered) if here and p.id == here.id), len(offered))
    hint = (
        _("(d'après votre adresse : {name} ; changez-le si besoin)").format(name=here.name)
        if here
        else _("(où êtes-vous ? « Aucun lieu » si vous ne savez pas)")
    )
    chosen = await menu(
        term,
        title_text,
        items,
        body=lambda width: [
            *[line for label, value in done for line in plain(f"{label} : {value}", width=width)],
            [],
            [("class:label", _("Lieu :"))],
            *plain(hint, "class:dim", width=width),
        ],
        back_label=_("Annuler"),
        start=start,
    )
    if chosen is None:
        return False
    return None if chosen == "none" else chosen


async def change_place(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    """`Changer le lieu` of a ticket (admins)."""
    current = _(" (actuel)")
    offered = await ctx.offered_places()
    chosen = await menu(
        term,
        _("Ticket #{id} : changer le lieu").format(id=ticket.id),
        [
            *[(p, p.name + (current if p.id == ticket.place_id else "")) for p in offered],
            ("none", _("Aucun lieu") + (current if ticket.place_id is None else "")),
        ],
        body=lambda width: [[("class:label", _("Nouveau lieu :"))]],
    )
    if chosen is None:
        return ticket, Notice()
    place_id = None if chosen == "none" else chosen.id
    ticket = await ctx.change_place(ticket.id, place_id)
    return ticket, Notice(_("Lieu changé : {name}.").format(name=ticket.place_name or _("aucun")))


# The rule of a place's name and its length.
NAMING = (validation.place_name, validation.PLACE_MAX)


def _label(p: Place) -> str:
    return p.name if p.active else _("{name} (désactivé)").format(name=p.name)


async def places_screen(term: Terminal, ctx: SessionContext) -> Notice:
    """`Lieux` (admins): add one, or open one to rename, deactivate or change its networks."""
    return await settings_screen(
        term,
        Settings(
            _("Lieux"),
            _("Ajouter un lieu"),
            _("Lieu « {name} » ajouté."),
            _("Ce lieu n'existe plus."),
            _("Lieu #{id}"),
            _("Renommer le lieu"),
            _("Lieu renommé : {name}."),
            _("Lieu réactivé : il est de nouveau proposé."),
            _("Lieu désactivé : il n'est plus proposé aux nouveaux tickets."),
            NAMING,
            ctx.all_places,
            _label,
            ctx.add_place,
            ctx.rename_place,
            ctx.set_place_active,
            place_lines,
            _entries,
            lambda place, choice: _act(term, ctx, place, choice),
            body=lambda width: plain(
                _("Un nouveau ticket est placé au lieu dont un réseau contient l'adresse du client."),
                "class:dim",
                width=width,
            ),
        ),
    )


def place_lines(p: Place, width: int) -> list[StyleAndTextTuples]:
    return detail_lines(
        [
            _("Lieu : {name}").format(name=p.name),
            _("État : {state}").format(state=_("actif") if p.active else _("désactivé")),
            _("Réseaux : {list}").format(list=", ".join(p.networks) if p.networks else _("aucun")),
        ],
        width,
    )


def _entries(place: Place) -> list[tuple[str, str]]:
    items = [("add_network", _("Ajouter un réseau"))]
    if place.networks:
        items.append(("remove_network", _("Retirer un réseau")))
    return items


async def _act(term: Terminal, ctx: SessionContext, place: Place, choice: str) -> Notice:
    match choice:
        case "add_network":
            return await _add_network(term, ctx, place)
        case "remove_network":
            network = await menu(
                term,
                _("Retirer un réseau"),
                [(n, n) for n in place.networks],
                body=lambda width: plain(place.name, width=width),
            )
            if network is None:
                return Notice()
            await ctx.remove_network(place.id, network)
            return Notice(_("Réseau {net} retiré.").format(net=network))
    return Notice()


async def _add_network(term: Terminal, ctx: SessionContext, place: Place) -> Notice:
    notice, typed = Notice(), ""
    while True:
        network = await ask_valid(
            term,
            _("Ajouter un réseau"),
            _("Réseau"),
            [(_("Lieu"), place.name)],
            validation.network,
            notice=notice,
            help_text=_("(CIDR : 10.12.0.0/16, 192.168.4.0/24, 2001:db8::/32 ; une adresse seule aussi)"),
            max_chars=validation.NETWORK_MAX,
            **({"default": typed} if typed else {}),
        )
        if network is None:
            return Notice()
        try:
            await ctx.add_network(place.id, network)
            return Notice(_("Réseau {net} ajouté.").format(net=network))
        except UserError as exc:
            notice, typed = Notice.fail(exc.message), network
