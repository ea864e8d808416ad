"""The optional Prometheus endpoint (`metrics.listen`, off by default), with prometheus_client.

Counters are the process's own (one service per process): logins by outcome, tickets created,
counted where the outcome is known and committed. The figures of the moment — sessions open by
kind, database connections in use, the event loop's lag — are read from the running service at
each scrape by `ServiceCollector`. The HTTP server is prometheus_client's, in a thread of its own:
a scrape never waits for the event loop, and a busy loop shows as lag instead of a hung scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from .domain.models import Status

log = logging.getLogger("support.metrics")


def status_label(status: Status) -> str:
    """A status as a metric label: its English name, lower case (waiting, in_progress, resolved)."""
    return status.name.lower()


REGISTRY = CollectorRegistry()

LOGINS = Counter(
    "support_logins",
    "Password and key logins, by outcome (ok, failed, throttled).",
    ["outcome"],
    registry=REGISTRY,
)
for _outcome in ("ok", "failed", "throttled"):
    LOGINS.labels(_outcome)
TICKETS_CREATED = Counter("support_tickets_created", "Tickets created.", registry=REGISTRY)
STATUS_CHANGES = Counter(
    "support_status_changes",
    "Ticket status changes (reopenings included), by new status.",
    ["to"],
    registry=REGISTRY,
)
for _status in Status:
    STATUS_CHANGES.labels(status_label(_status))
REGISTRATIONS_THROTTLED = Counter(
    "support_registrations_throttled",
    "Account creations refused for now: too many from one address.",
    registry=REGISTRY,
)

# Seconds between two looks at the event loop's lag.
LAG_INTERVAL = 0.5


class LoopLag:
    """How late a sleep of LAG_INTERVAL wakes up: the time a key press waits behind other work."""

    def __init__(self) -> None:
        self.last = 0.0
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            began = time.monotonic()
            await asyncio.sleep(LAG_INTERVAL)
            self.last = max(0.0, time.monotonic() - began - LAG_INTERVAL)
            self.worst = max(self.worst, self.last)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class ServiceCollector(Collector):
    """The running service's figures of the moment, read at each scrape."""

    def __init__(
        self,
        sessions: Callable[[], dict[str, int]],
        pool: Callable[[], tuple[int, int]],
        lag: LoopLag,
        db_up: Callable[[], bool] = lambda: True,
        *,
        db_errors: Callable[[], dict[str, int]] = dict,
        refused: Callable[[], dict[str, int]] = dict,
        feed_age: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.sessions, self.pool, self.lag, self.db_up = sessions, pool, lag, db_up
        self.db_errors, self.refused, self.feed_age = db_errors, refused, feed_age

    def collect(self) -> Iterable[GaugeMetricFamily]:
        open_ = GaugeMetricFamily(
            "support_sessions_open", "Open terminal sessions, by kind (guest, user, admin).", labels=["kind"]
        )
        for kind, n in self.sessions().items():
            open_.add_metric([kind], n)
        yield open_
        yield GaugeMetricFamily(
            "support_db_up", "1 while the database answers, 0 during an outage.", value=int(self.db_up())
        )
        in_use, size = self.pool()
        yield GaugeMetricFamily("support_db_pool_in_use", "Database connections checked out.", value=in_use)
        yield GaugeMetricFamily("support_db_pool_size", "Database connections the pool keeps.", value=size)
        errors = CounterMetricFamily(
            "support_db_errors",
            "Transactions that failed at the database, by reason "
            "(unreachable, pool_exhausted, lock_wait_timeout, statement_timeout, deadlock).",
            labels=["reason"],
        )
        for reason, n in self.db_errors().items():
            errors.add_metric([reason.replace(" ", "_")], n)
        yield errors
        yield refused_family(self.refused())
        yield GaugeMetricFamily(
            "support_live_feed_age_seconds",
            "Seconds since the change feed last read the database (live.poll_interval when well).",
            value=self.feed_age(),
        )
        yield GaugeMetricFamily(
            "support_event_loop_lag_seconds", "Lateness of the latest event-loop tick.", value=self.lag.last
        )
        yield GaugeMetricFamily(
            "support_event_loop_lag_max_seconds",
            "Worst event-loop lateness since start.",
            value=self.lag.worst,
        )


def refused_family(counts: dict[str, int]) -> CounterMetricFamily:
    refused = CounterMetricFamily(
        "support_connections_refused",
        "SSH connections turned away by the connection gate, by limit reached.",
        labels=["limit"],
    )
    for limit, n in counts.items():
        refused.add_metric([limit], n)
    return refused


# How the figures of ssh.workers' processes make the service's one: the worst lateness and
# feed age, the lowest db_up (0 as soon as one worker has lost the database), the earliest
# `_created`; everything else (sessions, pool connections, counters) is summed.
WORST = {
    "support_event_loop_lag_seconds",
    "support_event_loop_lag_max_seconds",
    "support_live_feed_age_seconds",
}
LOWEST = {"support_db_up"}


def merged(expositions: Iterable[str], own: Iterable[Metric] = ()) -> list[Metric]:
    """One set of families from the workers' expositions (text format) and the supervisor's own."""
    families: dict[str, Metric] = {}
    values: dict[tuple[str, str, tuple], float] = {}
    parsed = (text_string_to_metric_families(text) for text in expositions)
    for family in itertools.chain(*parsed, own):
        families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
        for sample in family.samples:
            key = (family.name, sample.name, tuple(sorted(sample.labels.items())))
            if key not in values:
                values[key] = sample.value
            elif family.name in WORST:
                values[key] = max(values[key], sample.value)
            elif family.name in LOWEST or sample.name.endswith("_created"):
                values[key] = min(values[key], sample.value)
            else:
                values[key] += sample.value
    for (name, sample_name, labels), value in values.items():
        families[name].add_sample(sample_name, dict(labels), value)
    return list(families.values())


class MergedCollector(Collector):
    """The supervisor's figures: its workers' merged, read at each scrape."""

    def __init__(self, figures: Callable[[], list[Metric]]) -> None:
        self.figures = figures

    def describe(self) -> list[Metric]:
        return []  # registering must not ask the workers (the loop that would answer waits)

    def collect(self) -> Iterable[Metric]:
        yield from self.figures()


class MetricsEndpoint:
    """The HTTP endpoint and the loop-lag probe, started and stopped with the service."""

    def __init__(
        self, host: str, port: int, collector_of: Callable[[LoopLag], ServiceCollector], serve: bool = True
    ) -> None:
        self.host, self.requested = host, port
        # A worker of ssh.workers registers its figures but serves none: its supervisor does.
        self.serve = serve
        self.lag = LoopLag()
        self.collector = collector_of(self.lag)
        self._server = None
        self.port = 0

    def start(self) -> None:
        REGISTRY.register(self.collector)
        self.lag.start()
        if not self.serve:
            return
        self._server, _thread = start_http_server(self.requested, self.host, registry=REGISTRY)
        self.port = self._server.server_address[1]
        log.info("metrics on http://%s:%s/metrics", self.host, self.port)

    async def stop(self) -> None:
        await self.lag.stop()
        if self._server is not None:
            server, self._server = self._server, None
            await asyncio.to_thread(server.shutdown)
            server.server_close()
        with contextlib.suppress(KeyError):
            REGISTRY.unregister(self.collector)
