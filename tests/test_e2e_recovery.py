"""Mot de passe oublié over real SSH: an admin's code read out, the reset in the welcome menu
through OpenSSH, used once; expired, voided and unknown codes; no enumeration; throttling."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
from datetime import timedelta

import asyncssh
import pytest
import sqlalchemy as sa

from server.audit import AuditEvent
from server.context import SessionContext, SessionResources
from server.context.recovery import CODE_ALPHABET, code_hash
from server.errors import Forbidden, Throttled, ValidationError
from server.security import PasswordHasher
from server.store import utcnow
from server.store.schema import audit_log, reset_codes, ssh_keys, users

from .conftest import PASSWORD, TEST_BCRYPT_COST, count
from .sshclient import ENTER, Client, OpenSSHClient, ScreenReader
from .test_e2e_accounts import choose, public_line
from .test_e2e_tickets import WELCOME, logged_in, wait_sentence
from .test_throttle import Clock, stamp

NEW = "nouveau-secret-42"
USED = "Ce code a déjà servi ou a expiré : demandez-en un nouveau."
WRONG = "E-mail ou code incorrect."
DONE = "Mot de passe modifié : connectez-vous avec le nouveau."


async def issue_on_screen(staff: ScreenReader, user) -> str:
    """Utilisateurs → the account → `Code de réinitialisation`: the code shown once."""
    await choose(staff, "Utilisateurs")
    await staff.wait_for(user.name)
    staff.send(f"{user.id}" + ENTER)
    await staff.wait_for(f"Utilisateur #{user.id}", "Code de réinitialisation")
    await choose(staff, "Code de réinitialisation")
    await wait_sentence(staff, f"Donner un code de réinitialisation à {user.name} ({user.email}) ?")
    staff.send("o")
    screen = await staff.wait_for("Code : ", "Valable jusqu'à : ", "0. Fermer")
    return re.search(r"Code : ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})", screen).group(1)


async def reset_on_screen(c: ScreenReader, email: str, code: str, password: str = NEW) -> None:
    """From the welcome menu, `Mot de passe oublié`: e-mail, code, the new password twice."""
    await c.wait_for("3. Mot de passe oublié")
    c.send("3")
    await c.wait_for("Mot de passe oublié", "E-mail :")
    c.send(email + ENTER)
    await c.wait_for("Code :")
    c.send(code + ENTER)
    await c.wait_for("Nouveau mot de passe :")
    c.send(password + ENTER)
    await c.wait_for("Confirmation :")
    c.send(password + ENTER)
    await c.wait_gone("Confirmation :")


async def issued(service, admin, user) -> str:
    ctx = SessionContext(service.services, "127.0.0.1:desk", admin)
    return (await ctx.issue_reset_code(user.id)).code


async def password_of(database, email: str) -> str:
    async with database.transaction() as conn:
        return (await conn.execute(sa.select(users.c.mot_de_passe).where(users.c.email == email))).scalar()


async def all_passwords(database) -> list[tuple]:
    async with database.transaction() as conn:
        return [tuple(r) for r in await conn.execute(sa.select(users.c.id, users.c.mot_de_passe))]


async def guest(service, clients) -> Client:
    c = await Client.connect(service.port)
    clients.append(c)
    await c.wait_for(*WELCOME)
    return c


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")
async def test_admin_code_read_out_then_reset_through_openssh_ends_sessions_keeps_keys(
    service, clients, alice, admin, database
):
    key = asyncssh.generate_private_key("ssh-ed25519")
    await SessionContext(service.services, "127.0.0.1:test", alice).add_key(public_line(key))
    before = await password_of(database, "alice@example.org")
    # Alice is still connected somewhere (a lab machine she left).
    left_open = await logged_in(service, clients, "alice@example.org")

    staff = await logged_in(service, clients, "admin@example.org")
    code = await issue_on_screen(staff, alice)
    assert set(code.replace("-", "")) <= set(CODE_ALPHABET) and len(code.replace("-", "")) == 12
    async with database.transaction() as conn:
        row = (await conn.execute(sa.select(reset_codes))).one()
    # Stored hashed, never in clear; issued by the admin, 30 minutes.
    assert row.code_hash == code_hash(code) and code.replace("-", "") not in row.code_hash
    assert (row.utilisateur_id, row.emis_par_id, row.canal, row.used_at) == (
        alice.id,
        admin.id,
        "admin",
        None,
    )
    assert row.expires_at - row.created_at == timedelta(minutes=30)
    staff.send("0")
    await staff.wait_for("Code donné à Alice Ndiaye ; il n'est plus affiché.")
    assert code not in staff.text()

    learner = await OpenSSHClient.start(service.port, "support")
    clients.append(learner)
    await learner.wait_for(*WELCOME)
    # Typed as heard: lower case, without dashes.
    await reset_on_screen(learner, "Alice@Example.org", code.replace("-", "").lower())
    await learner.wait_for(DONE, *WELCOME)

    after = await password_of(database, "alice@example.org")
    assert after != before
    assert await count(database, reset_codes, reset_codes.c.used_at.is_not(None)) == 1
    assert await count(database, ssh_keys, ssh_keys.c.utilisateur_id == alice.id) == 1
    assert await count(database, audit_log, audit_log.c.evenement == AuditEvent.RESET_SUCCEEDED.value) == 1
    # The session left open is told, then closed.
    await wait_sentence(
        left_open, "Le mot de passe de ce compte vient d'être réinitialisé : reconnectez-vous."
    )
    await asyncio.wait_for(left_open.chan.wait_closed(), 10)

    # The old password no longer opens the account; the new one does, and the key still does.
    with pytest.raises(asyncssh.PermissionDenied):
        await Client.connect(service.port, "alice@example.org", PASSWORD)
    c = await Client.connect(service.port, "alice@example.org", NEW)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    k = await Client.connect(service.port, "alice@example.org", client_keys=[key], auth="publickey")
    clients.append(k)
    await k.wait_for("1. Nouveau ticket")

    # The same code a second time: one sentence, nothing changed.
    await reset_on_screen(learner, "alice@example.org", code, "encore-un-autre-9")
    await learner.wait_for(USED, *WELCOME)
    assert await password_of(database, "alice@example.org") == after


async def test_expired_code_is_refused(service, clients, alice, admin, database):
    code = await issued(service, admin, alice)
    async with database.transaction() as conn:
        await conn.execute(reset_codes.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    before = await password_of(database, "alice@example.org")
    c = await guest(service, clients)
    await reset_on_screen(c, "alice@example.org", code)
    await c.wait_for(USED, *WELCOME)
    assert await password_of(database, "alice@example.org") == before
    assert await count(database, reset_codes, reset_codes.c.used_at.is_not(None)) == 0


async def test_a_new_code_voids_the_older_one(service, clients, alice, admin, database):
    first = await issued(service, admin, alice)
    second = await issued(service, admin, alice)
    c = await guest(service, clients)
    await reset_on_screen(c, "alice@example.org", first)
    await c.wait_for(USED, *WELCOME)
    await reset_on_screen(c, "alice@example.org", second)
    await c.wait_for(DONE, *WELCOME)


async def test_unknown_e_mail_gets_the_same_screen_and_the_same_work(
    service, clients, alice, admin, database
):
    await issued(service, admin, alice)
    hasher = service.services.hasher
    hashes = []
    real_hash = hasher.hash

    async def counted(password: str) -> str:
        hashes.append(password)
        return await real_hash(password)

    hasher.hash = counted
    c = await guest(service, clients)
    screens, writes = [], []
    passwords = await all_passwords(database)
    for email in ("alice@example.org", "personne@example.org"):
        audit_before = await count(database, audit_log)
        await reset_on_screen(c, email, "ABCD-EFGH-JKMN")
        screens.append(await c.wait_for(WRONG, *WELCOME))
        writes.append(await count(database, audit_log) - audit_before)
    assert await all_passwords(database) == passwords
    assert screens[0] == screens[1]
    assert writes == [1, 1] and len(hashes) == 2
    async with database.transaction() as conn:
        rows = (
            await conn.execute(
                sa.select(audit_log.c.compte, audit_log.c.utilisateur_id, audit_log.c.details)
                .where(audit_log.c.evenement == AuditEvent.RESET_FAILED.value)
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("alice@example.org", alice.id, "code inconnu"),
        ("personne@example.org", None, "code inconnu"),
    ]
    assert await count(database, reset_codes, reset_codes.c.used_at.is_not(None)) == 0


async def test_wrong_codes_are_throttled_per_account_then_the_right_one_works(
    service, clients, alice, admin, database
):
    clock = Clock()
    service.services = dataclasses.replace(service.services, clock=clock)
    code = await issued(service, admin, alice)
    c = await guest(service, clients)
    for _ in range(5):
        await reset_on_screen(c, "alice@example.org", "ABCD-EFGH-JKMN")
        await c.wait_for(WRONG, *WELCOME)
    await stamp(database, clock.now)
    await reset_on_screen(c, "alice@example.org", code)
    await c.wait_for("Trop de tentatives : réessayez dans 2 secondes.", *WELCOME)
    throttled = AuditEvent.RESET_THROTTLED.value
    assert await count(database, audit_log, audit_log.c.evenement == throttled) == 1
    assert await count(database, reset_codes, reset_codes.c.used_at.is_not(None)) == 0
    clock.advance(2)
    await reset_on_screen(c, "alice@example.org", code)
    await c.wait_for(DONE, *WELCOME)


async def test_wrong_codes_are_throttled_per_address_across_accounts(service, alice, bob, admin, database):
    clock = Clock()
    limits = dataclasses.replace(service.services.thresholds, login_failures_per_address=3)
    service.services = dataclasses.replace(service.services, clock=clock, thresholds=limits)
    code = await issued(service, admin, bob)
    for i, email in enumerate(["alice@example.org", "x@example.org", "y@example.org"]):
        ctx = SessionContext(service.services, f"192.0.2.7:{5000 + i}")
        with pytest.raises(ValidationError, match=re.escape(WRONG)):
            await ctx.reset_password(email, "ABCD-EFGH-JKMN", NEW)
    await stamp(database, clock.now)
    ctx = SessionContext(service.services, "192.0.2.7:6000")
    with pytest.raises(Throttled):
        await ctx.reset_password("bob@example.org", code, NEW)
    # Another address is not held back.
    await SessionContext(service.services, "198.51.100.1:1").reset_password("bob@example.org", code, NEW)


async def test_two_servers_resetting_with_one_code_at_once_only_one_wins(service, alice, admin, database):
    """Two processes (two sets of session resources, each its own locks) on one database: the
    conditional update lets one reset through."""
    code = await issued(service, admin, alice)
    other = SessionResources(database, PasswordHasher(TEST_BCRYPT_COST))
    results = await asyncio.gather(
        *(
            SessionContext(resources, f"127.0.0.1:{7000 + i}").reset_password(
                "alice@example.org", code, f"{NEW}-{i}"
            )
            for i, resources in enumerate((service.services, other))
        ),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "ValidationError"]
    assert await count(database, reset_codes, reset_codes.c.used_at.is_not(None)) == 1
    assert await count(database, audit_log, audit_log.c.evenement == AuditEvent.RESET_SUCCEEDED.value) == 1


async def test_only_admins_issue_codes(service, alice, bob):
    ctx = SessionContext(service.services, "127.0.0.1:test", alice)
    with pytest.raises(Forbidden):
        await ctx.issue_reset_code(bob.id)
