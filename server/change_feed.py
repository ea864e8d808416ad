"""The change feed: one task per process reads new history rows and account events and hands them
to the sessions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .domain.models import AccountEvent, AccountEventKind, Role, Status, TicketChange
from .periodic import Periodic
from .store import Database
from .store import account_events as events_store
from .store import feed as feed_store

log = logging.getLogger("support.live")

Listener = Callable[[TicketChange], None]

# Rows read at most per look; a burst beyond it is read on the next looks, in order.
BATCH = 200
# How long an id skipped over is waited for (see ChangeFeed._poll).
GAP_WAIT = 30.0
# Ids waited for at most: a huge jump (rows deleted, an import) is not worth chasing.
GAP_MAX = 100
KNOWN_STATUSES = frozenset(s.value for s in Status)
KNOWN_EVENTS = frozenset(k.value for k in AccountEventKind)
KNOWN_ROLES = frozenset(r.value for r in Role)


class _Cursor:
    """Where a feed is in one table: the last id read, and the ids below it not seen yet.

    Auto-increment ids are handed out in insert order but committed in any order on MySQL: a
    row with a lower id may appear after a higher one was read. Such skipped ids are read
    again for a while (GAP_WAIT) before being given up (a rollback).
    """

    def __init__(self) -> None:
        self.last_id: int | None = None
        # Ids below last_id not seen yet, with when they were first missed.
        self.gaps: dict[int, float] = {}

    def waited_for(self, now: float) -> list[int]:
        self.gaps = {i: t for i, t in self.gaps.items() if now - t < GAP_WAIT}
        return list(self.gaps)

    def take(self, rows, now: float) -> list:
        """The rows not delivered yet, in order; the others (read again for a gap) are left."""
        assert self.last_id is not None
        fresh = []
        for row in rows:
            if row.id <= self.last_id:
                if self.gaps.pop(row.id, None) is None:
                    continue  # already delivered
            else:
                # Wait for the nearest ids skipped (a transaction not yet committed), at most
                # GAP_MAX of them: a huge jump keeps its last ones, not none.
                self.gaps.update((i, now) for i in range(max(self.last_id + 1, row.id - GAP_MAX), row.id))
                self.last_id = row.id
            fresh.append(row)
        return fresh


class ChangeFeed:
    """Polls `historique` for rows newer than the last seen, whoever wrote them, and
    `evenements_compte` for what other processes did to accounts.

    The database is the feed: a change made by another server process sharing it arrives
    like one made here. Each look is one query on the primary key per table, whatever the
    number of sessions; what each session is told is its context's decision, not the feed's.
    An account event this process wrote is skipped: it applied it when it wrote it.
    """

    def __init__(
        self,
        db: Database,
        interval: float,
        *,
        process: str = "",
        on_account: Callable[[AccountEvent], None] | None = None,
    ) -> None:
        self.db = db
        self.listeners: set[Listener] = set()
        self.history = _Cursor()
        self.accounts = _Cursor()
        self.process = process
        self.on_account = on_account
        self.polls = 0
        # An outage is logged once, then retried at every look until it ends; what it is
        # (unreachable, pool exhausted, a lock past its bound) is the database's word.
        self._periodic = Periodic(
            "change-feed",
            self._look,
            interval,
            log=log,
            failed="change feed: paused, database %s; retrying",
            back=lambda: f"change feed: database back, resuming after id={self.last_id}",
        )
        # When the database last answered a look (monotonic clock).
        self.last_look = time.monotonic()

    @property
    def last_id(self) -> int | None:
        return self.history.last_id

    @property
    def gaps(self) -> dict[int, float]:
        return self.history.gaps

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every new change; returns what unsubscribes it."""
        self.listeners.add(listener)
        return lambda: self.listeners.discard(listener)

    @property
    def failing(self) -> bool:
        """Whether the last look failed (the database is away)."""
        return self._periodic.failing

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def _look(self) -> None:
        await self.poll()
        self.last_look = time.monotonic()

    async def poll(self) -> list[TicketChange]:
        """One look: deliver the rows written since the last one, and return them."""
        self.polls += 1
        if self.history.last_id is None or self.accounts.last_id is None:
            # Only what happens from now on is news; history before the start is not.
            async with self.db.transaction() as conn:
                self.history.last_id = await feed_store.newest_id(conn)
                self.accounts.last_id = await events_store.newest_id(conn)
            return []
        changes, events = await self._read()
        for event in events:
            self._apply(event)
        for change in changes:
            self._deliver(change)
        return changes

    async def _read(self) -> tuple[list[TicketChange], list[AccountEvent]]:
        now = time.monotonic()
        history, accounts = self.history, self.accounts
        assert history.last_id is not None and accounts.last_id is not None
        async with self.db.transaction() as conn:
            rows = await feed_store.rows_after(conn, history.last_id, history.waited_for(now), BATCH)
            waited = accounts.waited_for(now)
            event_rows = await events_store.rows_after(conn, accounts.last_id, waited, BATCH)
        changes = [
            TicketChange(
                history_id=row.id,
                ticket_id=row.ticket_id,
                ticket_title=row.titre,
                author_id=row.auteur_id,
                actor_id=row.acteur_id,
                action=row.action,
                internal=bool(row.interne),
                # A status this process does not know (a newer release beside it) is no
                # reason to lose the rest of the batch.
                new_status=Status(row.libelle) if row.libelle in KNOWN_STATUSES else None,
            )
            for row in history.take(rows, now)
        ]
        events = [
            AccountEvent(
                user_id=row.utilisateur_id,
                kind=AccountEventKind(row.evenement),
                at=events_store.instant(row),
                role=Role(row.role) if row.role in KNOWN_ROLES else None,
            )
            for row in accounts.take(event_rows, now)
            # Written here: applied to this process's sessions when it was written. Unknown
            # to this release (a newer one beside it): nothing it could do.
            if row.processus != self.process and row.evenement in KNOWN_EVENTS
        ]
        return changes, events

    def age(self) -> float:
        """Seconds since the database last answered a look: about the poll interval when well;
        it grows while the database is away or the event loop too busy to look."""
        return time.monotonic() - self.last_look

    def _apply(self, event: AccountEvent) -> None:
        if self.on_account is None:
            return
        try:
            self.on_account(event)
        except Exception:
            log.exception("change feed: account event of user id=%s not applied", event.user_id)

    def _deliver(self, change: TicketChange) -> None:
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:
                # One broken session must not keep the news from the others.
                log.exception("change feed: a session failed to take change id=%s", change.history_id)
