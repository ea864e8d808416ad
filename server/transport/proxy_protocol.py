"""The PROXY protocol (v1 text, v2 binary) that HAProxy sends before SSH, from trusted proxies only.

With `ssh.proxy_protocol` on, a connection from an address of `ssh.trusted_proxies` must begin
with a PROXY header; the client address it carries then stands for the connection everywhere
(the connection gate's limits, login throttling, the audit trail, the log), and the SSH banner
is sent only once it is read. A connection from any other address is an ordinary SSH client:
one that sends a PROXY header anyway is refused, as is a trusted one that sends none, a
malformed one, or none within HEADER_TIMEOUT seconds. A v2 LOCAL header (HAProxy's own health
check) keeps the proxy's address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import struct
from collections.abc import Callable

from ..config import IPNetwork
from .forwarding import Forwarding

log = logging.getLogger("support.proxy")

V1_PREFIX = b"PROXY "
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
# A v1 header is at most 107 bytes; a v2 one carries 16 + at most 216 for TCP over IPv6 + TLVs.
V1_MAX = 107
V2_MAX = 16 + 4096
HEADER_TIMEOUT = 5.0

Address = tuple[str, int]


class HeaderError(ValueError):
    """A PROXY header that is malformed or not allowed here."""


def parse(data: bytes) -> tuple[Address | None, int] | None:
    """(the client's (host, port), or None for LOCAL/UNKNOWN; bytes used) of a complete header
    at the start of `data`; None while more bytes are needed; HeaderError if it is not one."""
    if data.startswith(V2_SIGNATURE[: len(data)]) and len(data) < len(V2_SIGNATURE):
        return None
    if data.startswith(V2_SIGNATURE):
        return _parse_v2(data)
    if V1_PREFIX.startswith(data[: len(V1_PREFIX)]) and len(data) < len(V1_PREFIX):
        return None
    if data.startswith(V1_PREFIX):
        return _parse_v1(data)
    raise HeaderError("no PROXY header")


def _parse_v1(data: bytes) -> tuple[Address | None, int] | None:
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX:
            raise HeaderError("v1 header too long")
        return None
    parts = data[:end].decode("ascii", "replace").split(" ")
    if parts[1:2] == ["UNKNOWN"]:
        return None, end + 2
    if len(parts) != 6 or parts[1] not in {"TCP4", "TCP6"}:
        raise HeaderError("malformed v1 header")
    try:
        source = ipaddress.ip_address(parts[2])
        ipaddress.ip_address(parts[3])
        port = int(parts[4])
        int(parts[5])
    except ValueError:
        raise HeaderError("malformed v1 address") from None
    if (source.version == 4) != (parts[1] == "TCP4") or not 0 <= port < 65536 or not parts[4].isdigit():
        raise HeaderError("malformed v1 address")
    return (str(source), port), end + 2


def _parse_v2(data: bytes) -> tuple[Address | None, int] | None:
    if len(data) < 16:
        return None
    version_command, family, length = data[12], data[13], struct.unpack("!H", data[14:16])[0]
    if version_command >> 4 != 2 or version_command & 0x0F not in (0, 1):
        raise HeaderError("unknown v2 version or command")
    if 16 + length > V2_MAX:
        raise HeaderError("v2 header too long")
    if len(data) < 16 + length:
        return None
    body, used = data[16 : 16 + length], 16 + length
    if version_command & 0x0F == 0:  # LOCAL: the proxy speaking for itself
        return None, used
    if family == 0x11 and length >= 12:  # TCP over IPv4
        return (str(ipaddress.IPv4Address(body[0:4])), struct.unpack("!H", body[8:10])[0]), used
    if family == 0x21 and length >= 36:  # TCP over IPv6
        return (str(ipaddress.IPv6Address(body[0:16])), struct.unpack("!H", body[32:34])[0]), used
    if family == 0x00:  # UNSPEC
        return None, used
    raise HeaderError("unsupported v2 address family")


def looks_like_header(data: bytes) -> bool | None:
    """Whether the first bytes of a stream are a PROXY header's; None while too few to tell."""
    for signature in (V1_PREFIX, V2_SIGNATURE):
        n = min(len(data), len(signature))
        if data[:n] == signature[:n]:
            if n == len(signature):
                return True
            return None
    return False


class _Relabelled:
    """The socket's transport, with the client's address from the header as its peer."""

    def __init__(self, transport: asyncio.Transport, peer: Address) -> None:
        self._transport = transport
        self._peer = peer

    def get_extra_info(self, name: str, default=None):
        if name == "peername":
            return self._peer
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class ProxyFront(Forwarding):
    """In front of the connection gate: reads the PROXY header of a trusted proxy, refuses one
    from anyone else, then hands the connection (relabelled) to the gate's protocol."""

    def __init__(self, trusted: tuple[IPNetwork, ...], make_inner: Callable[[], asyncio.Protocol]) -> None:
        self.trusted = trusted
        self.make_inner = make_inner
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.expect_header = False
        # Untrusted: the first bytes are looked at for a header before the rest passes.
        self.checking = False
        self.timer: asyncio.TimerHandle | None = None
        self.peer = "-"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peername = transport.get_extra_info("peername") or ("-", 0)
        self.peer = f"{peername[0]}:{peername[1]}"
        try:
            ip = ipaddress.ip_address(str(peername[0]).split("%", 1)[0])
        except ValueError:
            ip = None
        if ip is not None and any(ip in network for network in self.trusted):
            self.expect_header = True
            self.timer = asyncio.get_running_loop().call_later(HEADER_TIMEOUT, self._timed_out)
            return
        self.checking = True
        self._hand_over(self.transport)

    def _hand_over(self, transport) -> None:
        self.inner = self.make_inner()
        self.inner.connection_made(transport)

    def _refuse(self, why: str) -> None:
        log.warning("addr=%s connection refused: %s", self.peer, why)
        self.buffer.clear()
        assert self.transport is not None
        self.transport.abort()

    def _timed_out(self) -> None:
        self.timer = None
        self._refuse("no PROXY header in time from a trusted proxy")

    def data_received(self, data: bytes) -> None:
        if self.expect_header:
            self.buffer += data
            try:
                found = parse(bytes(self.buffer))
            except HeaderError as exc:
                self._refuse(f"trusted proxy sent {exc}")
                return
            if found is None:
                return
            address, used = found
            self.expect_header = False
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            assert self.transport is not None
            rest, self.buffer = bytes(self.buffer[used:]), bytearray()
            transport = self.transport if address is None else _Relabelled(self.transport, address)
            self._hand_over(transport)
            if rest and self.inner is not None:
                self.inner.data_received(rest)
            return
        if self.checking:
            self.buffer += data
            verdict = looks_like_header(bytes(self.buffer))
            if verdict is None:
                return
            if verdict:
                self._refuse("PROXY header from an address not in ssh.trusted_proxies")
                return
            self.checking = False
            data, self.buffer = bytes(self.buffer), bytearray()
        if self.inner is not None:
            self.inner.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.inner is not None:
            self.inner.connection_lost(exc)
