"""deploy/support-tickets.service: what it must hold, `systemd-analyze verify` and `security` on
it when the tool is here, and the settings it gives the service as `check-config` reads them."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .sshclient import OpenSSHClient
from .test_cli import cli, cli_env

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "support-tickets.service"
INSTALLED = "/opt/support-tickets"
# The README quotes the score; a unit that grows weaker fails here first.
MAX_EXPOSURE = 2.0


def directives(text: str) -> dict[str, list[str]]:
    """Every `Key=value` of the unit, repeated keys kept in order."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_the_unit_runs_with_the_least_rights_and_restarts_on_failure():
    d = directives(UNIT.read_text(encoding="utf-8"))
    assert d["User"] == ["support-tickets"] and d["Group"] == ["support-tickets"]
    assert d["StateDirectory"] == ["support-tickets"] and d["StateDirectoryMode"] == ["0700"]
    assert d["ProtectSystem"] == ["strict"]
    assert d["NoNewPrivileges"] == ["yes"]
    assert d["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    assert d["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]
    assert d["Restart"] == ["on-failure"]
    assert d["KillSignal"] == ["SIGTERM"]
    # SIGTERM waits for started writes (shutdown_grace, 30 s by default): systemd waits longer.
    assert int(d["TimeoutStopSec"][0]) > 30
    # Everything the service writes is in the state directory.
    env = " ".join(d["Environment"])
    assert "SUPPORT_DATABASE_SQLITE_PATH=/var/lib/support-tickets/" in env
    assert "SUPPORT_SSH_HOST_KEYS_DIR=/var/lib/support-tickets/" in env
    assert "SUPPORT_SSH_PORT=22" in env


def installed_here(tmp_path: Path) -> Path:
    """The unit as if the project were installed where this checkout is (ExecStart must exist)."""
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED, str(ROOT)), encoding="utf-8")
    return unit


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return tool


def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    tool = systemd_analyze()
    unit = installed_here(tmp_path)
    done = subprocess.run([tool, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    said = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    assert done.returncode == 0 and said == [], done.stdout + done.stderr


def test_a_misspelt_directive_is_caught(tmp_path):
    """The check above would see a typo: systemd only warns about it, and the unit runs without."""
    tool = systemd_analyze()
    unit = installed_here(tmp_path)
    unit.write_text(
        unit.read_text(encoding="utf-8").replace("ProtectSystem=", "ProtectSystm="), encoding="utf-8"
    )
    done = subprocess.run([tool, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    assert "Unknown key 'ProtectSystm'" in done.stderr


def test_systemd_analyze_security_scores_it_ok(tmp_path):
    tool = systemd_analyze()
    unit = installed_here(tmp_path)
    done = subprocess.run(
        [tool, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE and found.group(2) == "OK", found.group(0)


async def test_the_units_environment_is_what_the_service_reads(tmp_path):
    d = directives(UNIT.read_text(encoding="utf-8"))
    pairs = dict(item.split("=", 1) for value in d["Environment"] for item in value.split())
    pairs = {k: v.replace("/var/lib/support-tickets", str(tmp_path / "state")) for k, v in pairs.items()}
    env = cli_env(tmp_path) | pairs
    done = await cli("check-config", env=env)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^  port: 22$", done.stdout, re.M), done.stdout
    assert f"# base de données effective : sqlite+aiosqlite:///{tmp_path}/state/support.db" in done.stdout
    assert f"# clés d'hôte : {tmp_path}/state/host_keys" in done.stdout


def readme_host_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"/etc/ssh/ssh_config\.d/campus\.conf`:\n\n```\n(Host campus\n.*?)```", readme, re.S)
    assert found, "the README's OpenSSH Host block"
    return found.group(1)


async def test_the_readmes_host_block_lands_a_learner_on_the_welcome_menu(service, clients, tmp_path):
    """`ssh campus` with the lab image's block and known-hosts line: no question, the guest menu."""
    scan = await asyncio.to_thread(
        subprocess.run,
        ["ssh-keyscan", "-p", str(service.port), "-t", "ed25519", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    key = next(line for line in scan.stdout.splitlines() if " ssh-ed25519 " in line)
    known = tmp_path / "ssh_known_hosts"
    known.write_text(re.sub(r"^\S+", "campus", key) + "\n", encoding="utf-8")
    block = readme_host_block().replace("HostName 10.0.0.6", "HostName 127.0.0.1")
    block = block.replace("Port 22\n", f"Port {service.port}\n")
    assert f"Port {service.port}" in block and "HostName 127.0.0.1" in block
    config = tmp_path / "ssh_config"
    config.write_text(block + f"    GlobalKnownHostsFile {known}\n    UserKnownHostsFile /dev/null\n")
    c = await OpenSSHClient.spawn(["ssh", "-tt", "-F", str(config), "campus"])
    clients.append(c)
    await c.wait_for("Se connecter", "Créer un compte")
    assert "authenticity" not in c.text()

    # The same block with another key on file: StrictHostKeyChecking refuses to connect.
    other = tmp_path / "other_known_hosts"
    other.write_text(
        "campus ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    )
    config.write_text(block + f"    GlobalKnownHostsFile {other}\n    UserKnownHostsFile /dev/null\n")
    refused = await asyncio.to_thread(
        subprocess.run,
        ["ssh", "-F", str(config), "campus", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 255 and "HOST IDENTIFICATION HAS CHANGED" in refused.stderr
