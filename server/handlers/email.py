"""Mon compte's mail: the address verified or not, its code, a new address, which mail to get."""

from __future__ import annotations

from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..context import SessionContext
from ..context.recovery import MAIL_OFF
from ..domain import validation
from ..domain.models import Notifications, User
from ..i18n import N_, _
from ..ui.screens import ask, menu
from ..ui.terminal import Terminal
from ..ui.text import wrap
from .common import Notice, password

CHOICES = (
    (Notifications.REPLIES, N_("Réponses et changements de statut")),
    (Notifications.ALL, N_("Tout")),
    (Notifications.NONE, N_("Rien")),
)


def choice_label(choice: Notifications) -> str:
    return _(dict(CHOICES)[choice])


def mail_lines(ctx: SessionContext, user: User, pending: str | None, width: int) -> list[StyleAndTextTuples]:
    """What Mon compte says of mail, under the account's own lines."""
    if not ctx.mail_enabled():
        return [[("class:label", _("Courriel : ")), ("", _("non configuré sur ce service"))]]
    lines: list[StyleAndTextTuples] = [
        [("class:label", _("E-mail vérifié : ")), ("", _("oui") if user.email_verified else _("non"))],
        [("class:label", _("Notifications par e-mail : ")), ("", choice_label(user.notifications))],
    ]
    if pending is not None and pending != user.email:
        label = _("Nouvelle adresse à vérifier : ")
        for i, line in enumerate(wrap(pending, width - len(label), multiline=False)):
            lines.append([("class:label", label if i == 0 else " " * len(label)), ("", line)])
    return lines


def mail_items(ctx: SessionContext, user: User, pending: str | None) -> list[tuple[str, str]]:
    items = []
    if not ctx.mail_enabled() or not user.email_verified or (pending and pending != user.email):
        items.append(("verify", _("Vérifier mon e-mail")))
    items += [("email", _("Changer d'e-mail")), ("notifications", _("Notifications par e-mail"))]
    return items


async def verify_email(term: Terminal, ctx: SessionContext) -> Notice:
    """Type the code received; empty: a new code is sent."""
    title = _("Vérifier mon e-mail")
    pending = await ctx.pending_address()
    if pending is None:
        address = await ctx.send_verification()
        return Notice(_("Code envoyé à {email} : saisissez-le ici dès réception.").format(email=address))
    code = await ask(
        term,
        title,
        _("Code"),
        previous=[(_("Envoyé à"), pending)],
        help_text=_("(reçu par courriel ; vide : envoyer un nouveau code)"),
        max_chars=24,
    )
    if code is None:
        return Notice()
    if not code.strip():
        address = await ctx.send_verification()
        return Notice(_("Nouveau code envoyé à {email}.").format(email=address))
    user = await ctx.verify_email(code)
    return Notice(_("Adresse vérifiée : {email}.").format(email=user.email))


async def change_email(term: Terminal, ctx: SessionContext) -> Notice:
    """A new address and the password; the address changes once its code is typed."""
    title = _("Changer d'e-mail")
    unchanged = Notice(_("E-mail inchangé."))
    if not ctx.mail_enabled():
        return Notice.fail(_(MAIL_OFF))
    email = await ask(term, title, _("Nouvel e-mail"), max_chars=validation.EMAIL_MAX)
    if email is None:
        return unchanged
    current = await password(term, title, _("Mot de passe actuel"), [(_("Nouvel e-mail"), email)])
    if current is None:
        return unchanged
    address = await ctx.change_email(email, current)
    return Notice(
        _("Code envoyé à {email} : saisissez-le dans Vérifier mon e-mail pour changer d'adresse.").format(
            email=address
        )
    )


async def notifications(term: Terminal, ctx: SessionContext, user: User) -> Notice:
    if not ctx.mail_enabled():
        return Notice.fail(_(MAIL_OFF))
    text = _(
        "Réponses et changements de statut : sur vos tickets. Tout : aussi, pour les administrateurs, "
        "chaque nouveau ticket et les tickets qui leur sont assignés. Actuellement : {current}."
    ).format(current=choice_label(user.notifications))
    choice = await menu(
        term,
        _("Notifications par e-mail"),
        [(c, _(label)) for c, label in CHOICES],
        body=lambda width: [[("", line)] for line in wrap(text, width)],
    )
    if choice is None:
        return Notice()
    user = await ctx.set_notifications(choice)
    note = "" if user.email_verified else " " + _("(aucun courriel tant que l'adresse n'est pas vérifiée)")
    return Notice(
        _("Notifications par e-mail : {choice}.").format(choice=choice_label(user.notifications)) + note
    )
