"""Account events: what a password reset, a deletion or a role change does to the account's
open sessions, in this process when the change is written and in every other process sharing
the database when its change feed reads the event. One function does both."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import AccountEvent, AccountEventKind
from ..i18n import N_
from ..store import account_events as events_store

if TYPE_CHECKING:
    from .resources import SessionResources
    from .session import SessionContext

SESSION_ENDED = N_("Le mot de passe de ce compte vient d'être réinitialisé : reconnectez-vous.")


def moment() -> datetime:
    """Now in UTC to the microsecond (naive, like every stored time): when an account event
    happened, and when a session logged in, compared with each other."""
    return datetime.now(UTC).replace(tzinfo=None)


async def record(conn: AsyncConnection, resources: SessionResources, event: AccountEvent) -> None:
    """Write `event` in `conn`'s transaction, marked as this process's: the other processes
    apply it once it has committed, this one right after."""
    role = event.role.value if event.role is not None else None
    await events_store.insert(conn, event.user_id, event.kind.value, event.at, resources.process, role)


def apply(
    sessions: Iterable[SessionContext], event: AccountEvent, *, spare: SessionContext | None = None
) -> None:
    """Make this process's sessions of the event's account follow it (all but `spare`).

    A reset ends the sessions opened before it, in the account's language; one opened since
    (with the new password, on a front end that had not read the event yet) stays. Both
    times are taken to the microsecond, each by its own process's clock: front ends sharing
    a database keep their clocks in step (NTP), else such a session may be ended too.
    """
    at = event.at
    for session in list(sessions):
        user = session.user
        if user is None or user.id != event.user_id or session is spare:
            continue
        match event.kind:
            case AccountEventKind.PASSWORD_RESET:
                if session.since is not None and session.since > at:
                    continue
                session.end(SESSION_ENDED)
            case AccountEventKind.DELETED:
                # Its next action logs it out and says why.
                session._deleted_user = user
            case AccountEventKind.ROLE_CHANGED if event.role is not None:
                # A demoted admin loses the admin screens at once.
                session.user = replace(user, role=event.role)
