"""Live news on a connected terminal: the notice a change deserves, and lists refreshed."""

from __future__ import annotations

from ..context import SessionContext
from ..domain.models import LiveNotice, TicketChange
from ..i18n import _, speaking
from ..ui.terminal import Terminal


def deliver(term: Terminal, ctx: SessionContext, change: TicketChange) -> None:
    """Called by the change feed for every change; the context says what this user may know."""
    kind = ctx.live_notice(change)
    if kind is None:
        return
    # The feed runs in no session's context: the notice, and the redraw it asks for, are in
    # the receiver's language.
    with speaking(ctx.language):
        text = notice_text(kind, change)
        if text:
            term.notify(text)
        term.refresh()


def notice_text(kind: LiveNotice, change: TicketChange) -> str:
    match kind:
        case LiveNotice.STATUS_CHANGED:
            assert change.new_status is not None
            return _("Votre ticket #{id} est passé à {status}").format(
                id=change.ticket_id, status=change.new_status.label
            )
        case LiveNotice.REPLY:
            return _("Nouvelle réponse sur votre ticket #{id}").format(id=change.ticket_id)
        case LiveNotice.NEW_TICKET:
            # The title is the requester's text: Terminal.notify's drawing sanitises it.
            return _("Nouveau ticket #{id} : {title}").format(id=change.ticket_id, title=change.ticket_title)
    return ""
