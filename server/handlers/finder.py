"""The admins' `Tous les tickets`: every ticket, filtered, sorted and paged to the terminal."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..context import SEARCH_TEXT_MAX, SessionContext
from ..domain import validation
from ..domain.models import (
    OPEN_STATUSES,
    Status,
    TicketFilter,
    TicketPage,
    TicketSort,
    Urgency,
    User,
)
from ..errors import UserError
from ..i18n import N_, _
from ..ui.screens import menu
from ..ui.table import TableAction, page_size, table
from ..ui.terminal import Terminal
from ..ui.text import plain
from .common import Notice, ask_valid
from .ticket_columns import (
    ASSIGNEE,
    AUTHOR,
    CATEGORY,
    DATE,
    NUMBER,
    PLACE,
    STATUS,
    TITLE,
    URGENCY,
)
from .tickets import ticket_screen

SORT_LABELS = {
    TicketSort.URGENCY_DESC: N_("urgence, la plus haute d'abord"),
    TicketSort.URGENCY_ASC: N_("urgence, la plus faible d'abord"),
    TicketSort.DATE_ASC: N_("date, les plus anciens d'abord"),
    TicketSort.DATE_DESC: N_("date, les plus récents d'abord"),
}

COLUMNS = [NUMBER, TITLE, URGENCY, STATUS, AUTHOR, ASSIGNEE, CATEGORY, DATE, PLACE]


# The list's own keys: pages, filters, sort.
PAGE_KEYS = {
    "pagedown": TableAction.NEXT,
    "n": TableAction.NEXT,
    "pageup": TableAction.PREVIOUS,
    "p": TableAction.PREVIOUS,
    "f": TableAction.FILTER,
    "t": TableAction.SORT,
}


def describe_filters(filters: TicketFilter, me: User | None) -> str:
    """The active filters in one sentence."""
    if not filters.statuses:
        statuses = _("tous")
    else:
        statuses = ", ".join(s.label for s in Status if s in filters.statuses)
    parts = [_("Statut : {s}").format(s=statuses)]
    if filters.urgencies:
        parts.append(
            _("urgence : {u}").format(u=", ".join(u.label for u in Urgency if u in filters.urgencies))
        )
    if filters.unassigned:
        parts.append(_("non assignés"))
    elif filters.assignee is not None:
        who = _("moi") if me and filters.assignee.id == me.id else filters.assignee.name
        parts.append(_("assigné : {who}").format(who=who))
    if filters.author is not None:
        parts.append(_("auteur : {name}").format(name=filters.author.name))
    if filters.text:
        parts.append(_("texte : « {text} »").format(text=filters.text))
    if filters.category is not None:
        parts.append(_("catégorie : {name}").format(name=filters.category.name))
    if filters.place is not None:
        parts.append(_("lieu : {name}").format(name=filters.place.name))
    if filters.late:
        parts.append(_("en retard"))
    return " · ".join(parts)


def describe_page(result: TicketPage, sort: TicketSort) -> str:
    """« 37 tickets — page 1/3 · tri : … »."""
    found = (_("{n} ticket") if result.total == 1 else _("{n} tickets")).format(n=result.total)
    return _("{found} — page {page}/{pages} · tri : {sort}").format(
        found=found, page=result.page, pages=result.pages, sort=_(SORT_LABELS[sort])
    )


@dataclass
class FoundPage:
    """The page on screen: its latest result (a reload replaces it, so that n/p know the
    pages as now shown) and the two summary lines above it."""

    result: TicketPage
    sort: TicketSort
    me: User | None
    filters: TicketFilter
    summary: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.summary[:] = [describe_filters(self.filters, self.me), ""]
        self.show(self.result)

    def show(self, result: TicketPage) -> None:
        self.result = result
        self.summary[1] = describe_page(result, self.sort)


async def find_tickets(term: Terminal, ctx: SessionContext) -> Notice:
    """The list stays open: each ticket opened from it comes back to the same page, refreshed."""
    filters, sort, page = TicketFilter(), TicketSort.URGENCY_DESC, 1
    notice = Notice()
    while True:
        size = page_size(term)
        shown = FoundPage(await ctx.search_tickets(filters, sort, page, size), sort, ctx.user, filters)
        page = shown.result.page

        async def reload(shown: FoundPage = shown, page: int = page, size: int = size) -> tuple:
            # News arrived: the same page again, its count and markers with it.
            shown.show(await ctx.search_tickets(shown.filters, shown.sort, page, size))
            return shown.result.items

        answer = await table(
            term,
            _("Tous les tickets"),
            COLUMNS,
            shown.result.items,
            key=lambda t: t.id,
            prompt=_("Numéro du ticket : "),
            hints=_("N° Entrée : ouvrir · f : filtrer · t : trier · n/p : page · 0/Échap : retour"),
            empty=_("Aucun ticket ne correspond à ces filtres."),
            above=shown.summary,
            actions=PAGE_KEYS,
            rows=size,
            fetched_for=size,
            reload=reload,
            marked=lambda t: t.unread,
            **notice.kwargs(),
        )
        notice = Notice()
        result = shown.result
        if answer is None:
            return Notice()
        action, number = answer
        try:
            match action:
                case TableAction.OPEN:
                    assert number is not None
                    notice = await ticket_screen(term, ctx, number, Notice())
                case TableAction.NEXT if page < result.pages:
                    page += 1
                case TableAction.NEXT:
                    notice = Notice(_("C'est la dernière page."))
                case TableAction.PREVIOUS if page > 1:
                    page -= 1
                case TableAction.PREVIOUS:
                    notice = Notice(_("C'est la première page."))
                case TableAction.FILTER:
                    changed, notice = await choose_filter(term, ctx, filters)
                    if changed != filters:
                        filters, page = changed, 1
                case TableAction.SORT:
                    chosen = await choose_sort(term, sort)
                    if chosen is not None and chosen is not sort:
                        sort, page = chosen, 1
                case TableAction.RESIZED:
                    # Keep the first ticket of the page on the page shown at the new size.
                    page = (page - 1) * size // page_size(term) + 1
        except UserError as exc:
            notice = Notice.fail(exc.message)


async def choose_sort(term: Terminal, current: TicketSort) -> TicketSort | None:
    mark = _(" (actuel)")
    return await menu(
        term,
        _("Tous les tickets : trier"),
        [
            (s, _(label)[0].upper() + _(label)[1:] + (mark if s is current else ""))
            for s, label in SORT_LABELS.items()
        ],
        body=lambda width: [[("class:label", _("Trier par :"))]],
    )


async def choose_filter(
    term: Terminal, ctx: SessionContext, filters: TicketFilter
) -> tuple[TicketFilter, Notice]:
    """One filter changed through a small menu; the filters unchanged if the admin goes back."""
    title = _("Tous les tickets : filtrer")
    what = await menu(
        term,
        title,
        [
            ("status", _("Statut")),
            ("urgency", _("Urgence")),
            ("assignee", _("Assigné")),
            ("author", _("Auteur")),
            ("text", _("Texte (titre ou description)")),
            ("clear", _("Effacer les filtres (tickets ouverts)")),
            ("category", _("Catégorie")),
            ("place", _("Lieu")),
            ("late", _("En retard")),
        ],
        body=lambda width: [
            [("class:label", _("Filtres actifs :"))],
            *plain(describe_filters(filters, ctx.user), width=width),
        ],
    )
    match what:
        case "status":
            choice = await menu(
                term,
                title,
                [
                    (OPEN_STATUSES, _("Ouverts (En attente, En cours)")),
                    *[(frozenset({s}), s.label) for s in Status],
                    (frozenset(), _("Tous les statuts")),
                ],
                body=lambda width: [[("class:label", _("Statut :"))]],
            )
            if choice is not None:
                return replace(filters, statuses=choice), Notice()
        case "urgency":
            choice = await menu(
                term,
                title,
                [
                    (frozenset(), _("Toutes les urgences")),
                    *[(frozenset({u}), u.label) for u in (Urgency.HIGH, Urgency.MEDIUM, Urgency.LOW)],
                    (frozenset({Urgency.HIGH, Urgency.MEDIUM}), _("Haute et Moyenne")),
                ],
                body=lambda width: [[("class:label", _("Urgence :"))]],
            )
            if choice is not None:
                return replace(filters, urgencies=choice), Notice()
        case "assignee":
            return await _choose_assignee(term, ctx, filters, title)
        case "author":
            return await _choose_author(term, ctx, filters, title)
        case "text":
            text = await ask_valid(
                term,
                title,
                _("Texte"),
                [],
                validation.search_text,
                default=filters.text,
                max_chars=SEARCH_TEXT_MAX,
                help_text=_("(dans le titre ou la description ; vide : aucun)"),
            )
            if text is not None:
                return replace(filters, text=text[:SEARCH_TEXT_MAX]), Notice()
        case "clear":
            return TicketFilter(), Notice(_("Filtres effacés."))
        case "category":
            every = _("Toutes les catégories")
            picked = await menu(
                term,
                title,
                [("any", every), *[(c, c.name) for c in await ctx.all_categories()]],
                body=lambda width: [[("class:label", _("Catégorie :"))]],
            )
            if picked is not None:
                return replace(filters, category=None if picked == "any" else picked), Notice()
        case "late":
            choice = await menu(
                term,
                title,
                [(True, _("En retard seulement")), (False, _("En retard ou non"))],
                body=lambda width: [[("class:label", _("Échéance :"))]],
            )
            if choice is not None:
                return replace(filters, late=choice), Notice()
        case "place":
            picked = await menu(
                term,
                title,
                [("any", _("Tous les lieux")), *[(p, p.name) for p in await ctx.all_places()]],
                body=lambda width: [[("class:label", _("Lieu :"))]],
            )
            if picked is not None:
                return replace(filters, place=None if picked == "any" else picked), Notice()
    return filters, Notice()


async def _choose_assignee(
    term: Terminal, ctx: SessionContext, filters: TicketFilter, title: str
) -> tuple[TicketFilter, Notice]:
    choice = await menu(
        term,
        title,
        [
            ("any", _("Tous (assignés ou non)")),
            ("none", _("Non assigné")),
            ("me", _("Moi")),
            ("other", _("Un autre administrateur…")),
        ],
        body=lambda width: [[("class:label", _("Assigné :"))]],
    )
    match choice:
        case "any":
            return replace(filters, assignee=None, unassigned=False), Notice()
        case "none":
            return replace(filters, assignee=None, unassigned=True), Notice()
        case "me":
            return replace(filters, assignee=ctx.user, unassigned=False), Notice()
        case "other":
            person, notice = await _pick_user(
                term, ctx, title, _("Administrateur (nom ou e-mail)"), admins_only=True
            )
            if person is not None:
                return replace(filters, assignee=person, unassigned=False), notice
            return filters, notice
    return filters, Notice()


async def _choose_author(
    term: Terminal, ctx: SessionContext, filters: TicketFilter, title: str
) -> tuple[TicketFilter, Notice]:
    if filters.author is not None:
        choice = await menu(
            term,
            title,
            [
                ("other", _("Chercher un autre auteur")),
                ("any", _("Tous les auteurs")),
            ],
            body=lambda width: plain(_("Auteur : {name}").format(name=filters.author.name), width=width),
        )
        if choice == "any":
            return replace(filters, author=None), Notice()
        if choice is None:
            return filters, Notice()
    person, notice = await _pick_user(term, ctx, title, _("Auteur (nom ou e-mail)"), admins_only=False)
    if person is not None:
        return replace(filters, author=person), notice
    return filters, notice


async def _pick_user(
    term: Terminal, ctx: SessionContext, title: str, label: str, *, admins_only: bool
) -> tuple[User | None, Notice]:
    """Search accounts by name or e-mail and pick one; (None, why) if none was picked."""
    typed = await ask_valid(
        term,
        title,
        label,
        [],
        validation.search_text,
        max_chars=SEARCH_TEXT_MAX,
        help_text=_("(une partie suffit)"),
    )
    if not typed:
        return None, Notice()
    found = await ctx.find_users(typed, admins_only=admins_only)
    if not found:
        return None, Notice.fail(_("Aucun compte ne correspond à « {text} ».").format(text=typed.strip()))
    chosen = await menu(
        term,
        title,
        [(u, f"{u.name} <{u.email}>") for u in found],
        body=lambda width: [[("class:label", _("Comptes trouvés :"))]],
    )
    return chosen, Notice()
