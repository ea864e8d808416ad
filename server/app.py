"""Wiring and lifecycle: open the database, start the listener, shut down cleanly."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import socket
import time

import asyncssh
from prompt_toolkit.contrib.ssh import PromptToolkitSSHSession

from . import commands, i18n
from .change_feed import ChangeFeed
from .closer import AutoCloser
from .collector import SCREEN_SHARE, Collector
from .config import Settings
from .context import (
    Outcome,
    SessionContext,
    SessionResources,
    account_events,
    authenticate,
    key_login_failed,
    key_login_succeeded,
    key_owner,
    sweep_unfinished,
)
from .domain.models import Role, User
from .errors import Throttled
from .handlers.live import deliver
from .handlers.session import run_session
from .i18n import N_, _, speaking
from .line_channel import LineChannel, LineSession, tell_each
from .mailer import MailSender
from .metrics import MetricsEndpoint, ServiceCollector
from .process import log_loop_exception, raise_descriptor_limit
from .security import PasswordHasher
from .store import Database
from .store.migrate import bring_up, check_version
from .transport.algorithms import Profile
from .transport.channel_exec import ExecChannel
from .transport.closing import close_connections, stop_file_trees
from .transport.gate_link import RemoteGate
from .transport.host_keys import service_host_key
from .transport.limits import ConnectionGate, Limits
from .transport.sftp_tree import TicketFiles
from .transport.sshd import PublicKeyAuth, SupportSSHServer, start_listener
from .ui.idle import IdleGuard
from .ui.terminal import Terminal

log = logging.getLogger("support.app")

SHUTDOWN_NOTICE = N_(
    "Le service redémarre : ce qui est en cours d'enregistrement se termine. "
    "Reconnectez-vous dans un instant."
)
SHUTDOWN_SAVED = N_(
    "Le service redémarre : votre dernière action est enregistrée. Reconnectez-vous dans un instant."
)
SHUTDOWN_NOT_SAVED = N_(
    "Le service redémarre : votre dernière action n'a pas été enregistrée ; "
    "reconnectez-vous dans un instant pour la refaire."
)


class Service:
    """The running service: one database pool, one listener, the open terminals."""

    def __init__(self, settings: Settings, gate: RemoteGate | None = None, worker: int | None = None) -> None:
        self.settings = settings
        # A process of ssh.workers (workers.py): its supervisor migrates, gates and serves metrics.
        self.worker = worker
        self.db: Database | None = None
        self.services: SessionResources | None = None
        self.listener: asyncssh.SSHAcceptor | None = None
        self.feed: ChangeFeed | None = None
        # Open terminals and the task running each, so that stop() can wait for them.
        self.terminals: dict[Terminal, asyncio.Task] = {}
        # Each open terminal's session: a shutdown tells it how its last action ended.
        self.contexts: dict[Terminal, SessionContext] = {}
        self.lines: set[LineSession] = set()
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self.gate = gate or ConnectionGate(Limits.from_settings(settings.ssh))
        self.collector = Collector(lambda: len(self.terminals))
        self.metrics: MetricsEndpoint | None = None
        self.mailer: MailSender | None = None
        self.closer: AutoCloser | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        assert self.listener is not None
        return self.listener.sockets[0].getsockname()[1]

    async def start(self) -> None:
        settings = self.settings
        descriptors = raise_descriptor_limit(settings)
        i18n.load()
        self.db = Database(settings)
        # SQLite is the service's own file: it always brings it up to date.
        if self.worker is None:
            await bring_up(self.db, settings.database.create_schema)
        else:  # its supervisor brought the schema up
            await check_version(self.db)
        log.info("database ready backend=%s", "mysql" if self.db.mysql else "sqlite")
        swept = await sweep_unfinished(self.db)
        if swept:
            log.info("attachments: %d uploads left unfinished by a stopped server removed", swept)
        for warning in settings.warnings():
            log.warning("configuration: %s", warning)
        hasher = PasswordHasher(settings.security.bcrypt_cost, settings.security.hash_threads)
        await hasher.prepare()
        self.services = SessionResources(
            self.db,
            hasher,
            thresholds=settings.security,
            attachment_limits=settings.attachments,
            mail=settings.mail,
            due=settings.due,
            guest_user=settings.ssh.guest_user,
        )
        if settings.mail.enabled:
            self.mailer = MailSender(
                self.db, settings.mail, settings.mail.password(base_dir=settings.base_dir)
            )
            self.mailer.start()
            self.services = dataclasses.replace(self.services, mail_wake=self.mailer.wake)
            log.info("mail relay %s:%s (%s)", settings.mail.host, settings.mail.port, settings.mail.security)
        else:
            log.info("mail: no relay configured (mail.host), nothing will be sent")
        self.feed = ChangeFeed(
            self.db,
            settings.live.poll_interval,
            process=self.services.process,
            # Read at each event: tests replace the resources (the sessions stay the same set).
            on_account=lambda event: account_events.apply(self.services.sessions, event),
        )
        await self.feed.poll()  # from now on, every change is news
        self.feed.start()
        tickets = settings.tickets
        self.closer = AutoCloser(lambda: self.services, tickets.autoclose_days, tickets.autoclose_interval)
        self.closer.start()
        host_key = service_host_key(settings.host_keys_dir, settings.host_key_file)
        db = self.db
        public_keys = PublicKeyAuth(
            owner=lambda email, key: key_owner(db, email, key),
            succeeded=lambda address, user: key_login_succeeded(db, address, user),
            failed=lambda address, email: key_login_failed(db, address, email),
        )
        self.listener = await start_listener(
            settings.ssh.host,
            settings.ssh.port,
            host_key,
            lambda: SupportSSHServer(
                settings.ssh.guest_user,
                self._check_password,
                self._interact,
                self.connections,
                self.gate,
                public_keys=public_keys,
                max_auth_tries=settings.ssh.max_auth_tries,
                execute=self._execute,
                files=self._files,
            ),
            gate=self.gate,
            login_timeout=settings.ssh.login_timeout,
            keepalive_interval=settings.ssh.keepalive_interval,
            profile=Profile(settings.ssh.profile),
            keepalive_count_max=settings.ssh.keepalive_count_max,
            trusted_proxies=settings.ssh.proxies(),
            reuse_port=self.worker is not None,
        )
        host = settings.ssh.host if settings.ssh.host not in {"0.0.0.0", "::", ""} else "localhost"
        address = self.services.files_address
        address.port = settings.attachments.port or self.port
        address.host = settings.attachments.host or (host if host != "localhost" else socket.gethostname())
        log.info(
            "listening on %s port %s; connect with: ssh -p %s %s@%s",
            settings.ssh.host,
            self.port,
            self.port,
            settings.ssh.guest_user,
            host,
        )
        log.info("open files limit=%s max_connections=%s", descriptors, settings.ssh.max_connections)
        self.collector.start()
        listen = settings.metrics.address()
        if listen is not None:
            self.metrics = MetricsEndpoint(
                *listen,
                lambda lag: ServiceCollector(
                    self.sessions_by_kind,
                    self.pool_use,
                    lag,
                    self.db_up,
                    db_errors=lambda: dict(self.db.health.errors) if self.db is not None else {},
                    refused=lambda: dict(self.gate.refused),
                    feed_age=lambda: self.feed.age() if self.feed is not None else 0.0,
                ),
                serve=self.worker is None,
            )
            self.metrics.start()

    def sessions_by_kind(self) -> dict[str, int]:
        """Open terminal sessions: guests (not logged in), users, admins (read from any thread)."""
        counts = dict.fromkeys(("guest", "user", "admin"), 0)
        for ctx in list(self.contexts.values()):
            user = ctx.user
            counts["guest" if user is None else "admin" if user.role is Role.ADMIN else "user"] += 1
        return counts

    def db_up(self) -> bool:
        """False from a failed transaction until one succeeds again (the outage episode)."""
        return self.db is not None and self.db.health.reason is None

    def pool_use(self) -> tuple[int, int]:
        """(connections checked out, connections the pool keeps) of the database pool."""
        pool = self.db.engine.sync_engine.pool if self.db is not None else None
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        return (checked_out() if checked_out else 0, size() if size else 0)

    async def _check_password(self, email: str, password: str, address: str) -> User | None:
        assert self.services is not None
        try:
            return await authenticate(self.services, email, password, address)
        except Throttled:
            # SSH has one answer for every refusal: "Permission denied" (audited as throttled).
            return None

    async def _execute(self, io: ExecChannel, line: str | None, address: str, user) -> int:
        assert self.services is not None and self.feed is not None
        if self._stopping:
            io.error(_(SHUTDOWN_NOTICE))
            return commands.UNAVAILABLE
        channel = LineChannel(self.services, self.feed, float(self.settings.ssh.idle_timeout), self.lines)
        return await channel.run(io, line, address, user)

    def _files(self, chan: asyncssh.SSHServerChannel, address: str, user, end) -> TicketFiles:
        """The SFTP and SCP tree of one channel, its messages in the language the client sent
        (or the account's)."""
        assert self.services is not None
        with speaking(i18n.Language(i18n.from_environment(chan.get_environment()))):
            ctx = SessionContext(self.services, address, user)
        return TicketFiles(chan, ctx, end)

    async def _interact(self, session: PromptToolkitSSHSession, address: str, user) -> None:
        assert self.services is not None
        if self._stopping:
            return
        ctx = SessionContext(self.services, address, user)
        term = Terminal(lambda screen: self.collector.ended(screen, SCREEN_SHARE))
        self.terminals[term] = asyncio.current_task()  # type: ignore[assignment]
        self.contexts[term] = ctx
        ctx.on_end = lambda text: self._end_terminal(term, text)
        assert self.feed is not None
        unsubscribe = self.feed.subscribe(lambda change: deliver(term, ctx, change))
        idle = None
        if self.settings.ssh.idle_timeout:
            idle = IdleGuard(term, self.settings.ssh.idle_timeout, self.settings.ssh.idle_warning, address)
        try:
            await term.run(lambda t: self._run_session(t, ctx, idle))
        finally:
            unsubscribe()
            ctx.on_end = None
            self.terminals.pop(term, None)
            self.contexts.pop(term, None)
            # Each should now be freed by its last reference going (collector.py).
            self.collector.ended(term)
            self.collector.ended(ctx, 0)
            connection = getattr(session, "connection", None)
            if connection is not None:
                self.collector.ended(connection, 0)

    @staticmethod
    def _end_terminal(term: Terminal, text: str) -> None:
        """Say `text` above the screen, then close it a moment later: the sentence stays in
        the user's terminal once the connection is gone."""
        term.announce(text)
        asyncio.get_running_loop().call_later(END_PAUSE, term.close)

    @staticmethod
    async def _run_session(term: Terminal, ctx: SessionContext, idle: IdleGuard | None) -> None:
        # The guard needs the running application (its key processor): start it from inside.
        if idle is not None:
            idle.start()
        try:
            await run_session(term, ctx)
        finally:
            if idle is not None:
                idle.stop()

    def _tell(self, text_for) -> None:
        """Each open session, screens and lines, told `text_for(its context)` in its language."""
        for term, ctx in list(self.contexts.items()):
            with speaking(ctx.language):
                term.announce(text_for(ctx))
        tell_each(self.lines, text_for)

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting and refuse new writes at once; let the writes already started end
        (at most `grace` seconds, database.shutdown_grace by default); tell each user how
        their last action ended; close the connections, then the pool."""
        grace = self.settings.database.shutdown_grace if grace is None else grace
        self._stopping = True
        began = time.monotonic()
        if self.mailer is not None:
            # Before writes are refused: the message being handed over is marked sent.
            await self.mailer.stop()
        if self.listener is not None:
            self.listener.close()
        self.gate.close()
        if self.db is not None:
            self.db.refusing_writes = True
        for periodic in (self.feed, self.closer):
            if periodic is not None:
                await periodic.stop()
        self._tell(lambda ctx: _(SHUTDOWN_NOTICE))
        await stop_file_trees(self.connections, lambda ctx: _(SHUTDOWN_NOTICE))
        running = self.db.writes_running if self.db is not None else 0
        if running:
            log.info("stopping: waiting for %d writes already started (at most %ss)", running, grace)
        if self.db is not None and not await self.db.wait_writes(grace):
            # Each one still ends whole: the pool's closing rolls it back.
            log.warning(
                "stopping: %d writes still running after %ss; rolled back",
                self.db.writes_running,
                grace,
            )
        if self.terminals or self.lines:
            # Let the screens show what became of the last action (« Ticket #12 créé. »), then
            # say it in the banner too, which stays in the terminal once the connection closes.
            await asyncio.sleep(0.3)
            self._tell(lambda ctx: farewell(ctx, began))
            await asyncio.sleep(1.2)
            # Once more: a form sent meanwhile was refused, and the last word must say so.
            self._tell(lambda ctx: farewell(ctx, began))
        for term in list(self.terminals):
            term.close()
        for line in list(self.lines):
            line.end()
        if sessions := [*self.terminals.values(), *(line.task for line in self.lines)]:
            await asyncio.wait(sessions, timeout=5)
        await close_connections(self.connections)
        if self.listener is not None:
            await self.listener.wait_closed()
        await self.collector.stop()
        if self.metrics is not None:
            await self.metrics.stop()
        if self.services is not None:
            self.services.hasher.close()
        if self.db is not None:
            # Reads cut short with their screens give their connections back first.
            await self.db.wait_idle(2)
            await self.db.close()
        log.info("stopped after %.1fs", time.monotonic() - began)


# Seconds a session ended from elsewhere shows why before it closes.
END_PAUSE = 1.0

# Seconds before the signal within which a failed write is still the news of the moment.
RECENT = 10.0


def farewell(ctx: SessionContext, since: float) -> str:
    """The last words to a user before the shutdown closes their connection: the truth about
    their last action, if they made one after the signal."""
    if ctx.last_write is Outcome.COMMITTED:
        # True whenever it committed, and it may have committed just before the signal while
        # the screen still waited to say « créé ».
        return _(SHUTDOWN_SAVED)
    if ctx.last_write is not None and ctx.last_write_at >= since - RECENT:
        return _(SHUTDOWN_NOT_SAVED)
    return _(SHUTDOWN_NOTICE)


async def serve(settings: Settings, service: Service | None = None, started=lambda: None) -> int:
    """Run until SIGTERM or SIGINT; exit status 0 after a clean stop."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(log_loop_exception)
    service = service or Service(settings)
    try:
        await service.start()
    except BaseException:
        # A refused start (schema, host key, port in use) still closes what it opened.
        await service.stop(grace=0)
        raise
    started()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("signal received, stopping")
    await service.stop()
    return 0
