"""The connection gate on its own: caps, the per-address rate, exemptions, a quiet log."""

from __future__ import annotations

import logging
import re

import pytest

from server.config import ConfigError, Settings, load_settings
from server.transport.limits import ConnectionGate, Limits, Refusal, source_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gate(clock: Clock | None = None, **changes) -> ConnectionGate:
    values = dict(
        max_connections=100,
        max_unauthenticated=100,
        max_per_address=100,
        max_unauthenticated_per_address=100,
        rate_per_minute=0,
        rate_burst=10,
        rate_wait=0,
    )
    values.update(changes)
    return ConnectionGate(Limits(**values), clock or Clock())


def test_the_rate_lets_a_burst_through_then_books_turns_then_drops():
    clock = Clock()
    g = gate(clock, rate_per_minute=60, rate_burst=3, rate_wait=2)
    answers = [g.admit(("192.0.2.1", port)) for port in range(1, 7)]
    assert [a.delay for a in answers[:5]] == [0, 0, 0, 1.0, 2.0]
    assert [a.refusal for a in answers] == [None] * 5 + [Refusal.RATE]
    # A connection that leaves before its turn gives the turn back.
    g.cancel_turn(("192.0.2.1", 5))
    assert g.admit(("192.0.2.1", 7)).delay == 2.0
    # Another address has its own bucket.
    assert g.admit(("192.0.2.2", 1)).delay == 0
    # A minute later the bucket is full again, whatever was booked.
    clock.now += 60
    assert [g.admit(("192.0.2.1", p)).delay for p in range(10, 13)] == [0, 0, 0]


def test_caps_count_open_connections_and_release_frees_them():
    g = gate(max_per_address=2, max_unauthenticated=3, max_connections=4)
    assert g.admit(("192.0.2.1", 1)).refusal is None
    assert g.admit(("192.0.2.1", 2)).refusal is None
    assert g.admit(("192.0.2.1", 3)).refusal is Refusal.PER_ADDRESS
    assert g.admit(("192.0.2.2", 1)).refusal is None
    assert g.admit(("192.0.2.3", 1)).refusal is Refusal.UNAUTHENTICATED
    # Authenticated connections are no longer startups; they still count in the total.
    g.authenticated(("192.0.2.1", 1))
    assert g.unauthenticated_count == 2
    assert g.admit(("192.0.2.3", 1)).refusal is None
    assert g.admit(("192.0.2.4", 1)).refusal is Refusal.TOTAL
    g.release(("192.0.2.1", 2))
    g.release(("192.0.2.1", 2))  # twice: no harm
    assert (g.open_count, g.unauthenticated_count) == (3, 2)
    assert g.admit(("192.0.2.1", 4)).refusal is None


def test_ipv6_addresses_of_one_slash_64_share_their_limits():
    assert source_of("2001:db8:1:2::10") == source_of("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert source_of("::ffff:192.0.2.1") == "192.0.2.1"
    g = gate(max_per_address=1)
    assert g.admit(("2001:db8:1:2::10", 1)).refusal is None
    assert g.admit(("2001:db8:1:2::99", 1)).refusal is Refusal.PER_ADDRESS
    assert g.admit(("2001:db8:1:3::10", 1)).refusal is None


def test_exempt_networks_skip_per_address_caps_and_the_rate_not_the_total():
    settings = load_settings(
        env={"SUPPORT_SSH_EXEMPT": "10.0.0.0/8, 192.0.2.7 2001:db8::/32"}, config_file=None
    )
    limits = Limits.from_settings(settings.ssh)
    g = ConnectionGate(
        Limits(
            **{
                **limits.__dict__,
                "max_per_address": 1,
                "rate_per_minute": 1,
                "rate_burst": 1,
                "max_connections": 5,
            }
        ),
        Clock(),
    )
    for port in range(3):
        assert g.admit(("10.20.30.40", port)).refusal is None
    assert g.exempt("::ffff:10.1.2.3") and g.exempt("192.0.2.7") and g.exempt("2001:db8::5")
    assert not g.exempt("192.0.2.8")
    assert g.admit(("192.0.2.8", 1)).refusal is None
    assert g.admit(("192.0.2.8", 2)).refusal is Refusal.PER_ADDRESS
    assert g.admit(("10.20.30.40", 9)).refusal is None
    assert g.admit(("10.20.30.40", 10)).refusal is Refusal.TOTAL


def test_the_defaults_exempt_nobody_not_even_loopback():
    assert Settings().ssh.exempt == ""
    g = ConnectionGate(Limits.from_settings(Settings().ssh))
    assert not g.exempt("127.0.0.1") and not g.exempt("::1")


def test_a_malformed_exempt_entry_is_a_french_config_error():
    with pytest.raises(ConfigError, match=re.escape("ssh.exempt: adresse ou réseau invalide '10.0.0.0/33'")):
        load_settings(env={"SUPPORT_SSH_EXEMPT": "10.0.0.1, 10.0.0.0/33"})


def test_refusals_of_one_address_are_logged_once_then_summed_up(caplog):
    g = gate(max_per_address=1)
    g.admit(("192.0.2.1", 1))
    with caplog.at_level(logging.WARNING, logger="support.limits"):
        for port in range(2, 40):
            g.admit(("192.0.2.1", port))
        g.admit(("192.0.2.2", 1))  # admitted: nothing to log
        assert [r.getMessage() for r in caplog.records] == [
            "addr=192.0.2.1 connection refused: too many connections from this address"
        ]
        g.flush_log()
    assert caplog.records[-1].getMessage() == (
        "addr=192.0.2.1 37 more connections refused: 37 too many connections from this address"
    )
    assert len(caplog.records) == 2
