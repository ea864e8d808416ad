"""`ssh.workers`: several processes serving one port, so that the service uses every core.

One Python process runs on one core; past a few thousand sessions its event loop is the
bottleneck (keys wait behind other sessions' work). With `ssh.workers` > 1, `python -m server`
becomes a supervisor that does once what must happen once — the settings checked, the open-files
limit raised, the schema migrated (or its version checked), the host key generated, the port
reserved — then starts N worker processes (`python -m server worker`, each today's service with
its own database pool) that listen on the same port with SO_REUSEPORT, the kernel spreading
the connections among them.

The supervisor holds the one connection gate (transport/gate_link.py): every limit is decided
as if by one process. It serves the metrics endpoint, the workers' figures merged. Login
throttling and live notices already cross processes through the database.

SIGTERM or SIGINT: forwarded to every worker, each stopping as a single process does (users
told, writes finished); exit 0 when all exited 0. A worker that dies otherwise is logged with
its exit status and started again after a pause (1 s, doubled up to a minute while it keeps
dying soon after its start): its users are cut off either way, but the others keep their
sessions, which a restart of the whole service by systemd would cut too. A worker that fails
before it serves (a setting the supervisor could not check) stops the whole service instead:
restarting would only fail again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

from .config import Settings
from .process import raise_descriptor_limit
from .transport.gate_link import FIGURES_TIMEOUT, GateServer, RemoteGate
from .transport.limits import ConnectionGate, Limits

log = logging.getLogger("support.workers")

# Seconds before a dead worker is started again, doubled while it keeps dying, up to the most.
RESTART_PAUSE = 1.0
RESTART_PAUSE_MAX = 60.0
# A worker that lived this long before dying is started again after the first pause.
STABLE = 60.0


def described(status: int) -> str:
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-status).name}"
    return f"exit status {status}"


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to the service's port with SO_REUSEPORT: port 0 becomes
    one free port for every worker, and no other program takes it while a worker restarts."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio's listeners
    sock.bind(address)
    return sock


async def prepare(settings: Settings) -> None:
    """What happens once for every worker: the schema, the host key."""
    from .store import Database
    from .store.migrate import bring_up
    from .transport.host_keys import service_host_key

    db = Database(settings)
    try:
        await bring_up(db, settings.database.create_schema)
    finally:
        await db.close()
    service_host_key(settings.host_keys_dir, settings.host_key_file)


class Supervisor:
    """Starts the workers, keeps them running, forwards the stop, merges their figures."""

    def __init__(self, settings: Settings, command: list[str] | None = None) -> None:
        self.settings = settings
        # What starts one worker, its arguments after: bench/scale_server.py wraps it.
        self.command = command or [sys.executable, "-m", "server", "worker"]
        self.count = settings.worker_count()
        self.gate = ConnectionGate(Limits.from_settings(settings.ssh))
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.codes: dict[int, int] = {}
        self.serving: set[int] = set()
        self.stopping = asyncio.Event()
        self.all_serving = asyncio.Event()
        self.server: GateServer | None = None
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> int:
        settings = self.settings
        self._loop = asyncio.get_running_loop()
        descriptors = raise_descriptor_limit(settings)
        await prepare(settings)
        reserved = reserve_port(settings.ssh.host, settings.ssh.port)
        self.port = reserved.getsockname()[1]
        folder = tempfile.mkdtemp(prefix="support-workers-")
        self.server = GateServer(self.gate, str(Path(folder) / "gate"), self._ready)
        # The settings as checked here, handed to every worker (0600 in a 0700 folder: the
        # database password may be in them): not read again from a file that may have changed.
        self.settings_file = Path(folder) / "settings.json"
        fd = os.open(self.settings_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({**settings.sections(), "base_dir": str(settings.base_dir)}, f)
        metrics = None
        try:
            await self.server.start()
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._stop)
            keepers = [asyncio.create_task(self._keep(index)) for index in range(1, self.count + 1)]
            serving = asyncio.create_task(self.all_serving.wait())
            stopped = asyncio.create_task(self.stopping.wait())
            await asyncio.wait([serving, stopped], return_when=asyncio.FIRST_COMPLETED)
            serving.cancel()
            if not self.stopping.is_set():
                # Only now does the service answer as a whole: its metrics, the line that says so.
                metrics = self._serve_metrics()
                log.info(
                    "supervisor pid=%s: %d workers serving port %s; open files limit=%s max_connections=%s",
                    os.getpid(),
                    self.count,
                    self.port,
                    descriptors,
                    settings.ssh.max_connections,
                )
            await stopped
            log.info("signal received, stopping the workers")
            for proc in list(self.procs.values()):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            await asyncio.gather(*keepers)
        finally:
            if metrics is not None:
                await asyncio.to_thread(metrics.shutdown)
                metrics.server_close()
            await self.server.close()
            reserved.close()
            shutil.rmtree(folder, ignore_errors=True)
        failed = {i: code for i, code in self.codes.items() if code != 0}
        if failed:
            log.error("stopped; workers that did not exit cleanly: %s", failed)
            return 1
        log.info("stopped: every worker exited cleanly")
        return 0

    def _stop(self) -> None:
        self.stopping.set()

    def _ready(self, index: int, pid: int) -> None:
        self.serving.add(index)
        log.info("worker %d pid=%d serving port %s", index, pid, self.port)
        if len(self.serving) == self.count:
            self.all_serving.set()

    def _argv(self, index: int, gate: str) -> list[str]:
        return [*self.command, str(index), gate, str(self.port), str(self.settings_file)]

    async def _keep(self, index: int) -> None:
        """Run worker `index` until the service stops, starting it again if it dies."""
        assert self.server is not None
        pause = RESTART_PAUSE
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            proc = await asyncio.create_subprocess_exec(*self._argv(index, self.server.path))
            self.procs[index] = proc
            log.info("worker %d started pid=%d", index, proc.pid)
            began = loop.time()
            status = await proc.wait()
            del self.procs[index]
            served = index in self.serving
            self.serving.discard(index)
            if self.stopping.is_set():
                # Stopped while it was still starting (SIGTERM before its own handler): it had
                # no one to tell and nothing to finish.
                self.codes[index] = 0 if status == -signal.SIGTERM and not served else status
                log.info("worker %d pid=%d stopped (%s)", index, proc.pid, described(status))
                return
            if not served:
                log.error(
                    "worker %d pid=%d failed to start (%s): stopping", index, proc.pid, described(status)
                )
                self.codes[index] = status or 1
                self._stop()
                return
            if loop.time() - began >= STABLE:
                pause = RESTART_PAUSE
            log.error(
                "worker %d pid=%d died (%s); its sessions are lost, starting it again in %.0fs",
                index,
                proc.pid,
                described(status),
                pause,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), pause)
            pause = min(pause * 2, RESTART_PAUSE_MAX)

    # Metrics ---------------------------------------------------------------------------------

    def _serve_metrics(self):
        listen = self.settings.metrics.address()
        if listen is None:
            return None
        from prometheus_client import CollectorRegistry, start_http_server

        from .metrics import MergedCollector

        registry = CollectorRegistry()
        registry.register(MergedCollector(self._figures))
        server, _thread = start_http_server(listen[1], listen[0], registry=registry)
        log.info(
            "metrics on http://%s:%s/metrics (the %d workers' together)", listen[0], listen[1], self.count
        )
        return server

    def _figures(self) -> list:
        """At a scrape, in the HTTP server's thread: ask the workers through the loop."""
        from .metrics import merged, refused_family

        assert self.server is not None and self._loop is not None
        asked = asyncio.run_coroutine_threadsafe(self.server.figures(), self._loop)
        return merged(asked.result(FIGURES_TIMEOUT + 2), [refused_family(dict(self.gate.refused))])


def supervise(settings: Settings) -> int:
    return asyncio.run(Supervisor(settings).run())


def worker_settings(path: str, port: int) -> Settings:
    """The settings the supervisor wrote for its workers, on the port it reserved."""
    from .config import load_settings

    sections = json.loads(Path(path).read_text(encoding="utf-8"))
    base_dir = Path(sections.pop("base_dir"))
    sections["ssh"]["port"] = port
    # No config file (base_dir is kept for relative paths), no environment: those settings only.
    return load_settings(base_dir / "(supervisor)", env={}, overrides=sections)


async def run_worker(settings: Settings, index: int, gate: str) -> int:
    """One worker: today's service, its gate the supervisor's, its port shared."""
    from prometheus_client import generate_latest

    from .app import Service, serve
    from .metrics import REGISTRY

    remote = RemoteGate(gate, index, figures=lambda: generate_latest(REGISTRY).decode("utf-8"))
    await remote.connect()
    try:
        return await serve(settings, Service(settings, gate=remote, worker=index), started=remote.ready)
    finally:
        await remote.aclose()
