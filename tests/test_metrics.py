"""The Prometheus endpoint, scraped over HTTP while real SSH clients log in and file tickets."""

from __future__ import annotations

import asyncio
import dataclasses
import urllib.request

import asyncssh
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from server.app import Service
from server.config import ConfigError, MetricsSettings, load_settings
from server.domain.models import Status
from server.errors import DatabaseUnavailable
from server.store.schema import tickets

from .conftest import PASSWORD, context_for, count
from .journeys import file_ticket, login_in_app
from .sshclient import Client
from .test_cli import cli, cli_env


@pytest.fixture
def settings(settings):
    """The test's settings with the endpoint on, on a free loopback port."""
    return dataclasses.replace(settings, metrics=MetricsSettings(listen="127.0.0.1:0"))


async def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of http://127.0.0.1:PORT/metrics, as {(name, labels): value}."""

    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            assert response.status == 200
            return response.read().decode("utf-8")

    text = await asyncio.to_thread(get)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def logins(sample: dict, outcome: str) -> float:
    return sample[("support_logins_total", (("outcome", outcome),))]


def sessions(sample: dict, kind: str) -> float:
    return sample[("support_sessions_open", (("kind", kind),))]


@pytest.mark.usefixtures("alice", "admin")
async def test_the_endpoint_counts_what_users_do(service: Service, clients, database):
    assert service.metrics is not None and service.metrics.port
    before = await scrape(service.metrics.port)
    assert [sessions(before, k) for k in ("guest", "user", "admin")] == [0, 0, 0]

    # A guest at the welcome menu; Alice through `Se connecter`; the admin at the SSH door.
    guest = await Client.connect(service.port)
    clients.append(guest)
    await guest.wait_for("1. Se connecter")
    alice = await Client.connect(service.port)
    clients.append(alice)
    await login_in_app(alice, "alice@example.org", PASSWORD)
    await alice.wait_for("Menu principal")
    staff = await Client.connect(service.port, "admin@example.org", PASSWORD)
    clients.append(staff)
    await staff.wait_for("Menu principal")
    with pytest.raises(asyncssh.PermissionDenied):
        await Client.connect(service.port, "alice@example.org", "pas-le-bon-mot-de-passe")
    await file_ticket(alice, "Souris", "Elle ne clique plus.", "Faible")
    await alice.wait_for("Ticket #1 créé.")

    # The refused client may hear "Permission denied" before the server has written the failure
    # down (the check runs on, shielded): wait for it to be counted.
    for _ in range(200):
        after = await scrape(service.metrics.port)
        if logins(after, "failed") > logins(before, "failed"):
            break
        await asyncio.sleep(0.05)
    assert [sessions(after, k) for k in ("guest", "user", "admin")] == [1, 1, 1]
    assert logins(after, "ok") - logins(before, "ok") == 2
    assert logins(after, "failed") - logins(before, "failed") == 1
    assert logins(after, "throttled") == logins(before, "throttled")
    created = after[("support_tickets_created_total", ())] - before[("support_tickets_created_total", ())]
    assert created == await count(database, tickets) == 1
    assert after[("support_db_pool_size", ())] == service.settings.database.pool_size
    assert 0 <= after[("support_db_pool_in_use", ())] <= after[("support_db_pool_size", ())]
    assert after[("support_event_loop_lag_seconds", ())] >= 0
    assert after[("support_event_loop_lag_max_seconds", ())] >= after[("support_event_loop_lag_seconds", ())]

    # Alice leaves: her session is no longer counted.
    await alice.close()
    clients.remove(alice)
    for _ in range(200):
        if sessions(await scrape(service.metrics.port), "user") == 0:
            break
        await asyncio.sleep(0.05)
    assert sessions(await scrape(service.metrics.port), "user") == 0


def changes_to(sample: dict, status: str) -> float:
    return sample[("support_status_changes_total", (("to", status),))]


