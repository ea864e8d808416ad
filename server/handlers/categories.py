"""Categories: `Catégorie` of a new ticket, the admins' `Catégories` screen, a ticket's category."""

from __future__ import annotations

from typing import Literal

from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..context import SessionContext
from ..domain import validation
from ..domain.models import Category, Ticket, Urgency, User
from ..errors import DatabaseUnavailable, ServiceRestarting
from ..i18n import _
from ..ui.screens import menu
from ..ui.terminal import Terminal
from ..ui.text import plain
from .catalogue import Settings, detail_lines, settings_screen
from .common import Notice


async def ask_category(
    term: Terminal, ctx: SessionContext, title_text: str, title: str
) -> Category | Literal[False] | None:
    """`Catégorie` of `Nouveau ticket`: the one chosen, None when none is offered (or the
    database cannot say which for now), False if the user cancels."""
    try:
        offered = await ctx.offered_categories()
    except (DatabaseUnavailable, ServiceRestarting):
        # The form goes on as typed and waits to be sent; an admin can set the category later.
        return None
    if not offered:
        return None
    chosen = await menu(
        term,
        title_text,
        [(c, c.name) for c in offered],
        body=lambda width: [
            *plain(_("Titre : {title}").format(title=title), width=width),
            [],
            [("class:label", _("Catégorie :"))],
        ],
        back_label=_("Annuler"),
    )
    return False if chosen is None else chosen


async def change_category(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    """`Changer la catégorie` of a ticket (admins)."""
    current = _(" (actuelle)")
    chosen: Category | None = await menu(
        term,
        _("Ticket #{id} : changer la catégorie").format(id=ticket.id),
        [
            (c, c.name + (current if c.id == ticket.category_id else ""))
            for c in await ctx.offered_categories()
        ],
        body=lambda width: [[("class:label", _("Nouvelle catégorie :"))]],
    )
    if chosen is None:
        return ticket, Notice()
    ticket = await ctx.change_category(ticket.id, chosen.id)
    return ticket, Notice(_("Catégorie changée : {name}.").format(name=chosen.name))


# The rule of a category's name and its length.
NAMING = (validation.category_name, validation.CATEGORY_MAX)


def _label(c: Category) -> str:
    return c.name if c.active else _("{name} (désactivée)").format(name=c.name)


async def categories_screen(term: Terminal, ctx: SessionContext) -> Notice:
    """`Catégories` (admins): add one, or open one to rename, deactivate or set its defaults."""
    return await settings_screen(
        term,
        Settings(
            _("Catégories"),
            _("Ajouter une catégorie"),
            _("Catégorie « {name} » ajoutée."),
            _("Cette catégorie n'existe plus."),
            _("Catégorie #{id}"),
            _("Renommer la catégorie"),
            _("Catégorie renommée : {name}."),
            _("Catégorie réactivée : elle est de nouveau proposée."),
            _("Catégorie désactivée : elle n'est plus proposée aux nouveaux tickets."),
            NAMING,
            ctx.all_categories,
            _label,
            ctx.add_category,
            ctx.rename_category,
            ctx.set_category_active,
            category_lines,
            lambda category: [("assignee", _("Assigné par défaut")), ("urgency", _("Urgence par défaut"))],
            lambda category, choice: _act(term, ctx, category, choice),
        ),
    )


def category_lines(c: Category, width: int) -> list[StyleAndTextTuples]:
    return detail_lines(
        [
            _("Catégorie : {name}").format(name=c.name),
            _("État : {state}").format(state=_("active") if c.active else _("désactivée")),
            _("Assigné par défaut : {name}").format(name=c.default_assignee_name or _("personne")),
            _("Urgence par défaut : {level}").format(
                level=c.default_urgency.label if c.default_urgency else _("aucune")
            ),
        ],
        width,
    )


async def _act(term: Terminal, ctx: SessionContext, category: Category, choice: str) -> Notice:
    match choice:
        case "assignee":
            admins = await ctx.assignees()
            nobody = _("Personne")
            who: User | str | None = await menu(
                term,
                _("Assigné par défaut"),
                [("nobody", nobody), *[(a, a.name) for a in admins]],
                body=lambda width: plain(category.name, width=width),
            )
            if who is None:
                return Notice()
            assignee_id = None if who == "nobody" else who.id  # type: ignore[union-attr]
            done = await ctx.set_category_defaults(category.id, assignee_id, category.default_urgency)
            return Notice(_("Assigné par défaut : {name}.").format(name=done.default_assignee_name or nobody))
        case "urgency":
            none = _("Aucune")
            level: Urgency | str | None = await menu(
                term,
                _("Urgence par défaut"),
                [("none", none), *[(u, u.label) for u in Urgency]],
                body=lambda width: plain(category.name, width=width),
            )
            if level is None:
                return Notice()
            urgency = None if level == "none" else level
            done = await ctx.set_category_defaults(category.id, category.default_assignee_id, urgency)
            shown = done.default_urgency.label if done.default_urgency else none
            return Notice(_("Urgence par défaut : {level}.").format(level=shown))
    return Notice()
