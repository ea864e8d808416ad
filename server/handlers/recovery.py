"""Mot de passe oublié: a one-time code and a new password; the admin's side shows a code."""

from __future__ import annotations

from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..context import SessionContext
from ..context.recovery import CODE_MAX_CHARS, IssuedCode
from ..domain import validation
from ..domain.models import User
from ..errors import UserError
from ..i18n import N_, _
from ..ui.screens import ask, confirm, menu
from ..ui.terminal import Terminal
from ..ui.text import wrap
from .common import HIDDEN, Notice, new_password

INTRO_MAIL = N_(
    "Un administrateur du support peut vous donner un code (à l'accueil ou par téléphone) ; si "
    "votre adresse est vérifiée, vous pouvez aussi le recevoir par e-mail. Il sert une fois, "
    "pendant 30 minutes."
)
INTRO = N_(
    "Un administrateur du support vous donne un code de réinitialisation (à l'accueil ou par "
    "téléphone) ; il sert une fois, pendant 30 minutes."
)


BY_MAIL = N_(
    "Si un compte à l'adresse vérifiée correspond à cet e-mail, un code vient d'y être envoyé "
    "(valable 30 minutes)."
)


async def forgotten_password(term: Terminal, ctx: SessionContext) -> Notice | None:
    """E-mail, code, new password twice; None if abandoned. With mail, the code may be sent."""
    title = _("Mot de passe oublié")
    email, sent = "", Notice()
    if ctx.mail_enabled():
        choice = await menu(
            term,
            title,
            [("code", _("J'ai un code")), ("mail", _("Recevoir un code par e-mail"))],
            body=lambda width: [[("", line)] for line in wrap(_(INTRO_MAIL), width)],
        )
        if choice is None:
            return None
        if choice == "mail":
            email = await ask(term, title, _("E-mail"), max_chars=validation.EMAIL_MAX)
            if email is None:
                return None
            try:
                await ctx.request_reset_code(email)
            except UserError as exc:
                return Notice.fail(exc.message)
            sent = Notice(_(BY_MAIL))
    email = await ask(
        term,
        title,
        _("E-mail"),
        default=email,
        max_chars=validation.EMAIL_MAX,
        warning="" if sent.text else _(INTRO),
        **sent.kwargs(),
    )
    if email is None:
        return None
    done = [(_("E-mail"), email)]
    code = await ask(
        term,
        title,
        _("Code"),
        previous=done,
        help_text=_("(12 caractères, tirets facultatifs)"),
        max_chars=CODE_MAX_CHARS,
    )
    if code is None:
        return None
    password = await new_password(term, title, [*done, (_("Code"), HIDDEN)], _("Nouveau mot de passe"))
    if password is None:
        return None
    try:
        await ctx.reset_password(email, code, password)
    except UserError as exc:
        return Notice.fail(exc.message)
    return Notice(_("Mot de passe modifié : connectez-vous avec le nouveau."))


def _code_lines(issued: IssuedCode, width: int) -> list[StyleAndTextTuples]:
    lines: list[StyleAndTextTuples] = [
        [("class:label", _("Code : ")), ("bold", issued.code)],
        [("class:label", _("Valable jusqu'à : ")), ("", issued.expires_at.strftime("%H:%M") + " UTC")],
        [],
    ]
    text = _(
        "Lisez-le à {name} : il n'est affiché qu'une fois et ne sert qu'une fois. "
        "Les codes précédents de ce compte ne valent plus."
    ).format(name=issued.user.name)
    lines.extend([("", line)] for line in wrap(text, width))
    return lines


async def issue_code(term: Terminal, ctx: SessionContext, user: User) -> Notice:
    """`Code de réinitialisation` of an account: confirmed, then shown once."""
    title = _("Code de réinitialisation")
    question = _("Donner un code de réinitialisation à {name} ({email}) ?").format(
        name=user.name, email=user.email
    )
    if not await confirm(term, title, question):
        return Notice(_("Aucun code donné."))
    issued = await ctx.issue_reset_code(user.id)
    await menu(term, title, [], body=lambda width: _code_lines(issued, width), back_label=_("Fermer"))
    return Notice(_("Code donné à {name} ; il n'est plus affiché.").format(name=issued.user.name))
