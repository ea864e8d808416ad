"""Audit: what the real ssh-audit says about each SSH profile, and about asyncssh's own defaults.

Starts the real server in each profile (SQLite in a temporary folder), then a bare asyncssh
server with the library's default algorithms for comparison, runs ssh-audit against each and
prints its exit code and the number of failures and warnings it reports per algorithm kind.
The connection-rate (DHEat) test is left out: it measures connection limits, not algorithms.

    .venv/bin/python bench/audit_profiles.py [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import asyncssh

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.app import Service  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.transport.algorithms import Profile  # noqa: E402

KINDS = ("kex", "key", "enc", "mac")
EXIT_CODES = {0: "clean", 1: "connection error", 2: "warnings", 3: "failures"}


async def audit(port: int) -> tuple[int, dict]:
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "ssh_audit",
            "--json",
            "--skip-rate-test",
            "--timeout",
            "30",
            "--port",
            str(port),
            "127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)


def report(name: str, code: int, result: dict, verbose: bool) -> None:
    counts = {
        level: {kind: sum(len(e.get("notes", {}).get(level, [])) for e in result[kind]) for kind in KINDS}
        for level in ("fail", "warn")
    }
    per_kind = "  ".join(f"{kind} {counts['fail'][kind]}/{counts['warn'][kind]}" for kind in KINDS)
    print(
        f"{name:<22} exit {code} ({EXIT_CODES.get(code, '?')}): "
        f"{sum(counts['fail'].values())} failures, {sum(counts['warn'].values())} warnings"
        f"   [failures/warnings: {per_kind}]"
    )
    if verbose:
        for kind in KINDS:
            for entry in result[kind]:
                for level in ("fail", "warn"):
                    for note in entry.get("notes", {}).get(level, []):
                        print(f"    {level} {kind} {entry['algorithm']}: {note}")


async def main(verbose: bool) -> None:
    # The library defaults offer finite-field DH: the deprecation notice is not the point here.
    warnings.filterwarnings("ignore", message="Diffie-Hellman over finite fields")
    with tempfile.TemporaryDirectory() as folder:
        for profile in Profile:
            settings = load_settings(
                env={},
                overrides={
                    "database": {"sqlite_path": f"{folder}/{profile}.db", "url": ""},
                    "ssh": {
                        "host": "127.0.0.1",
                        "port": 0,
                        "host_keys_dir": f"{folder}/keys",
                        "profile": profile.value,
                    },
                    "security": {"bcrypt_cost": 4},
                    "log": {"level": "WARNING"},
                },
            )
            service = Service(settings)
            await service.start()
            try:
                report(f"profile {profile}", *await audit(service.port), verbose)
            finally:
                await service.stop(grace=1)

        key = asyncssh.generate_private_key("ssh-ed25519")
        bare = await asyncssh.create_server(asyncssh.SSHServer, "127.0.0.1", 0, server_host_keys=[key])
        try:
            port = bare.sockets[0].getsockname()[1]
            report(f"asyncssh {asyncssh.__version__} defaults", *await audit(port), verbose)
        finally:
            bare.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list every failure and warning")
    asyncio.run(main(parser.parse_args().verbose))
