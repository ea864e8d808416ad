"""Ticket screens: main menu, new ticket, lists, one ticket and what can be done on it."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from prompt_toolkit.formatted_text import StyleAndTextTuples, fragment_list_width

from ..context import SessionContext, TicketForm
from ..domain import validation
from ..domain.models import Action, HistoryEntry, Status, Ticket, TicketSummary, Urgency, User
from ..errors import DatabaseUnavailable, ServiceRestarting, UserError
from ..i18n import _
from ..security import safe_text
from ..ui.columns import Cell, Column
from ..ui.screens import confirm, menu, ticket_table
from ..ui.terminal import Terminal, plain, wrap
from .categories import ask_category, categories_screen, change_category
from .common import Notice, ask_valid
from .dashboard import show_dashboard
from .finder import find_tickets
from .profile import my_account
from .ticket_columns import (
    ASSIGNEE,
    ASSIGNEE_NAMED,
    AUTHOR,
    AUTHOR_KEPT,
    DATE,
    NUMBER,
    STATUS,
    TITLE,
    URGENCY,
    date,
    person,
    status,
)
from .users import users_list


def when(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M")


async def main_menu(term: Terminal, ctx: SessionContext, notice: Notice) -> Notice | None:
    """The logged-in home; returns after logout (None) or with a notice for the next round."""
    items = [("new", _("Nouveau ticket")), ("mine", _("Mes tickets"))]
    if ctx.can_list_all():
        items.append(("all", _("Tous les tickets")))
    if ctx.can_have_assignments():
        items.append(("assigned", _("Mes tickets assignés")))
    if ctx.can_view_dashboard():
        items.append(("dashboard", _("Tableau de bord")))
    if ctx.can_manage_users():
        items.append(("users", _("Utilisateurs")))
    if ctx.can_manage_categories():
        items.append(("categories", _("Catégories")))
    items.append(("account", _("Mon compte")))
    items.append(("logout", _("Déconnexion")))
    choice = await menu(
        term, _("Menu principal"), items, back_label=None, back_hint=_("déconnexion"), **notice.kwargs()
    )
    try:
        match choice:
            case "new":
                return await new_ticket(term, ctx)
            case "mine":
                return await ticket_list(term, ctx)
            case "all":
                return await find_tickets(term, ctx, ticket_screen)
            case "assigned":
                return await assigned_list(term, ctx)
            case "dashboard":
                return await show_dashboard(term, ctx)
            case "users":
                return await users_list(term, ctx)
            case "categories":
                return await categories_screen(term, ctx)
            case "account":
                return await my_account(term, ctx)
    except UserError as exc:
        return Notice.fail(exc.message)
    ctx.logout()
    return None


async def new_ticket(term: Terminal, ctx: SessionContext) -> Notice:
    title_text = _("Nouveau ticket")
    title = await ask_valid(
        term,
        title_text,
        _("Titre"),
        [],
        validation.title,
        help_text=_("(une ligne, {max} caractères au plus)").format(max=validation.TITLE_MAX),
        max_chars=validation.TITLE_MAX,
    )
    if title is None:
        return Notice(_("Ticket abandonné."))
    category = await ask_category(term, ctx, title_text, title)
    if category is False:
        return Notice(_("Ticket abandonné."))
    done = [(_("Titre"), title)] + ([(_("Catégorie"), category.name)] if category else [])
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
            [(u, u.value) for u in levels],
            # What was typed stays on screen while the ticket waits to be sent again.
            body=lambda width: [
                *plain(_("Titre : {title}").format(title=title), width=width),
                *(plain(_("Catégorie : {name}").format(name=category.name), width=width) if category else []),
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
                title, description, urgency, form, category.id if category else None
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


async def ticket_list(term: Terminal, ctx: SessionContext) -> Notice:
    """`Mes tickets`: a list that stays open; each ticket opened from it comes back to it."""
    return await _browse(
        term,
        ctx,
        _("Mes tickets"),
        ctx.my_tickets,
        with_author=False,
        empty=_("Aucun ticket pour l'instant."),
    )


async def assigned_list(term: Terminal, ctx: SessionContext) -> Notice:
    """`Mes tickets assignés`: the admin's own open tickets to handle."""
    return await _browse(
        term,
        ctx,
        _("Mes tickets assignés"),
        ctx.assigned_tickets,
        with_author=True,
        with_assignee=False,
        empty=_("Aucun ticket ouvert ne vous est assigné."),
    )


