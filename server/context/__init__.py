"""The one door to the data for a connected user (SessionContext), composed of areas."""

from ..domain.access import Access, access_allowed
from .attachments import TEXT_SHOWN_MAX, sweep_unfinished
from .closing import close_quiet_tickets
from .finding import SEARCH_TEXT_MAX, USER_MATCHES_MAX
from .login import authenticate, create_user, key_login_failed, key_login_succeeded, key_owner
from .own_keys import MAX_KEYS
from .resources import Outcome, SessionResources, TicketForm
from .session import SessionContext
from .users_admin import LAST_ADMIN

__all__ = [
    "LAST_ADMIN",
    "MAX_KEYS",
    "SEARCH_TEXT_MAX",
    "TEXT_SHOWN_MAX",
    "USER_MATCHES_MAX",
    "Access",
    "Outcome",
    "SessionContext",
    "SessionResources",
    "TicketForm",
    "access_allowed",
    "authenticate",
    "close_quiet_tickets",
    "create_user",
    "key_login_failed",
    "key_login_succeeded",
    "key_owner",
    "sweep_unfinished",
]
