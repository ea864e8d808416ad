"""SSH transport only: host key, algorithms, authentication callbacks, session start."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import stat
import warnings
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path

import asyncssh
from asyncssh.kex import get_kex_algs
from prompt_toolkit.contrib.ssh import PromptToolkitSSHSession
from prompt_toolkit.data_structures import Size

from .algorithms import POST_QUANTUM_KEX, PROFILES, Algorithms, Profile
from .config import ConfigError
from .i18n import _
from .security import loggable

log = logging.getLogger("support.sshd")

HOST_KEY_NAME = "ssh_host_ed25519_key"
# French for people; "password:" kept for the scripts and clients that look for it (sshpass…).
PASSWORD_PROMPT = _("Mot de passe / password: ")

# (peer address, authenticated user or None) -> None; runs the application for one channel.
Interact = Callable[[PromptToolkitSSHSession, str, object | None], Awaitable[None]]
# (e-mail, password, peer address) -> the user, or None
CheckPassword = Callable[[str, str, str], Awaitable[object | None]]


def load_host_key(folder: Path) -> asyncssh.SSHKey:
    """The Ed25519 host key, generated on first start with mode 0600 and kept afterwards."""
    path = folder / HOST_KEY_NAME
    if not path.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.export_private_key())
        (folder / f"{HOST_KEY_NAME}.pub").write_bytes(key.export_public_key())
        log.info("host key generated path=%s", path)
    check_host_key_mode(path)
    key = asyncssh.read_private_key(path)
    log.info("host key fingerprint=%s", key.get_fingerprint("sha256"))
    return key


def check_host_key_mode(path: Path) -> None:
    """Refuse a private host key that other accounts may read or change, as sshd does."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"la clé d'hôte {path} est accessible à d'autres comptes (mode {mode:04o}) ; "
            f"faites : chmod 600 {path}"
        )


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


class AppSession(PromptToolkitSSHSession):
    """One prompt_toolkit application per channel, fed without ever blocking the event loop.

    The library writes what the client sends into a pipe that the same event loop reads: a
    paste larger than the pipe's buffer would block that write, and with it every session.
    Here the pipe is written without blocking; what does not fit waits in a backlog while the
    channel stops reading, so SSH flow control slows the client instead of the server.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._backlog = bytearray()
        self._pipe_fd: int | None = None

    def _get_size(self) -> Size:
        size = super()._get_size()
        if size.rows <= 0 or size.columns <= 0:
            return Size(rows=24, columns=80)
        return size

    def data_received(self, data: str, datatype: object) -> None:
        if self._input is None:
            return
        if self._pipe_fd is None:
            self._pipe_fd = self._input.pipe.write_fd  # type: ignore[attr-defined]
            os.set_blocking(self._pipe_fd, False)
        was_waiting = bool(self._backlog)
        self._backlog += data.encode("utf-8", "replace")
        if not was_waiting:
            self._drain()

    def _drain(self) -> None:
        assert self._pipe_fd is not None and self._chan is not None
        try:
            while self._backlog:
                del self._backlog[: os.write(self._pipe_fd, self._backlog)]
        except BlockingIOError:
            pass
        except OSError:  # the application has ended and closed its input
            self._backlog.clear()
        loop = asyncio.get_running_loop()
        if self._backlog:
            loop.add_writer(self._pipe_fd, self._drain)
            self._chan.pause_reading()
        else:
            loop.remove_writer(self._pipe_fd)
            self._chan.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        # The client is gone: end its application (EOF on its input) instead of leaving it
        # waiting for keys that will never come.
        if self._pipe_fd is not None:
            asyncio.get_running_loop().remove_writer(self._pipe_fd)
            self._backlog.clear()
        if self._input is not None:
            self._input.close()


class SupportSSHServer(asyncssh.SSHServer):
    """Authentication for one connection: the guest name gets in as is, others by password."""

    def __init__(
        self,
        guest_user: str,
        check_password: CheckPassword,
        interact: Interact,
        open_connections: set[asyncssh.SSHServerConnection],
        max_connections: int,
    ) -> None:
        self.guest_user = guest_user
        self.open_connections = open_connections
        self.max_connections = max_connections
        self.conn: asyncssh.SSHServerConnection | None = None
        self.check_password = check_password
        self.interact = interact
        self.address = "-"
        self.username = "-"
        # Identity is attached only once authentication has completed.
        self._verified: object | None = None
        self.user: object | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername") or ("-", 0)
        self.address = f"{peer[0]}:{peer[1]}"
        if len(self.open_connections) >= self.max_connections:
            log.warning("addr=%s connection refused: %s already open", self.address, self.max_connections)
            conn.disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS, "Trop de connexions : réessayez plus tard.")
            return
        self.conn = conn
        self.open_connections.add(conn)
        log.info("addr=%s connection opened", self.address)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is None:  # refused at once: never counted
            return
        self.open_connections.discard(self.conn)
        log.info("addr=%s user=%s connection closed", self.address, self.username)

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
        return "", "", "fr-FR", [(PASSWORD_PROMPT, False)]

    async def validate_kbdint_response(self, username: str, responses: list[str]) -> bool:
        return len(responses) == 1 and await self.validate_password(username, responses[0])

    async def validate_password(self, username: str, password: str) -> bool:
        user = await self.check_password(username, password, self.address)
        if user is None:
            log.warning("addr=%s user=%s ssh auth failed", self.address, self.username)
            return False
        self._verified = user
        return True

    def auth_completed(self) -> None:
        self.user = self._verified
        log.info("addr=%s user=%s ssh auth succeeded", self.address, self.username)

    def session_requested(self) -> PromptToolkitSSHSession:
        async def run(session: PromptToolkitSSHSession) -> None:
            # The library prints any exception escaping here; log it as one event instead.
            try:
                await self.interact(session, self.address, self.user)
            except asyncio.CancelledError:
                log.info("addr=%s user=%s session cancelled", self.address, self.username)
            except Exception:
                log.exception("addr=%s user=%s session failed", self.address, self.username)

        return AppSession(run, enable_cpr=False)


async def start_listener(
    host: str,
    port: int,
    host_key: asyncssh.SSHKey,
    server_factory: Callable[[], SupportSSHServer],
    *,
    login_timeout: int,
    keepalive_interval: int,
    profile: Profile = Profile.COMPATIBLE,
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
        server_host_keys=[host_key],
        **algorithms.server_options(),
        # One invalid UTF-8 byte from a client must not drop its connection.
        encoding="utf-8",
        errors="replace",
        login_timeout=login_timeout,
        keepalive_interval=keepalive_interval,
        keepalive_count_max=3,
        # No port forwarding, agent forwarding or X11: this is a console application only.
        allow_pty=True,
        agent_forwarding=False,
        x11_forwarding=False,
        line_editor=False,
    )