async def _browse(
    term: Terminal,
    ctx: SessionContext,
    title: str,
    load: Callable[[], Awaitable[list[TicketSummary]]],
    *,
    with_author: bool,
    with_assignee: bool = True,
    empty: str,
) -> Notice:
    notice = Notice()
    unread: set[int] = set()

    async def rows() -> list[tuple[int, list[str]]]:
        summaries = await load()
        unread.clear()
        unread.update(t.id for t in summaries if t.unread)
        return [(t.id, _cells(t, with_author, with_assignee)) for t in summaries]

    while True:
        chosen = await ticket_table(
            term,
            title,
            _columns(with_author, with_assignee),
            await rows(),
            empty=empty,
            reload=rows,
            marked=unread.__contains__,
            **notice.kwargs(),
        )
        if chosen is None:
            return Notice()
        try:
            notice = await ticket_screen(term, ctx, chosen, Notice())
        except UserError as exc:
            notice = Notice.fail(exc.message)


def _columns(with_author: bool, with_assignee: bool = True) -> list[Column]:
    columns = [NUMBER, TITLE]
    if with_author:
        columns.append(AUTHOR if with_assignee else AUTHOR_KEPT)
    if with_assignee:
        columns.append(ASSIGNEE if with_author else ASSIGNEE_NAMED)
    return [*columns, URGENCY, STATUS, DATE]


def _cells(t: TicketSummary, with_author: bool, with_assignee: bool = True) -> list[Cell]:
    cells: list[Cell] = [f"#{t.id}", t.title]
    if with_author:
        cells.append(person(t.author_name))
    if with_assignee:
        cells.append(person(t.assignee_name))
    return [*cells, t.urgency.value, status(t.status), date(t.created_at)]


async def ticket_screen(
    term: Terminal, ctx: SessionContext, ticket_id: int, notice: Notice, ticket: Ticket | None = None
) -> Notice:
    """One ticket and its timeline (`ticket` if already loaded); the actions the context allows
    are offered below it."""
    shown = [ticket or await ctx.open_ticket(ticket_id)]
    # Which showing of the menu a reload belongs to: one finishing after the user has acted
    # must not put back the ticket as it was before the action.
    showing = [0]
    # What the last action said; it goes once the ticket changes under it (« Statut changé :
    # Résolu. » would contradict a reopening shown in the timeline).
    said = [notice]

    async def reload() -> None:
        # News while the ticket is on screen: what is drawn is what has been seen.
        mine = showing[0]
        fresh = await ctx.ticket(ticket_id)
        if mine == showing[0]:
            if fresh != shown[0]:
                said[0] = Notice()
            shown[0] = fresh
            await ctx.mark_read(fresh)

    drawn: dict = {}

    def body(width: int) -> list:
        # Wrapped once per ticket and width, not at every redraw: a long conversation would
        # otherwise cost each key press a full wrap, on the loop every session shares.
        if drawn.get("ticket") is not shown[0] or drawn.get("width") != width:
            drawn.update(ticket=shown[0], width=width, lines=ticket_lines(shown[0], width))
        return drawn["lines"]

    # After a change of status, assignee or category the ticket's head (where it shows) stays
    # in view; a reply, note or reopening is shown where it went, at the end of the timeline.
    to_end = False
    while True:
        choice = await menu(
            term,
            _("Ticket #{id}").format(id=ticket_id),
            # The entries follow the ticket's news (`Le problème persiste` once it is resolved).
            lambda: ticket_actions(ctx, shown[0]),
            body=body,
            body_at_end=to_end,
            refresh=reload,
            notice=lambda: said[0].text,
            error=lambda: said[0].error,
        )
        showing[0] += 1
        ticket = shown[0]
        if choice is None:
            return Notice()
        to_end = choice in ("reply", "reopen", "note")
        try:
            fresh, said[0] = await TICKET_ACTIONS[choice](term, ctx, ticket)
        except UserError as exc:
            said[0] = Notice.fail(exc.message)
            # Someone may have changed the ticket meanwhile: offer what fits it as it is now.
            shown[0] = await ctx.open_ticket(ticket_id)
            continue
        # What came with the action (others' entries too) has been seen; if that cannot be
        # written, the action still is, and only its unread marker waits for the next opening.
        with contextlib.suppress(UserError):
            await ctx.mark_read(fresh)
        # Drawn from the next showing of the menu on: keys pressed before it (while the marker
        # is written) would go to a menu already answered.
        shown[0] = fresh


