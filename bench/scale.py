"""Benchmark: what N connected sessions cost the server, the project beside the bare stack.

Starts each server under test in a process of its own (bench/scale_server.py: the project's
service, SQLite in a temporary folder or --database-url; then asyncssh + prompt_toolkit with
one PromptSession per channel), opens N sessions logged in by password to distinct accounts
from several client processes (bench/scale_client.py), and prints one table: descriptors, PSS
and Python objects per session, open rate, CPU at rest, keystroke round trips with all N open
and with 5 % of them typing, full garbage-collection pauses and, for the project, a login storm
at bcrypt cost 12 against the bcrypt bound, while 100 other sessions type.

    .venv/bin/python bench/scale.py --sessions 300 [--client-procs 3] [--bare-max 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale_server import BARE_PROMPT, mass_email, storm_email  # noqa: E402

PASSWORD = "banc-d-essai-2026"
MAIN_MENU = "Nouveau ticket"
TICKET_PROMPT = "Numéro du ticket"
DIGIT = "7"  # "0" would leave the ticket list
# The bare stack's prompt_toolkit select()s on its pipes: past ~330 sessions a descriptor
# crosses 1023 and the process spins (prompt-toolkit issue #1702).
BARE_CLIFF = 330


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]


def split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# The server under test -------------------------------------------------------------------------


class Server:
    """bench/scale_server.py in a subprocess, its stderr in a log file, its stats on a socket."""

    def __init__(self, folder: Path, mode: str) -> None:
        self.folder = folder
        self.mode = mode
        self.control = str(folder / f"{mode}.sock")
        self.log_path = folder / f"{mode}-server.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.info: dict = {}

    async def start(self, extra: list[str], timeout: float = 300) -> None:
        with open(self.log_path, "wb") as logfile:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(HERE / "scale_server.py"),
                "--mode",
                self.mode,
                "--control",
                self.control,
                "--folder",
                str(self.folder),
                *extra,
                # Its end of this pipe closes when this process ends, killed or not: it then stops.
                stdin=asyncio.subprocess.PIPE,
                # Another engineer's tree (--server-root) is read, never written to.
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                stdout=logfile,
                stderr=logfile,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.returncode is not None:
                raise RuntimeError(
                    f"{self.mode} server exited at start; see {self.log_path}:\n"
                    + self.log_path.read_text(errors="replace")[-2000:]
                )
            with contextlib.suppress(OSError):
                self.reader, self.writer = await asyncio.open_unix_connection(self.control)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.mode} server not ready after {timeout}s")
            await asyncio.sleep(0.2)
        self.info = await self.ask("hello")

    async def ask(self, cmd: str, timeout: float = 600, **kwargs) -> dict:
        assert self.reader is not None and self.writer is not None
        self.writer.write(json.dumps({"cmd": cmd, **kwargs}).encode() + b"\n")
        await self.writer.drain()
        return json.loads(await asyncio.wait_for(self.reader.readline(), timeout))

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self.ask("stop", timeout=5)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            log(f"{self.mode} server did not stop in 30 s: killed")
            self.proc.kill()
            await self.proc.wait()

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    def log_errors(self) -> int:
        """Lines of the server's log that report an error or begin a traceback."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return sum(" ERROR " in line or line.startswith("Traceback") for line in text.splitlines())


# The clients -----------------------------------------------------------------------------------


