"""Bench-only wrapper around a server under test: the project's service or the bare stack.

Run by bench/scale.py as a subprocess of its own, so that what is measured is the server's
process alone: it raises the soft RLIMIT_NOFILE to the hard limit, times every full garbage
collection with gc.callbacks, and answers JSON lines on a Unix socket (`--control`) with the
process's own figures: descriptors, PSS, Python objects, CPU times, collection pauses.

With `--workers N` (N > 1) the project runs as `python -m server serve` does with ssh.workers:
this process is the supervisor, and each worker is this file again (`--as-worker`), timing its
own collections and answering on a socket of its own; the figures this process answers are
then the whole service's: descriptors, PSS, objects and CPU summed over the supervisor and its
workers, collection counts and total time summed, the longest pause the longest of any.

    python bench/scale_server.py --mode project|bare --control PATH --folder DIR [...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import resource
import signal
import socket
import sys
import time
from pathlib import Path

import bcrypt

# The tree whose `server` package is measured (--root): this one unless told otherwise.
ROOT = Path(__file__).resolve().parent.parent

# Shown on the bare stack's prompt: the client knows a session is open when it reads it.
BARE_PROMPT = "banc> "
MASS_DOMAIN = "scale.bench"


def mass_email(i: int) -> str:
    return f"u{i}@{MASS_DOMAIN}"


def storm_email(i: int) -> str:
    return f"orage{i}@{MASS_DOMAIN}"


class GcWatch:
    """Duration of every generation-2 collection, from its start to its stop callback: on the
    clock, and in the collecting thread's CPU time, which a busy machine's preemption (the
    clients share its two cores) does not lengthen."""

    def __init__(self) -> None:
        self.started = 0.0
        self.started_cpu = 0.0
        self.paused = False  # a collection the wrapper forces itself is not the server's
        self.reset()
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.count = 0
        self.longest = 0.0
        self.longest_cpu = 0.0
        self.total = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2 or self.paused:
            return
        if phase == "start":
            self.started = time.perf_counter()
            self.started_cpu = time.thread_time()
        elif self.started:
            took = time.perf_counter() - self.started
            self.started = 0.0
            self.count += 1
            self.total += took
            self.longest = max(self.longest, took)
            self.longest_cpu = max(self.longest_cpu, time.thread_time() - self.started_cpu)

    def figures(self) -> dict:
        return {
            "count": self.count,
            "longest_ms": self.longest * 1000,
            "longest_cpu_ms": self.longest_cpu * 1000,
            "total_ms": self.total * 1000,
        }


def pss_kib() -> int:
    with open("/proc/self/smaps_rollup", encoding="ascii") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread: bcrypt's pool too
    return usage.ru_utime + usage.ru_stime


def snapshot(watch: GcWatch, collect: bool) -> dict:
    """The process's figures now; with `collect`, after a collection of every object, frozen
    ones included, timed apart: what the project's reclaim of closed sessions costs."""
    forced_ms = None
    if collect:
        watch.paused = True
        try:
            start = time.perf_counter()
            frozen = gc.get_freeze_count() > 0
            gc.unfreeze()
            gc.collect()
            if frozen:
                gc.freeze()
            forced_ms = (time.perf_counter() - start) * 1000
        finally:
            watch.paused = False
    return {
        "fds": len(os.listdir("/proc/self/fd")),
        "pss_kib": pss_kib(),
        # Frozen objects (gc.freeze) are outside the generations but still the server's.
        "objects": len(gc.get_objects()) + gc.get_freeze_count(),
        "forced_gc_ms": forced_ms,
        "cpu": cpu_seconds(),
        "clock": time.monotonic(),
    }


