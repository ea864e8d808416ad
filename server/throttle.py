"""Login and registration throttling, counted from the audit trail: slowed down, never locked."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .audit import AuditEvent
from .config import SecuritySettings
from .store import Database, utcnow
from .store import audit as audit_store

# Exponents beyond this change nothing (the cap is reached long before) and keep numbers small
# when an address has piled up thousands of failures.
_MAX_DOUBLINGS = 32


def source(address: str) -> str:
    """The host of a connection's "host:port" (IPv6 too): the unit of per-address limits."""
    host, sep, _port = address.rpartition(":")
    return host if sep and host else address


def account_key(email: str) -> str:
    """An account as throttling and the audit trail know it: the e-mail as typed, lower-cased."""
    return email.strip().lower()[:254]


def delay(failures: int, threshold: int, base: int, cap: int) -> int:
    """Seconds to wait after the last failure: none below `threshold`, then base, 2·base… cap."""
    if failures < threshold:
        return 0
    return min(cap, base * 2 ** min(failures - threshold, _MAX_DOUBLINGS))


def _remaining(since: datetime | None, seconds: int, now: datetime) -> int:
    """Whole seconds from `now` until `seconds` after `since` (0 if already past)."""
    if since is None or seconds <= 0:
        return 0
    left = (since + timedelta(seconds=seconds) - now).total_seconds()
    return max(0, math.ceil(left))


@dataclass(frozen=True)
class Throttle:
    """How long an account or an address must wait, read from `journal_audit`.

    Failures are counted over a sliding window; past a threshold each further attempt waits
    twice as long as the previous one, up to a cap. Nothing is ever locked for good: an
    attacker can slow a learner down by minutes at most, and a success clears the account.
    """

    db: Database
    thresholds: SecuritySettings
    clock: Callable[[], datetime] = utcnow

    def exempt(self, host: str) -> bool:
        """Whether `host` is spared the per-address limits (config: security.throttle_exempt)."""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in network for network in self.thresholds.exempt_networks())

    async def login_wait(self, account: str, address: str) -> int:
        """Seconds before `account` may try a password again from `address`; 0: right now."""
        return await self._wait(account, address, AuditEvent.LOGIN_FAILED, AuditEvent.LOGIN_SUCCEEDED)

    async def reset_wait(self, account: str, address: str) -> int:
        """Seconds before `account` may try a reset code again from `address`; 0: right now.

        The same thresholds as logins, counted on the reset's own events: a code guessed is a
        password guessed.
        """
        return await self._wait(account, address, AuditEvent.RESET_FAILED, AuditEvent.RESET_SUCCEEDED)

    async def reset_request_wait(self, account: str, address: str) -> int:
        """Seconds before a code may be asked by mail again for `account` from `address`: each
        request counts as a failed attempt would (a reset that succeeds clears the account)."""
        return await self._wait(account, address, AuditEvent.RESET_REQUESTED, AuditEvent.RESET_SUCCEEDED)

    async def verification_wait(self, account: str, address: str) -> int:
        """Seconds before a code proving an address may be mailed again for `account` from
        `address`: each code sent counts as a failed attempt would (a verified address clears
        the account), so the service cannot be made to flood a mailbox."""
        return await self._wait(account, address, AuditEvent.EMAIL_CODE_SENT, AuditEvent.EMAIL_VERIFIED)

    async def _wait(self, account: str, address: str, failed: AuditEvent, succeeded: AuditEvent) -> int:
        limits = self.thresholds
        now = self.clock()
        since = now - timedelta(seconds=limits.login_window)
        host = source(address)
        waits = [0]
        async with self.db.transaction() as conn:
            n, last = await audit_store.account_failures(conn, account, failed.value, succeeded.value, since)
            step = delay(
                n, limits.login_failures_per_account, limits.login_delay_base, limits.login_delay_max
            )
            waits.append(_remaining(last, step, now))
            if not self.exempt(host):
                n, last = await audit_store.host_events(conn, host, failed.value, since)
                step = delay(
                    n, limits.login_failures_per_address, limits.login_delay_base, limits.login_delay_max
                )
                waits.append(_remaining(last, step, now))
        return max(waits)

    async def registration_wait(self, address: str) -> int:
        """Seconds before `address` may create another account; 0: right now."""
        limits = self.thresholds
        host = source(address)
        if self.exempt(host):
            return 0
        now = self.clock()
        since = now - timedelta(seconds=limits.registration_window)
        # The oldest creation that still fills the quota: once it leaves the window, one is free.
        async with self.db.transaction() as conn:
            oldest = await audit_store.nth_latest(
                conn, host, AuditEvent.ACCOUNT_CREATED.value, since, limits.registrations_per_address
            )
        return _remaining(oldest, limits.registration_window, now)