class Clients:
    """Client processes, each with a share of the sessions, answering one command at a time."""

    def __init__(self, count: int, folder: Path, name: str) -> None:
        self.count = count
        self.log_path = folder / f"{name}-clients.log"
        self.procs: list[asyncio.subprocess.Process] = []
        self.replies: list[asyncio.Queue] = []
        self.progress = [0] * count
        self.readers: list[asyncio.Task] = []

    async def start(self) -> None:
        with open(self.log_path, "ab") as logfile:
            for i in range(self.count):
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(HERE / "scale_client.py"),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=logfile,
                    limit=64 * 1024 * 1024,
                )
                self.procs.append(proc)
                self.replies.append(asyncio.Queue())
                self.readers.append(asyncio.create_task(self._read(i, proc)))

    async def _read(self, i: int, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            message = json.loads(line)
            if message.get("op") == "progress":
                self.progress[i] = message["opened"]
            else:
                await self.replies[i].put(message)
        await self.replies[i].put({"error": f"client process {i} ended"})

    async def send(self, i: int, op: str, **kwargs) -> None:
        stdin = self.procs[i].stdin
        assert stdin is not None
        stdin.write(json.dumps({"op": op, **kwargs}).encode() + b"\n")
        await stdin.drain()

    async def receive(self, i: int, timeout: float) -> dict:
        reply = await asyncio.wait_for(self.replies[i].get(), timeout)
        if "error" in reply:
            raise RuntimeError(f"client {i}: {reply['error']}")
        return reply

    async def each(self, op: str, per_client: list[dict], timeout: float) -> list[dict]:
        """The same command to every client, each with its own arguments; all the answers."""
        for i, kwargs in enumerate(per_client):
            await self.send(i, op, **kwargs)
        return list(await asyncio.gather(*(self.receive(i, timeout) for i in range(self.count))))

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 40)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for task in self.readers:
            task.cancel()

    def kill(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.kill()


# One stack, measured ---------------------------------------------------------------------------


@dataclass
class Figures:
    sessions: int = 0
    at_zero: dict = field(default_factory=dict)
    at_n: dict = field(default_factory=dict)
    opened: int = 0
    open_failures: dict = field(default_factory=dict)
    open_rate: float = 0.0
    cpu_zero: float = 0.0
    cpu_rest: float = 0.0
    cpu_typing: float = 0.0
    gc_open: dict = field(default_factory=dict)
    gc_open_phases: dict = field(default_factory=dict)
    sample_typists: int = 0
    sample: list[float] = field(default_factory=list)
    mass_typists: int = 0
    mass: list[float] = field(default_factory=list)
    not_ready: int = 0
    no_echo: int = 0
    lost: int = 0
    storm: dict = field(default_factory=dict)
    log_errors: int = 0
    stop_errors: int = 0
    # The worst client process over the typing phases: its loop's lateness, its CPU.
    client_lag_p99: float = 0.0
    client_lag_max: float = 0.0
    client_cpu: float = 0.0
    info: dict = field(default_factory=dict)


async def cpu_percent(server: Server, seconds: float) -> float:
    """The server's CPU over `seconds`, in percent of one core, from its own rusage."""
    before = await server.ask("cpu")
    await asyncio.sleep(seconds)
    after = await server.ask("cpu")
    return 100 * (after["cpu"] - before["cpu"]) / (after["clock"] - before["clock"])


async def typing_phase(
    clients: Clients, figures: Figures, typists: int, seconds: float, args: argparse.Namespace, during=None
) -> tuple[list[float], object]:
    """`typists` sessions type for `seconds` (or while `during` runs); the round trips in ms."""
    counts = shares(typists, clients.count)
    await clients.each(
        "type_start",
        [
            {
                "count": c,
                "digit": DIGIT,
                "interval": [0.8 * args.key_interval, 1.2 * args.key_interval],
                "max_seconds": seconds + 300,
                "timeout": args.echo_timeout,
            }
            for c in counts
        ],
        timeout=30,
    )
    outcome = None
    if during is None:
        await asyncio.sleep(seconds)
    else:
        outcome = await during
    replies = await clients.each("type_stop", [{}] * clients.count, timeout=args.echo_timeout + 60)
    samples = [s for r in replies for s in r["samples"]]
    figures.no_echo += sum(r["no_echo"] for r in replies)
    figures.lost += sum(r["lost"] for r in replies)
    for r in replies:
        figures.client_lag_p99 = max(figures.client_lag_p99, r["lag_p99_ms"])
        figures.client_lag_max = max(figures.client_lag_max, r["lag_max_ms"])
        figures.client_cpu = max(figures.client_cpu, r["cpu_percent"])
    return samples, outcome


async def measure(mode: str, n: int, args: argparse.Namespace, folder: Path) -> Figures:
    figures = Figures(sessions=n)
    project = mode == "project"
    storm_logins = args.storm_logins if project else 0
    server = Server(folder, mode)
    clients = Clients(args.client_procs, folder, mode)
    extra = [
        "--accounts",
        str(n),
        "--storm-accounts",
        str(storm_logins),
        "--password",
        PASSWORD,
        "--max-sessions",
        str(n + args.storm_parallel + 10),
    ]
    if args.database_url:
        extra += ["--database-url", args.database_url]
    if args.server_root:
        extra += ["--root", args.server_root]
    if project:
        extra += ["--workers", str(args.workers)]
    try:
        log(f"{mode}: starting the server ({n} accounts)")
        await server.start(extra)
        figures.info = server.info
        await clients.start()
        port = server.info["port"]
        # Rendered without its trailing space (a cursor move): matched without it.
        marker = MAIN_MENU if project else BARE_PROMPT.strip()

        figures.at_zero = await server.ask("stats", collect=True)
        figures.cpu_zero = await cpu_percent(server, args.base_seconds)
        await server.ask("gc", reset=True)

        log(f"{mode}: opening {n} sessions from {clients.count} client processes")
        users = split([mass_email(i) for i in range(n)], clients.count)
        started = time.monotonic()
        open_task = asyncio.ensure_future(
            clients.each(
                "open",
                [
                    {
                        "port": port,
                        "users": u,
                        "password": PASSWORD,
                        "marker": marker,
                        "in_flight": args.in_flight,
                        "timeout": args.open_timeout,
                        "deadline": args.open_deadline or 60 + n / 5,
                    }
                    for u in users
                ],
                timeout=(args.open_deadline or 60 + n / 5) + args.open_timeout + 60,
            )
        )
        while not open_task.done():
            await asyncio.wait({open_task}, timeout=5)
            if not open_task.done():
                log(f"{mode}: {sum(clients.progress)}/{n} open")
        replies = open_task.result()
        figures.opened = sum(r["opened"] for r in replies)
        for r in replies:
            for reason, count in r["failures"].items():
                figures.open_failures[reason] = figures.open_failures.get(reason, 0) + count
            if r["not_tried"]:
                figures.open_failures["not tried before the deadline"] = (
                    figures.open_failures.get("not tried before the deadline", 0) + r["not_tried"]
                )
        last = max((r["last"] for r in replies if r["last"]), default=started)
        figures.open_rate = figures.opened / max(1e-9, last - started)
        log(f"{mode}: {figures.opened}/{n} open in {last - started:.1f} s")
        figures.gc_open = await server.ask("gc", reset=True)

        await asyncio.sleep(args.settle)
        figures.at_n = await server.ask("stats", collect=True)
        await server.ask("gc", reset=True)

        mass = min(figures.opened, max(1, math.ceil(args.typing_share * figures.opened)))
        storm_typists = min(figures.opened, args.storm_typists) if project else 0
        sample = min(figures.opened, args.sample_typists)
        wanted = max(mass, storm_typists, sample)
        ready = await clients.each(
            "prepare",
            [
                {
                    "count": c,
                    "key": "2" if project else "",
                    "expect": TICKET_PROMPT,
                    "timeout": args.echo_timeout,
                }
                for c in shares(wanted, clients.count)
            ],
            timeout=args.echo_timeout + 60,
        )
        figures.not_ready = sum(r["failures"] for r in ready)
        await asyncio.sleep(1)

        log(f"{mode}: CPU at rest over {args.rest_seconds:.0f} s")
        figures.cpu_rest = await cpu_percent(server, args.rest_seconds)

        log(f"{mode}: {sample} sessions typing for {args.type_seconds:.0f} s")
        figures.sample_typists = sample
        figures.sample, _ = await typing_phase(clients, figures, sample, args.type_seconds, args)

        log(f"{mode}: {mass} sessions ({args.typing_share:.0%}) typing for {args.type_seconds:.0f} s")
        figures.mass_typists = mass
        cpu = asyncio.ensure_future(cpu_percent(server, max(1.0, args.type_seconds - 2)))
        figures.mass, _ = await typing_phase(clients, figures, mass, args.type_seconds, args)
        figures.cpu_typing = await cpu

        if project and storm_logins:
            figures.storm = await login_storm(server, clients, figures, storm_typists, args, port)
        figures.gc_open_phases = await server.ask("gc")

        closed = await clients.each("close_all", [{}] * clients.count, timeout=120)
        figures.lost += sum(r["lost"] for r in closed)
        await clients.stop()
        figures.log_errors = server.log_errors()
        await server.stop()
        figures.stop_errors = server.log_errors() - figures.log_errors
        return figures
    finally:
        clients.kill()
        server.kill()


async def login_storm(
    server: Server, clients: Clients, figures: Figures, typists: int, args: argparse.Namespace, port: int
) -> dict:
    """Logins by cost-12 accounts, `storm_parallel` at a time, while `typists` sessions type."""
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12))
    checks = []
    for _ in range(5):
        start = time.perf_counter()
        await asyncio.to_thread(bcrypt.checkpw, PASSWORD.encode(), stored)
        checks.append(time.perf_counter() - start)
    threads = server.info["hash_threads"]  # every worker's
    # Never more at once than there are cores, however many threads the workers have.
    bound = min(threads, os.cpu_count() or 1) / statistics.median(checks)
    log(
        f"project: login storm, {args.storm_logins} logins {args.storm_parallel} at a time, "
        f"{typists} sessions typing (bcrypt bound {bound:.1f}/s)"
    )
    emails = split([storm_email(i) for i in range(args.storm_logins)], clients.count)
    lanes = shares(args.storm_parallel, clients.count)

    async def storm() -> tuple[float, list[dict]]:
        start = time.monotonic()
        replies = []
        for i in range(clients.count):
            await clients.send(
                i,
                "storm",
                port=port,
                users=emails[i],
                password=PASSWORD,
                marker=MAIN_MENU,
                parallel=max(1, lanes[i]),
                timeout=args.open_timeout,
            )
        # A client's storm answer comes back before its typists' (type_stop is asked after).
        for i in range(clients.count):
            replies.append(await clients.receive(i, args.open_timeout * args.storm_logins))
        return time.monotonic() - start, replies

    samples, (wall, replies) = await typing_phase(clients, figures, typists, 0, args, during=storm())
    done = sum(len(r["times"]) for r in replies)
    failures: dict[str, int] = {}
    for r in replies:
        for name, count in r["failures"].items():
            failures[name] = failures.get(name, 0) + count
    return {
        "logins": done,
        "rate": done / wall,
        "bound": bound,
        "threads": threads,
        "checkpw_ms": statistics.median(checks) * 1000,
        "samples": samples,
        "typists": typists,
        "failures": failures,
        "wall": wall,
    }


