"""The real OpenSSH `ssh` client running one command, without a terminal, as a script would."""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .conftest import PASSWORD


@dataclass
class Result:
    status: int
    out: str
    err: str


def _askpass(password: str) -> str:
    """A program printing `password`, for SSH_ASKPASS (ssh then needs no terminal)."""
    folder = Path(tempfile.mkdtemp(prefix="askpass-"))
    path = folder / "askpass.sh"
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' '{password}'\n", encoding="utf-8")
    path.chmod(stat.S_IRWXU)
    return str(path)


def _argv(port: int, user: str, words, identity, options) -> list[str]:
    auth = (
        ["-i", identity, "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey"]
        if identity
        else ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive"]
    )
    return [
        "ssh", "-F", "/dev/null", "-T", "-p", str(port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR", "-o", "NumberOfPasswordPrompts=1", "-o", "BatchMode=no",
        # The first value given wins with OpenSSH: the test's own options come first.
        *options, *auth, "-l", user, "127.0.0.1", *words,
    ]  # fmt: skip


async def ssh_process(
    port: int,
    user: str,
    *words: str,
    password: str = PASSWORD,
    options: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
):
    """`ssh -T` left running, its stdin, stdout and stderr as pipes (for line mode); `env` and
    `options` as for ssh_command."""
    extra = env or {}
    env = {**os.environ, "SSH_ASKPASS": _askpass(password), "SSH_ASKPASS_REQUIRE": "force", **extra}
    env.pop("DISPLAY", None)
    return await asyncio.create_subprocess_exec(
        *_argv(port, user, words, None, options),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )


async def ssh_command(
    port: int,
    user: str,
    *words: str,
    stdin: bytes = b"",
    password: str = PASSWORD,
    identity: str | None = None,
    options: tuple[str, ...] = (),
    term: str | None = None,
    hold_stdin: bool = False,
    env: dict[str, str] | None = None,
) -> Result:
    """`ssh -p PORT -l USER 127.0.0.1 WORDS…` with `stdin`; its exit status, stdout and stderr.

    `hold_stdin`: stdin stays open (a script that never ends its input) until ssh exits.
    `env`: variables set for ssh (LANG…), which it sends only with `-o SendEnv=NAME`.
    """
    argv = _argv(port, user, words, identity, options)
    extra = env or {}
    env = {**os.environ, "SSH_ASKPASS": _askpass(password), "SSH_ASKPASS_REQUIRE": "force", **extra}
    env.pop("DISPLAY", None)
    if term is not None:
        env["TERM"] = term
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    if hold_stdin:
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        out, err = await asyncio.wait_for(asyncio.gather(proc.stdout.read(), proc.stderr.read()), 60)
        await proc.wait()
        proc.stdin.close()
    else:
        out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode("utf-8"), err.decode("utf-8"))
