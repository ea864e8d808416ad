"""The admins' dashboard: open tickets by status and urgency, created per day, median delays,
the requesters' ratings and tickets by category."""

from __future__ import annotations

import statistics
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from ..domain.access import Access
from ..domain.models import OPEN_STATUSES, Dashboard, Status, Urgency
from ..store import dashboard, outbox, ratings, tickets

if TYPE_CHECKING:
    from .session import SessionContext


def _median(delays: list[timedelta]) -> timedelta | None:
    if not delays:
        return None
    return timedelta(seconds=round(statistics.median(d.total_seconds() for d in delays)))


class DashboardArea:
    """`Tableau de bord`."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    async def dashboard(
        self, *, days: int = 14, window_days: int = 30, now: datetime | None = None
    ) -> Dashboard:
        """Open tickets by status and urgency, tickets created per day, median delays; over the
        last `window_days`, ratings (count, average) and tickets created by category. `now`: the
        service's clock (the one tests move) unless given."""
        self.ctx.require(Access.VIEW_DASHBOARD)
        now = now or self.ctx.services.clock()
        first_day = now.date() - timedelta(days=days - 1)
        since = now - timedelta(days=window_days)
        async with self.ctx.db.transaction() as conn:
            ids = await tickets.status_ids(conn)
            by_status, by_urgency = await dashboard.open_counts(conn, sorted(ids[s] for s in OPEN_STATUSES))
            late = await dashboard.late_count(conn, sorted(ids[s] for s in OPEN_STATUSES), now)
            per_day = await dashboard.created_per_day(conn, datetime.combine(first_day, time()))
            delays = await dashboard.delays(conn, ids[Status.RESOLVED], since)
            rated, average = await ratings.summary(conn, since)
            by_category = await dashboard.created_by_category(conn, since)
            mail = await outbox.counts(conn) if self.ctx.services.mail.enabled else (None, None)
        first_responses = [r.first_response - r.created_at for r in delays if r.first_response]
        resolutions = [r.resolved - r.created_at for r in delays if r.resolved]
        return Dashboard(
            open_by_status=tuple((s, by_status.get(ids[s], 0)) for s in (Status.WAITING, Status.IN_PROGRESS)),
            open_by_urgency=tuple(
                (u, by_urgency.get(u.value, 0)) for u in (Urgency.HIGH, Urgency.MEDIUM, Urgency.LOW)
            ),
            created_per_day=tuple(
                (d, per_day.get(d.isoformat(), 0))
                for d in (first_day + timedelta(days=i) for i in range(days))
            ),
            median_first_response=_median(first_responses),
            median_resolution=_median(resolutions),
            window_days=window_days,
            mail_waiting=mail[0],
            late_open=late,
            mail_failed=mail[1],
            ratings=rated,
            average_rating=average,
            by_category=tuple(by_category),
        )