def ticket_actions(ctx: SessionContext, ticket: Ticket) -> list[tuple[str, str]]:
    """The entries of a ticket's menu, as the context allows them to this user."""
    items: list[tuple[str, str]] = []
    # `Changer le statut` stays first for admins: their habits and scripts press 1 for it.
    if ctx.can_change_status(ticket):
        items.append(("status", _("Changer le statut")))
    if ctx.can_reply(ticket):
        items.append(("reply", _("Répondre")))
    if ctx.can_reopen(ticket):
        items.append(("reopen", _("Le problème persiste")))
    if ctx.can_add_note(ticket):
        items.append(("note", _("Note interne")))
    if ctx.can_assign(ticket):
        if ctx.can_take(ticket):
            items.append(("take", _("Prendre en charge")))
        items.append(("assign", _("Assigner à…")))
        if ticket.assignee_id is not None:
            items.append(("unassign", _("Retirer l'assignation")))
    if ctx.can_change_category(ticket):
        items.append(("category", _("Changer la catégorie")))
    return items


async def reply(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    sent = await _send_message(
        term,
        _("Ticket #{id} : répondre").format(id=ticket.id),
        _("Réponse"),
        validation.reply,
        _("(visible du demandeur et du support, {max} caractères au plus)"),
        lambda text: ctx.reply(ticket.id, text),
    )
    if sent is None:
        return ticket, Notice(_("Réponse abandonnée."))
    return sent, Notice(_("Réponse envoyée."))


async def add_note(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    sent = await _send_message(
        term,
        _("Ticket #{id} : note interne").format(id=ticket.id),
        _("Note interne"),
        validation.note,
        _("(visible des seuls administrateurs, {max} caractères au plus)"),
        lambda text: ctx.add_note(ticket.id, text),
    )
    if sent is None:
        return ticket, Notice(_("Note abandonnée."))
    return sent, Notice(_("Note interne ajoutée."))


async def reopen(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    sent = await _send_message(
        term,
        _("Ticket #{id} : le problème persiste").format(id=ticket.id),
        _("Réponse"),
        validation.reply,
        _("(dites ce qui ne va toujours pas ; {max} caractères au plus)"),
        lambda text: ctx.reopen(ticket.id, text),
    )
    if sent is None:
        return ticket, Notice(_("Ticket laissé « Résolu »."))
    return sent, Notice(_("Réponse envoyée : le ticket repasse « En cours »."))


async def _send_message(
    term: Terminal,
    title: str,
    label: str,
    rule: Callable[[str], str],
    help_text: str,
    send: Callable[[str], Awaitable[Ticket]],
) -> Ticket | None:
    """Ask a message and send it; when the database or a restart refuses it for now, the
    message stays in its field with the sentence, to be sent again or abandoned."""
    notice, typed = Notice(), ""
    while True:
        text = await ask_valid(
            term,
            title,
            label,
            [],
            rule,
            notice=notice,
            multiline=True,
            help_text=help_text.format(max=validation.MESSAGE_MAX),
            max_chars=validation.MESSAGE_MAX,
            **({"default": typed} if typed else {}),
        )
        if text is None:
            return None
        try:
            return await send(text)
        except (DatabaseUnavailable, ServiceRestarting) as exc:
            notice, typed = Notice.fail(exc.message), text


async def take(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    ticket = await ctx.take(ticket.id)
    return ticket, Notice(_("Vous prenez le ticket #{id} en charge.").format(id=ticket.id))


async def assign(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    admins = await ctx.assignees()
    current = _(" (actuel)")
    chosen: User | None = await menu(
        term,
        _("Ticket #{id} : assigner à…").format(id=ticket.id),
        [(a, a.name + (current if a.id == ticket.assignee_id else "")) for a in admins],
        body=lambda width: [[("class:label", _("Administrateur :"))]],
    )
    if chosen is None:
        return ticket, Notice()
    ticket = await ctx.assign(ticket.id, chosen.id)
    return ticket, Notice(_("Ticket assigné à {name}.").format(name=chosen.name))


async def unassign(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    ticket = await ctx.assign(ticket.id, None)
    return ticket, Notice(_("Le ticket n'est plus assigné."))


async def change_status(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    title = _("Ticket #{id} : changer le statut").format(id=ticket.id)
    current = _(" (actuel)")
    status = await menu(
        term,
        title,
        [(s, s.value + (current if s is ticket.status else "")) for s in Status],
        body=lambda width: [[("class:label", _("Nouveau statut :"))]],
    )
    if status is None:
        return ticket, Notice()
    question = _("Passer le ticket #{id} de « {old} » à « {new} » ?").format(
        id=ticket.id, old=ticket.status.value, new=status.value
    )
    if not await confirm(term, title, question):
        return ticket, Notice(_("Changement annulé."))
    ticket = await ctx.change_status(ticket.id, status)
    return ticket, Notice(_("Statut changé : {status}.").format(status=status.value))


def ticket_lines(t: Ticket, width: int) -> list[StyleAndTextTuples]:
    """The ticket as lines of fragments; every user-typed text is wrapped (hence sanitised)."""
    lines: list[StyleAndTextTuples] = []
    head = wrap(_("Ticket #{id} — {title}").format(id=t.id, title=t.title), width, multiline=False)
    lines += [[("class:label", line)] for line in head]
    state = [
        ("class:label", _("Urgence : ")),
        ("", t.urgency.value + "    "),
        ("class:label", _("Statut : ")),
        ("", t.status.value),
    ]
    label, name = _("Catégorie : "), t.category_name or _("aucune")
    category = [("class:label", label), ("", wrap(name, width, multiline=False)[0])]
    # On the same line when it fits: the ticket's menu keeps its room on a 24-line screen.
    if fragment_list_width([*state, ("", "    "), *category]) <= width:
        lines.append([*state, ("", "    "), *category])
    else:
        lines += [state, *[[("", line)] for line in wrap(label + name, width, multiline=False)]]
    author = _("Auteur : {name}").format(name=t.author_name)
    taken = (
        _("Pris en charge par {name}").format(name=t.assignee_name)
        if t.assignee_name
        else _("Pas encore pris en charge")
    )
    lines += [[("", line)] for line in wrap(f"{author} · {taken}", width)]
    lines.append(
        [
            (
                "class:dim",
                _("Créé le {created} · mis à jour le {updated}").format(
                    created=when(t.created_at), updated=when(t.updated_at)
                ),
            )
        ]
    )
    lines += [[], [("class:label", _("Description"))]]
    lines += [[("", line)] for line in wrap(t.description, width)]
    lines += [[], [("class:label", _("Historique"))]]
    for entry in t.history:
        style = "class:dim" if entry.internal else ""
        lines += [[(style, line)] for line in wrap(describe(entry), width, multiline=False)]
        if entry.action in MESSAGES and entry.details:
            # The message under its heading, indented so that where it ends reads at a glance.
            lines += [[(style, "  " + line)] for line in wrap(entry.details, width - 2)]
    return lines


def describe(entry: HistoryEntry) -> str:
    """One history entry as a sentence."""
    moment = when(entry.created_at)
    match entry.action:
        case Action.CREATED:
            what = _("ticket créé ({status}, urgence {urgency})").format(
                status=entry.new_status.value if entry.new_status else "", urgency=entry.details
            )
        case Action.STATUS_CHANGED:
            what = _("statut : {old} → {new}").format(
                old=entry.old_status.value if entry.old_status else "?",
                new=entry.new_status.value if entry.new_status else "?",
            )
        case Action.REPLY:
            what = _("réponse :")
        case Action.NOTE:
            what = _("note interne (invisible du demandeur) :")
        case Action.ASSIGNED:
            what = (
                _("assigné à {name}").format(name=entry.details)
                if entry.details
                else _("assignation retirée")
            )
        case Action.CATEGORY_ASSIGNED:
            what = _("pris en charge par {name}, assigné par défaut de la catégorie").format(
                name=entry.details
            )
        case Action.CATEGORY_CHANGED:
            what = _("catégorie : {change}").format(change=entry.details)
        case Action.REOPENED:
            what = _("le problème persiste : {old} → {new}").format(
                old=entry.old_status.value if entry.old_status else "?",
                new=entry.new_status.value if entry.new_status else "?",
            )
        case Action.ATTACHED:
            what = _("pièce jointe ajoutée : {name}").format(name=safe_text(entry.details or ""))
        case _:
            what = entry.action.value
    return f"{moment}  {entry.actor_name} — {what}"


# History entries whose `details` is a message shown in full under them.
MESSAGES = frozenset({Action.REPLY, Action.NOTE})


TICKET_ACTIONS: dict[str, Callable[[Terminal, SessionContext, Ticket], Awaitable[tuple[Ticket, Notice]]]] = {
    "status": change_status,
    "reply": reply,
    "reopen": reopen,
    "note": add_note,
    "take": take,
    "assign": assign,
    "unassign": unassign,
    "category": change_category,
}
