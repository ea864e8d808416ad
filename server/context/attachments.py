"""Attachments: the ticket folders a user sees, uploads streamed in blocks, downloads."""

from __future__ import annotations

import asyncio
import hashlib
import shlex
import unicodedata
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..audit import AuditEvent
from ..domain.access import Access
from ..domain.models import Action, Attachment, Ticket
from ..errors import NotFound, ServiceRestarting, ValidationError
from ..i18n import _
from ..store import Database, accounts, utcnow
from ..store import attachments as store

if TYPE_CHECKING:
    from .session import SessionContext

NAME_MAX = 120
# An upload still incomplete this long after it began was cut by a server that stopped (another
# front end's uploads in progress are younger): swept at start-up.
STALE_UPLOAD = timedelta(hours=1)
# Bytes of a text file read in the console (the rest is for scp).
TEXT_SHOWN_MAX = 256 * 1024
# Leading bytes of the kinds a helpdesk sees most, checked before "UTF-8 text".
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
)


def attachment_of(row) -> Attachment:
    return Attachment(
        int(row.id),
        int(row.ticket_id),
        row.nom,
        int(row.taille),
        row.sha256,
        row.type_contenu,
        row.auteur_nom,
        row.created_at,
    )


def clean_name(name: str) -> str:
    """NFC, no control characters, at most NAME_MAX characters; refused if nothing is left."""
    text = unicodedata.normalize("NFC", name)
    text = "".join(c for c in text if not unicodedata.category(c).startswith("C")).strip()
    if "/" in text or "\\" in text or text in {"", ".", ".."}:
        raise ValidationError(_("Nom de fichier invalide."))
    if len(text) > NAME_MAX:
        stem, dot, ext = text.rpartition(".")
        text = stem[: NAME_MAX - len(ext) - 1] + "." + ext if dot and 0 < len(ext) <= 10 else text[:NAME_MAX]
    return text


def detected_kind(head: bytes) -> str:
    for signature, kind in SIGNATURES:
        if head.startswith(signature):
            return kind
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A character cut at the end of the sample is still text.
        if exc.start < len(head) - 3:
            return "application/octet-stream"
    return "text/plain"


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name (2).ext`, `(3)`… when the ticket has one of that name already."""
    if name not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    n = 2
    while True:
        candidate = f"{stem} ({n})" + (f".{ext}" if ext else "")
        if candidate not in taken and len(candidate) <= NAME_MAX + 8:
            return candidate
        n += 1


def too_big(limit: int) -> ValidationError:
    return ValidationError(
        _("Fichier refusé : la limite de {n} Mio est dépassée.").format(n=limit // (1024 * 1024))
    )


async def sweep_unfinished(db: Database) -> int:
    """Delete the rows of uploads a stopped server left incomplete; how many there were."""
    before = utcnow() - STALE_UPLOAD
    return await db.write(lambda conn: store.discard_incomplete(conn, before))


def shell_word(text: str) -> str:
    """`text` as one word for a POSIX shell, and for Windows' shells where it can be."""
    if all(c.isalnum() or c in "@%+=:,./_-" for c in text):
        return text
    if not any(c in text for c in '"$`\\!'):
        return f'"{text}"'  # double quotes: bash, zsh, cmd.exe and PowerShell alike
    return shlex.quote(text)


def ticket_full(limit: int) -> ValidationError:
    return ValidationError(
        _("Fichier refusé : les pièces jointes de ce ticket dépasseraient la limite de {n} Mio.").format(
            n=limit // (1024 * 1024)
        )
    )