def listening(port: int) -> bool:
    """Whether this process has a socket listening on 127.0.0.1:`port` (read from /proc)."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/self/net/tcp", encoding="ascii") as f:
        return any(
            fields[1] == wanted and fields[3] == "0A" for fields in (line.split() for line in list(f)[1:])
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Project ---------------------------------------------------------------------------------------


def project_settings(args: argparse.Namespace, port: int):
    from server.config import load_settings

    folder = Path(args.folder)
    room = args.max_sessions + 1000
    return load_settings(
        env={},
        overrides={
            "database": {"url": args.database_url or f"sqlite+aiosqlite:///{folder}/scale.db"},
            "ssh": {
                "host": "127.0.0.1",
                "port": port,
                "host_keys_dir": str(folder / "keys"),
                "max_connections": room,
                "max_unauthenticated": room,
                "max_per_address": room,
                "max_unauthenticated_per_address": room,
                "rate_per_minute": 0,
                "exempt": "127.0.0.0/8",
                "idle_timeout": 0,
                "workers": args.workers,
            },
            "security": {"bcrypt_cost": 12, "throttle_exempt": "127.0.0.0/8"},
        },
    )


async def create_accounts(settings, args: argparse.Namespace) -> None:
    """The mass accounts (one cost-4 hash shared by all) and the storm's (one cost-12 hash)."""
    import sqlalchemy as sa

    from server.domain.models import Role
    from server.store import Database, is_mysql, utcnow
    from server.store.migrate import upgrade
    from server.store.schema import audit_log, users

    if is_mysql(settings.database_url):
        await ensure_database(settings.database_url)
    db = Database(settings)
    try:
        await upgrade(db)
        password = args.password.encode()
        cheap = bcrypt.hashpw(password, bcrypt.gensalt(4)).decode()
        dear = bcrypt.hashpw(password, bcrypt.gensalt(12)).decode()
        now = utcnow()
        rows = [
            {
                "nom": f"Apprenant {i}",
                "email": mass_email(i),
                "mot_de_passe": cheap,
                "role": Role.USER.value,
                "created_at": now,
            }
            for i in range(args.accounts)
        ] + [
            {
                "nom": f"Orage {i}",
                "email": storm_email(i),
                "mot_de_passe": dear,
                "role": Role.USER.value,
                "created_at": now,
            }
            for i in range(args.storm_accounts)
        ]
        async with db.transaction(write=True) as conn:
            # A previous run on the same MariaDB database: only the bench's own rows go.
            like = f"%@{MASS_DOMAIN}"
            await conn.execute(audit_log.delete().where(audit_log.c.compte.like(like)))
            await conn.execute(users.delete().where(users.c.email.like(like)))
        for start in range(0, len(rows), 1000):
            async with db.transaction(write=True) as conn:
                await conn.execute(sa.insert(users), rows[start : start + 1000])
    finally:
        await db.close()


async def ensure_database(url: str) -> None:
    """Create the MariaDB database named in `url` if it does not exist yet."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    u = make_url(url)
    engine = create_async_engine(u.set(database=""))
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{u.database}`")
    finally:
        await engine.dispose()


async def run_project(args: argparse.Namespace, port: int) -> tuple[asyncio.Task, dict]:
    from server.app import serve
    from server.process import setup_logging
    from server.security import hash_threads
    from server.store import is_mysql

    settings = project_settings(args, port)
    setup_logging(settings.log.level)
    await create_accounts(settings, args)
    info = {
        "hash_threads": hash_threads(settings.security.hash_threads) * args.workers,
        "backend": "MariaDB" if is_mysql(settings.database_url) else "SQLite",
        "workers": args.workers,
    }
    if args.workers > 1:
        from server.workers import Supervisor

        command = [sys.executable, __file__, WORKER_FLAG, args.root, worker_control(args.control)]
        supervisor = Supervisor(settings, command=command)
        info["supervisor"] = supervisor
        return asyncio.create_task(supervisor.run()), info
    return asyncio.create_task(serve(settings)), info


# Bare stack ------------------------------------------------------------------------------------


async def run_bare(args: argparse.Namespace, port: int) -> tuple[asyncio.Task, dict]:
    """asyncssh + prompt_toolkit as its documentation shows them: one PromptSession per channel."""
    import asyncssh
    from prompt_toolkit import PromptSession
    from prompt_toolkit.contrib.ssh import PromptToolkitSSHSession

    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s %(message)s")
    open_sessions = [0]

    async def interact(ssh_session: PromptToolkitSSHSession) -> None:
        session: PromptSession = PromptSession()
        open_sessions[0] += 1
        try:
            while True:
                await session.prompt_async(BARE_PROMPT)
        except (EOFError, KeyboardInterrupt):
            return
        finally:
            open_sessions[0] -= 1

    class AnyPassword(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return True

        def session_requested(self):
            # Past its cap the bare stack would cross descriptor 1023 and spin (#1702).
            if open_sessions[0] >= args.max_sessions:
                return False
            return PromptToolkitSSHSession(interact, enable_cpr=False)

    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(
        AnyPassword, "127.0.0.1", port, server_host_keys=[key], gss_host=None
    )

    async def until_stopped() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            server.close()

    return asyncio.create_task(until_stopped()), {"hash_threads": 0, "backend": "-"}


# Workers (--workers N) -------------------------------------------------------------------------

WORKER_FLAG = "--as-worker"


def worker_control(control: str) -> str:
    return f"{control}.w"


def worker_socket(prefix: str, index: int) -> str:
    return f"{prefix}{index}"


async def answer_stats(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, watch: GcWatch) -> None:
    """A worker's own figures, one request per connection (cpu, stats, gc)."""
    with contextlib.suppress(ConnectionError):
        request = json.loads(await reader.readline())
        command = request["cmd"]
        if command == "cpu":
            answer = {"cpu": cpu_seconds(), "clock": time.monotonic()}
        elif command == "stats":
            answer = snapshot(watch, request.get("collect", False))
        else:
            answer = watch.figures()
            if request.get("reset"):
                watch.reset()
        writer.write(json.dumps(answer).encode() + b"\n")
        await writer.drain()
    writer.close()


