"""The columns of every ticket list and how a ticket fills them, at any terminal width.

The title gets at least 40 columns. When the line is short of that, the others give room in
this order, each step taken only while the title still lacks it:

0. the place is dropped (it shows in the ticket itself; from 146 columns it is in every list);
1. the category narrows to 12 (`Réseau / Wi…`);
2. the date becomes `01/12` (this year) or the year alone;
3. the category is dropped (it shows in the ticket itself);
4. the assignee narrows to 10, then 5. the author to 12;
6. the status becomes short (`Attente`);
7. the assignee shows initials (`AS`);
8. the author is dropped (it shows in the ticket itself).

A requester's own list (no author) stops at 6, an assignee's (no assignee) narrows the author
to 10 at 8: 36 columns of title and the one name in full or nearly.

At 80 columns the title then has 42; at 100, 41 with both names; in `Tous les tickets` the
category comes back from 122 columns (12 wide, the date short); at 132 every column is whole.
"""

from __future__ import annotations

from datetime import datetime

from ..domain.models import Status
from ..i18n import N_, _
from ..ui.columns import Cell, Column

TITLE_LEAST = 40

SHORT_STATUS = {
    Status.WAITING: N_("Attente"),
    Status.IN_PROGRESS: N_("En cours"),
    Status.RESOLVED: N_("Résolu"),
    Status.CLOSED: N_("Fermé"),
}


def initials(name: str) -> str:
    """« Awa Diop-Ndiaye » → « ADN »: the first letter of each part, three at most."""
    parts = name.replace("-", " ").split()
    return "".join(p[0].upper() for p in parts)[:3] or name[:1]


def person(name: str | None) -> Cell:
    return (name, initials(name)) if name else "—"


def date(moment: datetime) -> Cell:
    now = datetime.now(moment.tzinfo)
    return moment.strftime("%d/%m/%Y"), moment.strftime("%d/%m" if moment.year == now.year else "%Y")


def category(name: str | None) -> Cell:
    return name or "—"


def place(name: str | None) -> Cell:
    return name or "—"


def status(value: Status) -> Cell:
    return value.label, _(SHORT_STATUS[value])


# Each column and how a ticket (a TicketSummary) fills it.
# A late ticket's number is followed by `!`.
NUMBER = Column(N_("N°"), 6, value=lambda t: f"#{t.id}" + ("!" if t.late else ""))
TITLE = Column(N_("Titre"), least=TITLE_LEAST, value=lambda t: t.title)
URGENCY = Column(N_("Urgence"), 7, value=lambda t: t.urgency.label)
STATUS = Column(N_("Statut"), 10, steps=((6, 8),), short_at=8, value=lambda t: status(t.status))
AUTHOR = Column(N_("Auteur"), 16, steps=((5, 12), (8, 0)), value=lambda t: person(t.author_name))
ASSIGNEE = Column(
    N_("Assigné à"),
    16,
    steps=((4, 10), (7, 4)),
    short_at=4,
    short_header=N_("Ass."),
    value=lambda t: person(t.assignee_name),
)
# In an assignee's list, where the author is the one name shown: narrowed, never dropped.
AUTHOR_KEPT = Column(N_("Auteur"), 16, steps=((5, 12), (8, 10)), value=lambda t: person(t.author_name))
# In a requester's own list, where there is no author: the name narrowed, never initials.
ASSIGNEE_NAMED = Column(N_("Assigné à"), 16, steps=((4, 10),), value=lambda t: person(t.assignee_name))
DATE = Column(N_("Date"), 10, steps=((2, 5),), short_at=5, value=lambda t: date(t.created_at))
# The first to give room: shown only where the title keeps its 40 columns besides.
CATEGORY = Column(N_("Catégorie"), 16, steps=((1, 12), (3, 0)), value=lambda t: category(t.category_name))
# The first to go: shown only on wide windows (it shows in the ticket itself).
PLACE = Column(N_("Lieu"), 14, steps=((0, 0),), value=lambda t: place(t.place_name))
