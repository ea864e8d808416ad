"""Connection limits, decided as each TCP connection arrives, before any SSH is spoken."""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..config import IPNetwork, SshSettings
from .forwarding import Forwarding
from .proxy_protocol import ProxyFront

log = logging.getLogger("support.limits")

# Peer as the socket gives it: (host, port), unique among open connections.
Peer = tuple[str, int]

# Refusals of one address are logged once, then summed up after this many seconds.
LOG_WINDOW = 60.0
# Bytes a connection waiting for its turn may send before it is dropped.
EARLY_LIMIT = 65536


class Refusal(enum.Enum):
    """Why a connection was turned away (as written in the log)."""

    TOTAL = "too many connections"
    UNAUTHENTICATED = "too many connections still authenticating"
    PER_ADDRESS = "too many connections from this address"
    UNAUTHENTICATED_PER_ADDRESS = "too many connections from this address still authenticating"
    RATE = "connection rate exceeded"
    # A worker process whose supervisor (the one gate of ssh.workers) does not answer.
    UNAVAILABLE = "connection gate unreachable"


@dataclass(frozen=True)
class Limits:
    max_connections: int
    max_unauthenticated: int
    max_per_address: int
    max_unauthenticated_per_address: int
    rate_per_minute: int
    rate_burst: int
    rate_wait: float
    exempt: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, ssh: SshSettings) -> Limits:
        return cls(
            max_connections=ssh.max_connections,
            max_unauthenticated=ssh.max_unauthenticated,
            max_per_address=ssh.max_per_address,
            max_unauthenticated_per_address=ssh.max_unauthenticated_per_address,
            rate_per_minute=ssh.rate_per_minute,
            rate_burst=ssh.rate_burst,
            rate_wait=ssh.rate_wait,
            exempt=ssh.exempt_networks(),
        )


@dataclass(frozen=True)
class Admission:
    """The gate's answer: refused (and why), or admitted after `delay` seconds."""

    refusal: Refusal | None = None
    delay: float = 0.0


@dataclass
class _Bucket:
    tokens: float
    stamp: float


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:  # not an IP address (a UNIX socket, say)
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def source_of(host: str) -> str:
    """The key limits are counted under: the address, or its /64 for IPv6 (one host's share)."""
    ip = _ip(host)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip) if ip is not None else host