# The table -------------------------------------------------------------------------------------


def per_session(figures: Figures, key: str) -> str:
    if not figures.opened or not figures.at_n:
        return "-"
    return f"{(figures.at_n[key] - figures.at_zero[key]) / figures.opened:,.1f}"


def echo(samples: list[float], typists: int) -> str:
    if not samples:
        return "-"
    return (
        f"{statistics.median(samples):.1f} / {percentile(samples, 0.99):.1f} ms"
        f" ({typists} typing, {len(samples)} keys)"
    )


def cpu(value: float, figures: Figures) -> str:
    if not figures.opened:
        return "-"
    above = (value - figures.cpu_zero) / figures.opened * 1000
    return f"{value:.1f} % ({above:.1f} % per 1,000)"


def gc_cell(stats: dict) -> str:
    if not stats:
        return "-"
    if not stats["count"]:
        return "none"
    return (
        f"{stats['longest_cpu_ms']:.1f} ms CPU, {stats['longest_ms']:.1f} ms wall "
        f"({stats['count']} collections)"
    )


def rows(figures: Figures, project: bool) -> list[str]:
    storm = figures.storm
    forced = figures.at_n.get("forced_gc_ms")
    errors = [
        f"{sum(figures.open_failures.values())} not opened",
        f"{figures.not_ready} not at the typing screen",
        f"{figures.no_echo} typists without echo",
        f"{figures.lost} sessions lost",
        f"{figures.log_errors} ERROR/Traceback log lines (+{figures.stop_errors} at stop)",
    ]
    storm_cells = ["-", "-"]
    if project and storm:
        storm_cells = [
            f"{storm['rate']:.2f}/s = {100 * storm['rate'] / storm['bound']:.0f} % of "
            f"{storm['bound']:.2f}/s ({storm['logins']} logins)",
            echo(storm["samples"], storm["typists"]),
        ]
    return [
        f"{figures.opened}/{figures.sessions}",
        per_session(figures, "fds"),
        per_session(figures, "pss_kib"),
        per_session(figures, "objects"),
        f"{forced:.0f} ms" if forced is not None else "-",
        f"{figures.open_rate:.1f}/s",
        cpu(figures.cpu_rest, figures),
        cpu(figures.cpu_typing, figures),
        echo(figures.sample, figures.sample_typists),
        echo(figures.mass, figures.mass_typists),
        gc_cell(figures.gc_open),
        gc_cell(figures.gc_open_phases),
        *storm_cells,
        f"{figures.client_lag_p99:.1f} / {figures.client_lag_max:.1f} ms, CPU {figures.client_cpu:.0f} %",
        "; ".join(errors),
    ]