class Attachments:
    """Who sees which ticket folder, and its files; uploads in blocks, committed when complete."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    def fetch_command(self, item: Attachment) -> str:
        """The scp command that brings `item` to the current folder, for this user."""
        address = self.ctx.services.files_address
        host = f"[{address.host}]" if ":" in address.host else address.host
        email = self.ctx.user.email if self.ctx.user else "EMAIL"
        port = "" if address.port == 22 else f"-P {address.port} "
        return f"scp {port}{shell_word(f'{email}@{host}:{item.ticket_id}/{item.name}')} ."

    async def folders(self) -> list[int]:
        """Ids of the tickets the user may see, by id."""
        ctx = self.ctx
        user = ctx.require(Access.CREATE_TICKET)
        async with ctx.db.transaction() as conn:
            rows = await store.ticket_authors(conn, None if ctx.allowed(Access.LIST_ALL) else user.id)
        return [ticket_id for ticket_id, author in rows if ctx.allowed(Access.VIEW_TICKET, author)]

    async def _visible(self, conn, ticket_id: int) -> None:
        author = await store.ticket_author(conn, ticket_id)
        self.ctx.require(Access.VIEW_TICKET, author)
        if author is None:
            raise NotFound()

    async def attachments(self, ticket_id: int) -> list[Attachment]:
        async with self.ctx.db.transaction() as conn:
            await self._visible(conn, ticket_id)
            return [attachment_of(r) for r in await store.of_ticket(conn, ticket_id)]

    async def attachment(self, ticket_id: int, name: str) -> Attachment | None:
        async with self.ctx.db.transaction() as conn:
            await self._visible(conn, ticket_id)
            row = await store.by_name(conn, ticket_id, name)
        return attachment_of(row) if row else None

    async def delete(self, ticket_id: int, attachment_id: int) -> Ticket:
        """Delete one of the ticket's files (admins), with its history entry and audit line; the
        ticket as it now is."""
        ctx = self.ctx
        now = utcnow()

        async def steps(conn, row) -> str:
            found = await store.by_id(conn, ticket_id, attachment_id)
            if found is None:
                raise ValidationError(_("Cette pièce jointe n'existe plus."))
            await store.discard(conn, attachment_id)
            await ctx._write_history(conn, ticket_id, Action.ATTACHMENT_DELETED, None, None, found.nom, now)
            await ctx.audit(
                conn,
                AuditEvent.ADMIN_ACTION,
                f"attachment deleted ticket={ticket_id} id={attachment_id} size={found.taille}",
            )
            return found.nom

        ticket, _name = await ctx.tickets.changed(ticket_id, Access.DELETE_ATTACHMENT, steps)
        ctx.log("attachment deleted ticket=%s id=%s", ticket_id, attachment_id)
        return ticket

    async def read_text(self, ticket_id: int, attachment_id: int) -> tuple[Attachment, str, bool]:
        """A text attachment's beginning (TEXT_SHOWN_MAX bytes) as text, for the console; and
        whether there is more. Line ends are made `\n`; bytes that are not UTF-8 show as �."""
        async with self.ctx.db.transaction() as conn:
            await self._visible(conn, ticket_id)
            row = await store.by_id(conn, ticket_id, attachment_id)
            if row is None:
                raise ValidationError(_("Cette pièce jointe n'existe plus."))
            item = attachment_of(row)
            if item.kind != "text/plain":
                raise ValidationError(
                    _("Seuls les fichiers texte se lisent ici : ramenez les autres avec scp.")
                )
            data = bytearray()
            for number in range(-(-min(item.size, TEXT_SHOWN_MAX) // store.BLOCK_SIZE)):
                data += await store.block(conn, item.id, number) or b""
        more = item.size > TEXT_SHOWN_MAX
        text = bytes(data[:TEXT_SHOWN_MAX]).decode("utf-8", "replace")
        if more:
            text = text.rstrip("\ufffd")  # a character cut by the bound
        return item, text.replace("\r\n", "\n").replace("\r", "\n"), more

    async def download(self, ticket_id: int, name: str) -> Download:
        found = await self.attachment(ticket_id, name)
        if found is None:
            raise ValidationError(_("Fichier introuvable."))
        return Download(self.ctx, found)

    async def upload(self, ticket_id: int, name: str) -> Upload:
        """An upload begun: nothing is visible until `finish`; `abort` leaves nothing."""
        ctx = self.ctx
        name = clean_name(name)
        limits = ctx.services.attachment_limits
        now = utcnow()

        async def begin(conn) -> int:
            await self._visible(conn, ticket_id)
            user = ctx.require(Access.REPLY, await store.ticket_author(conn, ticket_id))
            if await store.ticket_total(conn, ticket_id) >= limits.max_ticket:
                raise ticket_full(limits.max_ticket)
            day = now.replace(hour=0, minute=0, second=0, microsecond=0)
            if await store.user_total_since(conn, user.id, day) >= limits.max_user_day:
                raise ValidationError(_("Fichier refusé : votre limite d'envoi du jour est atteinte."))
            return await store.begin(conn, ticket_id, name, user.id, user.name, now)

        piece_id = await ctx.db.write(begin)
        return Upload(self, ticket_id, piece_id, name, now)


class Upload:
    """One file arriving in order; stored block by block, shown only once finished."""

    def __init__(self, area: Attachments, ticket_id: int, piece_id: int, name: str, now: datetime) -> None:
        self.area, self.ctx = area, area.ctx
        self.ticket_id, self.piece_id, self.name, self.started = ticket_id, piece_id, name, now
        self.uploader_id = area.ctx.user.id if area.ctx.user else 0
        self.size = 0
        self.blocks = 0
        self.digest = hashlib.sha256()
        self.head = b""
        self.pending = bytearray()
        # The refusal that stopped this upload, said again when the client closes the file.
        self.failed: ValidationError | None = None
        self.done = False
        # A block being stored, and the abort that discards them all, one after the other.
        self._storing = asyncio.Lock()

    async def write(self, offset: int, data: bytes) -> None:
        async with self._storing:
            if self.done:  # aborted meanwhile (a shutdown, the connection cut)
                raise ServiceRestarting()
            await self._write(offset, data)

    async def _write(self, offset: int, data: bytes) -> None:
        limits = self.ctx.services.attachment_limits
        if offset != self.size:
            self.failed = ValidationError(
                _("Fichier refusé : il doit être envoyé d'un bout à l'autre, dans l'ordre.")
            )
            raise self.failed
        if self.size + len(data) > limits.max_file:
            self.failed = too_big(limits.max_file)
            raise self.failed
        self.size += len(data)
        self.digest.update(data)
        if len(self.head) < 4096:
            self.head += data[: 4096 - len(self.head)]
        self.pending += data
        while len(self.pending) >= store.BLOCK_SIZE:
            await self._flush(bytes(self.pending[: store.BLOCK_SIZE]))
            del self.pending[: store.BLOCK_SIZE]

    async def _flush(self, data: bytes) -> None:
        number = self.blocks
        await self.ctx.db.write(lambda conn: store.add_block(conn, self.piece_id, number, data))
        self.blocks += 1

    async def finish(self) -> Attachment:
        """Complete: checked against the ticket's and the day's limits, named, in the history."""
        if self.failed is not None:
            await self.abort()
            raise self.failed
        async with self._storing:
            if self.done:
                raise ServiceRestarting()
            if self.pending:
                await self._flush(bytes(self.pending))
                self.pending.clear()
        ctx, limits = self.ctx, self.ctx.services.attachment_limits

        async def complete(conn) -> str:
            # The uploader's and the ticket's rows locked before any plain read: uploads that
            # finish at once are counted one after the other (MariaDB's snapshot begins at the
            # first plain read, after the lock is granted).
            await accounts.by_id(conn, self.uploader_id, lock=True)
            await store.ticket_author(conn, self.ticket_id, lock=True)
            await self.area._visible(conn, self.ticket_id)
            user = ctx.require(Access.REPLY, await store.ticket_author(conn, self.ticket_id))
            # The totals count this upload already (its row holds size 0 until now).
            if await store.ticket_total(conn, self.ticket_id) + self.size > limits.max_ticket:
                raise ticket_full(limits.max_ticket)
            day = self.started.replace(hour=0, minute=0, second=0, microsecond=0)
            if await store.user_total_since(conn, user.id, day) + self.size > limits.max_user_day:
                raise ValidationError(_("Fichier refusé : votre limite d'envoi du jour est atteinte."))
            name = unique_name(self.name, await store.names(conn, self.ticket_id))
            kind = detected_kind(self.head)
            if not await store.finish(conn, self.piece_id, name, self.size, self.digest.hexdigest(), kind):
                raise NotFound()
            await ctx._write_history(conn, self.ticket_id, Action.ATTACHED, None, None, name, utcnow())
            return name

        try:
            self.name = await ctx.write(complete)
        except Exception:
            await self.abort()
            raise
        self.done = True
        ctx.log("attachment added ticket=%s size=%s", self.ticket_id, self.size)
        return Attachment(
            self.piece_id,
            self.ticket_id,
            self.name,
            self.size,
            self.digest.hexdigest(),
            detected_kind(self.head),
            ctx.user.name if ctx.user else "",
            self.started,
        )

    async def abort(self) -> None:
        """The upload stopped: its row and blocks go (during a shutdown too)."""
        if self.done:
            return
        self.done = True
        async with self._storing:
            await self.ctx.db.write(lambda conn: store.discard(conn, self.piece_id), undo=True)
        self.ctx.log("attachment upload abandoned ticket=%s at=%s", self.ticket_id, self.size)


class Download:
    """One attachment read by offset, one block fetched at a time."""

    def __init__(self, ctx: SessionContext, attachment: Attachment) -> None:
        self.ctx, self.attachment = ctx, attachment
        self._number = -1
        self._block = b""

    async def read(self, offset: int, size: int) -> bytes:
        out = bytearray()
        end = min(offset + size, self.attachment.size)
        while offset < end:
            number, start = divmod(offset, store.BLOCK_SIZE)
            if number != self._number:
                async with self.ctx.db.transaction() as conn:
                    data = await store.block(conn, self.attachment.id, number)
                self._number, self._block = number, data or b""
                if not self._block:
                    break
            piece = self._block[start : start + end - offset]
            out += piece
            offset += len(piece)
        return bytes(out)
