"""What mail cannot be made to do: flood an address with verification codes, tell a stranger
which e-mails have an account, or cancel the code an admin read out. Real server, real SMTP
server (aiosmtpd)."""

from __future__ import annotations

import contextvars
import dataclasses

import pytest
import sqlalchemy as sa

from server.audit import AuditEvent
from server.context import SessionContext
from server.errors import CodesThrottled
from server.store.schema import audit_log, reset_codes
from server.store.schema import outbox as outbox_table

from .conftest import PASSWORD, count, make_user, until
from .sshclient import ENTER
from .test_e2e_accounts import choose
from .test_e2e_mail import code_in, connect, reset_on_screen_after_menu, verified
from .test_e2e_recovery import DONE
from .test_e2e_tickets import WELCOME, wait_sentence
from .test_throttle import Clock, stamp

THROTTLED = AuditEvent.EMAIL_CODE_THROTTLED.value
PROBE = contextvars.ContextVar("probe", default=False)


@pytest.fixture
async def screens(mail_service):
    """Clients a test opens on `mail_service`, closed at its end (test_e2e_mail's mail_clients)."""
    opened: list = []
    yield opened
    for c in opened:
        await c.close()
    await until(lambda: not mail_service.terminals, 5, fail=False)


async def test_verification_codes_are_throttled_per_account_with_one_sentence(
    mail_service, screens, mailbox, database, alice
):
    clock = Clock()
    mail_service.services = dataclasses.replace(mail_service.services, clock=clock)
    for _ in range(5):
        await SessionContext(mail_service.services, "127.0.0.1:x", alice).send_verification()
    await stamp(database, clock.now)
    assert await count(database, outbox_table) == 5

    c = await connect(mail_service, screens, "alice@example.org")
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


async def test_asking_a_code_by_mail_runs_the_same_statements_whoever_the_e_mail_is(
    mail_service, mailbox, database, alice, bob
):
    """Unknown, unverified (Bob) and verified (Alice): the same SQL, in the same order, and
    one audit row each; only the verified account gets a code and a message."""
    await verified(database, alice)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        # This test's own requests (and the tasks they start), not the sender polling the
        # outbox meanwhile.
        if PROBE.get():
            statements.append(" ".join(statement.split()))

    engine = mail_service.db.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    runs = []
    PROBE.set(True)
    try:
        for email in ("personne@example.org", "bob@example.org", "alice@example.org"):
            statements.clear()
            await SessionContext(mail_service.services, "198.51.100.9:1").request_reset_code(email)
            runs.append(list(statements))
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert runs[0] and runs[0] == runs[1] == runs[2]
    requested = AuditEvent.RESET_REQUESTED.value
    assert await count(database, audit_log, audit_log.c.evenement == requested) == 3
    assert await count(database, reset_codes) == 1 and await count(database, outbox_table) == 1
    await until(lambda: len(mailbox.messages()) == 1, 15)
    assert mailbox.messages()[0]["To"].addresses[0].addr_spec == "alice@example.org"


async def test_a_code_asked_by_mail_leaves_the_admins_code_valid_and_a_reset_ends_both(
    mail_service, screens, mailbox, database, alice, admin
):
    await verified(database, alice)
    desk = await SessionContext(mail_service.services, "127.0.0.1:desk", admin).issue_reset_code(alice.id)
    # Anyone who knows Alice's e-mail may ask for a code by mail: the admin's stays valid.
    await SessionContext(mail_service.services, "198.51.100.9:1").request_reset_code("alice@example.org")
    await until(lambda: len(mailbox.messages()) == 1, 15)
    mailed = code_in(mailbox.messages()[0])
    c = await connect(mail_service, screens)
    c.send("3")
    await c.wait_for("1. J'ai un code")
    c.send("1")
    await reset_on_screen_after_menu(c, "alice@example.org", desk.code)
    await c.wait_for(DONE, *WELCOME)
    # The reset ended the other live code: the mailed one is refused.
    c.send("3")
    await c.wait_for("1. J'ai un code")
    c.send("1")
    await reset_on_screen_after_menu(c, "alice@example.org", mailed)
    await c.wait_for("Ce code a déjà servi ou a expiré", *WELCOME)
    assert await count(database, reset_codes, reset_codes.c.used_at.is_not(None)) == 1
