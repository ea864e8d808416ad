"""Login throttling over real SSH: at the SSH door (password auth) and in the application's forms."""

from __future__ import annotations

import dataclasses

import asyncssh
import pytest

from server.audit import AuditEvent
from server.context import SessionContext
from server.store.schema import audit_log

from .conftest import PASSWORD, count
from .journeys import login_in_app
from .sshclient import Client
from .test_throttle import Clock, Spy, stamp

WRONG = "pas-le-bon-mot-de-passe"
WELCOME = ("1. Se connecter", "2. Créer un compte", "3. Mot de passe oublié", "4. Quitter")


@pytest.fixture
def clock(service) -> Clock:
    """The running server's throttle clock, frozen; with its hasher's checks counted."""
    clock = Clock()
    service.services = dataclasses.replace(service.services, clock=clock)
    return clock


async def refused(service, username: str, password: str, auth: str = "password") -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        await Client.connect(service.port, username, password, auth=auth)


@pytest.mark.parametrize("auth", ["password", "keyboard-interactive"])
async def test_ssh_password_auth_is_throttled_without_bcrypt(service, clients, clock, alice, database, auth):
    spy = Spy(service.services.hasher)
    for _ in range(5):
        await refused(service, "alice@example.org", WRONG, auth)
    assert spy.calls == 5
    await stamp(database, clock.now)

    # The right password now gets the same "Permission denied", and no hash is computed.
    await refused(service, "alice@example.org", PASSWORD, auth)
    await refused(service, "Alice@Example.org", PASSWORD, auth)
    assert spy.calls == 5
    throttled = AuditEvent.LOGIN_THROTTLED.value
    assert await count(database, audit_log, audit_log.c.evenement == throttled) == 2

    # Once the wait is over, the right password gets in.
    clock.advance(2)
    c = await Client.connect(service.port, "alice@example.org", PASSWORD, auth=auth)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    assert spy.calls == 6


async def test_ssh_unknown_e_mail_costs_one_bcrypt_check_like_a_wrong_password(service, clock, alice):
    spy = Spy(service.services.hasher)
    await refused(service, "alice@example.org", WRONG)
    assert spy.calls == 1
    await refused(service, "inconnu@example.org", WRONG)
    assert spy.calls == 2


async def test_in_app_login_says_how_long_to_wait(service, clients, clock, alice, database):
    c = await Client.connect(service.port)
    clients.append(c)
    for _ in range(5):
        await login_in_app(c, "alice@example.org", WRONG)
        await c.wait_gone("Mot de passe :")
        await c.wait_for("E-mail ou mot de passe incorrect.", *WELCOME)
    await stamp(database, clock.now)

    await login_in_app(c, "alice@example.org", PASSWORD)
    await c.wait_for("Trop de tentatives : réessayez dans 2 secondes.", *WELCOME)
    # The session goes on, and the wait is shared with the SSH door (same account).
    await refused(service, "alice@example.org", PASSWORD)
    clock.advance(2)
    await login_in_app(c, "alice@example.org", PASSWORD)
    await c.wait_for("Bonjour, Alice Ndiaye !", "1. Nouveau ticket")


async def test_in_app_account_creation_is_limited_per_address(service, clients, clock, database):
    # As many accounts as allowed, created lately from this machine (where the clients connect).
    for i in range(service.services.thresholds.registrations_per_address):
        await SessionContext(service.services, f"127.0.0.1:{40000 + i}").register(
            f"Apprenant {i}", f"apprenant{i}@example.org", PASSWORD
        )
    await stamp(database, clock.now)
    c = await Client.connect(service.port)
    clients.append(c)
    await c.wait_for(*WELCOME)
    c.send("2")
    # Said at once, before the form is filled in for nothing.
    await c.wait_for("Trop de comptes créés depuis cette adresse : réessayez dans 60 minute(s).", *WELCOME)
    assert "Nom :" not in c.text()
    created = AuditEvent.ACCOUNT_CREATION_THROTTLED.value
    assert await count(database, audit_log, audit_log.c.evenement == created) == 1

    # An hour later, the form is offered again.
    clock.advance(3600)
    c.send("2")
    await c.wait_for("Créer un compte", "Nom :")
