"""Categories: those offered to a new ticket, and their management by admins."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import validation
from ..domain.access import Access
from ..domain.models import Action, Category, Ticket, Urgency
from ..errors import ValidationError
from ..i18n import N_, _
from ..store import accounts, categories
from .catalogue import Catalogue

UNKNOWN = N_("Cette catégorie n'existe plus.")


class Categories(Catalogue):
    """`Catégorie` of `Nouveau ticket`, the admins' `Catégories` screen, a ticket's category."""

    access = Access.MANAGE_CATEGORIES
    kind = "category"
    store = categories
    rule = staticmethod(validation.category_name)
    unknown = UNKNOWN
    taken = N_("Une catégorie porte déjà ce nom.")
    already_active = N_("La catégorie est déjà active.")
    already_inactive = N_("La catégorie est déjà désactivée.")

    ticket_column = "categorie_id"
    moved = Action.CATEGORY_CHANGED

    offered_categories = Catalogue._offered
    all_categories = Catalogue._all
    add_category = Catalogue._add
    rename_category = Catalogue._rename
    set_category_active = Catalogue._set_active

    async def set_category_defaults(
        self, category_id: int, assignee_id: int | None, urgency: Urgency | str | None
    ) -> Category:
        """The admin who takes its new tickets (None: nobody) and the preselected urgency."""
        level = None if urgency is None else validation.urgency(urgency)

        async def change(conn: AsyncConnection) -> int:
            await self._existing(conn, category_id)
            if assignee_id is not None:
                row = await accounts.by_id(conn, assignee_id, lock=True)
                if row is None or not self.ctx.allowed(Access.BE_ASSIGNED, user=accounts.user_of(row)):
                    raise ValidationError(_("Seul un administrateur peut prendre un ticket en charge."))
            await categories.update(
                conn,
                category_id,
                assigne_defaut_id=assignee_id,
                urgence_defaut=level.value if level else None,
            )
            return category_id

        return await self._write(f"defaults assignee={assignee_id} urgency={level}", change)

    async def change_category(self, ticket_id: int, category_id: int) -> Ticket:
        """An admin gives a ticket another category, with its history entry."""
        same = N_("Le ticket est déjà dans cette catégorie.")
        return await self._move(ticket_id, category_id, Access.CHANGE_CATEGORY, same)