async def test_status_changes_refused_connections_and_the_feed(service: Service, services, alice, admin):
    assert service.metrics is not None
    before = await scrape(service.metrics.port)
    number = await context_for(services, alice).create_ticket("Clavier", "Touche A.", "Faible")
    staff = context_for(services, admin)
    await staff.change_status(number, Status.IN_PROGRESS)
    await staff.change_status(number, Status.RESOLVED)
    await context_for(services, alice).reopen(number, "Toujours pas.")

    # One address may hold one connection now: a second one is turned away at the gate.
    service.gate.limits = dataclasses.replace(service.gate.limits, max_per_address=1)
    first = await asyncio.open_connection("127.0.0.1", service.port)
    await first[0].readline()  # the banner: the first one is in
    second = await asyncio.open_connection("127.0.0.1", service.port)
    assert await second[0].read() == b""
    for _, writer in (first, second):
        writer.close()

    after = await scrape(service.metrics.port)
    assert changes_to(after, "in_progress") - changes_to(before, "in_progress") == 2  # reopening too
    assert changes_to(after, "resolved") - changes_to(before, "resolved") == 1
    assert changes_to(after, "waiting") == changes_to(before, "waiting")
    refused = ("support_connections_refused_total", (("limit", "per_address"),))
    assert after[refused] - before[refused] == 1
    assert after[("support_connections_refused_total", (("limit", "rate"),))] == 0
    assert after[("support_db_errors_total", (("reason", "unreachable"),))] == 0
    assert after[("support_live_feed_age_seconds", ())] >= 0


async def test_the_endpoint_closes_with_the_service(service: Service):
    port = service.metrics.port
    await scrape(port)
    await service.stop(grace=1)
    with pytest.raises(OSError):
        await scrape(port)


def test_off_by_default_and_loopback_only():
    assert load_settings(env={}).metrics.address() is None
    on = load_settings(env={"SUPPORT_METRICS_LISTEN": "127.0.0.1:9464"})
    assert on.metrics.address() == ("127.0.0.1", 9464)
    assert load_settings(env={"SUPPORT_METRICS_LISTEN": "[::1]:9464"}).metrics.address() == ("::1", 9464)
    with pytest.raises(ConfigError, match="une adresse de bouclage est attendue"):
        load_settings(env={"SUPPORT_METRICS_LISTEN": "0.0.0.0:9464"})
    with pytest.raises(ConfigError, match="adresse:port attendu"):
        load_settings(env={"SUPPORT_METRICS_LISTEN": "localhost"})


async def test_status_prints_the_figures_and_fails_when_the_database_is_down(tmp_path, restartable_mariadb):
    settings = restartable_mariadb.settings(tmp_path)
    settings = dataclasses.replace(settings, metrics=MetricsSettings(listen="127.0.0.1:0"))
    svc = Service(settings)
    await svc.start()
    try:
        env = cli_env(tmp_path, settings.database_url, SUPPORT_METRICS_LISTEN=f"127.0.0.1:{svc.metrics.port}")
        done = await cli("status", env=env)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert 'support_sessions_open{kind="guest"} 0' in lines and "support_db_up 1" in lines
        assert 'support_logins_total{outcome="ok"}' in done.stdout

        restartable_mariadb.stop()
        with pytest.raises(DatabaseUnavailable):
            async with svc.db.transaction() as conn:
                await conn.execute(sa.text("SELECT 1"))
        done = await cli("status", env=env)
        assert done.returncode == 1
        assert "support_db_up 0" in done.stdout.splitlines()
        errors = [
            line
            for line in done.stdout.splitlines()
            if 'support_db_errors_total{reason="unreachable"}' in line
        ]
        assert len(errors) == 1 and float(errors[0].split()[-1]) >= 1, done.stdout
        assert done.stderr.strip() == "Erreur : la base de données ne répond pas au service."
    finally:
        await svc.stop(grace=1)

    done = await cli("status", env=env)
    assert done.returncode == 1 and "le service ne répond pas sur http://127.0.0.1:" in done.stderr
