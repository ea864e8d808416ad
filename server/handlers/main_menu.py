"""The logged-in home: the entries the context allows, each leading to its screen."""

from __future__ import annotations

from ..context import SessionContext
from ..errors import UserError
from ..i18n import _
from ..ui.screens import menu
from ..ui.terminal import Terminal
from .common import Notice
from .dashboard import show_dashboard
from .finder import find_tickets
from .new_ticket import new_ticket
from .parameters import can_open_parameters, parameters_screen
from .profile import my_account
from .tickets import assigned_list, ticket_list
from .users import users_list


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
    # Categories, places…: set up once, grouped so that the menu keeps to the nine digit keys.
    if can_open_parameters(ctx):
        items.append(("parameters", _("Paramètres")))
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
                return await find_tickets(term, ctx)
            case "assigned":
                return await assigned_list(term, ctx)
            case "dashboard":
                return await show_dashboard(term, ctx)
            case "users":
                return await users_list(term, ctx)
            case "parameters":
                return await parameters_screen(term, ctx)
            case "account":
                return await my_account(term, ctx)
    except UserError as exc:
        return Notice.fail(exc.message)
    ctx.logout()
    return None
