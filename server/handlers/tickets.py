"""Ticket screens: the lists, and one ticket with its timeline and its menu (the actions are
in ticket_actions.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..context import SessionContext
from ..domain.models import Attachment, Ticket, TicketSummary
from ..errors import UserError
from ..i18n import _
from ..ui.columns import Column
from ..ui.screens import menu
from ..ui.table import table
from ..ui.terminal import Terminal
from .common import Notice
from .survey import SURVEY, ask_rating
from .ticket_actions import TICKET_ACTIONS, ticket_actions
from .ticket_columns import (
    ASSIGNEE,
    ASSIGNEE_NAMED,
    AUTHOR,
    AUTHOR_KEPT,
    CATEGORY,
    DATE,
    NUMBER,
    PLACE,
    STATUS,
    TITLE,
    URGENCY,
)
from .ticket_view import ticket_body, ticket_head


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
    columns = _columns(with_author, with_assignee)
    while True:
        chosen = await table(
            term,
            title,
            columns,
            await load(),
            key=lambda t: t.id,
            prompt=_("Numéro du ticket : "),
            hints=_("Numéro puis Entrée, ou ↑↓ puis Entrée : ouvrir · 0 ou Échap : retour"),
            empty=empty,
            position=lambda shown: _("{n} ticket(s)").format(n=len(shown)),
            reload=load,
            marked=lambda t: t.unread,
            **notice.kwargs(),
        )
        if chosen is None:
            return Notice()
        try:
            notice = await ticket_screen(term, ctx, chosen[1], Notice())
        except UserError as exc:
            notice = Notice.fail(exc.message)


def _columns(with_author: bool, with_assignee: bool = True) -> list[Column]:
    columns = [NUMBER, TITLE]
    if with_author:
        columns.append(AUTHOR if with_assignee else AUTHOR_KEPT)
    if with_assignee:
        columns.append(ASSIGNEE if with_author else ASSIGNEE_NAMED)
    return [*columns, URGENCY, STATUS, CATEGORY, DATE, PLACE]


@dataclass
class TicketView:
    """What one ticket's screen holds between its menu's showings."""

    # The ticket as drawn, and as its menu's entries are offered.
    ticket: Ticket
    # What the last action said; it goes once the ticket changes under it (« Statut changé :
    # Résolu. » would contradict a reopening shown in the timeline).
    said: Notice
    # Which showing of the menu a reload belongs to: one finishing after the user has acted
    # must not put back the ticket as it was before the action.
    showing: int = 0
    # The command that fetches an attachment, shown under it.
    fetch: Callable[[Attachment], str] | None = None
    # History entries that were on screen or came with the user's own actions, and those that
    # arrived as news while the ticket was open: marked until the ticket is left.
    known: set[int] = field(default_factory=set)
    news: set[int] = field(default_factory=set)
    # The ticket's head and body, wrapped once per ticket and width.
    _drawn: tuple[Ticket, int, list, list] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.seen(self.ticket)

    def seen(self, ticket: Ticket) -> None:
        """`ticket` is on screen after the user's own doing: its entries are no news."""
        self.known |= {e.id for e in ticket.history} - self.news

    def arrived(self, ticket: Ticket) -> bool:
        """`ticket` came as news: whether it brought entries not shown before."""
        fresh = {e.id for e in ticket.history} - self.known - self.news
        self.news |= fresh
        return bool(fresh)

    def _wrapped(self, width: int) -> tuple[Ticket, int, list, list]:
        # Not at every redraw: a long conversation would otherwise cost each key press a full
        # wrap, on the loop every session shares.
        if self._drawn is None or self._drawn[0] is not self.ticket or self._drawn[1] != width:
            marked = frozenset(self.news)
            self._drawn = (
                self.ticket,
                width,
                ticket_head(self.ticket, width),
                [[], *ticket_body(self.ticket, width, self.fetch, marked)],
            )
        return self._drawn

    def head(self, width: int) -> list:
        return self._wrapped(width)[2]

    def lines(self, width: int) -> list:
        return self._wrapped(width)[3]


async def ticket_screen(
    term: Terminal, ctx: SessionContext, ticket_id: int, notice: Notice, ticket: Ticket | None = None
) -> Notice:
    """One ticket and its timeline (`ticket` if already loaded); the actions the context allows
    are offered below it."""
    view = TicketView(ticket or await ctx.open_ticket(ticket_id), notice, fetch=ctx.files.fetch_command)
    # Whether `Votre avis` was asked during this visit.
    asked = False

    async def reload() -> bool:
        # News while the ticket is on screen: what is drawn is what has been seen.
        mine = view.showing
        fresh = await ctx.ticket(ticket_id)
        if mine != view.showing:
            return False
        if fresh != view.ticket:
            view.said = Notice()
        added = view.arrived(fresh)
        view.ticket = fresh
        await ctx.mark_read(fresh)
        if not asked and ctx.survey_due(fresh) and term.screen is not None:
            # Resolved while on screen: the menu gives way to the question, asked at once.
            term.screen.finish(SURVEY)
        return added

    # After a change of status, assignee or category the ticket's head (where it shows) stays
    # in view; a reply, note or reopening is shown where it went, at the end of the timeline.
    to_end = False
    while True:
        if not asked and ctx.survey_due(view.ticket):
            # Asked once per visit whatever comes of it: an answer that fails is asked again at
            # the next opening or login, not at once in a loop.
            asked = True
            try:
                fresh, view.said = await ask_rating(term, ctx, view.ticket)
                view.seen(fresh)
                view.ticket = fresh
            except UserError as exc:
                view.said = Notice.fail(exc.message)
        choice = await menu(
            term,
            _("Ticket #{id}").format(id=ticket_id),
            # The entries follow the ticket's news (`Le problème persiste` once it is resolved).
            lambda: ticket_actions(ctx, view.ticket),
            head=view.head,
            body=view.lines,
            body_at_end=to_end,
            refresh=reload,
            notice=lambda: view.said.text,
            error=lambda: view.said.error,
        )
        view.showing += 1
        ticket = view.ticket
        if choice is None:
            return Notice()
        if choice == SURVEY:
            continue
        to_end = choice in ("reply", "reopen", "note")
        try:
            fresh, view.said = await TICKET_ACTIONS[choice](term, ctx, ticket)
        except UserError as exc:
            view.said = Notice.fail(exc.message)
            # Someone may have changed the ticket meanwhile: offer what fits it as it is now.
            view.ticket = await ctx.open_ticket(ticket_id)
            view.seen(view.ticket)
            continue
        # What came with the action (others' entries too) has been seen; if that cannot be
        # written, the action still is, and only its unread marker waits for the next opening.
        with contextlib.suppress(UserError):
            await ctx.mark_read(fresh)
        # Drawn from the next showing of the menu on: keys pressed before it (while the marker
        # is written) would go to a menu already answered.
        view.seen(fresh)
        view.ticket = fresh
