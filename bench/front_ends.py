"""Benchmark: two front ends behind HAProxy (deploy/haproxy.cfg as shipped), spread and failover.

Starts two `python -m server serve` processes on one database (the shared host key, the PROXY
protocol from 127.0.0.1) and Debian's HAProxy in front with deploy/haproxy.cfg (addresses
swapped for loopback ports), then prints:

- how --logins logins through HAProxy, held open, spread over the two front ends (leastconn);
- after SIGKILL of one front end: how long until a new login through HAProxy succeeds, how long
  until HAProxy's health checks mark it down (`inter 2s fall 2`), and the survivor's sessions;
- after SIGTERM of the survivor's partner restarted: the same for a planned stop.

    .venv/bin/python bench/front_ends.py                      # a scratch SQLite file
    .venv/bin/python bench/front_ends.py mysql+aiomysql://root@127.0.0.1:3306/support_bench

The database is created or upgraded; a scratch account is added if missing. Never point it at a
database you care about.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import asyncssh
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.config import load_settings  # noqa: E402
from server.context import create_user  # noqa: E402
from server.domain.models import Role  # noqa: E402
from server.errors import EmailTaken  # noqa: E402
from server.security import PasswordHasher  # noqa: E402
from server.store import Database  # noqa: E402
from server.store.migrate import upgrade  # noqa: E402

EMAIL, PASSWORD = "banc@example.org", "banc-d-essai-2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Front:
    def __init__(self, name: str, url: str, key: Path, folder: Path) -> None:
        self.name, self.url, self.key, self.folder = name, url, key, folder
        self.port, self.metrics = free_port(), free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORT_")} | {
            "SUPPORT_DATABASE_URL": self.url,
            "SUPPORT_SSH_HOST": "127.0.0.1",
            "SUPPORT_SSH_PORT": str(self.port),
            "SUPPORT_SSH_HOST_KEY_FILE": str(self.key),
            "SUPPORT_SSH_PROXY_PROTOCOL": "true",
            "SUPPORT_SSH_TRUSTED_PROXIES": "127.0.0.1",
            "SUPPORT_METRICS_LISTEN": f"127.0.0.1:{self.metrics}",
            "SUPPORT_SECURITY_BCRYPT_COST": "4",
            # Every login of the bench comes from one loopback address.
            "SUPPORT_SSH_EXEMPT": "127.0.0.0/8",
            "SUPPORT_SECURITY_THROTTLE_EXEMPT": "127.0.0.0/8",
            "SUPPORT_LOG_LEVEL": "WARNING",
        }
        log = (self.folder / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + 60
        while self.sessions() is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.name} did not start: see {self.folder / (self.name + '.log')}")
            time.sleep(0.1)

    def sessions(self) -> int | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=5) as r:
                text = r.read().decode("utf-8")
        except OSError:
            return None
        return int(
            sum(
                s.value
                for f in text_string_to_metric_families(text)
                for s in f.samples
                if s.name == "support_sessions_open"
            )
        )


def haproxy_config(front: int, fronts: list[Front]) -> str:
    text = (ROOT / "deploy" / "haproxy.cfg").read_text(encoding="utf-8")
    text = text.replace("bind :22", f"bind 127.0.0.1:{front}").replace("maxconn 20000", "maxconn 2000")
    text = text.replace("10.0.0.11:2222", f"127.0.0.1:{fronts[0].port}")
    return text.replace("10.0.0.12:2222", f"127.0.0.1:{fronts[1].port}")


async def login(port: int) -> asyncssh.SSHClientConnection:
    conn = await asyncssh.connect(
        "127.0.0.1",
        port,
        username=EMAIL,
        password=PASSWORD,
        known_hosts=None,
        agent_path=None,
        preferred_auth="password",
    )
    await conn.create_session(asyncssh.SSHClientSession, term_type="xterm", term_size=(80, 24))
    return conn


async def first_login_after(port: int, since: float) -> float:
    """Seconds from `since` until a login through HAProxy succeeds."""
    while True:
        try:
            conn = await login(port)
            conn.close()
            return time.monotonic() - since
        except (OSError, asyncssh.Error):
            await asyncio.sleep(0.02)


async def until_logged(log: Path, text: str, count: int, since: float) -> float:
    while log.read_text(errors="replace").count(text) < count:
        await asyncio.sleep(0.02)
    return time.monotonic() - since


async def prepare(url: str) -> None:
    settings = load_settings(env={}, overrides={"database": {"url": url}, "security": {"bcrypt_cost": 4}})
    db = Database(settings, url)
    try:
        await upgrade(db)
        hashed = await PasswordHasher(4).hash(PASSWORD)
        with contextlib.suppress(EmailTaken):  # already there from an earlier run
            await create_user(db, "Banc d'essai", EMAIL, hashed, Role.USER)
    finally:
        await db.close()


async def measure(url: str, logins: int, folder: Path) -> None:
    await prepare(url)
    key = folder / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    fronts = [Front(n, url, key, folder) for n in ("front1", "front2")]
    for f in fronts:
        f.start()
    front = free_port()
    cfg = folder / "haproxy.cfg"
    cfg.write_text(haproxy_config(front, fronts), encoding="utf-8")
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    haproxy_log = folder / "haproxy.log"
    haproxy = subprocess.Popen(
        [binary, "-db", "-f", str(cfg)], stdout=haproxy_log.open("wb"), stderr=subprocess.STDOUT
    )
    held: list[asyncssh.SSHClientConnection] = []
    try:
        await first_login_after(front, time.monotonic())
        start = time.monotonic()
        for _ in range(logins):
            held.append(await login(front))
        elapsed = time.monotonic() - start
        await asyncio.sleep(0.5)
        spread = [f.sessions() for f in fronts]
        print(
            f"{logins} logins through HAProxy, one after another, in {elapsed:.1f} s: "
            f"sessions per front end {spread}"
        )

        victim, survivor = fronts
        assert victim.proc is not None
        on_victim = spread[0]
        killed = time.monotonic()
        victim.proc.send_signal(signal.SIGKILL)
        new_login = await first_login_after(front, killed)
        down = await until_logged(haproxy_log, "is DOWN", 1, killed)
        await asyncio.sleep(0.5)
        alive = [c for c in held if not c.is_closed()]
        print(
            f"SIGKILL of {victim.name} ({on_victim} sessions cut): a new login through HAProxy after "
            f"{new_login * 1000:.0f} ms (redispatch), HAProxy marks it down after {down:.1f} s; "
            f"{survivor.name} keeps its {len(alive)} sessions, holds {survivor.sessions()}"
        )

        victim.start()
        back = await until_logged(haproxy_log, "is UP", 1, time.monotonic())
        print(f"{victim.name} started again: back in HAProxy's rotation {back:.1f} s after it answers")
        for c in held:
            c.close()
        held = [await login(front) for _ in range(logins)]
        await asyncio.sleep(0.5)
        spread = [f.sessions() for f in fronts]
        assert survivor.proc is not None
        stopped = time.monotonic()
        survivor.proc.send_signal(signal.SIGTERM)
        new_login = await first_login_after(front, stopped)
        down = await until_logged(haproxy_log, "is DOWN", 2, stopped)
        print(
            f"SIGTERM of {survivor.name} (sessions per front end {spread}): a new login through "
            f"HAProxy after {new_login * 1000:.0f} ms, HAProxy marks it down after {down:.1f} s"
        )
    finally:
        for c in held:
            c.close()
        haproxy.terminate()
        haproxy.wait(10)
        for f in fronts:
            if f.proc is not None and f.proc.poll() is None:
                f.proc.terminate()
                f.proc.wait(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="database URL (default: a scratch SQLite file)")
    parser.add_argument("--logins", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="front-ends-") as folder:
        url = args.url or f"sqlite+aiosqlite:///{folder}/support.db"
        asyncio.run(measure(url, args.logins, Path(folder)))


if __name__ == "__main__":
    main()
