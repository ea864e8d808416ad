"""`Nouveau ticket`: title, category, place, description and urgency, sent once."""

from __future__ import annotations

from ..context import SessionContext, TicketForm
from ..domain import validation
from ..domain.models import Ticket, Urgency
from ..errors import UserError
from ..i18n import _
from ..ui.screens import menu
from ..ui.terminal import Terminal
from ..ui.text import plain
from .categories import ask_category
from .common import Notice, ask_valid
from .places import ask_place
from .tickets import ticket_screen


async def new_ticket(term: Terminal, ctx: SessionContext, follows: Ticket | None = None) -> Notice:
    """`follows`: the closed ticket this one follows up, named in the title offered."""
    title_text = _("Nouveau ticket")
    named = {}
    if follows is not None:
        offered = _("Suite du ticket #{id} : {title}").format(id=follows.id, title=follows.title)
        named["default"] = offered[: validation.TITLE_MAX]
    title = await ask_valid(
        term,
        title_text,
        _("Titre"),
        [],
        validation.title,
        help_text=_("(une ligne, {max} caractères au plus)").format(max=validation.TITLE_MAX),
        max_chars=validation.TITLE_MAX,
        **named,
    )
    if title is None:
        return Notice(_("Ticket abandonné."))
    category = await ask_category(term, ctx, title_text, title)
    if category is False:
        return Notice(_("Ticket abandonné."))
    done = [(_("Titre"), title)] + ([(_("Catégorie"), category.name)] if category else [])
    place = await ask_place(term, ctx, title_text, done)
    if place is False:
        return Notice(_("Ticket abandonné."))
    if place:
        done.append((_("Lieu"), place.name))
    description = await ask_valid(
        term,
        title_text,
        _("Description"),
        done,
        validation.description,
        multiline=True,
        help_text=_("({max} caractères au plus)").format(max=validation.DESCRIPTION_MAX),
        max_chars=validation.DESCRIPTION_MAX,
    )
    if description is None:
        return Notice(_("Ticket abandonné."))
    form = TicketForm()
    notice = Notice()
    levels = list(Urgency)
    preselected = category.default_urgency if category else None
    while True:
        urgency = await menu(
            term,
            title_text,
            [(u, u.label) for u in levels],
            # What was typed stays on screen while the ticket waits to be sent again.
            body=lambda width: [
                *plain(_("Titre : {title}").format(title=title), width=width),
                *(plain(_("Catégorie : {name}").format(name=category.name), width=width) if category else []),
                *(plain(_("Lieu : {name}").format(name=place.name), width=width) if place else []),
                *_first_lines(description, width),
                [],
                [("class:label", _("Urgence :"))],
            ],
            back_label=_("Annuler"),
            start=levels.index(preselected) if preselected else 0,
            **notice.kwargs(),
        )
        if urgency is None:
            return Notice(_("Ticket abandonné."))
        try:
            # The same form sent again never makes a second ticket.
            ticket_id = await ctx.create_ticket(
                title,
                description,
                urgency,
                form,
                category.id if category else None,
                place.id if place else None,
                follows=follows.id if follows else None,
            )
            break
        except UserError as exc:
            notice = Notice.fail(exc.message)
    created = _("Ticket #{id} créé.").format(id=ticket_id)
    try:
        ticket = await ctx.open_ticket(ticket_id)
    except UserError:
        # The ticket is written: the user must not be told to send it again.
        return Notice(
            created + " " + _("L'affichage n'a pas pu être actualisé : ouvrez-le dans Mes tickets.")
        )
    return await ticket_screen(term, ctx, ticket_id, Notice(created), ticket=ticket)


def _first_lines(text: str, width: int, count: int = 3) -> list:
    lines = plain(text, "class:dim", width=width)
    return lines[:count] + ([[("class:dim", "…")]] if len(lines) > count else [])
