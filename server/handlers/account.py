"""Registration and login forms."""

from __future__ import annotations

from ..context import SessionContext
from ..domain import validation
from ..errors import EmailTaken, UserError
from ..i18n import _
from ..ui.screens import ask
from ..ui.terminal import Terminal
from .common import Notice, ask_valid, new_password, password


async def register(term: Terminal, ctx: SessionContext) -> Notice | None:
    """Ask name, e-mail, password twice; on success the new user is logged in."""
    title = _("Créer un compte")
    try:
        # Said before the form, not after it has been filled in for nothing.
        await ctx.may_register()
    except UserError as exc:
        return Notice.fail(exc.message)
    name = await ask_valid(
        term,
        title,
        _("Nom"),
        [],
        validation.name,
        help_text=_("(80 caractères au plus)"),
        max_chars=validation.NAME_MAX,
    )
    if name is None:
        return None
    email, notice = "", Notice()
    while True:
        email = await ask_valid(
            term,
            title,
            _("E-mail"),
            [(_("Nom"), name)],
            validation.email,
            default=email,
            notice=notice,
            max_chars=validation.EMAIL_MAX,
        )
        if email is None:
            return None
        password = await new_password(term, title, [(_("Nom"), name), (_("E-mail"), email)])
        if password is None:
            return None
        try:
            user = await ctx.register(name, email, password)
        except EmailTaken as exc:
            notice = Notice.fail(exc.message)
            continue
        except UserError as exc:
            return Notice.fail(exc.message)
        return Notice(_("Compte créé. Bienvenue, {name} !").format(name=user.name))


async def login(term: Terminal, ctx: SessionContext) -> Notice | None:
    """Ask e-mail and password; None if cancelled, an error notice if refused."""
    title = _("Se connecter")
    email = await ask(term, title, _("E-mail"))
    if email is None:
        return None
    typed = await password(term, title, _("Mot de passe"), [(_("E-mail"), email)])
    if typed is None:
        return None
    try:
        user = await ctx.login(email, typed)
    except UserError as exc:
        return Notice.fail(exc.message)
    return Notice(_("Bonjour, {name} !").format(name=user.name))