LABELS = [
    "sessions open",
    "descriptors per session",
    "PSS per session (KiB)",
    "Python objects per session",
    "every object collected, all open",
    "open rate (first screen)",
    "server CPU at rest, all open",
    "server CPU, 5 % typing",
    "key echo p50 / p99, all open",
    "key echo p50 / p99, 5 % typing",
    "longest gen-2 GC pause, opening",
    "longest gen-2 GC pause, once open",
    "login storm, bcrypt cost 12",
    "key echo p50 / p99, during storm",
    "client loop lag p99 / max (worst)",
    "errors",
]


def table(project: Figures, bare: Figures, args: argparse.Namespace) -> str:
    workers = project.info.get("workers", 1)
    processes = f", {workers} workers" if workers > 1 else ""
    left = [f"project ({project.info.get('backend', '-')}{processes})", *rows(project, True)]
    right = [f"bare stack (cap {args.bare_max})", *rows(bare, False)]
    share = f"{args.typing_share:.0%}".replace("%", " %")
    labels = ["", *(label.replace("5 %", share) for label in LABELS)]
    width_l = max(map(len, labels))
    width_p = max(map(len, left[:-1]))
    lines = []
    for i, (label, a, b) in enumerate(zip(labels, left, right, strict=True)):
        if label == "errors":
            lines += [f"{'errors, project':<{width_l}}  {a}", f"{'errors, bare':<{width_l}}  {b}"]
            continue
        lines.append(f"{label:<{width_l}}  {a:<{width_p}}  {b}")
        if i == 0:
            lines.append("-" * (width_l + width_p + 40))
    return "\n".join(lines)


