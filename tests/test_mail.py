"""The outbox and its sender against a real SMTP server (aiosmtpd): nothing lost, nothing twice,
hostile names and titles kept out of the headers, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from server.app import Service
from server.config import ConfigError, load_settings
from server.mailer import MailSender, header_text
from server.store import outbox, utcnow
from server.store.schema import outbox as outbox_table

from .conftest import PASSWORD, count, until
from .mailbox import FROM, Mailbox, relay
from .sshclient import Client

ROOT = Path(__file__).resolve().parent.parent


async def queue(
    database, to="alice@example.org", name="Alice Ndiaye", subject="Ticket #1", body="Bonjour.", **kw
):
    return await database.write(
        lambda conn: outbox.enqueue(
            conn, user_id=None, to_address=to, to_name=name, subject=subject, body=body, now=utcnow(), **kw
        )
    )


async def row(database, mail_id: int):
    async with database.transaction() as conn:
        return (await conn.execute(sa.select(outbox_table).where(outbox_table.c.id == mail_id))).one()


async def test_a_message_reaches_the_relay_with_encoded_headers_and_utf8_body(database, mailbox):
    mail_id = await queue(
        database,
        name="Éloïse Dupré-Nguyễn",
        subject="[Support #12] Écran noir en salle B204 — « urgent »",
        body="Bonjour Éloïse,\n\nVotre ticket a changé : En cours.\n",
    )
    sender = MailSender(database, relay(mailbox))
    assert await sender.drain_once() == 1
    [message] = mailbox.messages()
    [raw] = mailbox.raw()
    head = raw.split(b"\r\n\r\n", 1)[0]
    # On the wire, every header is ASCII: RFC 2047 words for the name and the subject.
    head.decode("ascii")
    assert b"=?utf-8?" in head
    assert message["Subject"] == "[Support #12] Écran noir en salle B204 — « urgent »"
    assert message["To"].addresses[0].display_name == "Éloïse Dupré-Nguyễn"
    assert message["To"].addresses[0].addr_spec == "alice@example.org"
    assert message["From"].addresses[0].addr_spec == FROM
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].startswith(f"<support.{mail_id}.")
    assert message.get_content_charset() == "utf-8"
    body = message.get_content().replace("\r\n", "\n")
    assert body == "Bonjour Éloïse,\n\nVotre ticket a changé : En cours.\n"
    sent = await row(database, mail_id)
    assert sent.sent_at is not None and sent.attempts == 1 and sent.claimed_until is None
    # Sent once: another pass finds nothing.
    assert await sender.drain_once() == 0
    assert len(mailbox.messages()) == 1


async def test_line_breaks_in_a_name_or_a_title_add_no_header(database, mailbox):
    await queue(
        database,
        name="Eve\r\nBcc: victim@example.net",
        subject="Panne\r\nBcc: victim@example.net\nX-Injected: 1",
        body="Corps.",
    )
    await MailSender(database, relay(mailbox)).drain_once()
    [(recipients, message, raw)] = mailbox.received
    assert recipients == ["alice@example.org"]
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert message["Subject"] == "Panne Bcc: victim@example.net X-Injected: 1"
    assert b"\r\nBcc:" not in raw and b"\nX-Injected:" not in raw
    assert header_text("a\u2028b\x1b[31m\x85c") == "a b [31m c"


async def test_an_address_with_a_line_break_is_never_handed_over(database, mailbox):
    mail_id = await queue(database, to="alice@example.org\r\nRCPT TO:<victim@example.net>")
    await MailSender(database, relay(mailbox)).drain_once()
    assert mailbox.received == []
    failed = await row(database, mail_id)
    assert failed.failed_at is not None and "adresse refusée" in failed.last_error


async def test_a_rollback_sends_nothing(database, mailbox):
    async def event_then_failure(conn):
        await outbox.enqueue(
            conn, user_id=None, to_address="a@example.org", to_name="", subject="s", body="b", now=utcnow()
        )
        raise RuntimeError("the event's own write failed")

    with pytest.raises(RuntimeError):
        await database.write(event_then_failure)
    assert await MailSender(database, relay(mailbox)).drain_once() == 0
    assert await count(database, outbox_table) == 0 and mailbox.received == []


async def test_relay_down_then_up_the_message_arrives_once(database, mailbox, caplog):
    mailbox.stop()
    mail_id = await queue(database)
    sender = MailSender(database, relay(mailbox, retry_base=1, retry_max=1))
    with caplog.at_level(logging.WARNING, "support.mail"):
        await sender.drain_once()
    waiting = await row(database, mail_id)
    assert waiting.sent_at is None and waiting.failed_at is None and waiting.attempts == 1
    assert "Connect" in waiting.last_error or "refused" in waiting.last_error.lower()
    assert waiting.next_attempt_at > waiting.created_at
    assert "mail relay" in caplog.text
    # Not due yet: nothing is tried before its time.
    assert await sender.drain_once() == 0

    sender.start()
    await asyncio.sleep(1.5)
    mailbox.start()
    try:
        await until(lambda: len(mailbox.messages()) == 1, 15)
        await until_sent(database, mail_id)
        await asyncio.sleep(0.5)
        assert len(mailbox.messages()) == 1
    finally:
        await sender.stop()


async def until_sent(database, mail_id: int) -> None:
    for _ in range(200):
        if (await row(database, mail_id)).sent_at is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not marked sent")


async def test_the_delay_grows_then_a_day_of_refusals_fails_with_the_relays_answer(database, mailbox):
    mailbox.answer = "451 4.3.0 Mailbox temporarily unavailable"
    mail_id = await queue(database)
    now = [utcnow()]
    sender = MailSender(database, relay(mailbox, retry_base=60, retry_max=3600), clock=lambda: now[0])
    delays = []
    for _ in range(3):
        await sender.drain_once()
        r = await row(database, mail_id)
        delays.append((r.next_attempt_at - now[0]).total_seconds())
        now[0] = r.next_attempt_at
    assert delays == [60, 120, 240]
    assert r.last_error == "451 4.3.0 Mailbox temporarily unavailable" and r.failed_at is None

    mailbox.answer = "550 5.7.1 Relaying denied"
    now[0] = r.created_at + timedelta(hours=24)
    await sender.drain_once()
    r = await row(database, mail_id)
    assert r.failed_at is not None and r.last_error == "550 5.7.1 Relaying denied" and r.attempts == 4
    assert mailbox.received == []
    now[0] += timedelta(days=1)
    assert await sender.drain_once() == 0


async def test_two_processes_on_one_outbox_send_each_message_once(database, mailbox):
    ids = [await queue(database, to=f"learner{i}@example.org", subject=f"Message {i}") for i in range(30)]
    senders = [MailSender(database, relay(mailbox), owner=f"front-{n}") for n in (1, 2)]
    while True:
        handled = await asyncio.gather(*(s.drain_once() for s in senders))
        if not any(handled):
            break
    subjects = sorted(m["Subject"] for m in mailbox.messages())
    assert subjects == sorted(f"Message {i}" for i in range(30))
    assert await count(database, outbox_table, outbox_table.c.sent_at.is_not(None)) == len(ids)
    async with database.transaction() as conn:
        owners = set((await conn.execute(sa.select(outbox_table.c.claimed_by))).scalars())
    assert owners <= {"front-1", "front-2"}


async def test_a_claim_left_by_a_process_that_died_is_taken_over_after_its_lease(database, mailbox):
    mail_id = await queue(database)
    now = utcnow()
    claimed = await database.write(
        lambda conn: outbox.claim(conn, "dead", now, 300, 10, mysql=database.mysql)
    )
    assert [m.id for m in claimed] == [mail_id]
    later = [now]
    survivor = MailSender(database, relay(mailbox), clock=lambda: later[0], owner="alive")
    assert await survivor.drain_once() == 0
    later[0] = now + timedelta(seconds=301)
    assert await survivor.drain_once() == 1
    assert len(mailbox.messages()) == 1


async def test_messages_waiting_at_a_restart_are_sent_by_the_service_once_it_is_back(
    settings, database, mailbox
):
    ids = [await queue(database, subject=f"En attente {i}") for i in range(3)]
    with_mail = dataclasses.replace(settings, mail=relay(mailbox))
    svc = Service(with_mail)
    await svc.start()
    try:
        await until(lambda: len(mailbox.messages()) == 3, 15)
        for mail_id in ids:
            await until_sent(database, mail_id)
    finally:
        await svc.stop(grace=2)
    assert sorted(m["Subject"] for m in mailbox.messages()) == [f"En attente {i}" for i in range(3)]


async def test_relay_login_with_the_password_from_a_file_never_logged(database, tmp_path, caplog):
    box = Mailbox(login=("relais-support", "s3cret-relais"))
    box.start()
    try:
        secret = tmp_path / "relay-password"
        secret.write_text("s3cret-relais\n")
        settings = relay(box, user="relais-support", password_file=str(secret), password_env="")
        with caplog.at_level(logging.DEBUG):
            await queue(database)
            await MailSender(database, settings, settings.password()).drain_once()
        assert box.logins == [("relais-support", "s3cret-relais")] and len(box.messages()) == 1
        assert "s3cret-relais" not in caplog.text

        # A wrong password: the message waits, with why.
        mail_id = await queue(database)
        await MailSender(database, dataclasses.replace(settings, timeout=2), "mauvais").drain_once()
        waiting = await row(database, mail_id)
        assert waiting.sent_at is None and waiting.attempts == 1 and waiting.last_error
        assert len(box.messages()) == 1
    finally:
        box.stop()


def test_mail_settings_the_password_comes_from_the_environment_or_a_file(tmp_path):
    env = {"SUPPORT_MAIL_HOST": "smtp.campus.example", "SUPPORT_MAIL_FROM_ADDRESS": FROM}
    settings = load_settings(tmp_path / "none.yaml", env={**env, "SUPPORT_MAIL_PASSWORD": "pw-env"})
    assert settings.mail.enabled and settings.mail.port == 587 and settings.mail.security == "starttls"
    assert settings.mail.password({"SUPPORT_MAIL_PASSWORD": "pw-env"}) == "pw-env"
    assert "pw-env" not in repr(settings.sections())
    assert not load_settings(tmp_path / "none.yaml", env={}).mail.enabled
    with pytest.raises(ConfigError, match=r"mail\.from_address"):
        load_settings(tmp_path / "none.yaml", env={"SUPPORT_MAIL_HOST": "smtp.campus.example"})
    with pytest.raises(ConfigError, match=r"mail\.security"):
        load_settings(tmp_path / "none.yaml", env={**env, "SUPPORT_MAIL_SECURITY": "ssl3"})


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_mail_queue_lists_waiting_and_failed_and_retries(settings, database, mailbox, tmp_path):
    mailbox.answer = "550 5.7.1 Relaying denied"
    failing = await queue(database, subject="Refusé")
    await queue(database, subject="Pas encore", delay=30 * 3600)
    now = [utcnow() + timedelta(hours=25)]
    await MailSender(database, relay(mailbox), clock=lambda: now[0]).drain_once()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"database": {"url": settings.database.url}, "mail": {"host": "", "port": 25}}),
        encoding="utf-8",
    )
    listed = await asyncio.to_thread(run_cli, config, "mail-queue")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "# mail.host n'est pas réglé : aucun courriel n'est envoyé."
    assert any(f"#{failing} échec" in line and "550 5.7.1 Relaying denied" in line for line in lines), lines
    assert any("attente" in line and "Pas encore" in line for line in lines), lines
    assert lines[-1] == "En attente : 1 · en échec : 1"

    retried = await asyncio.to_thread(run_cli, config, "mail-queue", "--retry", str(failing))
    assert retried.returncode == 0 and "1 message(s) remis en file" in retried.stdout
    assert retried.stdout.splitlines()[-1] == "En attente : 2 · en échec : 0"
    mailbox.answer = None
    await MailSender(database, relay(mailbox)).drain_once()
    assert [m["Subject"] for m in mailbox.messages()] == ["Refusé"]


async def test_the_dashboard_counts_waiting_and_failed_mail(mail_service, mailbox, database, admin):
    mailbox.stop()
    await queue(database, subject="Bloqué")
    failed = await queue(database, subject="Refusé")
    async with database.transaction() as conn:
        await conn.execute(
            outbox_table.update()
            .where(outbox_table.c.id == failed)
            .values(failed_at=utcnow(), last_error="550")
        )
    c = await Client.connect(mail_service.port, "admin@example.org", PASSWORD)
    try:
        await c.wait_for("Tableau de bord")
        screen = await c.wait_for("1. Nouveau ticket")
        c.send(re.search(r"(\d)\. Tableau de bord", screen).group(1))
        await c.wait_for("Courriels : 1 en attente · 1 en échec")
    finally:
        await c.close()
