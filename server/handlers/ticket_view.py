"""A ticket drawn for the terminal: its head, description and history as sentences."""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.formatted_text import StyleAndTextTuples, fragment_list_width

from ..domain.models import Action, Attachment, Ticket
from ..domain.wording import describe, when
from ..i18n import _
from ..ui.screens import UNREAD
from ..ui.text import wrap


def size_text(size: int) -> str:
    """A size as people read it: « 812 octets », « 3,4 Kio », « 9,0 Mio »."""
    if size < 1024:
        return _("{n} octets").format(n=size)
    value, unit = (size / 1024, _("Kio")) if size < 1024 * 1024 else (size / (1024 * 1024), _("Mio"))
    return f"{value:.1f}".replace(".", ",") + " " + unit


def ticket_lines(
    t: Ticket,
    width: int,
    fetch: Callable[[Attachment], str] | None = None,
    marked: frozenset[int] = frozenset(),
) -> list[StyleAndTextTuples]:
    """The ticket as lines of fragments; every user-typed text is wrapped (hence sanitised).
    `fetch` gives the command that brings an attachment back, shown under it."""
    return ticket_head(t, width) + ticket_body(t, width, fetch, marked)


def ticket_head(t: Ticket, width: int) -> list[StyleAndTextTuples]:
    """Number, title, urgency, status, category, people and dates: what stays in view."""
    lines: list[StyleAndTextTuples] = []
    head = wrap(_("Ticket #{id} — {title}").format(id=t.id, title=t.title), width, multiline=False)
    lines += [[("class:label", line)] for line in head]
    state = [
        ("class:label", _("Urgence : ")),
        ("", t.urgency.label + "    "),
        ("class:label", _("Statut : ")),
        ("", t.status.label),
    ]
    label, name = _("Catégorie : "), t.category_name or _("aucune")
    category = [("class:label", label), ("", wrap(name, width, multiline=False)[0])]
    # On the same line when it fits: the ticket's menu keeps its room on a 24-line screen.
    if fragment_list_width([*state, ("", "    "), *category]) <= width:
        lines.append([*state, ("", "    "), *category])
    else:
        lines += [state, *[[("", line)] for line in wrap(label + name, width, multiline=False)]]
    if t.due_at is not None:
        due = _("Échéance : {at}").format(at=when(t.due_at))
        if t.late:
            lines.append([("", due + " "), ("class:error", _("(en retard)"))])
        elif t.due_paused:
            lines.append([("", due + " "), ("class:dim", _("(en pause : en attente du demandeur)"))])
        else:
            lines.append([("", due)])
    if t.rating is not None and t.rating.score is not None:
        said = _("Avis du demandeur : {score}/5").format(score=t.rating.score)
        if t.rating.comment:
            said += " — " + _("« {comment} »").format(comment=t.rating.comment)
        lines += [[("class:label", line)] for line in wrap(said, width)]
    if t.follows_id is not None:
        lines.append([("class:label", _("Suite du ticket #{id}").format(id=t.follows_id))])
    if t.follow_up_id is not None:
        lines.append([("class:label", _("Suivi par le ticket #{id}").format(id=t.follow_up_id))])
    if t.place_name:
        lines += [[("", line)] for line in wrap(_("Lieu : {name}").format(name=t.place_name), width)]
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
    return lines


def ticket_body(
    t: Ticket,
    width: int,
    fetch: Callable[[Attachment], str] | None = None,
    marked: frozenset[int] = frozenset(),
) -> list[StyleAndTextTuples]:
    """Description, attachments and history; the entries in `marked` (news that came while the
    ticket was on screen) bold, with the lists' unread mark."""
    lines: list[StyleAndTextTuples] = [[("class:label", _("Description"))]]
    lines += [[("", line)] for line in wrap(t.description, width)]
    if t.attachments:
        lines += [[], [("class:label", _("Pièces jointes"))]]
        for item in t.attachments:
            lines += [[("", line)] for line in wrap(attachment_line(item), width, multiline=False)]
            if fetch is not None:
                command = wrap(fetch(item), width - 2, multiline=False)
                lines += [[("class:dim", "  " + line)] for line in command]
    lines += [[], [("class:label", _("Historique"))]]
    for entry in t.history:
        style = "class:dim" if entry.internal else ""
        if entry.id in marked:
            style += " bold"
            head = wrap(describe(entry), width - 2, multiline=False)
            lines += [[(style, (UNREAD if i == 0 else " ") + " " + line)] for i, line in enumerate(head)]
        else:
            lines += [[(style, line)] for line in wrap(describe(entry), width, multiline=False)]
        if entry.action in MESSAGES and entry.details:
            # The message under its heading, indented so that where it ends reads at a glance.
            lines += [[(style, "  " + line)] for line in wrap(entry.details, width - 2)]
    return lines


def attachment_line(item: Attachment) -> str:
    """One attachment: its name, size and type, who sent it and when."""
    return _("{name} — {size}, {kind} — {who}, {when}").format(
        name=item.name,
        size=size_text(item.size),
        kind=item.kind,
        who=item.author_name,
        when=when(item.created_at),
    )


# History entries whose `details` is a message shown in full under them.
MESSAGES = frozenset({Action.REPLY, Action.NOTE})
