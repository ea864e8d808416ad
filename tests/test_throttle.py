"""Login and registration throttling through the context, on SQLite and MariaDB, driven by counting.

Time is never waited for: the throttle's clock is frozen, and the audit rows it counts are
stamped at chosen instants, so every wait is known to the second.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from server.audit import AuditEvent
from server.context import SessionContext, SessionResources, authenticate
from server.errors import AuthFailed, Throttled, TooManyAccounts
from server.store import utcnow
from server.store.schema import audit_log, users
from server.throttle import delay, source

from .conftest import PASSWORD, count, make_user

WRONG = "pas-le-bon-mot-de-passe"
ALICE = "alice@example.org"
ADDRESS = "198.51.100.7:40000"


class Clock:
    """What the throttle takes as now: still until a test moves it."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)


class Spy:
    """Counts the real hasher's password checks, and still runs them."""

    def __init__(self, hasher) -> None:
        self.calls = 0
        self._verify = hasher.verify
        hasher.verify = self

    async def __call__(self, password: str, hashed: str | None) -> bool:
        self.calls += 1
        return await self._verify(password, hashed)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def frozen(services: SessionResources, clock: Clock) -> SessionResources:
    return dataclasses.replace(services, clock=clock)


def ctx(services: SessionResources, address: str = ADDRESS) -> SessionContext:
    return SessionContext(services, address)


async def stamp(database, when: datetime) -> None:
    """Every audit row as if written at `when`."""
    async with database.transaction() as conn:
        await conn.execute(audit_log.update().values(created_at=when))


async def events(database, event: AuditEvent) -> list:
    async with database.transaction() as conn:
        query = sa.select(audit_log).where(audit_log.c.evenement == event.value).order_by(audit_log.c.id)
        return (await conn.execute(query)).all()


async def fail(services: SessionResources, times: int, email: str = ALICE, address: str = ADDRESS) -> None:
    for _ in range(times):
        with pytest.raises(AuthFailed):
            await ctx(services, address).login(email, WRONG)


def test_the_delay_doubles_from_the_threshold_up_to_the_cap():
    assert [delay(n, 5, 2, 300) for n in range(4, 15)] == [0, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert delay(10**6, 50, 2, 300) == 300
    assert source("203.0.113.9:51234") == "203.0.113.9"
    assert source("::1:51234") == "::1"


async def test_five_failures_then_refused_without_running_bcrypt(frozen, clock, alice, database):
    spy = Spy(frozen.hasher)
    await fail(frozen, 5)
    assert spy.calls == 5
    await stamp(database, clock.now)

    # Even the right password is refused now, before any hash is computed.
    with pytest.raises(Throttled) as refused:
        await ctx(frozen).login("Alice@Example.org ", PASSWORD)
    assert refused.value.message == "Trop de tentatives : réessayez dans 2 secondes."
    assert spy.calls == 5
    throttled = await events(database, AuditEvent.LOGIN_THROTTLED)
    assert [(r.compte, r.adresse, r.details) for r in throttled] == [
        (ALICE, "198.51.100.7:40000", "attente=2s")
    ]
    # One second later, one second left; then the right password gets in.
    clock.advance(1)
    with pytest.raises(Throttled) as refused:
        await ctx(frozen).login(ALICE, PASSWORD)
    assert refused.value.message == "Trop de tentatives : réessayez dans 1 seconde."
    clock.advance(1)
    assert (await ctx(frozen).login(ALICE, PASSWORD)).id == alice.id
    assert spy.calls == 6


async def test_an_unknown_e_mail_is_throttled_the_same_way(frozen, clock, database):
    spy = Spy(frozen.hasher)
    await fail(frozen, 5, "personne@example.org")
    await stamp(database, clock.now)
    with pytest.raises(Throttled) as refused:
        await ctx(frozen).login("personne@example.org", WRONG)
    assert refused.value.message == "Trop de tentatives : réessayez dans 2 secondes."
    assert spy.calls == 5
    failed = await events(database, AuditEvent.LOGIN_FAILED)
    assert {r.compte for r in failed} == {"personne@example.org"} and len(failed) == 5


async def test_each_further_failure_doubles_the_wait_up_to_the_cap(frozen, clock, alice, database):
    await fail(frozen, 5)
    waits = []
    for _ in range(11):
        await stamp(database, clock.now)
        with pytest.raises(Throttled) as refused:
            await ctx(frozen).login(ALICE, WRONG)
        waits.append(refused.value.wait)
        clock.advance(refused.value.wait)
        await fail(frozen, 1)
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    # Never a lock: once the capped wait is over, the right password gets in.
    await stamp(database, clock.now)
    clock.advance(300)
    assert (await ctx(frozen).login(ALICE, PASSWORD)).id == alice.id


async def test_failures_older_than_the_window_no_longer_count(frozen, clock, alice, database):
    await fail(frozen, 5)
    # 14 min 59 s ago: still in the 15-minute window, though their wait is long over.
    await stamp(database, clock.now - timedelta(seconds=899))
    with pytest.raises(AuthFailed):
        await ctx(frozen).login(ALICE, WRONG)  # the 6th failure of the window: 4 s to wait
    with pytest.raises(Throttled):
        await ctx(frozen).login(ALICE, PASSWORD)
    # Fifteen minutes after them, all of them are forgotten: four more may be tried, then
    # the right password still gets in.
    await stamp(database, clock.now - timedelta(seconds=901))
    await fail(frozen, 4)
    assert (await ctx(frozen).login(ALICE, PASSWORD)).id == alice.id


async def test_a_success_clears_the_account(frozen, clock, alice, database):
    await fail(frozen, 4)
    assert (await ctx(frozen).login(ALICE, PASSWORD)).id == alice.id
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(users.c.echecs_connexion))).scalar_one() == 0
    await fail(frozen, 4)
    await stamp(database, clock.now)
    # Eight failures in the window, but four since the success: a fifth try is allowed.
    with pytest.raises(AuthFailed):
        await ctx(frozen).login(ALICE, WRONG)
    with pytest.raises(Throttled):
        await ctx(frozen).login(ALICE, PASSWORD)


