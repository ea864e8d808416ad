"""The PROXY protocol: HAProxy (Debian's package, started here) in front of the real server; the
audit trail records the client's own address; hostile and missing headers are refused."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
import struct
import subprocess
from pathlib import Path

import asyncssh
import pytest
import sqlalchemy as sa

from server.audit import AuditEvent
from server.config import ConfigError, load_settings
from server.store.schema import audit_log
from server.transport.proxy_protocol import V2_SIGNATURE, HeaderError, parse

from .conftest import PASSWORD, context_for, free_port, until

pytestmark = pytest.mark.usefixtures("alice")


@pytest.fixture
def settings(settings):
    """The service behind a proxy on 127.0.0.1: only that address's headers are believed."""
    ssh = dataclasses.replace(settings.ssh, proxy_protocol=True, trusted_proxies="127.0.0.1")
    return dataclasses.replace(settings, ssh=ssh)


def v2(source: str, port: int, *, command: int = 0x21) -> bytes:
    a = bytes(int(x) for x in source.split("."))
    body = a + bytes([127, 0, 0, 1]) + struct.pack("!HH", port, 22)
    return V2_SIGNATURE + bytes([command, 0x11]) + struct.pack("!H", len(body)) + body


def test_headers_parsed_and_malformed_ones_refused():
    assert parse(b"PROXY TCP4 127.0.0.2 127.0.0.1 5555 22\r\nSSH-2.0-x") == (("127.0.0.2", 5555), 40)
    assert parse(b"PROXY TCP6 ::2 ::1 5555 22\r\n") == (("::2", 5555), 28)
    assert parse(b"PROXY UNKNOWN\r\n") == (None, 15)
    assert parse(v2("10.1.2.3", 4242)) == (("10.1.2.3", 4242), 28)
    assert parse(v2("10.1.2.3", 4242, command=0x20)) == (None, 28)  # LOCAL: a health check
    assert parse(b"PROXY TCP4 1.2") is None and parse(V2_SIGNATURE[:5]) is None
    for hostile in (
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"PROXY TCP4 999.1.1.1 127.0.0.1 1 22\r\n",
        b"PROXY TCP4 ::1 127.0.0.1 1 22\r\n",
        b"PROXY TCP4 1.1.1.1 127.0.0.1 -1 22\r\n",
        b"PROXY " + b"A" * 200,
        V2_SIGNATURE + bytes([0x31, 0x11, 0, 12]) + bytes(12),
        V2_SIGNATURE + bytes([0x21, 0x11, 0xFF, 0xFF]),
    ):
        with pytest.raises(HeaderError):
            parse(hostile)


def test_the_protocol_needs_its_trusted_proxies():
    with pytest.raises(ConfigError, match=r"ssh\.trusted_proxies"):
        load_settings(env={"SUPPORT_SSH_PROXY_PROTOCOL": "true"})
    assert load_settings(env={}).ssh.proxies() is None


async def exchange(port: int, source: str, send: bytes) -> bytes:
    """Connect from `source`, send `send`, and read whatever comes until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(send)
    got = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(4096), 10):
            got += chunk
    except ConnectionResetError:
        pass
    writer.close()
    return got


async def addresses(database, event: AuditEvent) -> list[str]:
    async with database.transaction() as conn:
        rows = await conn.execute(sa.select(audit_log.c.adresse).where(audit_log.c.evenement == event.value))
        return [r[0] for r in rows]


async def test_hostile_headers_and_missing_ones_are_refused(service, database, caplog):
    # An untrusted address that sends a header: closed, nothing audited. SSH itself would also
    # refuse the line (asyncssh closes the same way): the log says the gate refused it first.
    caplog.set_level(logging.WARNING, logger="support")
    refused = "connection refused: PROXY header from an address not in ssh.trusted_proxies"
    got = await exchange(service.port, "127.0.0.2", b"PROXY TCP4 10.0.0.1 127.0.0.1 1 22\r\nSSH-2.0-x\r\n")
    assert b"SSH-2.0-" in got  # an ordinary client for all it knew, until it sent that
    got = await exchange(service.port, "127.0.0.2", v2("10.0.0.1", 1) + b"SSH-2.0-x\r\n")
    assert b"SSH-2.0-" in got
    assert [r.getMessage().split(" ", 1)[1] for r in caplog.records if refused in r.getMessage()] == [
        refused
    ] * 2
    # A trusted proxy that sends no header, or a malformed one: closed before any banner.
    assert await exchange(service.port, "127.0.0.1", b"SSH-2.0-OpenSSH_9.2\r\n") == b""
    assert await exchange(service.port, "127.0.0.1", b"PROXY TCP4 nonsense\r\n") == b""
    # An untrusted address without a header is an ordinary client; a trusted proxy's header counts.
    direct = await asyncssh.connect(
        "127.0.0.1",
        service.port,
        local_addr=("127.0.0.2", 0),
        username="alice@example.org",
        password=PASSWORD,
        known_hosts=None,
        agent_path=None,
        preferred_auth="password",
    )
    direct.close()
    await until(lambda: not service.connections)
    assert [a.split(":")[0] for a in await addresses(database, AuditEvent.LOGIN_SUCCEEDED)] == ["127.0.0.2"]


HAPROXY_CFG = """\
global
    log stderr format short local0 warning
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend ssh
    bind 127.0.0.1:{front}
    default_backend support
