"""What mail cannot be made to do: flood an address with verification codes, tell a stranger
which e-mails have an account, or cancel the code an admin read out. Real server, real SMTP
server (aiosmtpd)."""

from __future__ import annotations

import dataclasses

import pytest

from server.audit import AuditEvent
from server.context import SessionContext
from server.errors import CodesThrottled
from server.store.schema import audit_log
from server.store.schema import outbox as outbox_table

from .conftest import PASSWORD, count, make_user, until
from .sshclient import ENTER
from .test_e2e_accounts import choose
from .test_e2e_mail import connect
from .test_e2e_tickets import wait_sentence
from .test_throttle import Clock, stamp

THROTTLED = AuditEvent.EMAIL_CODE_THROTTLED.value


async def test_verification_codes_are_throttled_per_account_with_one_sentence(
    mail_service, mail_clients, mailbox, database, alice
):
    clock = Clock()
    mail_service.services = dataclasses.replace(mail_service.services, clock=clock)
    for _ in range(5):
        await SessionContext(mail_service.services, "127.0.0.1:x", alice).send_verification()
    await stamp(database, clock.now)
    assert await count(database, outbox_table) == 5

    c = await connect(mail_service, mail_clients, "alice@example.org")
    await choose(c, "Mon compte")
    await choose(c, "Vérifier mon e-mail")
    await c.wait_for("Code :")
    c.send(ENTER)  # empty: send a new code
    await wait_sentence(c, "Trop de codes envoyés : réessayez dans 2 secondes.")
    assert await count(database, outbox_table) == 5
    assert await count(database, audit_log, audit_log.c.evenement == THROTTLED) == 1

    clock.advance(2)
    await SessionContext(mail_service.services, "127.0.0.1:x", alice).send_verification()
    assert await count(database, outbox_table) == 6
    await until(lambda: len(mailbox.messages()) == 6, 15)


async def test_changing_the_e_mail_is_throttled_per_client_address_across_accounts(
    mail_service, mailbox, database
):
    clock = Clock()
    limits = dataclasses.replace(mail_service.services.thresholds, login_failures_per_address=3)
    mail_service.services = dataclasses.replace(mail_service.services, clock=clock, thresholds=limits)
    people = [await make_user(mail_service.services, f"p{i}@example.org", f"P {i}") for i in range(4)]
    for i, person in enumerate(people[:3]):
        ctx = SessionContext(mail_service.services, f"192.0.2.7:{5000 + i}", person)
        await ctx.change_email("victime@example.net", PASSWORD)
    await stamp(database, clock.now)
    with pytest.raises(CodesThrottled, match="Trop de codes envoyés"):
        await SessionContext(mail_service.services, "192.0.2.7:6000", people[3]).change_email(
            "victime@example.net", PASSWORD
        )
    assert await count(database, outbox_table) == 3
    assert await count(database, audit_log, audit_log.c.evenement == THROTTLED) == 1
    # Another address is not held back.
    await SessionContext(mail_service.services, "198.51.100.1:1", people[3]).change_email(
        "victime@example.net", PASSWORD
    )
    assert await count(database, outbox_table) == 4