async def test_an_account_is_throttled_from_every_address(frozen, clock, alice, database):
    await fail(frozen, 5, address="198.51.100.7:40000")
    await stamp(database, clock.now)
    with pytest.raises(Throttled):
        await ctx(frozen, "203.0.113.50:1000").login(ALICE, PASSWORD)
    # Another account from the same address is not concerned.
    await make_user(frozen, "bob@example.org", "Bob Sarr")
    assert await ctx(frozen).login("bob@example.org", PASSWORD)


async def test_a_class_behind_one_address_is_not_throttled(frozen, clock, database):
    """30 learners behind the campus NAT each mistype their password once: nobody waits."""
    learners = [await make_user(frozen, f"apprenant{i}@example.org", f"Apprenant {i}") for i in range(30)]
    for i, learner in enumerate(learners):
        await fail(frozen, 1, learner.email, address=f"192.0.2.1:{50000 + i}")
    await stamp(database, clock.now)
    for i, learner in enumerate(learners):
        assert (await ctx(frozen, f"192.0.2.1:{51000 + i}").login(learner.email, PASSWORD)).id == learner.id


async def test_an_address_is_throttled_after_its_own_threshold(frozen, clock, database):
    # 50 failures from one address, each on a different account, none over its own threshold.
    for i in range(50):
        await fail(frozen, 1, f"essai{i}@example.org", address=f"203.0.113.66:{40000 + i}")
    await stamp(database, clock.now)
    with pytest.raises(Throttled) as refused:
        await ctx(frozen, "203.0.113.66:41000").login("autre@example.org", WRONG)
    assert refused.value.wait == 2
    # Another address is not concerned…
    with pytest.raises(AuthFailed):
        await ctx(frozen, "203.0.113.67:41000").login("autre@example.org", WRONG)
    # …nor, once exempted in the settings, this one (the account's own limit still applies).
    exempt = dataclasses.replace(
        frozen,
        thresholds=dataclasses.replace(frozen.thresholds, throttle_exempt="10.0.0.0/8, 203.0.113.64/30"),
    )
    with pytest.raises(AuthFailed):
        await ctx(exempt, "203.0.113.66:41001").login("autre@example.org", WRONG)


async def test_every_login_is_audited_without_the_password(frozen, clock, alice, database):
    await fail(frozen, 1)
    await fail(frozen, 1, "personne@example.org")
    await ctx(frozen).login(ALICE, PASSWORD)
    async with database.transaction() as conn:
        rows = (await conn.execute(sa.select(audit_log).order_by(audit_log.c.id))).all()
    assert [(r.evenement, r.compte, r.utilisateur_id, r.adresse) for r in rows] == [
        (AuditEvent.LOGIN_FAILED, ALICE, alice.id, "198.51.100.7:40000"),
        (AuditEvent.LOGIN_FAILED, "personne@example.org", None, "198.51.100.7:40000"),
        (AuditEvent.LOGIN_SUCCEEDED, ALICE, alice.id, "198.51.100.7:40000"),
    ]
    for row in rows:
        assert WRONG not in str(tuple(row)) and PASSWORD not in str(tuple(row))


