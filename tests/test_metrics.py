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
from server.errors import DatabaseUnavailable
from server.store.schema import tickets

from .conftest import PASSWORD, count
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
        assert done.stderr.strip() == "Erreur : la base de données ne répond pas au service."
    finally:
        await svc.stop(grace=1)

    done = await cli("status", env=env)
    assert done.returncode == 1 and "le service ne répond pas sur http://127.0.0.1:" in done.stderr
