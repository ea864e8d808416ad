"""Categories: `Catégorie` of a new ticket, the admins' `Catégories` screen, a ticket's category."""

from __future__ import annotations

from typing import Literal

from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..context import SessionContext
from ..domain import validation
from ..domain.models import Category, Ticket, Urgency, User
from ..errors import DatabaseUnavailable, ServiceRestarting, UserError
from ..i18n import _
from ..ui.screens import menu
from ..ui.terminal import Terminal
from ..ui.text import plain, wrap
from .common import Notice, ask_valid


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


def _label(c: Category) -> str:
    return c.name if c.active else _("{name} (désactivée)").format(name=c.name)


async def categories_screen(term: Terminal, ctx: SessionContext) -> Notice:
    """`Catégories` (admins): add one, or open one to rename, deactivate or set its defaults."""
    notice = Notice()
    while True:
        listed = await ctx.all_categories()
        chosen = await menu(
            term,
            _("Catégories"),
            [("add", _("Ajouter une catégorie")), *[(c.id, _label(c)) for c in listed]],
            **notice.kwargs(),
        )
        if chosen is None:
            return Notice()
        try:
            if chosen == "add":
                notice = await _add(term, ctx)
            else:
                notice = await _category_screen(term, ctx, chosen)
        except UserError as exc:
            notice = Notice.fail(exc.message)


async def _named(term: Terminal, title: str, save, default: str = "") -> Category | None:
    """Ask a name until `save(name)` accepts it (each refusal above the field); None: cancelled."""
    notice, typed = Notice(), default
    while True:
        name = await ask_valid(
            term,
            title,
            _("Nom"),
            [],
            validation.category_name,
            notice=notice,
            help_text=_("(une ligne, {max} caractères au plus)").format(max=validation.CATEGORY_MAX),
            max_chars=validation.CATEGORY_MAX,
            **({"default": typed} if typed else {}),
        )
        if name is None:
            return None
        try:
            return await save(name)
        except UserError as exc:
            notice, typed = Notice.fail(exc.message), name


async def _add(term: Terminal, ctx: SessionContext) -> Notice:
    category = await _named(term, _("Ajouter une catégorie"), ctx.add_category)
    if category is None:
        return Notice()
    return Notice(_("Catégorie « {name} » ajoutée.").format(name=category.name))


def category_lines(c: Category, width: int) -> list[StyleAndTextTuples]:
    rows = [
        _("Catégorie : {name}").format(name=c.name),
        _("État : {state}").format(state=_("active") if c.active else _("désactivée")),
        _("Assigné par défaut : {name}").format(name=c.default_assignee_name or _("personne")),
        _("Urgence par défaut : {level}").format(
            level=c.default_urgency.label if c.default_urgency else _("aucune")
        ),
    ]
    return [[("", line)] for row in rows for line in wrap(row, width, multiline=False)]


async def _category_screen(term: Terminal, ctx: SessionContext, category_id: int) -> Notice:
    notice = Notice()
    while True:
        category = next((c for c in await ctx.all_categories() if c.id == category_id), None)
        if category is None:
            return Notice.fail(_("Cette catégorie n'existe plus."))
        items = [
            ("rename", _("Renommer")),
            ("toggle", _("Désactiver") if category.active else _("Réactiver")),
            ("assignee", _("Assigné par défaut")),
            ("urgency", _("Urgence par défaut")),
        ]
        choice = await menu(
            term,
            _("Catégorie #{id}").format(id=category.id),
            items,
            body=lambda width, c=category: category_lines(c, width),
            **notice.kwargs(),
        )
        if choice is None:
            return notice
        try:
            notice = await _act(term, ctx, category, choice)
        except UserError as exc:
            notice = Notice.fail(exc.message)


async def _act(term: Terminal, ctx: SessionContext, category: Category, choice: str) -> Notice:
    match choice:
        case "rename":
            done = await _named(
                term,
                _("Renommer la catégorie"),
                lambda name: ctx.rename_category(category.id, name),
                category.name,
            )
            if done is None:
                return Notice()
            return Notice(_("Catégorie renommée : {name}.").format(name=done.name))
        case "toggle":
            done = await ctx.set_category_active(category.id, not category.active)
            if done.active:
                return Notice(_("Catégorie réactivée : elle est de nouveau proposée."))
            return Notice(_("Catégorie désactivée : elle n'est plus proposée aux nouveaux tickets."))
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
