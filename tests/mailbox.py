"""A real SMTP server for the tests (aiosmtpd, on a free port): what the service sends, parsed."""

from __future__ import annotations

import email
import socket
import threading
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from server.config import MailSettings

FROM = "support@campus.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.box.answer is not None:
            return self.box.answer
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        with self.box.lock:
            self.box.received.append(
                (list(envelope.rcpt_tos), message, bytes(envelope.original_content or b""))
            )
        return "250 2.0.0 Ok: queued"


class Mailbox:
    """The campus relay, as a test sees it: started, stopped, refusing, and what it received.

    `login`: (user, password) the relay asks for; None: no login.
    """

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.received: list[tuple[list[str], EmailMessage, bytes]] = []
        self.logins: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        # An SMTP answer given to every message instead of accepting it ("451 4.3.0 …").
        self.answer: str | None = None
        self.login = login
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((user, password))
        return AuthResult(success=(user, password) == self.login)

    def start(self) -> None:
        options = {}
        if self.login is not None:
            options = {"authenticator": self._authenticate, "auth_require_tls": False, "auth_required": True}
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [m for _, m, _ in self.received]

    def raw(self) -> list[bytes]:
        with self.lock:
            return [r for _, _, r in self.received]


def relay(box: Mailbox, **changes) -> MailSettings:
    """The mail settings of a service whose relay is `box` (plain SMTP on this machine)."""
    values = {
        "host": "127.0.0.1",
        "port": box.port,
        "security": "none",
        "from_address": FROM,
        "from_name": "Support technique",
        "timeout": 5,
        "poll_interval": 0.1,
        "retry_base": 1,
        "retry_max": 1,
        "group_window": 0,
    }
    return MailSettings(**{**values, **changes})
