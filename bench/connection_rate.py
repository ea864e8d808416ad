"""Benchmark: how many SSH version strings one address gets per second (ssh-audit's DHEat test).

Starts the real server on a free port (SQLite in a temporary folder), runs
`ssh-audit --conn-rate-test=16` against it for a few seconds, and prints the completed
connections per second it measured: with the default rate limit, then without any.
ssh-audit deems more than 20 per second open to the DHEat attack (CVE-2002-20001).

    .venv/bin/python bench/connection_rate.py [--seconds 5] [--sockets 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssh_audit.dheat import DHEat  # noqa: E402

from server.app import Service  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.process import setup_logging  # noqa: E402


async def measure(folder: Path, rate_per_minute: int | None, seconds: float, sockets: int) -> float:
    ssh = {"host": "127.0.0.1", "port": 0, "host_keys_dir": str(folder / "host_keys")}
    if rate_per_minute is not None:
        ssh["rate_per_minute"] = rate_per_minute
    settings = load_settings(
        env={}, overrides={"database": {"sqlite_path": str(folder / "bench.db")}, "ssh": ssh}
    )
    service = Service(settings)
    await service.start()
    try:
        audit = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ssh_audit",
            f"--conn-rate-test={sockets}",
            "-p",
            str(service.port),
            "127.0.0.1",
            stdout=subprocess.PIPE,
            env={**os.environ, "SHELL": "/bin/sh"},
        )
        await asyncio.sleep(seconds)
        audit.send_signal(signal.SIGINT)
        out, _ = await audit.communicate()
    finally:
        await service.stop(grace=1)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out.decode(errors="replace"))
    rates = re.findall(r"Compl\. conns/sec: ([0-9.,]+)", plain)
    return float(rates[-1].replace(",", ""))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sockets", type=int, default=16)
    args = parser.parse_args()
    setup_logging("ERROR")
    with tempfile.TemporaryDirectory() as tmp:
        for name, rate in (("default settings", None), ("rate_per_minute: 0", 0)):
            folder = Path(tmp) / str(rate)
            folder.mkdir()
            value = await measure(folder, rate, args.seconds, args.sockets)
            verdict = "safe" if value < DHEat.MAX_SAFE_RATE else "DHEat risk"
            print(
                f"{name:<20} {value:9.1f} completed connections/s  ({verdict}, "
                f"threshold {DHEat.MAX_SAFE_RATE:.0f}/s)"
            )


if __name__ == "__main__":
    asyncio.run(main())
