"""Test clients that see what a person sees: an SSH client with an 80×24 PTY read through pyte."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import termios

import asyncssh
import pyte

ENTER = "\r"
ESC = "\x1b"
CTRL_D = "\x04"
UP = "\x1b[A"
DOWN = "\x1b[B"
PAGE_DOWN = "\x1b[6~"
PAGE_UP = "\x1b[5~"
END = "\x1b[F"
PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


class ScreenReader:
    """Every byte received, and the 80×24 screen a terminal emulator makes of them."""

    def __init__(self, cols: int, rows: int) -> None:
        self.raw = bytearray()
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.changed = asyncio.Event()
        self.closed = False

    def feed(self, data: bytes) -> None:
        self.raw += data
        self.stream.feed(data)
        self.changed.set()

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    async def wait_for(self, *texts: str, timeout: float = 15.0) -> str:
        """Wait until every text is on screen at once; fail with the screen shown."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            shown = self.text()
            if all(t in shown for t in texts):
                return shown
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                raise AssertionError(f"{texts!r} not on screen after {timeout}s:\n{shown}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.2))

    async def wait_gone(self, text: str, timeout: float = 15.0) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while text in self.text():
            if loop.time() > deadline:
                raise AssertionError(f"{text!r} still on screen:\n{self.text()}")
            await asyncio.sleep(0.05)
        return self.text()


class _Session(asyncssh.SSHClientSession):
    def __init__(self, reader: ScreenReader) -> None:
        self.reader = reader

    def data_received(self, data: bytes, datatype) -> None:
        self.reader.feed(data)

    def connection_lost(self, exc) -> None:
        self.reader.closed = True
        self.reader.changed.set()


class Client(ScreenReader):
    """asyncssh client with a PTY, as a person at a terminal."""

    def __init__(self, cols: int = 80, rows: int = 24) -> None:
        super().__init__(cols, rows)
        self.conn: asyncssh.SSHClientConnection | None = None
        self.chan: asyncssh.SSHClientChannel | None = None

    @classmethod
    async def connect(
        cls,
        port: int,
        username: str = "support",
        password: str | None = None,
        *,
        cols: int = 80,
        rows: int = 24,
        auth: str = "password",
        client_keys: list | None = None,
        source: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Client:
        """`source`: the local address to connect from (another loopback address, as another
        machine would); `env`: variables sent with the session (LANG…), as SendEnv does."""
        client = cls(cols, rows)
        client.conn = await asyncssh.connect(
            "127.0.0.1",
            port,
            local_addr=(source, 0) if source else (),
            username=username,
            password=password,
            known_hosts=None,
            client_keys=client_keys,
            agent_path=None,
            preferred_auth=auth if password is not None or client_keys else "none",
        )
        client.chan, _ = await client.conn.create_session(
            lambda: _Session(client),
            term_type="xterm-256color",
            term_size=(cols, rows),
            encoding=None,
            env=env or (),
        )
        return client

    def send(self, data: str | bytes) -> None:
        assert self.chan is not None
        self.chan.write(data.encode("utf-8") if isinstance(data, str) else data)

    def paste(self, text: str) -> None:
        """What a terminal sends when text is pasted (bracketed paste)."""
        self.send(PASTE_START + text + PASTE_END)

    def resize(self, cols: int, rows: int) -> None:
        assert self.chan is not None
        self.screen.resize(rows, cols)
        self.chan.change_terminal_size(cols, rows)

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            await self.conn.wait_closed()


def _take_controlling_terminal() -> None:
    # In the child, after setsid: ssh reads passwords from /dev/tty, which needs the pty to be
    # the controlling terminal of its session (inheriting it as stdin is not enough).
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class OpenSSHClient(ScreenReader):
    """The real OpenSSH `ssh` binary in a pseudo-terminal of its own."""

    def __init__(self, cols: int = 80, rows: int = 24) -> None:
        super().__init__(cols, rows)
        self.proc: subprocess.Popen | None = None
        self.master = -1

    @classmethod
    async def start(
        cls, port: int, username: str, *, cols: int = 80, rows: int = 24, identity: str | None = None
    ) -> OpenSSHClient:
        """`identity`: log in with that private key file (public key only) instead of a password."""
        client = cls(cols, rows)
        auth = (
            ["-i", identity, "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey"]
            if identity
            else ["-o", "PubkeyAuthentication=no"]
        )
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        client.master = master
        client.proc = subprocess.Popen(
            [
                "ssh",
                "-tt",
                "-F",
                "/dev/null",
                "-p",
                str(port),
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                *auth,
                "-o",
                "LogLevel=ERROR",
                "-o",
                "NumberOfPasswordPrompts=1",
                "-l",
                username,
                "127.0.0.1",
            ],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_take_controlling_terminal,
            env={**os.environ, "TERM": "xterm-256color"},
        )
        os.close(slave)
        loop = asyncio.get_running_loop()
        loop.add_reader(master, client._readable)
        return client

    @classmethod
    async def spawn(
        cls, argv: list[str], *, cols: int = 80, rows: int = 24, env: dict[str, str] | None = None
    ) -> OpenSSHClient:
        """Any client program (`ssh` with options of the test's own, PuTTY's `plink`) in a PTY;
        `env`: variables added to its environment (LANG…)."""
        client = cls(cols, rows)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        client.master = master
        client.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_take_controlling_terminal,
            env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        )
        os.close(slave)
        asyncio.get_running_loop().add_reader(master, client._readable)
        return client

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
            self.closed = True
            self.changed.set()
            return
        self.feed(data)

    def send(self, data: str) -> None:
        os.write(self.master, data.encode("utf-8"))

    async def close(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
        code = await asyncio.to_thread(self.proc.wait, 10)
        if not self.closed:
            asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)
        return code
