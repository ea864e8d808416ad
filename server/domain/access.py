"""The one access decision: what a user may ask of a ticket, an account or the ticket base."""

from __future__ import annotations

import enum

from .models import Status, User


class Access(enum.Enum):
    """What a user may ask of a ticket or of the ticket base."""

    CREATE_TICKET = "create_ticket"
    VIEW_TICKET = "view_ticket"
    LIST_ALL = "list_all"
    CHANGE_STATUS = "change_status"
    VIEW_DASHBOARD = "view_dashboard"
    # Internal notes: told of them, and unread markers count them.
    SEE_INTERNAL = "see_internal"
    # One's own name, password and SSH keys.
    OWN_ACCOUNT = "own_account"
    # One SSH key, by its owner's id: only ever its owner's, admins included.
    OWN_KEY = "own_key"
    # List accounts, change roles, delete accounts.
    MANAGE_USERS = "manage_users"
    REPLY = "reply"
    ADD_NOTE = "add_note"
    ASSIGN = "assign"
    # Be the one a ticket is assigned to (asked of the assignee, not of the one assigning).
    BE_ASSIGNED = "be_assigned"
    # Say "Le problème persiste" on a resolved ticket.
    REOPEN = "reopen"
    # Every ticket of the base, exported in one stream (admins).
    EXPORT = "export"
    # Add, rename, deactivate categories and set their defaults.
    MANAGE_CATEGORIES = "manage_categories"
    # Change the category of a ticket.
    CHANGE_CATEGORY = "change_category"
    # Delete a file attached to a ticket (admins; its requester keeps what they sent).
    DELETE_ATTACHMENT = "delete_attachment"
    # Add, rename, deactivate places and their networks.
    MANAGE_PLACES = "manage_places"
    # Change the place of a ticket.
    CHANGE_PLACE = "change_place"
    # Write, change and delete canned answers.
    MANAGE_CANNED = "manage_canned"
    # Insert a canned answer while replying.
    USE_CANNED = "use_canned"
    # Open a new ticket following up a closed one (its requester).
    FOLLOW_UP = "follow_up"
    # Answer `Votre avis (1 à 5)` on a resolved or closed ticket (its requester only).
    RATE = "rate"


# What a closed ticket no longer takes, from anyone: it is read, or followed by a new ticket.
CLOSED_REFUSES = frozenset({Access.REPLY, Access.REOPEN, Access.CHANGE_STATUS, Access.USE_CANNED})


def access_allowed(
    user: User | None, access: Access, author_id: int | None = None, status: Status | None = None
) -> bool:
    """The single access decision of the application (`author_id`: the ticket's author, or the
    owner of the key; `status`: the ticket's). Internal notes are seen by those allowed
    SEE_INTERNAL, and no one else; a closed ticket takes no more answers."""
    if user is None:
        return False
    if status is Status.CLOSED and access in CLOSED_REFUSES:
        return False
    if access is Access.OWN_KEY:
        return author_id == user.id
    if access is Access.FOLLOW_UP:
        return status is Status.CLOSED and author_id is not None and author_id == user.id
    if access is Access.RATE:
        # The requester's satisfaction: nobody answers it for them, admins included.
        rated = status in (Status.RESOLVED, Status.CLOSED)
        return rated and author_id is not None and author_id == user.id
    if access is Access.REOPEN:
        # Only the requester can say the fix did not work; admins change the status instead.
        return author_id is not None and author_id == user.id
    if user.is_admin:
        return True
    match access:
        case Access.CREATE_TICKET:
            return True
        case Access.OWN_ACCOUNT:
            return True
        case Access.VIEW_TICKET | Access.REPLY:
            return author_id == user.id
        case _:
            return False
