"""`Votre avis (1 à 5)`: asked once on a resolved ticket's screen, or at the next login."""

from __future__ import annotations

from ..context import SessionContext
from ..domain import validation
from ..domain.models import Ticket
from ..errors import UserError
from ..i18n import _
from ..ui.terminal import Terminal
from .common import Notice, ask_valid

# What the ticket's menu answers when news makes the question due while it is on screen.
SURVEY = "survey"
# What passes the question, besides Esc (and « . » in line mode, where Esc does nothing).
SKIP = ("p", "passer")


def _score(value: str) -> int | None:
    """A score, or None for « Passer »."""
    return None if value.strip().lower() in SKIP else validation.rating(value)


async def ask_rating(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    """Ask the requester's score (no default) then an optional comment; passing records that
    the question was asked. Returns the ticket as it now is and what to say."""
    title = _("Ticket #{id} : votre avis").format(id=ticket.id)
    about = [(_("Ticket #{id}").format(id=ticket.id), f"{ticket.title} ({ticket.status.label})")]
    label = _("Votre avis (1 à 5)")
    score = await ask_valid(
        term,
        title,
        label,
        about,
        _score,
        help_text=_("(5 : très satisfait ; « p » ou Échap : passer)"),
        max_chars=10,
    )
    if score is None:
        ticket = await ctx.skip_rating(ticket.id)
        return ticket, Notice(_("Question passée : elle ne vous sera plus posée."))
    comment = await ask_valid(
        term,
        title,
        _("Commentaire (facultatif)"),
        [*about, (label, str(score))],
        validation.rating_comment,
        help_text=_("(Entrée seule : aucun ; {max} caractères au plus)").format(
            max=validation.RATING_COMMENT_MAX
        ),
        max_chars=validation.RATING_COMMENT_MAX,
    )
    ticket = await ctx.rate(ticket.id, score, comment or "")
    return ticket, Notice(_("Merci pour votre avis ({score}/5).").format(score=score))


async def ratings_at_login(term: Terminal, ctx: SessionContext) -> Notice:
    """After login, before the main menu: the resolved or closed tickets never asked (a few)."""
    notice = Notice()
    try:
        for ticket in await ctx.waiting_ratings():
            _ticket, notice = await ask_rating(term, ctx, ticket)
    except UserError as exc:
        return Notice.fail(exc.message)
    return notice