class ConnectionGate:
    """Counts open connections per source address and decides whether a new one may start.

    Like OpenSSH's MaxStartups and PerSourcePenalties, which asyncssh does not have: caps on
    all connections, on those still authenticating, per address; and a token bucket per address
    whose overflow waits its turn (a class logging in at once) or, past `rate_wait`, is dropped
    (a DHEat flood), in both cases before the server has spent anything on a key exchange.
    """

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._open: dict[Peer, tuple[str, bool]] = {}  # peer -> (source, authenticated)
        self._per_source: Counter[str] = Counter()
        self._unauth_per_source: Counter[str] = Counter()
        self._unauthenticated = 0
        self._buckets: dict[str, _Bucket] = {}
        self._swept = clock()
        # source -> refusals not logged yet, and the timer that will sum them up
        self._quiet: dict[str, tuple[Counter[Refusal], asyncio.TimerHandle | None]] = {}
        # Connections waiting for their turn: closed with the service.
        self.waiting: set[asyncio.BaseTransport] = set()
        # Every refusal since start, by limit (the metrics endpoint's figures).
        self.refused: dict[str, int] = {r.name.lower(): 0 for r in Refusal}

    @property
    def open_count(self) -> int:
        return len(self._open)

    @property
    def unauthenticated_count(self) -> int:
        return self._unauthenticated

    def exempt(self, host: str) -> bool:
        """Whether the address is in an exempt network (no per-address caps, no rate)."""
        ip = _ip(host)
        return ip is not None and any(ip in network for network in self.limits.exempt)

    def admit(self, peer: Peer) -> Admission:
        """Count a new connection in, or say why not; its slot is held until `release`."""
        limits = self.limits
        source = source_of(peer[0])
        exempt = self.exempt(peer[0])
        refusal: Refusal | None = None
        delay = 0.0
        if len(self._open) >= limits.max_connections:
            refusal = Refusal.TOTAL
        elif self._unauthenticated >= limits.max_unauthenticated:
            refusal = Refusal.UNAUTHENTICATED
        elif not exempt and self._per_source[source] >= limits.max_per_address:
            refusal = Refusal.PER_ADDRESS
        elif not exempt and self._unauth_per_source[source] >= limits.max_unauthenticated_per_address:
            refusal = Refusal.UNAUTHENTICATED_PER_ADDRESS
        elif not exempt and limits.rate_per_minute:
            delay = self._take_token(source)
            if delay < 0:
                refusal = Refusal.RATE
        if refusal is not None:
            self.refused[refusal.name.lower()] += 1
            self._log_refusal(source, peer[0], refusal)
            return Admission(refusal)
        self._open[peer] = (source, False)
        self._per_source[source] += 1
        self._unauth_per_source[source] += 1
        self._unauthenticated += 1
        return Admission(delay=delay)

    def authenticated(self, peer: Peer) -> None:
        """The connection has authenticated: it no longer counts as a startup."""
        entry = self._open.get(peer)
        if entry is None or entry[1]:
            return
        self._open[peer] = (entry[0], True)
        self._unauth_per_source[entry[0]] -= 1
        self._unauthenticated -= 1

    def release(self, peer: Peer) -> None:
        """The connection is gone: free its slot."""
        entry = self._open.pop(peer, None)
        if entry is None:
            return
        source, authenticated = entry
        if not authenticated:
            self._unauth_per_source[source] -= 1
            self._unauthenticated -= 1
        self._per_source[source] -= 1
        if self._per_source[source] <= 0:
            del self._per_source[source]
            self._unauth_per_source.pop(source, None)

    # Rate ------------------------------------------------------------------------------------

    def _take_token(self, source: str) -> float:
        """Seconds until this connection's turn (0: now), or -1 if that is past `rate_wait`."""
        limits = self.limits
        now = self.clock()
        per_second = limits.rate_per_minute / 60
        self._sweep(now, per_second)
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = self._buckets[source] = _Bucket(float(limits.rate_burst), now)
        bucket.tokens = min(limits.rate_burst, bucket.tokens + (now - bucket.stamp) * per_second)
        bucket.stamp = now
        # Tokens below zero are turns booked by connections already waiting.
        delay = max(0.0, (1 - bucket.tokens) / per_second)
        if delay > limits.rate_wait:
            return -1
        bucket.tokens -= 1
        return delay

    def cancel_turn(self, peer: Peer) -> None:
        """A connection gave up before its turn: the turn it booked goes back to the bucket,
        so that a client which left (ssh-audit's rate test does) does not delay the next."""
        bucket = self._buckets.get(source_of(peer[0]))
        if bucket is not None:
            bucket.tokens = min(self.limits.rate_burst, bucket.tokens + 1)

    def _sweep(self, now: float, per_second: float) -> None:
        # A bucket that has refilled is the same as no bucket: forget it, so that a scan from
        # many addresses does not grow memory for good.
        if now - self._swept < LOG_WINDOW:
            return
        self._swept = now
        full = self.limits.rate_burst
        for source, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.stamp) * per_second >= full:
                del self._buckets[source]

    # Log -------------------------------------------------------------------------------------

    def _log_refusal(self, source: str, host: str, refusal: Refusal) -> None:
        """One line for the first refusal of an address, then one summary per LOG_WINDOW."""
        if source in self._quiet:
            self._quiet[source][0][refusal] += 1
            return
        log.warning("addr=%s connection refused: %s", host, refusal.value)
        try:
            timer = asyncio.get_running_loop().call_later(LOG_WINDOW, self.flush_log, source)
        except RuntimeError:  # no loop (unit use): summed up by an explicit flush_log
            timer = None
        self._quiet[source] = (Counter(), timer)

    def flush_log(self, source: str | None = None) -> None:
        """Log how many refusals of `source` (or every address) were kept quiet, and reset."""
        for key in [source] if source is not None else list(self._quiet):
            counts, timer = self._quiet.pop(key, (Counter(), None))
            if timer is not None:
                timer.cancel()
            if counts:
                detail = ", ".join(f"{n} {r.value}" for r, n in counts.most_common())
                log.warning("addr=%s %d more connections refused: %s", key, sum(counts.values()), detail)

    def close(self) -> None:
        """The service stops: connections still waiting for their turn are dropped."""
        for transport in list(self.waiting):
            transport.abort()
        self.waiting.clear()
        self.flush_log()


