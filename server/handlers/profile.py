"""Mon compte: one's name, password and SSH public keys."""

from __future__ import annotations

from datetime import datetime

from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..context import SessionContext
from ..domain import validation
from ..domain.models import SshKey, User
from ..domain.public_keys import KEY_LINE_MAX
from ..errors import UserError, ValidationError
from ..i18n import LANGUAGES, _
from ..ui.screens import ask, confirm, menu
from ..ui.terminal import Terminal
from ..ui.text import fit, wrap
from . import email
from .common import HIDDEN, Notice, ask_valid, new_password, password


def day(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y")


def role_label(user: User) -> str:
    return _("administrateur") if user.is_admin else _("utilisateur")


def account_lines(user: User, width: int) -> list[StyleAndTextTuples]:
    """Name, e-mail, role and creation date; typed text goes through `wrap` (sanitised)."""
    lines: list[StyleAndTextTuples] = []
    for label, value in (
        (_("Nom : "), user.name),
        (_("E-mail : "), user.email),
        (_("Rôle : "), role_label(user)),
        (_("Compte créé le : "), day(user.created_at)),
    ):
        for i, line in enumerate(wrap(value, width - len(label), multiline=False)):
            lines.append([("class:label", label if i == 0 else " " * len(label)), ("", line)])
    return lines


async def my_account(term: Terminal, ctx: SessionContext) -> Notice:
    """The account screen, until the user goes back to the main menu."""
    notice = Notice()
    while True:
        user = await ctx.my_account()
        pending = await ctx.pending_address()
        choice = await menu(
            term,
            _("Mon compte"),
            [
                ("name", _("Modifier mon nom")),
                ("password", _("Changer le mot de passe")),
                ("keys", _("Clés SSH")),
                # In both languages: found by whoever cannot read the one on screen.
                ("language", _("Langue / Language : {name}").format(name=LANGUAGES[ctx.language.code])),
                *email.mail_items(ctx, user, pending),
            ],
            body=lambda width, u=user, p=pending: [
                *account_lines(u, width),
                *email.mail_lines(ctx, u, p, width),
            ],
            **notice.kwargs(),
        )
        if choice is None:
            return Notice()
        try:
            match choice:
                case "name":
                    notice = await change_name(term, ctx, user)
                case "password":
                    notice = await change_password(term, ctx)
                case "keys":
                    notice = await ssh_keys(term, ctx)
                case "language":
                    notice = await choose_language(term, ctx)
                case "verify":
                    notice = await email.verify_email(term, ctx)
                case "email":
                    notice = await email.change_email(term, ctx)
                case "notifications":
                    notice = await email.notifications(term, ctx, user)
        except UserError as exc:
            notice = Notice.fail(exc.message)


async def choose_language(term: Terminal, ctx: SessionContext) -> Notice:
    """Français or English, kept with the account: the next screen is in it."""
    current = ctx.language.code
    mark = _(" (actuelle)")
    code = await menu(
        term,
        "Langue / Language",
        [(code, name + (mark if code == current else "")) for code, name in LANGUAGES.items()],
    )
    if code is None:
        return Notice()
    # Kept even when it is already the one on screen (from the client's LANG): it then holds
    # from any client.
    chosen = ctx.user.language if ctx.user is not None else None
    if code != chosen:
        await ctx.change_language(code)
    return Notice(_("Langue : {name}.").format(name=LANGUAGES[code]))


async def change_name(term: Terminal, ctx: SessionContext, user: User) -> Notice:
    name = await ask_valid(
        term,
        _("Modifier mon nom"),
        _("Nom"),
        [],
        validation.name,
        default=user.name,
        help_text=_("(80 caractères au plus)"),
        max_chars=validation.NAME_MAX,
    )
    if name is None or name == user.name:
        return Notice(_("Nom inchangé."))
    user = await ctx.change_name(name)
    return Notice(_("Nom modifié : {name}.").format(name=user.name))


async def change_password(term: Terminal, ctx: SessionContext) -> Notice:
    """The current password, then the new one twice; checked all at once by the context."""
    title = _("Changer le mot de passe")
    unchanged = Notice(_("Mot de passe inchangé."))
    current = await password(term, title, _("Mot de passe actuel"))
    if current is None:
        return unchanged
    new = await new_password(
        term, title, [(_("Mot de passe actuel"), HIDDEN)], label=_("Nouveau mot de passe")
    )
    if new is None:
        return unchanged
    await ctx.change_password(current, new)
    return Notice(_("Mot de passe changé."))


def key_lines(keys: list[SshKey], width: int) -> list[StyleAndTextTuples]:
    """Each key: its type and fingerprint, then its comment and date (comments sanitised)."""
    if not keys:
        text = _(
            "Aucune clé pour l'instant. Ajoutez la clé publique de votre ordinateur (par exemple "
            "le contenu de ~/.ssh/id_ed25519.pub) pour vous connecter sans mot de passe."
        )
        return [[("class:dim", line)] for line in wrap(text, width)]
    lines: list[StyleAndTextTuples] = []
    for n, key in enumerate(keys, 1):
        head = wrap(f"{n}. {key.algorithm} {key.fingerprint}", width, multiline=False)
        lines += [[("class:label", line)] for line in head]
        added = _("ajoutée le {date}").format(date=day(key.created_at))
        detail = f"{key.comment} · {added}" if key.comment else added
        lines += [[("", "   " + line)] for line in wrap(detail, width - 3, multiline=False)]
    return lines


async def ssh_keys(term: Terminal, ctx: SessionContext) -> Notice:
    """The list of one's keys, with adding and removing."""
    notice = Notice()
    while True:
        keys = await ctx.my_keys()
        items = [("add", _("Ajouter une clé"))]
        if keys:
            items.append(("remove", _("Supprimer une clé")))
        choice = await menu(
            term, _("Clés SSH"), items, body=lambda width, k=keys: key_lines(k, width), **notice.kwargs()
        )
        if choice is None:
            return Notice()
        try:
            notice = await (add_key(term, ctx) if choice == "add" else remove_key(term, ctx, keys))
        except UserError as exc:
            notice = Notice.fail(exc.message)


async def add_key(term: Terminal, ctx: SessionContext) -> Notice:
    """Ask for one pasted public key line until it is accepted or the user gives up.

    A refused paste is not put back in the field: it may be a private key pasted by mistake.
    """
    notice = Notice()
    while True:
        text = await ask(
            term,
            _("Ajouter une clé SSH"),
            _("Clé publique"),
            help_text=_("(une ligne : ssh-ed25519 AAAA… commentaire)"),
            max_chars=KEY_LINE_MAX,
            **notice.kwargs(),
        )
        if text is None:
            return Notice(_("Aucune clé ajoutée."))
        try:
            key = await ctx.add_key(text)
        except ValidationError as exc:
            notice = Notice.fail(exc.message)
            continue
        return Notice(_("Clé ajoutée : {fingerprint}.").format(fingerprint=key.fingerprint))


async def remove_key(term: Terminal, ctx: SessionContext, keys: list[SshKey]) -> Notice:
    title = _("Supprimer une clé")
    key = await menu(
        term,
        title,
        [(k, fit(f"{k.fingerprint} {k.comment}", 70).rstrip()) for k in keys],
        body=lambda width: [[("class:label", _("Quelle clé supprimer ?"))]],
        back_label=_("Annuler"),
    )
    if key is None:
        return Notice()
    question = _(
        "Supprimer la clé {fingerprint} ({comment}) ? Elle ne permettra plus de vous connecter."
    ).format(fingerprint=key.fingerprint, comment=key.comment or _("sans commentaire"))
    if not await confirm(term, title, question):
        return Notice(_("Suppression annulée."))
    await ctx.remove_key(key.id)
    return Notice(_("Clé supprimée : {fingerprint}.").format(fingerprint=key.fingerprint))
