"""Attachments over SFTP and SCP: one folder per ticket the user may see, files inside.

Only two things are possible: create a file in a ticket's folder, read one. Everything else
(folders, renames, links, permissions, removal) is refused; paths never leave the tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
import stat
import time

import asyncssh
from asyncssh.sftp import FXF_READ, FXF_WRITE
from prompt_toolkit.contrib.ssh import PromptToolkitSSHSession

from ..domain.text import loggable
from ..errors import NotFound, UserError
from ..i18n import N_, _, speaking

log = logging.getLogger("support.sftp")

READ_ONLY = N_("Seul l'envoi de fichiers dans le dossier d'un ticket est permis.")
NO_SUCH = N_("Ticket ou fichier introuvable.")


def _parts(path: bytes) -> list[str]:
    """The path's parts in the tree; `..` refused (there is nowhere to go up to)."""
    text = path.decode("utf-8", "replace")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise asyncssh.SFTPPermissionDenied(_(READ_ONLY))
    return parts


def _ticket_id(part: str) -> int:
    if not (part.isascii() and part.isdigit()) or len(part) > 9:
        raise asyncssh.SFTPNoSuchFile(_(NO_SUCH))
    return int(part)


def _dir_attrs() -> asyncssh.SFTPAttrs:
    return asyncssh.SFTPAttrs(type=asyncssh.FILEXFER_TYPE_DIRECTORY, permissions=stat.S_IFDIR | 0o750, size=0)


def _file_attrs(size: int, when) -> asyncssh.SFTPAttrs:
    stamp = int(when.timestamp()) if when is not None else int(time.time())
    return asyncssh.SFTPAttrs(
        type=asyncssh.FILEXFER_TYPE_REGULAR,
        permissions=stat.S_IFREG | 0o640,
        size=size,
        atime=stamp,
        mtime=stamp,
    )


class InputEnd:
    """Whether the client's side of a channel has ended (EOF, channel or connection lost), as
    the session's own callbacks (eof_received, connection_lost) tell it."""

    def __init__(self) -> None:
        self.reached = False