def worker_main(argv: list[str]) -> int:
    """One worker of the supervisor: `python -m server worker`, its collections timed."""
    root, prefix, index, gate, port, settings_file = argv
    sys.path.insert(0, root)
    from server.process import setup_logging
    from server.workers import run_worker, worker_settings

    settings = worker_settings(settings_file, int(port))
    setup_logging(settings.log.level, worker=int(index))
    watch = GcWatch()

    async def run() -> int:
        path = worker_socket(prefix, int(index))
        control = await asyncio.start_unix_server(lambda r, w: answer_stats(r, w, watch), path)
        try:
            return await run_worker(settings, int(index), gate)
        finally:
            control.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    return asyncio.run(run())


async def ask_workers(args: argparse.Namespace, request: dict) -> list[dict]:
    async def ask(index: int) -> dict:
        path = worker_socket(worker_control(args.control), index)
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(json.dumps(request).encode() + b"\n")
        answer = json.loads(await reader.readline())
        writer.close()
        return answer

    return list(await asyncio.gather(*(ask(i) for i in range(1, args.workers + 1))))


def combined(own: dict, workers: list[dict]) -> dict:
    """The whole service's figures: sizes and times summed, the longest pause the longest."""
    out = dict(own)
    for answer in workers:
        for key, value in answer.items():
            if key in {"clock"} or value is None:
                continue
            if key.startswith("longest") or key == "forced_gc_ms":
                out[key] = max(out.get(key) or 0, value)
            else:
                out[key] = (out.get(key) or 0) + value
    return out


# Control socket --------------------------------------------------------------------------------


async def stop_when_orphaned() -> None:
    """Stop the server when stdin closes: the benchmark that started it has gone, however."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


async def main(args: argparse.Namespace) -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    watch = GcWatch()
    port = free_port()
    runner = run_project if args.mode == "project" else run_bare
    task, info = await runner(args, port)
    deadline = time.monotonic() + 120
    supervisor = info.pop("supervisor", None)
    while not listening(port) or (supervisor is not None and len(supervisor.serving) < args.workers):
        if task.done() or time.monotonic() > deadline:
            if task.done():
                task.result()  # the server's own error, in the log
            raise SystemExit("the server did not start listening")
        await asyncio.sleep(0.05)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The wrapper's own end (cancelled when the server stops) is no error of the server's.
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await answer_requests(reader, writer)

    async def answer_requests(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            command = request["cmd"]
            if command == "hello":
                answer = {"port": port, "pid": os.getpid(), **info}
            elif command == "cpu":
                # Light on purpose: asked while sessions type, it must not stall their keys.
                answer = {"cpu": cpu_seconds(), "clock": time.monotonic()}
            elif command == "stats":
                answer = snapshot(watch, request.get("collect", False))
            elif command == "gc":
                answer = watch.figures()
                if request.get("reset"):
                    watch.reset()
            elif command == "stop":
                os.kill(os.getpid(), signal.SIGTERM)
                answer = {"stopping": True}
            else:
                answer = {"error": f"unknown command {command!r}"}
            if supervisor is not None and command in {"cpu", "stats", "gc"}:
                answer = combined(answer, await ask_workers(args, request))
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        writer.close()

    control = await asyncio.start_unix_server(handle, args.control)
    orphan = asyncio.create_task(stop_when_orphaned())
    try:
        return await task or 0
    finally:
        orphan.cancel()
        control.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(args.control)


if __name__ == "__main__" and sys.argv[1:2] == [WORKER_FLAG]:
    sys.exit(worker_main(sys.argv[2:]))
elif __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("project", "bare"), required=True)
    parser.add_argument("--control", required=True, help="Unix socket path for the stats")
    parser.add_argument("--folder", required=True, help="temporary folder (database, host key)")
    parser.add_argument("--accounts", type=int, default=0)
    parser.add_argument("--storm-accounts", type=int, default=0)
    parser.add_argument("--password", default="banc-d-essai-2026")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--max-sessions", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="the project's ssh.workers")
    parser.add_argument("--root", default=str(ROOT), help="source tree of the server to measure")
    arguments = parser.parse_args()
    sys.path.insert(0, arguments.root)
    sys.exit(asyncio.run(main(arguments)))
