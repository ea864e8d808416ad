"""What the screens offer: each menu entry asked of the one access decision (a mixin of
SessionContext, whose `allowed` it calls)."""

from __future__ import annotations

from ..domain.access import Access
from ..domain.models import Status, Ticket


class Offers:
    """Whether to show an entry; the action itself still asks `require` when it runs."""

    def can_list_all(self) -> bool:
        """Whether to offer `Tous les tickets` in the main menu."""
        return self.allowed(Access.LIST_ALL)

    def can_view_dashboard(self) -> bool:
        """Whether to offer `Tableau de bord` in the main menu."""
        return self.allowed(Access.VIEW_DASHBOARD)

    def can_manage_users(self) -> bool:
        """Whether to offer `Utilisateurs` in the main menu."""
        return self.allowed(Access.MANAGE_USERS)

    def can_have_assignments(self) -> bool:
        """Whether to offer `Mes tickets assignés` in the main menu."""
        return self.allowed(Access.BE_ASSIGNED)

    def can_change_status(self, ticket: Ticket) -> bool:
        """Whether to offer `Changer le statut` on this ticket's screen."""
        return self.allowed(Access.CHANGE_STATUS, ticket.author_id, status=ticket.status)

    def can_reply(self, ticket: Ticket) -> bool:
        """Whether to offer `Répondre` on this ticket's screen."""
        return self.allowed(Access.REPLY, ticket.author_id, status=ticket.status)

    def check_reply(self, ticket: Ticket) -> None:
        """Refuse at once, with its sentence, an answer this ticket would not take."""
        self.require(Access.REPLY, ticket.author_id, ticket.status)

    def can_add_note(self, ticket: Ticket) -> bool:
        """Whether to offer `Note interne` on this ticket's screen."""
        return self.allowed(Access.ADD_NOTE, ticket.author_id)

    def can_assign(self, ticket: Ticket) -> bool:
        """Whether to offer `Prendre en charge` and `Assigner à…` on this ticket's screen."""
        return self.allowed(Access.ASSIGN, ticket.author_id)

    def can_take(self, ticket: Ticket) -> bool:
        """Whether to offer `Prendre en charge`: to an admin who does not have it already."""
        return (
            self.can_assign(ticket)
            and self.user is not None
            and ticket.assignee_id != self.user.id
            and self.allowed(Access.BE_ASSIGNED)
        )

    def can_follow_up(self, ticket: Ticket) -> bool:
        """Whether to offer `Ouvrir un ticket de suite`: to the requester of a closed ticket
        that no ticket follows up yet."""
        return ticket.follow_up_id is None and self.allowed(
            Access.FOLLOW_UP, ticket.author_id, status=ticket.status
        )

    def survey_due(self, ticket: Ticket) -> bool:
        """Whether to ask `Votre avis (1 à 5)` on this ticket: to its requester, once it is
        resolved or closed, if never asked."""
        return ticket.rating is None and self.allowed(Access.RATE, ticket.author_id, status=ticket.status)

    def can_reopen(self, ticket: Ticket) -> bool:
        """Whether to offer `Le problème persiste`: to the requester of a resolved ticket."""
        return ticket.status is Status.RESOLVED and self.allowed(Access.REOPEN, ticket.author_id)

    def can_manage_categories(self) -> bool:
        """Whether to offer `Catégories` in the main menu."""
        return self.allowed(Access.MANAGE_CATEGORIES)

    def can_change_category(self, ticket: Ticket) -> bool:
        """Whether to offer `Changer la catégorie` on this ticket's screen."""
        return self.allowed(Access.CHANGE_CATEGORY, ticket.author_id)

    def can_delete_attachment(self, ticket: Ticket) -> bool:
        """Whether to offer `Supprimer une pièce jointe` on this ticket's screen."""
        return bool(ticket.attachments) and self.allowed(Access.DELETE_ATTACHMENT, ticket.author_id)

    def can_manage_places(self) -> bool:
        """Whether to offer `Lieux` under `Paramètres`."""
        return self.allowed(Access.MANAGE_PLACES)

    def can_manage_canned(self) -> bool:
        """Whether to offer `Réponses types` under `Paramètres`."""
        return self.allowed(Access.MANAGE_CANNED)

    def can_use_canned(self, ticket: Ticket) -> bool:
        """Whether `Répondre` on this ticket offers the canned answers' key."""
        return self.allowed(Access.USE_CANNED, ticket.author_id, status=ticket.status)

    def can_change_place(self, ticket: Ticket) -> bool:
        """Whether to offer `Changer le lieu` on this ticket's screen: when there is a place to
        give it, or one to take away."""
        has_choice = ticket.place_id is not None or ticket.places_offered
        return has_choice and self.allowed(Access.CHANGE_PLACE, ticket.author_id)
