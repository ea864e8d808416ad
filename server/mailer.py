"""The outbox's sender: one task per process hands due messages to the campus relay."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from .config import MailSettings
from .domain.text import loggable
from .errors import DatabaseUnavailable
from .periodic import Periodic
from .store import Database, outbox, utcnow
from .store.outbox import Mail

log = logging.getLogger("support.mail")

# Messages claimed at once: one conversation with the relay sends them all.
BATCH = 20
# Runs of a claim that InnoDB rolled back out of a deadlock, before the error is the poll's.
CLAIM_ATTEMPTS = 3
# Seconds a stopping process waits for the message being handed over before it lets go.
STOP_GRACE = 5.0

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


def header_text(text: str) -> str:
    """Text for a header: every line break and control character made a space, so that a name
    or a title can never add a header of its own (CR/LF injection)."""
    return " ".join(_CONTROLS.sub(" ", text).split())


class BadAddress(ValueError):
    """An address the relay must never be handed (a line break, no domain…)."""


def build(mail: Mail, settings: MailSettings) -> EmailMessage:
    """The message as the relay receives it: UTF-8 text, non-ASCII headers in RFC 2047 words."""
    if not _ADDRESS.fullmatch(mail.to_address):
        raise BadAddress(f"adresse refusée : {mail.to_address!r}")
    msg = EmailMessage(policy=policy.SMTP)
    sender = settings.from_address.strip()
    domain = sender.rpartition("@")[2]
    msg["From"] = Address(display_name=header_text(settings.from_name), addr_spec=sender)
    msg["To"] = Address(display_name=header_text(mail.to_name), addr_spec=mail.to_address)
    msg["Subject"] = header_text(mail.subject)
    msg["Date"] = format_datetime(mail.created_at.replace(tzinfo=UTC))
    # The same on every attempt: a relay or a mailbox that already has it may drop the copy.
    msg["Message-ID"] = f"<support.{mail.id}.{mail.created_at:%Y%m%d%H%M%S}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.body, charset="utf-8")
    return msg


def describe(exc: BaseException) -> str:
    """The relay's answer ("550 5.1.1 …"), or why it could not be reached; never a secret."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}".strip()
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return f"{first.code} {first.message}".strip()
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def retry_at(mail: Mail, settings: MailSettings, now: datetime) -> datetime | None:
    """When to try again after one more refusal: growing delays; None once a day has gone by."""
    if now - mail.created_at >= timedelta(seconds=settings.give_up):
        return None
    step = min(settings.retry_max, settings.retry_base * 2 ** min(mail.attempts, 20))
    return now + timedelta(seconds=step)


class MailSender:
    """Drains the outbox through the relay, off every screen's path.

    Rows are claimed for a lease before they are sent, so that two processes never hand the
    same message over; one is marked sent as soon as the relay has accepted it. A relay that
    is down or refuses: the message waits, retried with growing delays, failed after a day.
    """

    def __init__(
        self,
        db: Database,
        settings: MailSettings,
        password: str = "",
        *,
        clock: Callable[[], datetime] = utcnow,
        owner: str = "",
    ) -> None:
        self.db = db
        self.settings = settings
        self._password = password
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"
        self._stopping = False
        # The database down, most likely: the messages are safe there, wait.
        self._periodic = Periodic(
            "mail-sender",
            self.drain_once,
            settings.poll_interval,
            log=log,
            failed="mail sender: outbox unreachable (%s), trying again later",
        )

    def start(self) -> None:
        self._stopping = False
        self._periodic.start()

    def wake(self) -> None:
        """Look at the outbox now (a message was just queued by this process)."""
        self._periodic.wake()

    async def stop(self) -> None:
        """Finish the message being handed over (a few seconds at most), give back the rest."""
        self._stopping = True
        await self._periodic.stop(grace=STOP_GRACE)
        with contextlib.suppress(Exception):
            await self.db.write(lambda conn: outbox.release(conn, self.owner))

    async def _claim(self, now: datetime) -> list[Mail]:
        """The next due messages, claimed for this process.

        Two senders' claims and their marks of sent messages lock rows of one index: InnoDB may
        break such a cycle by rolling one claim back (a deadlock), which only needs running again.
        """
        lease, mysql = self.settings.lease, self.db.mysql
        for attempt in range(CLAIM_ATTEMPTS):
            try:
                return await self.db.write(
                    lambda conn: outbox.claim(conn, self.owner, now, lease, BATCH, mysql=mysql)
                )
            except DatabaseUnavailable as exc:
                if exc.reason != "deadlock" or attempt == CLAIM_ATTEMPTS - 1:
                    raise
        return []

    async def drain_once(self) -> int:
        """Claim the due messages and hand them to the relay; how many were handled."""
        now = self.clock()
        settings = self.settings
        batch = await self._claim(now)
        if not batch:
            return 0
        smtp = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
            timeout=settings.timeout,
        )
        try:
            await smtp.connect()
            if settings.user:
                await smtp.login(settings.user, self._password)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            reason = describe(exc)
            log.warning("mail relay %s:%s unavailable: %s", settings.host, settings.port, loggable(reason))
            for mail in batch:
                await self._refused(mail, reason)
            return len(batch)
        try:
            for i, mail in enumerate(batch):
                if self._stopping:
                    break  # released by stop(), sent by whoever comes next
                try:
                    await smtp.send_message(build(mail, settings))
                except BadAddress as exc:
                    await self._refused(mail, str(exc), final=True)
                except (
                    aiosmtplib.SMTPServerDisconnected,
                    aiosmtplib.SMTPConnectError,
                    OSError,
                    TimeoutError,
                ) as exc:
                    # The conversation is over: this one and the rest wait for the next.
                    for rest in batch[i:]:
                        await self._refused(rest, describe(exc))
                    break
                except aiosmtplib.SMTPException as exc:
                    await self._refused(mail, describe(exc))
                else:
                    await self.db.write(
                        lambda conn, m=mail: outbox.mark_sent(conn, m.id, self.owner, self.clock())
                    )
                    log.info("mail sent id=%s to=%s", mail.id, loggable(mail.to_address))
        finally:
            with contextlib.suppress(Exception):
                await smtp.quit()
        return len(batch)

    async def _refused(self, mail: Mail, reason: str, *, final: bool = False) -> None:
        now = self.clock()
        when = None if final else retry_at(mail, self.settings, now)
        await self.db.write(lambda conn: outbox.mark_refused(conn, mail.id, self.owner, reason, when, now))
        if when is None:
            log.error("mail failed id=%s to=%s: %s", mail.id, loggable(mail.to_address), loggable(reason))
        else:
            log.warning(
                "mail deferred id=%s attempt=%s retry_at=%s: %s",
                mail.id,
                mail.attempts + 1,
                when.isoformat(),
                loggable(reason),
            )