backend support
    option tcp-check
    tcp-check expect rstring ^SSH-2\\.0-
    server s1 127.0.0.1:{back} send-proxy-v2 check check-send-proxy inter 200ms fall 1 rise 1
"""


@pytest.fixture
def haproxy(service, tmp_path: Path):
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    front = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(front=front, back=service.port), encoding="utf-8")
    proc = subprocess.Popen([binary, "-db", "-f", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield front
    finally:
        proc.terminate()
        proc.wait(10)


async def test_a_learner_through_haproxy_is_audited_at_her_own_address(service, haproxy, database):
    # Several health checks first (every 200 ms, one failure marks the front end down): the
    # front end must answer HAProxy's checks, PROXY header included, to be still in use.
    await asyncio.sleep(1.5)
    conn = None
    for _ in range(100):
        try:
            conn = await asyncssh.connect(
                "127.0.0.1",
                haproxy,
                local_addr=("127.0.0.2", 0),
                username="alice@example.org",
                password=PASSWORD,
                known_hosts=None,
                agent_path=None,
                preferred_auth="password",
            )
            break
        except (OSError, asyncssh.Error):
            await asyncio.sleep(0.1)
    assert conn is not None, "HAProxy did not let the client through"
    conn.close()
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            "127.0.0.1",
            haproxy,
            local_addr=("127.0.0.3", 0),
            username="alice@example.org",
            password="pas-le-bon",
            known_hosts=None,
            agent_path=None,
            preferred_auth="password",
        )
    await until(lambda: not service.connections)
    # The refused client may hear the answer before the failure is written: wait for it.
    for _ in range(100):
        failed = await addresses(database, AuditEvent.LOGIN_FAILED)
        if failed:
            break
        await asyncio.sleep(0.05)
    ok = await addresses(database, AuditEvent.LOGIN_SUCCEEDED)
    # Her own address, not HAProxy's (127.0.0.1); the failure at the other learner's.
    assert [a.split(":")[0] for a in ok] == ["127.0.0.2"]
    assert [a.split(":")[0] for a in failed] == ["127.0.0.3"]


async def test_a_ticket_through_haproxy_is_at_the_place_of_the_learners_own_address(
    service, haproxy, services, admin
):
    staff = context_for(services, admin)
    lab = await staff.add_place("Labo 2")
    await staff.add_network(lab.id, "127.0.0.2/32")
    # HAProxy's own address is in another place's network: it must not be the one used.
    proxy_side = await staff.add_place("Salle serveurs")
    await staff.add_network(proxy_side.id, "127.0.0.1/32")
    await asyncio.sleep(1.5)  # as above: HAProxy's health checks first
    conn = None
    for _ in range(100):
        try:
            conn = await asyncssh.connect(
                "127.0.0.1",
                haproxy,
                local_addr=("127.0.0.2", 0),
                username="alice@example.org",
                password=PASSWORD,
                known_hosts=None,
                agent_path=None,
                preferred_auth="password",
            )
            break
        except (OSError, asyncssh.Error):
            await asyncio.sleep(0.1)
    assert conn is not None, "HAProxy did not let the client through"
    async with conn:
        done = await conn.run("tickets new --title Poste 4 --urgency Faible", input="Ne démarre pas.")
        assert done.exit_status == 0, done.stderr
        shown = await conn.run(f"tickets show {done.stdout.strip()} --json")
    assert json.loads(shown.stdout)["place"] == "Labo 2"
