"""Attachments: upload and download throughput of a 9 MiB file with the real OpenSSH `scp`,
and the server's resident memory (RSS) before, after, and during five parallel uploads; the
same through `ssh … tickets attach N NAME < file`.

Starts the real server on SQLite in a temporary folder, registers a key for one user, then
times `scp` both ways (SFTP mode) and checks the bytes came back identical.

    .venv/bin/python bench/attachments.py
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import asyncssh

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.app import Service  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.context import SessionContext, create_user  # noqa: E402
from server.domain.models import Role, Urgency  # noqa: E402
from server.store import utcnow  # noqa: E402
from server.store.schema import ssh_keys  # noqa: E402

SIZE = 9 * 1024 * 1024
OPTIONS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
           "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"]  # fmt: skip


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def scp(port: int, key: Path, *args: str) -> None:
    proc = await asyncio.create_subprocess_exec("scp", "-P", str(port), "-i", str(key), *OPTIONS, *args)
    assert await proc.wait() == 0


async def attach(port: int, key: Path, ticket: int, source: Path) -> None:
    """`ssh … tickets attach N NAME < source`: the file on stdin."""
    with source.open("rb") as stdin:
        proc = await asyncio.create_subprocess_exec(
            "ssh", "-p", str(port), "-i", str(key), *OPTIONS, "-l", "bench@example.org", "127.0.0.1",
            "tickets", "attach", str(ticket), "stdin.bin", stdin=stdin, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert await proc.wait() == 0


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = load_settings(
            env={},
            overrides={
                "database": {"url": f"sqlite+aiosqlite:///{folder}/bench.db"},
                "ssh": {"host": "127.0.0.1", "port": 0, "host_keys_dir": str(folder / "keys")},
                "security": {"bcrypt_cost": 4},
                "attachments": {"max_ticket": 500 * 1024 * 1024, "max_user_day": 900 * 1024 * 1024},
            },
        )
        svc = Service(settings)
        await svc.start()
        try:
            hashed = await svc.services.hasher.hash("motdepasse-bench")
            user = await create_user(svc.db, "Bench", "bench@example.org", hashed, Role.USER)
            key = asyncssh.generate_private_key("ssh-ed25519")
            path = folder / "id_bench"
            path.write_bytes(key.export_private_key("openssh"))
            path.chmod(0o600)
            line = key.export_public_key("openssh").decode().split()
            await svc.db.write(
                lambda conn: conn.execute(
                    ssh_keys.insert().values(
                        utilisateur_id=user.id, algorithme=line[0], cle_publique=f"{line[0]} {line[1]}",
                        empreinte=key.get_fingerprint("sha256"), commentaire="", created_at=utcnow(),
                    )
                )
            )  # fmt: skip
            ticket = await SessionContext(svc.services, "bench", user).create_ticket(
                "Bench", "Bench.", Urgency.LOW
            )
            data = folder / "capture.bin"
            data.write_bytes(os.urandom(SIZE))
            remote = f"bench@example.org@127.0.0.1:{ticket}/"
            print(f"RSS before: {rss_mib():.1f} MiB")
            start = time.perf_counter()
            await scp(svc.port, path, str(data), remote)
            up = time.perf_counter() - start
            start = time.perf_counter()
            await scp(svc.port, path, remote + "capture.bin", str(folder / "back.bin"))
            down = time.perf_counter() - start
            same = (
                hashlib.sha256(data.read_bytes()).digest()
                == hashlib.sha256((folder / "back.bin").read_bytes()).digest()
            )
            print(f"upload   9 MiB: {SIZE / up / 2**20:.1f} MiB/s ({up:.2f} s)")
            print(f"download 9 MiB: {SIZE / down / 2**20:.1f} MiB/s ({down:.2f} s), identical: {same}")
            print(f"RSS after one round trip: {rss_mib():.1f} MiB")
            peak = 0.0

            async def watch() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, rss_mib())
                    await asyncio.sleep(0.05)

            watcher = asyncio.create_task(watch())
            start = time.perf_counter()
            await asyncio.gather(*(scp(svc.port, path, str(data), remote) for _ in range(5)))
            watcher.cancel()
            rate = 5 * SIZE / (time.perf_counter() - start) / 2**20
            maximum = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"five parallel uploads: {rate:.1f} MiB/s in all, peak RSS {peak:.1f} MiB (max {maximum:.1f})"
            )
            start = time.perf_counter()
            await attach(svc.port, path, ticket, data)
            one = time.perf_counter() - start
            print(f"tickets attach 9 MiB on stdin: {SIZE / one / 2**20:.1f} MiB/s ({one:.2f} s)")
            peak = 0.0
            watcher = asyncio.create_task(watch())
            start = time.perf_counter()
            await asyncio.gather(*(attach(svc.port, path, ticket, data) for _ in range(5)))
            watcher.cancel()
            rate = 5 * SIZE / (time.perf_counter() - start) / 2**20
            print(f"five parallel tickets attach: {rate:.1f} MiB/s in all, peak RSS {peak:.1f} MiB")
        finally:
            await svc.stop(grace=2)


if __name__ == "__main__":
    asyncio.run(main())