class TicketFiles(asyncssh.SFTPServer):
    """The tree of one connected user (their SessionContext)."""

    def __init__(self, chan: asyncssh.SSHServerChannel, ctx, end: InputEnd | None = None) -> None:
        super().__init__(chan)
        self.ctx = ctx
        self.end = end or InputEnd()
        self.uploads: set = set()
        self.stopping = False

    async def _call(self, work):
        # asyncssh runs the requests in the connection's context: the messages are in the
        # account's language, or the one the client sent (SendEnv LANG).
        with speaking(self.ctx.language):
            return await self._answer(work)

    async def _answer(self, work):
        try:
            return await work
        except NotFound:
            raise asyncssh.SFTPNoSuchFile(_(NO_SUCH)) from None
        except UserError as exc:
            raise asyncssh.SFTPFailure(exc.message) from None
        except asyncssh.SFTPError:
            raise
        except Exception:
            log.exception("addr=%s sftp request failed", self.ctx.address)
            raise asyncssh.SFTPFailure(_("L'action n'a pas pu aboutir.")) from None

    # Names and attributes ------------------------------------------------------------------

    def realpath(self, path: bytes) -> bytes:
        text = posixpath.normpath("/" + path.decode("utf-8", "replace"))
        return ("/" + text.lstrip("/")).encode("utf-8")

    async def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        parts = _parts(path)
        if not parts:
            return _dir_attrs()
        ticket_id = _ticket_id(parts[0])
        if len(parts) == 1:
            await self._call(self.ctx.files.attachments(ticket_id))
            return _dir_attrs()
        if len(parts) == 2:
            found = await self._call(self.ctx.files.attachment(ticket_id, parts[1]))
            if found is not None:
                return _file_attrs(found.size, found.created_at)
        raise asyncssh.SFTPNoSuchFile(_(NO_SUCH))

    lstat = stat

    async def scandir(self, path: bytes):
        parts = _parts(path)
        if not parts:
            for ticket_id in await self._call(self.ctx.files.folders()):
                name = str(ticket_id)
                yield asyncssh.SFTPName(name.encode(), f"drwxr-x---   {name}".encode(), _dir_attrs())
            return
        if len(parts) != 1:
            raise asyncssh.SFTPNoSuchFile(_(NO_SUCH))
        for item in await self._call(self.ctx.files.attachments(_ticket_id(parts[0]))):
            attrs = _file_attrs(item.size, item.created_at)
            line = f"-rw-r-----   {item.size:>10}  {item.name}"
            yield asyncssh.SFTPName(item.name.encode("utf-8"), line.encode("utf-8"), attrs)

    # Files ----------------------------------------------------------------------------------

    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs):
        parts = _parts(path)
        if len(parts) != 2:
            if pflags & FXF_WRITE:
                raise asyncssh.SFTPPermissionDenied(_(READ_ONLY))
            raise asyncssh.SFTPNoSuchFile(_(NO_SUCH))
        ticket_id = _ticket_id(parts[0])
        if pflags & FXF_WRITE:
            if pflags & FXF_READ:
                raise asyncssh.SFTPPermissionDenied(_(READ_ONLY))
            upload = await self._call(self.ctx.files.upload(ticket_id, parts[1]))
            self.uploads.add(upload)
            self.ctx.log("sftp upload begun ticket=%s name=%s", ticket_id, loggable(parts[1]))
            return upload
        return await self._call(self.ctx.files.download(ticket_id, parts[1]))

    async def read(self, file_obj, offset: int, size: int) -> bytes:
        if not hasattr(file_obj, "read"):
            raise asyncssh.SFTPPermissionDenied(_(READ_ONLY))
        return await self._call(file_obj.read(offset, size))

    async def write(self, file_obj, offset: int, data: bytes) -> int:
        if not hasattr(file_obj, "finish"):
            raise asyncssh.SFTPPermissionDenied(_(READ_ONLY))
        await self._call(file_obj.write(offset, data))
        return len(data)

    async def close(self, file_obj) -> None:
        if not hasattr(file_obj, "finish"):
            return
        self.uploads.discard(file_obj)
        # A file still open when the channel goes (client killed, connection cut) is unfinished.
        if self._cut():
            await asyncio.shield(file_obj.abort())
            return
        await self._call(file_obj.finish())

    def _cut(self) -> bool:
        """Whether the client has stopped sending (EOF, connection lost): then asyncssh closes
        the files left open itself, and those are not finished uploads. A client closes its
        file and waits for the answer before it ends its input (OpenSSH, PuTTY)."""
        return self.end.reached or self.stopping or self.channel.is_closing()

    async def stop(self, text: str) -> None:
        """A shutdown: `text` on the client's stderr, the uploads under way discarded, then the
        channel closed with exit status 3 (try again), as a command is; the close exchange is
        the shutdown's to wait for (closing.py)."""
        if self.channel.is_closing():
            return
        self.stopping = True
        with contextlib.suppress(asyncssh.Error, OSError):
            self.channel.write_stderr((text + "\n").encode("utf-8"))
        for upload in list(self.uploads):
            await asyncio.shield(upload.abort())
        with contextlib.suppress(asyncssh.Error, OSError):
            self.channel.exit(3)

    async def fstat(self, file_obj) -> asyncssh.SFTPAttrs:
        if hasattr(file_obj, "attachment"):
            return _file_attrs(file_obj.attachment.size, file_obj.attachment.created_at)
        return _file_attrs(file_obj.size, None)

    def fsetstat(self, file_obj, attrs: asyncssh.SFTPAttrs) -> None:
        # Times and modes a client sends after an upload (scp -p): nothing to keep.
        return None

    async def exit(self) -> None:
        for upload in list(self.uploads):
            await asyncio.shield(upload.abort())
        self.uploads.clear()
        # asyncssh's SFTP server ends without an exit status: OpenSSH's scp would report 1.
        if self.channel.get_subsystem() == "sftp" and not self.channel.is_closing():
            self.channel.exit(0)

    # Everything else is refused --------------------------------------------------------------

    def _refuse(self, *args, **kwargs):
        raise asyncssh.SFTPPermissionDenied(_(READ_ONLY))

    setstat = lsetstat = mkdir = rmdir = remove = rename = posix_rename = _refuse
    symlink = link = readlink = _refuse


class FilesOrConsole:
    """One session channel: the console application, or the file tree (sftp, scp) when asked.

    Which one is known only from the channel's first request (shell, exec "scp …", subsystem).
    """

    def __init__(
        self,
        console: PromptToolkitSSHSession,
        files: asyncssh.SSHServerStreamSession | None,
        end: InputEnd | None = None,
    ) -> None:
        self.console = console
        self.files = files
        # Told first when the client's input ends, before the file tree sees it: files still
        # open then are cut uploads.
        self.end = end or InputEnd()
        self.chosen = None
        self.chan = None
        # The file tree once the client has asked for it (sftp, scp).
        self.tree: TicketFiles | None = None

    def opened(self, tree: TicketFiles) -> TicketFiles:
        self.tree = tree
        return tree

    def eof_received(self):
        self.end.reached = True
        return (self.chosen or self.console).eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.end.reached = True
        (self.chosen or self.console).connection_lost(exc)

    def connection_made(self, chan) -> None:
        self.chan = chan
        self.console.connection_made(chan)
        if self.files is not None:
            self.files.connection_made(chan)

    def pty_requested(self, *args) -> bool:
        return self.console.pty_requested(*args)

    def shell_requested(self) -> bool:
        self.chosen = self.console
        return self.console.shell_requested()

    def exec_requested(self, command: str) -> bool:
        if self.files is not None and command.startswith("scp "):
            self.chosen = self.files
            return self.files.exec_requested(command)
        self.chosen = self.console
        return self.console.exec_requested(command)

    def subsystem_requested(self, subsystem: str) -> bool:
        if subsystem == "sftp" and self.files is not None:
            self.chosen = self.files
            return True
        return False

    def __getattr__(self, name: str):
        return getattr(self.chosen or self.console, name)
