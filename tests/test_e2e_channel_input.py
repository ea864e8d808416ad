"""Sessions fed by their SSH channel: no descriptor of their own, none out of select()'s reach,
and one session's failure is that session's alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource

import pytest
from prompt_toolkit.input.vt100_parser import Vt100Parser

from .conftest import PASSWORD, until
from .sshclient import ENTER, Client

WELCOME = ("1. Se connecter", "2. Créer un compte", "3. Mot de passe oublié", "4. Quitter")
# Descriptor numbers select() cannot watch start here.
FD_SETSIZE = 1024


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def descriptors_in_use_up_to(number: int):
    """Hold dummy descriptors until the next one opened gets a number above `number`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < number + 200:
        pytest.fail(f"the hard limit on open files ({hard}) is too low for this test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, number + 200), hard))
    held = []
    try:
        while not held or held[-1] < number:
            held.append(os.open("/dev/null", os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def guest(service, clients) -> Client:
    c = await Client.connect(service.port)
    clients.append(c)
    await c.wait_for(*WELCOME)
    return c


def server_socket_numbers(service) -> list[int]:
    return [conn.get_extra_info("socket").fileno() for conn in service.connections]


async def test_sessions_answer_when_their_descriptors_are_above_1023(service, clients, alice):
    with descriptors_in_use_up_to(FD_SETSIZE + 50):
        first = await guest(service, clients)
        second = await Client.connect(service.port, "alice@example.org", PASSWORD)
        clients.append(second)
        await second.wait_for("1. Nouveau ticket")
        assert min(server_socket_numbers(service)) > FD_SETSIZE
        # Keys typed now are read and answered, in both sessions, again and again.
        for _ in range(3):
            first.send("1")
            await first.wait_for("E-mail :")
            first.send("\x1b")
            await first.wait_for(*WELCOME)
        second.send("2")
        await second.wait_for("Mes tickets", "Numéro du ticket :")
        second.send("7")
        await second.wait_for("Numéro du ticket : 7")


async def test_the_server_opens_one_descriptor_per_connection(service, clients):
    # The pool and the log are open once a first session has come and gone.
    warm = await guest(service, clients)
    await warm.close()
    await until(lambda: not service.terminals)
    before = open_descriptors()
    sessions = 30
    for _ in range(sessions):
        await guest(service, clients)
    # Each connection is two sockets in this process: the client's and the server's.
    server_side = open_descriptors() - before - sessions
    # A pipe per session would make it three each (90); the slack is the database pool's.
    assert sessions <= server_side <= sessions + 10


async def test_an_input_failure_ends_that_session_and_no_other(service, clients, monkeypatch, caplog):
    feed = Vt100Parser.feed

    def failing_feed(self, data: str) -> None:
        # A fault in the key parser, met by whoever types Ctrl-].
        if "\x1d" in data:
            raise RuntimeError("parser fault")
        feed(self, data)

    monkeypatch.setattr(Vt100Parser, "feed", failing_feed)
    victim = await guest(service, clients)
    bystander = await guest(service, clients)
    with caplog.at_level(logging.ERROR, logger="support.sshd"):
        victim.send("\x1d")
        await until(lambda: victim.closed)
        # The other session is served as before.
        bystander.send("1")
        await bystander.wait_for("E-mail :")
        bystander.send("x@example.org" + ENTER)
        await bystander.wait_for("Mot de passe :")
    failures = [r for r in caplog.records if "input failed" in r.getMessage()]
    assert len(failures) == 1
    assert "addr=127.0.0.1:" in failures[0].getMessage()
    assert len(service.terminals) == 1


async def test_a_paste_that_never_ends_ends_its_session(service, clients, caplog):
    endless = await guest(service, clients)
    bystander = await guest(service, clients)
    endless.send("1")
    await endless.wait_for("E-mail :")
    with caplog.at_level(logging.ERROR, logger="support.sshd"):
        endless.send("\x1b[200~")
        chunk = "x" * 65536
        for _ in range(70):  # 4.5 MiB, and no end mark
            if endless.closed:
                break
            endless.send(chunk)
            await asyncio.sleep(0)
        await until(lambda: endless.closed, 30)
    assert any("input failed" in r.getMessage() for r in caplog.records)
    bystander.send("1")
    await bystander.wait_for("E-mail :")
