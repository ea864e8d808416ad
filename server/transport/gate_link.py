"""The connection gate shared by worker processes: the supervisor holds the one real
`ConnectionGate`, each worker asks it over a Unix socket (`ssh.workers` > 1).

Every limit of limits.py (total, still authenticating, per address, the rate and its waits,
exempt networks) is then decided as if by one process: a worker's `RemoteGate` has the gate's
interface (admit, authenticated, cancel_turn, release, waiting, close, refused), but `admit`
answers with a future that the supervisor's verdict resolves. One JSON object per line:

  worker -> supervisor   {"op": "admit", "id": 7, "peer": [host, port]}, "auth", "cancel",
                         "release" (peer only), "ready" (worker, pid), {"op": "figures", "id", "text"}
  supervisor -> worker   {"op": "verdict", "id": 7, "refusal": null | "PER_ADDRESS", "delay": 0.0},
                         {"op": "metrics", "id": 3}

A worker's connections are counted under (host, port, link): when a worker dies, its link
closes and every slot it held is freed at once. A worker whose supervisor does not answer
refuses new connections (fail closed) rather than let them in uncounted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
from collections.abc import Callable

from .limits import Admission, ConnectionGate, Peer, Refusal

log = logging.getLogger("support.limits")

# Seconds a worker waits for the supervisor's verdict before it refuses the connection.
VERDICT_TIMEOUT = 5.0
# Seconds the supervisor waits for a worker's figures at a scrape.
FIGURES_TIMEOUT = 3.0
# A line may carry a worker's whole metrics exposition.
LINE_LIMIT = 16 * 1024 * 1024


def _line(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class _Link:
    """The supervisor's end of one worker's connection."""

    def __init__(self, number: int, writer: asyncio.StreamWriter) -> None:
        self.number = number
        self.writer = writer
        self.held: dict[tuple, float] = {}  # key -> delay its admission booked
        self.figures: dict[int, asyncio.Future] = {}


class GateServer:
    """The supervisor's end: the one real gate, answering every worker's link."""

    def __init__(self, gate: ConnectionGate, path: str, on_ready: Callable[[int, int], None]) -> None:
        self.gate = gate
        self.path = path
        self.on_ready = on_ready
        self.links: set[_Link] = set()
        self._numbers = itertools.count(1)
        self._ids = itertools.count(1)
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, self.path, limit=LINE_LIMIT)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.gate.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(next(self._numbers), writer)
        self.links.add(link)
        try:
            while line := await reader.readline():
                self._handle(link, json.loads(line))
        except (ConnectionError, ValueError, asyncio.LimitOverrunError) as exc:
            log.warning("worker link %d broken: %s", link.number, exc)
        finally:
            self.links.discard(link)
            # The worker is gone: so are its connections.
            for key in list(link.held):
                self.gate.release(key)
            for future in link.figures.values():
                future.cancel()
            writer.close()

    def _handle(self, link: _Link, message: dict) -> None:
        op = message.get("op")
        if op == "figures":
            future = link.figures.pop(message.get("id"), None)
            if future is not None and not future.done():
                future.set_result(message.get("text", ""))
            return
        if op == "ready":
            self.on_ready(int(message["worker"]), int(message["pid"]))
            return
        host, port = message["peer"]
        key = (str(host), int(port), link.number)
        if op == "admit":
            admission = self.gate.admit(key)  # type: ignore[arg-type]
            if admission.refusal is None:
                link.held[key] = admission.delay
            refusal = admission.refusal.name if admission.refusal is not None else None
            verdict = {"op": "verdict", "id": message["id"], "refusal": refusal, "delay": admission.delay}
            link.writer.write(_line(verdict))
        elif op == "auth":
            self.gate.authenticated(key)  # type: ignore[arg-type]
        elif op == "cancel":
            if link.held.get(key, 0) > 0:
                self.gate.cancel_turn(key)  # type: ignore[arg-type]
        elif op == "release":
            link.held.pop(key, None)
            self.gate.release(key)  # type: ignore[arg-type]

    async def figures(self) -> list[str]:
        """Each worker's metrics exposition (those that answer within FIGURES_TIMEOUT)."""
        asked = []
        for link in list(self.links):
            number = next(self._ids)
            future = link.figures[number] = asyncio.get_running_loop().create_future()
            link.writer.write(_line({"op": "metrics", "id": number}))
            asked.append(future)
        if not asked:
            return []
        await asyncio.wait(asked, timeout=FIGURES_TIMEOUT)
        return [f.result() for f in asked if f.done() and not f.cancelled()]