class _GatedProtocol(Forwarding):
    """Stands in front of the SSH connection: it exists only once the gate lets it through."""

    def __init__(self, gate: ConnectionGate, make_inner: Callable[[], asyncio.Protocol]) -> None:
        self.gate = gate
        self.make_inner = make_inner
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None
        self.waiting: asyncio.TimerHandle | None = None
        self.early = bytearray()
        # The verdict of a worker's gate (gate_link.py), asked of the supervisor.
        self.deciding: asyncio.Future | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peername = transport.get_extra_info("peername") or ("-", 0)
        peer = (str(peername[0]), int(peername[1]))
        decided = self.gate.admit(peer)
        if isinstance(decided, Admission):
            self._admitted(peer, decided)
        else:
            # Meanwhile what the client sends is kept (data_received), as during a wait.
            self.deciding = decided
            decided.add_done_callback(lambda future: self._decided(peer, future))

    def _decided(self, peer: Peer, future: asyncio.Future) -> None:
        self.deciding = None
        if future.cancelled():
            return  # the connection went first; the remote gate gives the slot back
        admission = future.result()
        if self.lost:
            if admission.refusal is None:
                if admission.delay > 0:
                    self.gate.cancel_turn(peer)
                self.gate.release(peer)
            return
        self._admitted(peer, admission)

    def _admitted(self, peer: Peer, admission: Admission) -> None:
        transport = self.transport
        assert transport is not None
        if admission.refusal is not None:
            # No version string, no key exchange: the refused connection costs next to nothing.
            transport.abort()
            return
        self.peer = peer
        if admission.delay > 0:
            # Still reading while it waits, so that a client leaving is noticed and its turn
            # given back; what it sends meanwhile (its version string) is kept for later.
            self.gate.waiting.add(transport)
            self.waiting = asyncio.get_running_loop().call_later(admission.delay, self._start)
        else:
            self._start()

    def _start(self) -> None:
        self.waiting = None
        assert self.transport is not None
        self.gate.waiting.discard(self.transport)
        if self.transport.is_closing():
            return
        self.inner = self.make_inner()
        self.inner.connection_made(self.transport)
        if self.early:
            data, self.early = bytes(self.early), bytearray()
            self.inner.data_received(data)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)
        elif len(self.early) + len(data) > EARLY_LIMIT:
            # More than a version string and a key exchange offer before its turn: not a client.
            assert self.transport is not None
            self.transport.abort()
        else:
            self.early += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.deciding is not None:
            self.deciding.cancel()
        if self.waiting is not None:
            self.waiting.cancel()
            self.gate.waiting.discard(self.transport)  # type: ignore[arg-type]
            if self.peer is not None:
                self.gate.cancel_turn(self.peer)
        if self.peer is not None:
            self.gate.release(self.peer)
        if self.inner is not None:
            self.inner.connection_lost(exc)
        if self.transport is not None:
            asyncio.get_running_loop().call_soon(_forget_reader, self.transport)


def _forget_reader(transport: asyncio.BaseTransport) -> None:
    # asyncio's socket transport keeps a bound method of itself to read with: a cycle that
    # outlives the connection (and holds its socket object) until a full collection. It is
    # cut once the transport has finished closing, when nothing reads with it any more.
    if hasattr(transport, "_read_ready_cb"):
        transport._read_ready_cb = None  # type: ignore[attr-defined]


class GatedListener:
    """Makes the listening socket for asyncssh, with the gate in front of every connection.

    asyncssh's `tunnel=` argument accepts any object with this `create_server`: it is the
    library's hook for providing the listener, used here so that the limits run before the
    library creates a connection and sends its version string.
    """

    def __init__(
        self,
        gate: ConnectionGate,
        trusted_proxies: tuple[IPNetwork, ...] | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.gate = gate
        # Several worker processes on one port (ssh.workers): SO_REUSEPORT on every socket.
        self.reuse_port = reuse_port or None
        # With the PROXY protocol on: the proxies whose header gives the client's address.
        self.trusted_proxies = trusted_proxies

    async def create_server(self, session_factory, host: str, port: int) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()

        def gated() -> asyncio.Protocol:
            return _GatedProtocol(self.gate, lambda: session_factory("", 0))

        reuse = self.reuse_port
        if self.trusted_proxies is None:
            return await loop.create_server(gated, host or None, port, reuse_port=reuse)
        trusted = self.trusted_proxies
        return await loop.create_server(
            lambda: ProxyFront(trusted, gated), host or None, port, reuse_port=reuse
        )
