"""A connection's whole journey: welcome menu, then the main menu until logout or quit."""

from __future__ import annotations

import asyncio
import logging

from ..context import SessionContext
from ..i18n import N_, _
from ..ui.screens import menu
from ..ui.terminal import Terminal
from ..ui.text import plain
from .account import login, register
from .common import Notice
from .main_menu import main_menu
from .recovery import forgotten_password
from .survey import ratings_at_login

log = logging.getLogger("support.session")

WELCOME_ITEMS = [
    ("login", N_("Se connecter")),
    ("register", N_("Créer un compte")),
    ("reset", N_("Mot de passe oublié")),
    ("quit", N_("Quitter")),
]

WELCOME = N_(
    "Bienvenue sur le support technique.\n"
    "Signalez un problème (matériel, accès à la plateforme…) et suivez sa résolution."
)


async def run_session(term: Terminal, ctx: SessionContext) -> None:
    """Loop over the screens until the user quits; an unexpected error never ends the session."""
    notice = Notice()
    # The account asked its waiting ratings since it logged in: once per login.
    surveyed: int | None = None
    while True:
        try:
            if ctx.user is None:
                surveyed = None
                term.who = ""
                choice = await menu(
                    term,
                    _("Accueil"),
                    [(key, _(label)) for key, label in WELCOME_ITEMS],
                    body=lambda width: plain(_(WELCOME), width=width),
                    back_label=None,
                    back_hint=_("quitter"),
                    **notice.kwargs(),
                )
                if choice in (None, "quit"):
                    return
                screens = {"login": login, "register": register, "reset": forgotten_password}
                notice = await screens[choice](term, ctx) or Notice()
            else:
                term.who = ctx.user.email
                if surveyed != ctx.user.id:
                    surveyed = ctx.user.id
                    said = await ratings_at_login(term, ctx)
                    notice = said if said.text else notice
                notice = await main_menu(term, ctx, notice)
                if notice is None:
                    notice = Notice(_("Vous êtes déconnecté."))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("addr=%s unexpected error in a screen", ctx.address)
            notice = Notice.fail(_("Une erreur inattendue est survenue ; réessayez."))
