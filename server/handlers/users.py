"""Utilisateurs, for admins: find an account, change its role, delete it."""

from __future__ import annotations

from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..context import SessionContext
from ..domain import validation
from ..domain.models import Role, UserSummary
from ..errors import UserError
from ..i18n import _
from ..ui.columns import Cell, Column
from ..ui.screens import ask, confirm, menu
from ..ui.table import TableAction, table
from ..ui.terminal import Terminal
from .common import Notice
from .profile import account_lines, role_label
from .recovery import issue_code

# Rows of one page: what fits in 24 lines with a three-line notice.
PAGE_SIZE = 12


def _columns() -> list[Column]:
    # The name gets 30 columns before the e-mail's 24; the role abbreviates first (80 columns).
    return [
        Column(_("N°"), 5, value=lambda s: f"#{s.user.id}"),
        Column(_("Nom"), least=30, value=lambda s: s.user.name),
        Column(_("E-mail"), least=24, value=lambda s: s.user.email),
        Column(_("Rôle"), 14, steps=((1, 6),), short_at=6, value=_role),
        Column(_("Tickets"), 7, value=lambda s: str(s.ticket_count)),
    ]


def _role(s: UserSummary) -> Cell:
    return role_label(s.user), _("admin") if s.user.is_admin else _("util.")


# The list's own keys: pages and the search.
LIST_KEYS = {
    "pagedown": TableAction.NEXT,
    "pageup": TableAction.PREVIOUS,
    "r": TableAction.SEARCH,
    "R": TableAction.SEARCH,
    "/": TableAction.SEARCH,
}


async def users_list(term: Terminal, ctx: SessionContext) -> Notice:
    """Accounts page by page, searched by name or e-mail; each opened from here comes back here."""
    search, offset, notice = "", 0, Notice()
    while True:
        page = await ctx.list_users(search, offset, PAGE_SIZE)
        offset = page.offset
        action = await table(
            term,
            _("Utilisateurs"),
            _columns(),
            page.users,
            key=lambda s: s.user.id,
            prompt=_("Numéro du compte : "),
            hints=_("N° Entrée : ouvrir · R : rechercher · PgPréc/PgSuiv : page · 0/Échap : retour"),
            empty=_("Aucun compte ne correspond."),
            above=[_("Recherche : « {search} »").format(search=search) if search else _("Tous les comptes")],
            gap_above=True,
            position=_("{n} compte(s) · page {page}/{pages}").format(
                n=page.total, page=page.page, pages=page.pages
            ),
            actions=LIST_KEYS,
            rows=max(1, len(page.users)),
            **notice.kwargs(),
        )
        notice = Notice()
        if action is None:
            return Notice()
        kind, user_id = action
        match kind:
            case TableAction.NEXT:
                offset += PAGE_SIZE
            case TableAction.PREVIOUS:
                offset = max(0, offset - PAGE_SIZE)
            case TableAction.SEARCH:
                typed = await ask(
                    term,
                    _("Rechercher un compte"),
                    _("Nom ou e-mail"),
                    default=search,
                    help_text=_("(vide : tous les comptes)"),
                    max_chars=validation.EMAIL_MAX,
                )
                if typed is not None:
                    search, offset = typed.strip(), 0
            case TableAction.OPEN:
                assert user_id is not None
                try:
                    notice = await user_screen(term, ctx, user_id)
                except UserError as exc:
                    notice = Notice.fail(exc.message)
                if not ctx.can_manage_users():  # the admin just gave up their own role
                    return notice


def _user_lines(s: UserSummary, width: int) -> list[StyleAndTextTuples]:
    label = _("Tickets : ")
    return [*account_lines(s.user, width), [("class:label", label), ("", str(s.ticket_count))]]


async def user_screen(term: Terminal, ctx: SessionContext, user_id: int) -> Notice:
    """One account and what an admin may do to it."""
    notice = Notice()
    while True:
        summary = await ctx.user_summary(user_id)
        user = summary.user
        items = [
            ("demote", _("Retirer le rôle administrateur"))
            if user.is_admin
            else ("promote", _("Promouvoir administrateur"))
        ]
        if not ctx.is_self(user):
            items.append(("delete", _("Supprimer le compte")))
        items.append(("reset", _("Code de réinitialisation")))
        choice = await menu(
            term,
            _("Utilisateur #{id}").format(id=user.id),
            items,
            body=lambda width, s=summary: _user_lines(s, width),
            **notice.kwargs(),
        )
        if choice is None:
            return Notice()
        try:
            if choice == "reset":
                notice = await issue_code(term, ctx, user)
            elif choice == "delete":
                result = await delete_user(term, ctx, summary)
                if result is not None:
                    return result
                notice = Notice(_("Suppression annulée."))
            else:
                role = Role.ADMIN if choice == "promote" else Role.USER
                notice = await change_role(term, ctx, summary, role)
                if not ctx.can_manage_users():
                    return notice
        except UserError as exc:
            notice = Notice.fail(exc.message)


async def change_role(term: Terminal, ctx: SessionContext, summary: UserSummary, role: Role) -> Notice:
    user = summary.user
    promote = role is Role.ADMIN
    title = _("Promouvoir administrateur") if promote else _("Retirer le rôle administrateur")
    question = (
        _("Donner le rôle administrateur à {name} ({email}) ?")
        if promote
        else _("Retirer le rôle administrateur à {name} ({email}) ?")
    )
    if not await confirm(term, title, question.format(name=user.name, email=user.email)):
        return Notice(_("Changement annulé."))
    await ctx.set_role(user.id, role)
    done = _("{name} est maintenant administrateur.") if promote else _("{name} n'est plus administrateur.")
    return Notice(done.format(name=user.name))


async def delete_user(term: Terminal, ctx: SessionContext, summary: UserSummary) -> Notice | None:
    """The account's e-mail typed back confirms; None if the admin gave up."""
    user = summary.user
    warning = _(
        "Le compte et ses {n} ticket(s) seront supprimés définitivement. Tapez son e-mail pour confirmer."
    ).format(n=summary.ticket_count)
    typed = await ask(
        term,
        _("Supprimer le compte"),
        _("E-mail du compte"),
        previous=[(_("Compte"), f"{user.name} <{user.email}>")],
        max_chars=validation.EMAIL_MAX,
        warning=warning,
    )
    if not typed:
        return None
    deleted = await ctx.delete_user(user.id, typed)
    return Notice(
        _("Compte de {name} supprimé, avec ses {n} ticket(s).").format(
            name=deleted.user.name, n=deleted.ticket_count
        )
    )
