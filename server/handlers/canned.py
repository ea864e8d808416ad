"""Canned answers: picked while answering (`Ctrl-T`), and the admins' `Réponses types` screen."""

from __future__ import annotations

from collections.abc import Awaitable

from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..context import SessionContext
from ..domain import validation
from ..domain.models import CANNED_FIELDS, SETTABLE_STATUSES, CannedAnswer, Status, Ticket
from ..i18n import _
from ..ui.picker import pick_filtered
from ..ui.screens import FieldLeft, confirm, menu
from ..ui.terminal import Terminal
from ..ui.text import plain, wrap
from .catalogue import Leave, catalogue_screen, detail_lines, row_screen
from .common import Notice, ask_valid

# The key that opens the list while a reply is written, and what the screen says of it.
CANNED_KEY = "c-t"


def canned_hint() -> str:
    return _("Ctrl-T : réponses types")


async def insert_canned(
    term: Terminal, ctx: SessionContext, ticket: Ticket, left: FieldLeft
) -> tuple[str, CannedAnswer | None]:
    """The reply's text with the picked answer inserted at the cursor, its fields filled in,
    and the answer (None: none picked, the text as it was)."""
    answers = await ctx.canned_answers()
    picked: CannedAnswer | None = await pick_filtered(
        term,
        _("Ticket #{id} : réponses types").format(id=ticket.id),
        _("Filtrer"),
        [(a, a.title + (f" → {a.status.label}" if a.status else "")) for a in answers],
        empty=_("Aucune réponse type ne correspond.")
        if answers
        else _("Aucune réponse type pour l'instant."),
    )
    if picked is None:
        return left.text, None
    text = ctx.filled_canned(picked, ticket)
    return left.text[: left.cursor] + text + left.text[left.cursor :], picked


def _status_label(status: Status | None) -> str:
    return status.label if status else _("aucun (le statut reste)")


def canned_lines(a: CannedAnswer, width: int) -> list[StyleAndTextTuples]:
    lines = detail_lines([_("Titre : {title}").format(title=a.title)], width)
    lines += plain(_("Statut à l'envoi : {status}").format(status=_status_label(a.status)), width=width)
    lines += [[], [("class:label", _("Texte"))]]
    return lines + [[("", line)] for line in wrap(a.text, width)]


async def canned_screen(term: Terminal, ctx: SessionContext) -> Notice:
    """`Réponses types` (admins): write one, or open one to change or delete it."""
    fields = ", ".join("{" + f + "}" for f in CANNED_FIELDS)
    return await catalogue_screen(
        term,
        _("Réponses types"),
        _("Ajouter une réponse type"),
        ctx.canned_answers,
        lambda a: a.title,
        lambda: _add(term, ctx),
        lambda answer_id: _answer_screen(term, ctx, answer_id),
        body=lambda width: plain(
            _("Dans le texte, {fields} sont remplacés au moment de répondre.").format(fields=fields),
            "class:dim",
            width=width,
        ),
    )


async def _ask_title(term: Terminal, title: str, default: str = "") -> str | None:
    return await ask_valid(
        term,
        title,
        _("Titre"),
        [],
        validation.canned_title,
        help_text=_("(une ligne, {max} caractères au plus)").format(max=validation.CANNED_TITLE_MAX),
        max_chars=validation.CANNED_TITLE_MAX,
        **({"default": default} if default else {}),
    )


async def _ask_text(term: Terminal, title: str, done: list[tuple[str, str]], default: str = "") -> str | None:
    return await ask_valid(
        term,
        title,
        _("Texte"),
        done,
        validation.canned_text,
        multiline=True,
        help_text=_("({fields} remplis à l'insertion)").format(
            fields=", ".join("{" + f + "}" for f in CANNED_FIELDS)
        ),
        max_chars=validation.MESSAGE_MAX,
        **({"default": default} if default else {}),
    )


async def _add(term: Terminal, ctx: SessionContext) -> Notice:
    heading = _("Ajouter une réponse type")
    title = await _ask_title(term, heading)
    if title is None:
        return Notice()
    text = await _ask_text(term, heading, [(_("Titre"), title)])
    if text is None:
        return Notice()
    answer = await ctx.add_canned(title, text)
    return Notice(_("Réponse type « {title} » ajoutée.").format(title=answer.title))


def _answer_screen(term: Terminal, ctx: SessionContext, answer_id: int) -> Awaitable[Notice]:
    return row_screen(
        term,
        ctx.canned_answers,
        answer_id,
        _("Cette réponse type n'existe plus."),
        _("Réponse type #{id}"),
        lambda answer: [
            ("title", _("Changer le titre")),
            ("text", _("Changer le texte")),
            ("status", _("Statut à l'envoi")),
            ("delete", _("Supprimer")),
        ],
        canned_lines,
        lambda answer, choice: _act(term, ctx, answer, choice),
    )


async def _act(
    term: Terminal, ctx: SessionContext, answer: CannedAnswer, choice: str
) -> Notice | Leave | None:
    """What `choice` did to the answer; None when it was abandoned (what was said stays)."""
    match choice:
        case "title":
            title = await _ask_title(term, _("Changer le titre"), answer.title)
            if title is not None:
                await ctx.rename_canned(answer.id, title)
                return Notice(_("Titre changé."))
        case "text":
            text = await _ask_text(term, _("Changer le texte"), [(_("Titre"), answer.title)], answer.text)
            if text is not None:
                await ctx.rewrite_canned(answer.id, text)
                return Notice(_("Texte changé."))
        case "status":
            picked = await menu(
                term,
                _("Statut à l'envoi"),
                [("none", _("Aucun (le statut reste)")), *[(s, s.label) for s in SETTABLE_STATUSES]],
                body=lambda width: plain(answer.title, width=width),
            )
            if picked is not None:
                done = await ctx.set_canned_status(answer.id, None if picked == "none" else picked)
                return Notice(_("Statut à l'envoi : {status}.").format(status=_status_label(done.status)))
        case "delete":
            question = _("Supprimer la réponse type « {title} » ?").format(title=answer.title)
            if await confirm(term, _("Supprimer"), question):
                await ctx.delete_canned(answer.id)
                return Leave(Notice(_("Réponse type « {title} » supprimée.").format(title=answer.title)))
            return Notice(_("Suppression annulée."))
    return None