class RemoteGate:
    """A worker's gate: the same interface as ConnectionGate, the decisions the supervisor's."""

    def __init__(self, path: str, index: int, figures: Callable[[], str] = str) -> None:
        self.path = path
        self.index = index
        self.figures = figures
        self.waiting: set[asyncio.BaseTransport] = set()
        self.refused: dict[str, int] = {Refusal.UNAVAILABLE.name.lower(): 0}
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, tuple[asyncio.Future, Peer]] = {}
        self._ids = itertools.count(1)
        self._reader_task: asyncio.Task | None = None
        self._told = False
        self._silent = False  # a verdict came too late: logged once, until one comes in time

    async def connect(self) -> None:
        reader, self._writer = await asyncio.open_unix_connection(self.path, limit=LINE_LIMIT)
        self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))

    def ready(self) -> None:
        """The worker serves: the supervisor may say so."""
        self._send({"op": "ready", "worker": self.index, "pid": os.getpid()})

    def _send(self, message: dict) -> bool:
        if self._writer is None or self._writer.is_closing():
            return False
        self._writer.write(_line(message))
        return True

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                message = json.loads(line)
                if message.get("op") == "verdict":
                    self._verdict(message)
                elif message.get("op") == "metrics":
                    self._send({"op": "figures", "id": message["id"], "text": self.figures()})
        except (ConnectionError, ValueError) as exc:
            log.warning("connection gate link broken: %s", exc)
        self._unreachable()
        # Only a supervisor that died closes the link while its worker runs: stop as SIGTERM
        # would (users told, writes finished) rather than serve uncounted.
        log.error("supervisor gone: this worker stops")
        os.kill(os.getpid(), signal.SIGTERM)

    def _verdict(self, message: dict) -> None:
        future, peer = self._pending.pop(message["id"], (None, None))
        if future is None:
            return
        refusal = Refusal[message["refusal"]] if message["refusal"] else None
        admission = Admission(refusal, float(message["delay"]))
        if future.done():
            # Timed out or given up by its connection meanwhile: give the slot back.
            if refusal is None:
                self._abandon(peer, admission)  # type: ignore[arg-type]
            return
        if self._silent:
            self._silent = False
            log.warning("connection gate answers again")
        future.set_result(admission)

    def _abandon(self, peer: Peer, admission: Admission) -> None:
        if admission.delay > 0:
            self.cancel_turn(peer)
        self.release(peer)

    def _unreachable(self) -> None:
        """Fail closed: every connection waiting for a verdict, and every new one, refused."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if not self._told:
            self._told = True
            log.error("connection gate unreachable: new connections refused")
        for future, _peer in self._pending.values():
            if not future.done():
                future.set_result(self._refuse())
        self._pending.clear()

    def _refuse(self) -> Admission:
        self.refused[Refusal.UNAVAILABLE.name.lower()] += 1
        return Admission(Refusal.UNAVAILABLE)

    def admit(self, peer: Peer) -> Admission | asyncio.Future:
        """A future of the supervisor's Admission (refused at once if it cannot be asked)."""
        number = next(self._ids)
        if not self._send({"op": "admit", "id": number, "peer": list(peer[:2])}):
            return self._refuse()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending[number] = (future, peer)
        loop.call_later(VERDICT_TIMEOUT, self._late, number)
        return future

    def _late(self, number: int) -> None:
        entry = self._pending.get(number)
        if entry is not None and not entry[0].done():
            if not self._silent:
                self._silent = True
                log.error("connection gate silent for %ss: new connections refused", VERDICT_TIMEOUT)
            entry[0].set_result(self._refuse())

    def authenticated(self, peer: Peer) -> None:
        self._send({"op": "auth", "peer": list(peer[:2])})

    def cancel_turn(self, peer: Peer) -> None:
        self._send({"op": "cancel", "peer": list(peer[:2])})

    def release(self, peer: Peer) -> None:
        self._send({"op": "release", "peer": list(peer[:2])})

    def close(self) -> None:
        """The worker stops: connections still waiting for their turn are dropped; the link
        stays open so that the connections still closing free their slots."""
        for transport in list(self.waiting):
            transport.abort()
        self.waiting.clear()

    async def aclose(self) -> None:
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        if self._writer is not None:
            self._writer.close()
