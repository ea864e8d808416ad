"""One client process of bench/scale.py: many SSH sessions with a PTY, driven by JSON lines.

Reads commands on stdin and answers on stdout, one JSON object a line; ends (closing every
connection) when stdin closes. No terminal emulator: what a session shows is only scanned for
bytes, since thousands of pyte screens would make the client the bottleneck.

Commands: open, prepare, type_start, type_stop, storm, close_all (see `Client`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import resource
import sys
import time

import asyncssh

BACKSPACE = b"\x7f"
CPR_REQUEST = b"\x1b[6n"


class Probe(asyncssh.SSHClientSession):
    """One session's channel: resolves a waiter when the awaited bytes arrive."""

    def __init__(self, pattern: bytes | None) -> None:
        self.chan: asyncssh.SSHClientChannel | None = None
        self.pattern = pattern
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = asyncio.get_running_loop().create_future()
        self.closed = False

    def connection_made(self, chan) -> None:
        self.chan = chan

    def data_received(self, data: bytes, datatype) -> None:
        if CPR_REQUEST in data and self.chan is not None:
            self.chan.write(b"\x1b[24;1R")  # a terminal would answer: never leave it waiting
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.pattern is None:
            waiter.set_result(time.monotonic())
            return
        self.buffer += data
        if self.pattern in self.buffer:
            self.buffer.clear()
            waiter.set_result(time.monotonic())

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def expect(self, pattern: bytes | None) -> asyncio.Future:
        """A future resolved (with the arrival time) by the next bytes holding `pattern`
        (any bytes if None)."""
        self.pattern = pattern
        self.buffer.clear()
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    async def exchange(self, key: bytes, pattern: bytes | None, timeout: float) -> float:
        """Send `key`, wait for its echo; the round trip in seconds."""
        assert self.chan is not None
        waiter = self.expect(pattern)
        start = time.monotonic()
        self.chan.write(key)
        try:
            return await asyncio.wait_for(waiter, timeout) - start
        finally:
            self.waiter = None