def details(name: str, figures: Figures) -> str:
    z, n = figures.at_zero, figures.at_n
    if not n:
        return f"{name}: no figures with sessions open"
    text = (
        f"{name}: with 0 sessions {z['fds']} descriptors, {z['pss_kib']:,} KiB PSS, "
        f"{z['objects']:,} objects, CPU {figures.cpu_zero:.1f} %; with {figures.opened}: "
        f"{n['fds']} descriptors, {n['pss_kib']:,} KiB, {n['objects']:,} objects"
    )
    if figures.open_failures:
        text += "\n  not opened: " + ", ".join(f"{c} × {r}" for r, c in figures.open_failures.items())
    return text


def source_tree(root: str) -> str:
    """The tree measured and its commit, so that a before and an after can be told apart."""
    try:
        done = subprocess.run(
            ["git", "-C", root, "log", "-1", "--format=%h %s"], capture_output=True, text=True, timeout=10
        )
        commit = done.stdout.strip()[:100]
        status = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no", "server"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if status.stdout.strip():
            commit += " (with uncommitted changes to server/)"
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{root} {commit}".rstrip()


async def main(args: argparse.Namespace) -> int:
    if args.bare_max > BARE_CLIFF - 10:
        log(f"--bare-max {args.bare_max}: the bare stack is expected to spin past ~{BARE_CLIFF}")
    folder = Path(tempfile.mkdtemp(prefix="support-scale-"))
    log(f"work folder {folder}")
    project = await measure("project", args.sessions, args, folder)
    bare = await measure("bare", min(args.sessions, args.bare_max), args, folder)
    storm = project.storm
    print(f"$ {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"Support Tickets scale benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
        f"{os.cpu_count()} cores, {args.client_procs} client processes; "
        f"bare stack capped at {args.bare_max} sessions (prompt_toolkit select() on "
        f"descriptors ≥ 1024, upstream #1702)"
    )
    print(f"project tree: {source_tree(args.server_root or str(HERE.parent))}")
    print(table(project, bare, args))
    if project.info.get("workers", 1) > 1:
        print(
            f"project with {project.info['workers']} workers: descriptors, PSS, objects and CPU are "
            "summed over the supervisor and its workers; GC pauses are the longest of any process"
        )
    print(details("project", project))
    print(details("bare", bare))
    if storm:
        print(
            f"storm: {storm['threads']} bcrypt thread(s), median checkpw at cost 12 "
            f"{storm['checkpw_ms']:.0f} ms (bound = threads / median), {storm['logins']} "
            f"logins in {storm['wall']:.1f} s, failures {storm['failures'] or 'none'}"
        )
    print(f"logs: {folder}")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--sessions", type=int, default=300, help="sessions to open (default 300)")
    add("--bare-max", type=int, default=300, help="cap for the bare stack (default 300)")
    add(
        "--client-procs",
        type=int,
        default=min(4, max(2, os.cpu_count() or 2)),
        help="client processes (default 2-4, from the cores)",
    )
    add("--in-flight", type=int, default=50, help="connections opening at once per client process")
    add("--database-url", default="", help="SQLAlchemy URL (default: temporary SQLite)")
    add("--workers", type=int, default=1, help="the project's ssh.workers (default 1: one process)")
    add("--server-root", default="", help="measure the `server` package of another tree (default: this one)")
    add("--rest-seconds", type=float, default=20, help="CPU at rest measured over (default 20)")
    add("--base-seconds", type=float, default=5, help="CPU with 0 sessions measured over")
    add("--type-seconds", type=float, default=20, help="each typing phase lasts (default 20)")
    add(
        "--key-interval",
        type=float,
        default=1.0,
        help="seconds between a typist's keys, jittered ±20 %% (default 1: a digit, then its erasure)",
    )
    add("--typing-share", type=float, default=0.05, help="share of sessions typing (default 5 %%)")
    add("--sample-typists", type=int, default=20, help="typists with all open (default 20)")
    add("--storm-logins", type=int, default=40, help="logins in the storm (default 40, 0: none)")
    add("--storm-parallel", type=int, default=8, help="storm logins at once (default 8)")
    add("--storm-typists", type=int, default=100, help="sessions typing during the storm")
    add("--open-timeout", type=float, default=60, help="seconds for one session to open")
    add("--open-deadline", type=float, default=0, help="seconds for all (default 60 + N/5)")
    add("--echo-timeout", type=float, default=15, help="seconds a typist waits for an echo")
    add("--settle", type=float, default=2, help="seconds between opening and measuring")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