async def test_account_creation_is_limited_per_address(frozen, clock, database):
    address = "192.0.2.20:3000"
    limit = frozen.thresholds.registrations_per_address
    assert limit >= 30  # a class of 30 behind one NAT registers on its first day
    for i in range(limit):
        await ctx(frozen, f"192.0.2.20:{3000 + i}").register(f"Nouveau {i}", f"n{i}@example.org", PASSWORD)
    assert len(await events(database, AuditEvent.ACCOUNT_CREATED)) == limit
    await stamp(database, clock.now - timedelta(seconds=600))

    with pytest.raises(TooManyAccounts) as refused:
        await ctx(frozen, address).register("Un de trop", "trop@example.org", PASSWORD)
    assert refused.value.message == (
        "Trop de comptes créés depuis cette adresse : réessayez dans 50 minute(s)."
    )
    assert await count(database, users) == limit
    [throttled] = await events(database, AuditEvent.ACCOUNT_CREATION_THROTTLED)
    assert (throttled.compte, throttled.adresse) == ("trop@example.org", address)
    # Another address may, and an hour after those creations this one may again.
    await ctx(frozen, "192.0.2.21:3000").register("Ailleurs", "ailleurs@example.org", PASSWORD)
    await stamp(database, clock.now - timedelta(seconds=3601))
    await ctx(frozen, address).register("Plus tard", "tard@example.org", PASSWORD)
    assert await count(database, users) == limit + 2


async def test_an_unknown_e_mail_costs_what_a_wrong_password_costs(services, database):
    """No enumeration: the same answer, the same bcrypt work, the same SQL in the same order.

    What the time of a try is made of, compared piece by piece: a wall-clock or CPU timer in a
    test on a shared machine says more about the neighbours than about the code (it failed
    that way once on MariaDB); bench/enumeration.py gives the wall-clock figures at cost 12.
    """
    # Twenty real accounts, each mistyped once, against twenty unknown e-mails: both kinds
    # start from the same empty history, and the thresholds stay far (throttling is not tested).
    learners = [await make_user(services, f"apprenant{i}@example.org", f"Apprenant {i}") for i in range(20)]
    relaxed = dataclasses.replace(
        services, thresholds=dataclasses.replace(services.thresholds, login_failures_per_address=1000)
    )
    decoy = await relaxed.hasher._decoy_hash()
    # Equal work: the decoy is hashed at the cost of real hashes.
    stored = await user_row(database, learners[0].email)
    assert stored.mot_de_passe[:7] == decoy.decode()[:7] == f"$2b${relaxed.hasher.cost:02d}$"
    spy = Spy(relaxed.hasher)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(" ".join(statement.split()))

    runs: dict[str, list[list[str]]] = {"wrong password": [], "unknown e-mail": []}
    engine = database.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        for i, learner in enumerate(learners):
            tries = [("wrong password", learner.email), ("unknown e-mail", f"inconnu{i}@example.org")]
            for kind, email in tries:
                statements.clear()
                calls = spy.calls
                assert await authenticate(relaxed, email, WRONG, ADDRESS) is None
                assert spy.calls == calls + 1
                runs[kind].append(list(statements))
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    wrong, unknown = runs.values()
    assert wrong[0] and all(run == wrong[0] for run in wrong + unknown)
    assert await count(database, audit_log, audit_log.c.evenement == AuditEvent.LOGIN_FAILED.value) == 40


async def user_row(database, email: str):
    async with database.transaction() as conn:
        return (await conn.execute(sa.select(users).where(users.c.email == email))).one()


async def test_attempts_sent_together_are_counted_one_by_one(frozen, alice, database):
    """Thirty guesses at once on one account: five are weighed, the rest wait their turn."""
    spy = Spy(frozen.hasher)
    outcomes = await asyncio.gather(
        *(ctx(frozen, f"198.51.100.7:{41000 + i}").login(ALICE, WRONG) for i in range(30)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, AuthFailed) for o in outcomes) == 5
    assert sum(isinstance(o, Throttled) for o in outcomes) == 25
    assert spy.calls == 5
    assert len(await events(database, AuditEvent.LOGIN_FAILED)) == 5


async def test_registrations_sent_together_stop_at_the_quota(frozen, database):
    limited = dataclasses.replace(
        frozen, thresholds=dataclasses.replace(frozen.thresholds, registrations_per_address=5)
    )
    outcomes = await asyncio.gather(
        *(
            ctx(limited, f"192.0.2.30:{42000 + i}").register(f"Ensemble {i}", f"e{i}@example.org", PASSWORD)
            for i in range(20)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(o, TooManyAccounts) for o in outcomes) == 15
    assert await count(database, users) == 5
    # Each account and its creation event were written together.
    assert len(await events(database, AuditEvent.ACCOUNT_CREATED)) == 5


async def test_an_ipv6_host_is_not_counted_with_one_that_merely_begins_like_it(frozen, clock, database):
    for i in range(50):
        await fail(frozen, 1, f"v6-{i}@example.org", address=f"2001:db8::1:5:{40000 + i}")
    await stamp(database, clock.now)
    with pytest.raises(Throttled):
        await ctx(frozen, "2001:db8::1:5:41000").login("autre@example.org", WRONG)
    # 2001:db8::1 is another machine: its first mistake is just a mistake.
    with pytest.raises(AuthFailed):
        await ctx(frozen, "2001:db8::1:41001").login("autre@example.org", WRONG)