class Client:
    def __init__(self, out) -> None:
        self.out = out
        self.sessions: list[tuple[asyncssh.SSHClientConnection, Probe]] = []
        self.typing: asyncio.Task | None = None
        self.stop_typing = asyncio.Event()
        # How late this process's own loop wakes up: if it is late, so are its echo times.
        self.lags: list[float] = []
        self.phase_start = (0.0, 0.0)

    async def watch_lag(self, period: float = 0.05) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(period)
            self.lags.append(time.monotonic() - start - period)

    def say(self, **message) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()

    async def connect(self, port: int, username: str, password: str, marker: bytes, timeout: float):
        async def attempt():
            conn = await asyncssh.connect(
                "127.0.0.1",
                port,
                username=username,
                password=password,
                known_hosts=None,
                client_keys=(),
                agent_path=None,
                config=None,
                preferred_auth="password",
                gss_host=None,
            )
            try:
                _chan, probe = await conn.create_session(
                    lambda: Probe(marker),
                    term_type="xterm-256color",
                    term_size=(80, 24),
                    encoding=None,
                )
                assert probe.waiter is not None
                await probe.waiter
                probe.waiter = None
            except BaseException:
                conn.close()
                raise
            return conn, probe

        return await asyncio.wait_for(attempt(), timeout)

    async def cmd_open(
        self,
        port: int,
        users: list[str],
        password: str,
        marker: str,
        in_flight: int,
        timeout: float,
        deadline: float,
    ) -> dict:
        """Open one session per user, `in_flight` at a time, each until `marker` shows."""
        marker_bytes = marker.encode()
        queue = list(reversed(users))
        failures: dict[str, int] = {}
        last = [0.0]
        stop_at = time.monotonic() + deadline
        opened_before = len(self.sessions)

        async def worker() -> None:
            while queue and time.monotonic() < stop_at:
                user = queue.pop()
                try:
                    pair = await self.connect(port, user, password, marker_bytes, timeout)
                except Exception as exc:
                    reason = type(exc).__name__ + (f": {exc}" if str(exc) else "")
                    failures[reason[:120]] = failures.get(reason[:120], 0) + 1
                    continue
                self.sessions.append(pair)
                last[0] = time.monotonic()

        async def progress() -> None:
            while True:
                await asyncio.sleep(2)
                self.say(op="progress", opened=len(self.sessions) - opened_before)

        reporter = asyncio.create_task(progress())
        try:
            await asyncio.gather(*(worker() for _ in range(in_flight)))
        finally:
            reporter.cancel()
        return {
            "opened": len(self.sessions) - opened_before,
            "failures": failures,
            "not_tried": len(queue),
            "last": last[0],
        }

    async def cmd_prepare(self, count: int, key: str, expect: str, timeout: float) -> dict:
        """Take the first `count` sessions to the screen where typing echoes."""
        if not key:
            return {"ready": min(count, len(self.sessions)), "failures": 0}
        results = await asyncio.gather(
            *(
                probe.exchange(key.encode(), expect.encode(), timeout)
                for _conn, probe in self.sessions[:count]
            ),
            return_exceptions=True,
        )
        failed = sum(isinstance(r, BaseException) for r in results)
        return {"ready": len(results) - failed, "failures": failed}

    async def cmd_type_start(
        self, count: int, digit: str, interval: list[float], max_seconds: float, timeout: float
    ) -> dict:
        """Start `count` typists: a digit, a pause of `interval` (jittered), its erasure, a pause."""
        self.stop_typing.clear()
        self.lags.clear()
        samples: list[float] = []
        stats = {"no_echo": 0, "lost": 0}
        stop_at = time.monotonic() + max_seconds
        rng = random.Random(os.getpid())

        async def typist(probe: Probe) -> None:
            await asyncio.sleep(rng.uniform(0, interval[1]))  # typists do not start in step
            while not self.stop_typing.is_set() and time.monotonic() < stop_at:
                if probe.closed:
                    stats["lost"] += 1
                    return
                try:
                    samples.append(await probe.exchange(digit.encode(), digit.encode(), timeout))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop_typing.wait(), rng.uniform(*interval))
                    samples.append(await probe.exchange(BACKSPACE, None, timeout))
                except (TimeoutError, ConnectionError):
                    stats["no_echo"] += 1
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_typing.wait(), rng.uniform(*interval))

        async def everyone() -> dict:
            await asyncio.gather(*(typist(p) for _c, p in self.sessions[:count]))
            return {"samples": [round(s * 1000, 3) for s in samples], **stats}

        self.typing = asyncio.create_task(everyone())
        self.phase_start = (time.process_time(), time.monotonic())
        return {"typists": min(count, len(self.sessions))}

    async def cmd_type_stop(self) -> dict:
        self.stop_typing.set()
        assert self.typing is not None
        result = await self.typing
        self.typing = None
        # Over the whole phase, typists or none: this process's share of the machine.
        cpu_start, clock_start = self.phase_start
        lags = sorted(self.lags) or [0.0]
        return {
            **result,
            "lag_p99_ms": lags[max(0, math.ceil(len(lags) * 0.99) - 1)] * 1000,
            "lag_max_ms": lags[-1] * 1000,
            "cpu_percent": 100 * (time.process_time() - cpu_start) / (time.monotonic() - clock_start),
        }

    async def cmd_storm(
        self, port: int, users: list[str], password: str, marker: str, parallel: int, timeout: float
    ) -> dict:
        """Log in as each user in turn on `parallel` lanes, until `marker` shows; then leave."""
        queue = list(reversed(users))
        times: list[float] = []
        failures: dict[str, int] = {}

        async def lane() -> None:
            while queue:
                user = queue.pop()
                start = time.monotonic()
                try:
                    conn, _probe = await self.connect(port, user, password, marker.encode(), timeout)
                except Exception as exc:
                    name = type(exc).__name__
                    failures[name] = failures.get(name, 0) + 1
                    continue
                times.append(round((time.monotonic() - start) * 1000, 3))
                conn.close()

        await asyncio.gather(*(lane() for _ in range(parallel)))
        return {"times": times, "failures": failures}

    async def cmd_close_all(self) -> dict:
        lost = sum(probe.closed for _conn, probe in self.sessions)
        await self.close()
        return {"lost": lost}

    async def close(self) -> None:
        for conn, _probe in self.sessions:
            conn.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*(conn.wait_closed() for conn, _p in self.sessions)), 30)
        self.sessions.clear()


async def main() -> None:
    # Replies go on a private copy of stdout; anything else printed lands on stderr.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    client = Client(out)
    lag_watch = asyncio.create_task(client.watch_lag())
    pending: set[asyncio.Task] = set()

    async def run(request: dict) -> None:
        op = request.pop("op")
        try:
            answer = await getattr(client, f"cmd_{op}")(**request)
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        client.say(op=op, **answer)

    try:
        while line := await reader.readline():
            task = asyncio.create_task(run(json.loads(line)))
            pending.add(task)
            task.add_done_callback(pending.discard)
    finally:
        lag_watch.cancel()
        for task in pending:
            task.cancel()
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
