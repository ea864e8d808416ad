"""What can be done on one ticket: its menu's entries as the context allows them, and each
action (status, reply, reopening, note, assignment, category, place, attachments)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..context import SessionContext
from ..domain import validation
from ..domain.models import SETTABLE_STATUSES, Status, Ticket, User
from ..errors import DatabaseUnavailable, ServiceRestarting, UserError
from ..i18n import N_, _
from ..ui.screens import FieldLeft, confirm, menu
from ..ui.terminal import Terminal
from .attachment_screens import delete_attachment, read_attachment
from .canned import CANNED_KEY, canned_hint, insert_canned
from .categories import change_category
from .common import Notice, ask_valid
from .places import change_place


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
    if ctx.can_follow_up(ticket):
        items.append(("follow_up", _("Ouvrir un ticket de suite")))
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
    if any(a.kind == "text/plain" for a in ticket.attachments):
        items.append(("read_file", _("Lire une pièce jointe")))
    if ctx.can_delete_attachment(ticket):
        items.append(("delete_file", _("Supprimer une pièce jointe")))
    if ctx.can_change_place(ticket):
        items.append(("place", _("Changer le lieu")))
    return items


@dataclass(frozen=True)
class _Writing:
    """A message written on a ticket: its screen's words (marked N_), its rule, what is said after."""

    title: str
    label: str
    rule: Callable[[str], str]
    help_text: str
    abandoned: str
    sent: str


_REPLY = _Writing(
    N_("Ticket #{id} : répondre"),
    N_("Réponse"),
    validation.reply,
    N_("(visible du demandeur et du support, {max} caractères au plus)"),
    N_("Réponse abandonnée."),
    N_("Réponse envoyée."),
)
_NOTE = _Writing(
    N_("Ticket #{id} : note interne"),
    N_("Note interne"),
    validation.note,
    N_("(visible des seuls administrateurs, {max} caractères au plus)"),
    N_("Note abandonnée."),
    N_("Note interne ajoutée."),
)
_REOPEN = _Writing(
    N_("Ticket #{id} : le problème persiste"),
    N_("Réponse"),
    validation.reply,
    N_("(dites ce qui ne va toujours pas ; {max} caractères au plus)"),
    N_("Ticket laissé « Résolu »."),
    N_("Réponse envoyée : le ticket repasse « En cours »."),
)


async def reply(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    # The status of the last canned answer inserted, set with the reply when it is sent.
    status: list[Status | None] = [None]

    async def canned(left: FieldLeft) -> tuple[str, str]:
        text, answer = await insert_canned(term, ctx, ticket, left)
        if answer is not None and answer.status is not None:
            status[0] = answer.status
        if status[0] is None or status[0] is ticket.status:
            return text, ""
        return text, _("À l'envoi, le ticket passera à « {status} ».").format(status=status[0].label)

    sent, notice = await _write(
        term,
        ticket,
        _REPLY,
        lambda text: ctx.reply(ticket.id, text, status[0]),
        canned=canned if ctx.can_use_canned(ticket) else None,
    )
    if status[0] is not None and sent.status is status[0] and ticket.status is not status[0]:
        return sent, Notice(_("Réponse envoyée ; statut changé : {status}.").format(status=status[0].label))
    return sent, notice


async def add_note(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    return await _write(term, ticket, _NOTE, lambda text: ctx.add_note(ticket.id, text))


async def reopen(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    return await _write(term, ticket, _REOPEN, lambda text: ctx.reopen(ticket.id, text))


async def _write(
    term: Terminal,
    ticket: Ticket,
    writing: _Writing,
    send: Callable[[str], Awaitable[Ticket]],
    *,
    canned: Callable[[FieldLeft], Awaitable[tuple[str, str]]] | None = None,
) -> tuple[Ticket, Notice]:
    """The ticket as the message left it and what to say, or as it was if it was abandoned."""
    sent = await _send_message(
        term,
        _(writing.title).format(id=ticket.id),
        _(writing.label),
        writing.rule,
        _(writing.help_text),
        send,
        canned=canned,
    )
    if sent is None:
        return ticket, Notice(_(writing.abandoned))
    return sent, Notice(_(writing.sent))


async def _send_message(
    term: Terminal,
    title: str,
    label: str,
    rule: Callable[[str], str],
    help_text: str,
    send: Callable[[str], Awaitable[Ticket]],
    *,
    canned: Callable[[FieldLeft], Awaitable[tuple[str, str]]] | None = None,
) -> Ticket | None:
    """Ask a message and send it; when the database or a restart refuses it for now, the
    message stays in its field with the sentence, to be sent again or abandoned.

    With `canned`, its key leaves the field for the canned answers and comes back with the
    text it gives (and a warning to show above the field: what sending will also do)."""
    notice, typed, warning = Notice(), "", ""
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
            warning=warning,
            **({"extra_key": (CANNED_KEY, canned_hint())} if canned else {}),
            **({"default": typed} if typed else {}),
        )
        if text is None:
            return None
        if isinstance(text, FieldLeft):
            assert canned is not None
            try:
                typed, warning = await canned(text)
                notice = Notice()
            except UserError as exc:
                typed, notice = text.text, Notice.fail(exc.message)
            continue
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
        [(s, s.label + (current if s is ticket.status else "")) for s in SETTABLE_STATUSES],
        body=lambda width: [[("class:label", _("Nouveau statut :"))]],
    )
    if status is None:
        return ticket, Notice()
    question = _("Passer le ticket #{id} de « {old} » à « {new} » ?").format(
        id=ticket.id, old=ticket.status.label, new=status.label
    )
    if not await confirm(term, title, question):
        return ticket, Notice(_("Changement annulé."))
    ticket = await ctx.change_status(ticket.id, status)
    return ticket, Notice(_("Statut changé : {status}.").format(status=status.label))


async def follow_up(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    """`Nouveau ticket`, its title naming the closed ticket it follows up."""
    from .new_ticket import new_ticket  # it shows the new ticket with this module's screens

    notice = await new_ticket(term, ctx, follows=ticket)
    return await ctx.open_ticket(ticket.id), notice


TICKET_ACTIONS: dict[str, Callable[[Terminal, SessionContext, Ticket], Awaitable[tuple[Ticket, Notice]]]] = {
    "status": change_status,
    "reply": reply,
    "reopen": reopen,
    "note": add_note,
    "take": take,
    "assign": assign,
    "unassign": unassign,
    "category": change_category,
    "delete_file": delete_attachment,
    "read_file": read_attachment,
    "place": change_place,
    "follow_up": follow_up,
}
