"""`Paramètres` (admins): what the team sets up once (categories, places, canned answers)."""

from __future__ import annotations

from ..context import SessionContext
from ..errors import UserError
from ..i18n import _
from ..ui.screens import menu
from ..ui.terminal import Terminal
from .canned import canned_screen
from .categories import categories_screen
from .common import Notice
from .places import places_screen


def can_open_parameters(ctx: SessionContext) -> bool:
    """Whether to offer `Paramètres` in the main menu: one of its entries is allowed."""
    return bool(_entries(ctx))


def _entries(ctx: SessionContext) -> list[tuple[str, str]]:
    items = []
    if ctx.can_manage_categories():
        items.append(("categories", _("Catégories")))
    if ctx.can_manage_places():
        items.append(("places", _("Lieux")))
    if ctx.can_manage_canned():
        items.append(("canned", _("Réponses types")))
    return items


async def parameters_screen(term: Terminal, ctx: SessionContext) -> Notice:
    notice = Notice()
    while True:
        choice = await menu(term, _("Paramètres"), _entries(ctx), **notice.kwargs())
        if choice is None:
            return Notice()
        try:
            match choice:
                case "categories":
                    notice = await categories_screen(term, ctx)
                case "places":
                    notice = await places_screen(term, ctx)
                case "canned":
                    notice = await canned_screen(term, ctx)
        except UserError as exc:
            notice = Notice.fail(exc.message)
