"""The end of a shutdown at the SSH level: each connection closed once the close of its
session channels has been answered, so that a client exits with the status it was sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import asyncssh

from ..i18n import speaking

# Seconds the shutdown waits for clients to answer their channels' close.
CLOSE_ANSWER = 2.0


def closing_channels(conn: asyncssh.SSHServerConnection) -> list[asyncssh.SSHServerChannel]:
    """The session channels of `conn` this side has closed or is closing (those already closed
    both ways are waited for at no cost)."""
    owner = conn.get_owner()
    channels = [session.chan for session in list(getattr(owner, "channels", ()))]
    return [chan for chan in channels if chan is not None and chan.is_closing()]


async def stop_file_trees(
    connections: Iterable[asyncssh.SSHServerConnection], text_for: Callable[[object], str]
) -> None:
    """Each SFTP or SCP channel still open told `text_for(its context)` in its language, its
    uploads under way discarded, and closed (with exit status 3, as a command): at the start
    of a shutdown, as uploads cannot go on once writes are refused."""
    for conn in list(connections):
        for session in list(getattr(conn.get_owner(), "channels", ())):
            if (tree := session.tree) is not None:
                with speaking(tree.ctx.language):
                    text = text_for(tree.ctx)
                await tree.stop(text)


async def close_connections(
    connections: Iterable[asyncssh.SSHServerConnection], timeout: float = CLOSE_ANSWER
) -> None:
    """Close every connection, each after the close exchange of its channels (at most
    `timeout` seconds for all): a disconnect that overtakes the client's answer to a channel's
    close makes OpenSSH exit 255 instead of the exit status it has received."""
    connections = list(connections)
    waits = [
        asyncio.ensure_future(chan.wait_closed()) for conn in connections for chan in closing_channels(conn)
    ]
    if waits:
        _done, pending = await asyncio.wait(waits, timeout=timeout)
        for wait in pending:
            wait.cancel()
    for conn in connections:
        conn.close()
