"""SSH transport only: algorithms, authentication callbacks, session start (host keys: host_keys.py)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import warnings
import weakref
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

import asyncssh
from asyncssh.kex import get_kex_algs
from asyncssh.stream import SSHServerStreamSession
from prompt_toolkit.contrib.ssh import PromptToolkitSSHSession

from ..config import ConfigError, IPNetwork
from ..domain.text import loggable
from ..i18n import N_, _
from .algorithms import POST_QUANTUM_KEX, PROFILES, Algorithms, Profile
from .channel_exec import ExecChannel
from .channel_session import ChannelSession
from .limits import ConnectionGate, GatedListener
from .sftp_tree import FilesOrConsole, InputEnd

log = logging.getLogger("support.sshd")

# French for people; "password:" kept for the scripts and clients that look for it (sshpass…).
PASSWORD_PROMPT = N_("Mot de passe / password: ")

# (peer address, authenticated user or None) -> None; runs the application for one channel.
Interact = Callable[[PromptToolkitSSHSession, str, object | None], Awaitable[None]]
# (exec channel, command line or None for a shell without a terminal, peer address,
# authenticated user or None) -> exit status
ExecuteCommand = Callable[[ExecChannel, str | None, str, object | None], Awaitable[int]]
# (channel, peer address, authenticated user, where its input ends) -> the SFTP server of the
# user's attachments
FilesServer = Callable[[asyncssh.SSHServerChannel, str, object, InputEnd], asyncssh.SFTPServer]
# (e-mail, password, peer address) -> the user, or None
CheckPassword = Callable[[str, str, str], Awaitable[object | None]]

TOO_MANY_TRIES = N_("Trop de tentatives d'authentification : reconnectez-vous.")
UNAVAILABLE = N_("Service momentanément indisponible : reconnectez-vous dans un instant.")


@dataclass(frozen=True)
class PublicKeyAuth:
    """How public keys are checked; keys are OpenSSH lines "<algorithm> <base64>"."""

    # (e-mail, key) -> the account the key is registered for, or None; only a candidate
    # until asyncssh has verified the key's signature
    owner: Callable[[str, str], Awaitable[object | None]]
    # (address, account) -> None: logged in by public key
    succeeded: Callable[[str, object], Awaitable[None]]
    # (address, e-mail) -> None: a signature made with a registered key was refused
    failed: Callable[[str, str], Awaitable[None]]


def key_line(key: asyncssh.SSHKey) -> str:
    """The key as stored in `cles_ssh.cle_publique`: algorithm and base64, no comment."""
    return f"{key.get_algorithm()} {base64.b64encode(key.public_data).decode('ascii')}"


def server_algorithms(profile: Profile, available: Collection[str] | None = None) -> Algorithms:
    """The profile's lists as this machine can serve them (`available`: known key exchanges).

    Without ML-KEM (`cryptography` linked with an OpenSSL older than 3.5, and no liboqs),
    `compatible` serves the rest; `strict` would have no key exchange left, so the start stops.
    """
    if available is None:
        available = {name.decode() for name in get_kex_algs()}
    algorithms = PROFILES[profile]
    kex = tuple(name for name in algorithms.kex if name in available)
    if POST_QUANTUM_KEX not in kex:
        if profile is Profile.STRICT:
            raise ConfigError(
                f"ssh.profile strict : l'échange de clés {POST_QUANTUM_KEX} n'est pas disponible "
                "ici (il faut le paquet cryptography de requirements.txt, avec OpenSSL 3.5 ou "
                "plus récent) ; installez-le ou choisissez ssh.profile: compatible"
            )
        log.warning("%s unavailable here: no post-quantum key exchange offered", POST_QUANTUM_KEX)
    return dataclasses.replace(algorithms, kex=kex)


# Session channels one connection may open in its lifetime.
MAX_SESSIONS_PER_CONNECTION = 4


def _read_nothing() -> bool:
    return False


class SupportSSHServer(asyncssh.SSHServer):
    """Authentication for one connection: the guest name gets in as is, others by password
    or public key, with a bounded number of attempts."""

    def __init__(
        self,
        guest_user: str,
        check_password: CheckPassword,
        interact: Interact,
        open_connections: set[asyncssh.SSHServerConnection],
        gate: ConnectionGate,
        *,
        public_keys: PublicKeyAuth | None = None,
        max_auth_tries: int = 6,
        execute: ExecuteCommand | None = None,
        files: FilesServer | None = None,
    ) -> None:
        self.files = files
        self.guest_user = guest_user
        self.execute = execute
        self.open_connections = open_connections
        self.gate = gate
        self.public_keys = public_keys
        self.max_auth_tries = max_auth_tries
        self.failures = 0
        self.sessions = 0
        # Its session channels, for the shutdown to wait for their close (closing.py).
        self.channels: weakref.WeakSet[FilesOrConsole] = weakref.WeakSet()
        self.peer: tuple[str, int] = ("-", 0)
        self.conn: asyncssh.SSHServerConnection | None = None
        self.check_password = check_password
        self.interact = interact
        self.address = "-"
        self.username = "-"
        # Identity is attached only once authentication has completed.
        self._verified: object | None = None
        self.user: object | None = None
        # (username, account) of the last registered key offered: a candidate only, until
        # asyncssh has verified its signature and calls auth_completed.
        self._key_owner: tuple[str, object] | None = None
        # Registered keys offered more than once (a probe, then a signed request).
        self._key_offers: dict[tuple[str, str], int] = {}
        self._signed: tuple[str, str] | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        # The connection gate (limits.py) has already let this connection in.
        peer = conn.get_extra_info("peername") or ("-", 0)
        self.peer = (str(peer[0]), int(peer[1]))
        self.address = f"{peer[0]}:{peer[1]}"
        self.conn = conn
        self.open_connections.add(conn)
        log.info("addr=%s connection opened", self.address)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is None:
            return
        # asyncssh keeps the bound method that parses its next packet, a cycle through the
        # connection that only a full collection would free; the connection reads no more.
        self.conn._recv_handler = _read_nothing  # type: ignore[attr-defined]
        self.open_connections.discard(self.conn)
        self._signature_refused(counted=False)
        log.info("addr=%s user=%s connection closed", self.address, self.username)

    def _failed(self) -> None:
        """One more failed attempt; past the maximum, the connection is closed."""
        self.failures += 1
        if self.failures == self.max_auth_tries and self.conn is not None and self.user is None:
            log.warning(
                "addr=%s user=%s disconnected after %d failed authentication attempts",
                self.address,
                self.username,
                self.failures,
            )
            self.conn.disconnect(asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE, _(TOO_MANY_TRIES))

    def _unavailable(self, exc: Exception) -> bool:
        """The account could not be checked (the database): a refusal the client shows, one line."""
        reason = getattr(exc, "reason", type(exc).__name__)
        log.warning("addr=%s user=%s ssh auth impossible: %s", self.address, self.username, reason)
        assert self.conn is not None
        self.conn.disconnect(asyncssh.DISC_SERVICE_NOT_AVAILABLE, _(UNAVAILABLE))
        return False

    def _signature_refused(self, counted: bool = True) -> None:
        # asyncssh verifies signatures without telling us: a registered key offered a second
        # time (the signed request after the probe) and no success since means it was refused.
        if self._signed is None or self.user is not None or self.public_keys is None:
            return
        email, _key = self._signed
        self._signed = None
        assert self.conn is not None
        self.conn.create_task(self.public_keys.failed(self.address, email))
        if counted:
            self._failed()

    def begin_auth(self, username: str) -> bool:
        # As it appears in the log: whatever a client sends, one line of printable text.
        self.username = loggable(username)
        # The guest name needs no authentication; any other name is an e-mail and must prove it.
        return username != self.guest_user

    def password_auth_supported(self) -> bool:
        return True

    def kbdint_auth_supported(self) -> bool:
        return True

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str):
        # The same password check as password auth, asked in the language of the application.
        return "", "", "fr-FR", [(_(PASSWORD_PROMPT), False)]

    async def validate_kbdint_response(self, username: str, responses: list[str]) -> bool:
        if len(responses) != 1:
            self._failed()
            return False
        return await self._password(username, responses[0])

    async def validate_password(self, username: str, password: str) -> bool:
        return await self._password(username, password)

    async def _password(self, username: str, password: str) -> bool:
        self._signature_refused()
        self._key_owner = None
        try:
            # asyncssh cancels a check still running when the client sends its next request:
            # the check (its bcrypt and its audit row) still ends, and the attempt still counts.
            user = await asyncio.shield(self.check_password(username, password, self.address))
        except asyncio.CancelledError:
            self._failed()
            raise
        except Exception as exc:
            return self._unavailable(exc)
        if user is None:
            log.warning("addr=%s user=%s ssh auth failed", self.address, self.username)
            self._failed()
            return False
        self._verified = user
        return True

    def public_key_auth_supported(self) -> bool:
        return self.public_keys is not None

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # Called for a key merely offered as well as for a signed request, before asyncssh
        # checks the signature: nothing here may attach an identity.
        assert self.public_keys is not None
        self._signature_refused()
        line = key_line(key)
        try:
            owner = await self.public_keys.owner(username, line)
        except Exception as exc:
            return self._unavailable(exc)
        if owner is None:
            log.info("addr=%s user=%s public key not accepted", self.address, self.username)
            self._failed()
            return False
        offer = (username, line)
        self._key_owner = (username, owner)
        self._key_offers[offer] = self._key_offers.get(offer, 0) + 1
        if self._key_offers[offer] > 1:
            self._signed = offer
        return True

    def auth_completed(self) -> None:
        # Synchronous on purpose: asyncssh handles the client's next packets (its session
        # request) while an asynchronous auth_completed is still running.
        self._signed = None
        assert self.conn is not None
        username = self.conn.get_extra_info("username")
        user = None
        method = "none"
        if username == self.guest_user:
            pass
        elif self._verified is not None:
            user, method = self._verified, "password"
        elif self._key_owner is not None and self._key_owner[0] == username:
            # asyncssh has now verified the key's signature: the identity may be attached.
            user, method = self._key_owner[1], "publickey"
            assert self.public_keys is not None
            self.conn.create_task(self.public_keys.succeeded(self.address, user))
        if user is None and username != self.guest_user:
            # Not reachable by the methods above; refuse rather than open a session unnamed.
            log.error("addr=%s user=%s authenticated without an account", self.address, self.username)
            self.conn.disconnect(asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE, _("Connexion refusée."))
            return
        self.user = user
        self.gate.authenticated(self.peer)
        log.info("addr=%s user=%s ssh auth succeeded method=%s", self.address, self.username, method)

    def session_requested(self) -> FilesOrConsole | bool:
        # One person, one screen: a client may not multiply applications on one connection
        # (asyncssh has no MaxSessions). A few are allowed for clients that reopen one.
        self.sessions += 1
        if self.sessions > MAX_SESSIONS_PER_CONNECTION:
            log.warning(
                "addr=%s user=%s session refused: too many on one connection", self.address, self.username
            )
            return False

        async def run(session: PromptToolkitSSHSession) -> None:
            # The library prints any exception escaping here; log it as one event instead.
            try:
                await self.interact(session, self.address, self.user)
            except asyncio.CancelledError:
                log.info("addr=%s user=%s session cancelled", self.address, self.username)
            except Exception:
                log.exception("addr=%s user=%s session failed", self.address, self.username)

        async def command(io: ExecChannel, line: str | None) -> int:
            assert self.execute is not None
            return await self.execute(io, line, self.address, self.user)

        console = ChannelSession(
            run,
            label=f"addr={self.address} user={self.username}",
            execute=command if self.execute is not None else None,
        )
        if self.user is None or self.files is None:
            # The guest name gets the console only: no file tree.
            session = FilesOrConsole(console, None)
        else:
            files, address, user, end = self.files, self.address, self.user, InputEnd()

            def tree_of(chan):
                made = files(chan, address, user, end)
                if (owner := session_ref()) is not None:
                    owner.opened(made)
                return made

            tree = SSHServerStreamSession(None, tree_of, sftp_version=3, allow_scp=True)
            session = FilesOrConsole(console, tree, end)
            # Weakly: the session holds the stream session, which holds this factory; a strong
            # reference back would be a cycle that outlives the connection (refcounting, not
            # the collector, frees closed sessions: collector.py).
            session_ref = weakref.ref(session)
        self.channels.add(session)
        return session


async def start_listener(
    host: str,
    port: int,
    host_key: asyncssh.SSHKey,
    server_factory: Callable[[], SupportSSHServer],
    *,
    gate: ConnectionGate,
    login_timeout: int,
    keepalive_interval: int,
    profile: Profile = Profile.COMPATIBLE,
    keepalive_count_max: int = 3,
    trusted_proxies: tuple[IPNetwork, ...] | None = None,
    reuse_port: bool = False,
) -> asyncssh.SSHAcceptor:
    algorithms = server_algorithms(profile)
    # Finite-field DH is offered on purpose (compatible: clients without X25519); the pinned
    # cryptography still does it but says it is deprecated on every such handshake.
    warnings.filterwarnings("ignore", message="Diffie-Hellman over finite fields", module="asyncssh")
    log.info("ssh profile=%s kex=%s", profile, ",".join(algorithms.kex))
    return await asyncssh.create_server(
        server_factory,
        host,
        port,
        # The listening socket comes from the gate, so that limits apply before any SSH.
        tunnel=GatedListener(gate, trusted_proxies, reuse_port),
        server_host_keys=[host_key],
        **algorithms.server_options(),
        # One invalid UTF-8 byte from a client must not drop its connection.
        encoding="utf-8",
        errors="replace",
        login_timeout=login_timeout,
        keepalive_interval=keepalive_interval,
        keepalive_count_max=keepalive_count_max,
        # Only the methods this file handles: no GSSAPI (asyncssh enables it whenever the
        # module imports) and no host-based authentication.
        gss_host=None,
        host_based_auth=False,
        # No port forwarding, agent forwarding or X11: this is a console application only.
        allow_pty=True,
        agent_forwarding=False,
        x11_forwarding=False,
        line_editor=False,
    )
