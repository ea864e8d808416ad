"""Due dates: a target per urgency counted in the centre's opening hours (days, hours, public
holidays), from the moment a ticket is filed, paused while it waits for its requester. Pure: the
caller gives the settings and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .models import OPEN_STATUSES, Status, Urgency


@dataclass(frozen=True)
class OpeningHours:
    """When the centre answers: ISO weekdays (1 = Monday), one span of hours, closed dates."""

    days: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date]
    zone: ZoneInfo

    @property
    def day_minutes(self) -> int:
        return (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)

    def is_open_on(self, day: date) -> bool:
        return day.isoweekday() in self.days and day not in self.holidays

    def add(self, moment: datetime, minutes: int) -> datetime:
        """`moment` (naive UTC, as stored) plus `minutes` of opening time, as naive UTC."""
        local = moment.replace(tzinfo=UTC).astimezone(self.zone)
        day, clock = local.date(), local.time().replace(tzinfo=None)
        left = minutes
        # Bounded: the settings check that some day of the week is open; holidays are dates.
        for _ in range(366 * 20):
            if self.is_open_on(day) and clock < self.end:
                clock = max(clock, self.start)
                room = (self.end.hour * 60 + self.end.minute) - (clock.hour * 60 + clock.minute)
                if left <= room:
                    at = datetime.combine(day, clock, self.zone) + timedelta(minutes=left)
                    return at.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0)
                left -= room
            day, clock = day + timedelta(days=1), self.start
        raise ValueError("no opening time ahead")

    def minutes_between(self, start: datetime, end: datetime) -> int:
        """The opening minutes from `start` to `end` (naive UTC); 0 when `end` is not later."""
        if end <= start:
            return 0
        low = start.replace(tzinfo=UTC).astimezone(self.zone)
        high = end.replace(tzinfo=UTC).astimezone(self.zone)
        total, day = 0, low.date()
        while day <= high.date():
            if self.is_open_on(day):
                opens = max(datetime.combine(day, self.start, self.zone), low)
                closes = min(datetime.combine(day, self.end, self.zone), high)
                if closes > opens:
                    total += int((closes - opens).total_seconds() // 60)
            day += timedelta(days=1)
        return total

    def resumed(self, due_at: datetime, paused_since: datetime, now: datetime) -> datetime:
        """The due date once the requester has answered: the opening time waited since
        `paused_since` added to it (unchanged when no opening time went by)."""
        waited = self.minutes_between(paused_since, now)
        return self.add(due_at, waited) if waited else due_at


def _days(text: str) -> frozenset[int]:
    found: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if "-" in part:
            low, high = (int(p) for p in part.split("-", 1))
            found.update(range(low, high + 1))
        elif part:
            found.add(int(part))
    if not found or not found <= set(range(1, 8)):
        raise ValueError("days")
    return frozenset(found)


@cache
def opening_hours(days: str, hours: str, holidays: str, timezone: str) -> OpeningHours:
    """The settings' texts read (`1-5`, `08:00-17:00`, `2026-12-25, 2027-01-01`, a zone name);
    ValueError naming the one that is wrong."""
    try:
        weekdays = _days(days)
    except ValueError:
        raise ValueError(f"jours invalides : {days!r} (par exemple 1-5 : du lundi au vendredi)") from None
    try:
        start_text, end_text = hours.replace(" ", "").split("-", 1)
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError:
        raise ValueError(f"heures invalides : {hours!r} (par exemple 08:00-17:00)") from None
    if end <= start:
        raise ValueError(f"heures invalides : {hours!r} (la fin doit suivre le début)")
    try:
        closed = frozenset(date.fromisoformat(d.strip()) for d in holidays.split(",") if d.strip())
    except ValueError:
        raise ValueError(
            f"jours fériés invalides : {holidays!r} (par exemple 2026-12-25, 2027-01-01)"
        ) from None
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"fuseau horaire inconnu : {timezone!r} (par exemple Africa/Dakar)") from None
    return OpeningHours(weekdays, start, end, closed, zone)


def target_minutes(
    urgency: Urgency, hours: OpeningHours, high_hours: float, medium_days: float, low_days: float
) -> int:
    """The opening time a ticket of this urgency is due within."""
    match urgency:
        case Urgency.HIGH:
            return round(high_hours * 60)
        case Urgency.MEDIUM:
            return round(medium_days * hours.day_minutes)
        case _:
            return round(low_days * hours.day_minutes)


def is_late(
    status: Status, due_at: datetime | None, now: datetime, paused_since: datetime | None = None
) -> bool:
    """An open ticket past its due date (one without a due date never is). While it waits for
    its requester its clock stands still: late only if it already was when the wait began."""
    if paused_since is not None and paused_since < now:
        now = paused_since
    return status in OPEN_STATUSES and due_at is not None and due_at < now
