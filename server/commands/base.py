"""What every command shares: its input and output, its options, its errors and exit codes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Protocol

from ..domain.text import safe_text
from ..i18n import _

# Exit statuses, stable for scripts.
OK = 0
USAGE = 1
REFUSED = 2  # not found or not allowed: one answer for both
UNAVAILABLE = 3  # the database cannot be reached now: try again


class CommandError(Exception):
    """A command refused: one sentence for stderr, and the exit status."""

    def __init__(self, message: str, status: int = USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class CommandIO(Protocol):
    """The exec channel as a command sees it."""

    is_tty: bool

    def out(self, text: str) -> None: ...

    async def drain(self) -> None: ...

    async def read_stdin(self) -> str: ...

    async def stream_stdin(self) -> AsyncIterator[bytes]: ...


def usage_error(usage: str) -> CommandError:
    """A command line not of its command's shape: « Usage : » and the usage line (every
    command's, written once here)."""
    return CommandError(_("Usage : {usage}").format(usage=usage))


def invalid_value(value: str, usage: str) -> CommandError:
    """A value its option or word does not take (a status, a sort, a limit)."""
    return CommandError(
        _("Valeur invalide : {value}. Usage : {usage}").format(value=safe_text(value), usage=usage)
    )


def parse(
    args: Sequence[str],
    usage: str,
    *,
    flags: frozenset[str] = frozenset(),
    options: frozenset[str] = frozenset(),
    texts: frozenset[str] = frozenset(),
    words: tuple[int, int | None] = (0, 0),
    required: frozenset[str] = frozenset(),
    exclusive: frozenset[str] = frozenset(),
) -> tuple[dict[str, str | bool], list[str]]:
    """Options and positional words, checked against the command's shape: between `words[0]`
    and `words[1]` (None: no limit) positional words, every `required` option given, at most
    one of the `exclusive` flags; else « Usage : … ». A text option (`--title`, `--search`)
    takes every word up to the next option, so that `--title Imprimante bloquée` needs no
    quoting over ssh."""
    found: dict[str, str | bool] = {}
    positional: list[str] = []
    given = list(args)
    i = 0
    while i < len(given):
        word = given[i]
        if word.startswith("--"):
            if word in flags:
                found[word] = True
            elif word in options or word in texts:
                value: list[str] = []
                while i + 1 < len(given) and not given[i + 1].startswith("--"):
                    value.append(given[i + 1])
                    i += 1
                    if word in options:
                        break
                if not value:
                    raise CommandError(
                        _("L'option {option} attend une valeur. Usage : {usage}").format(
                            option=word, usage=usage
                        )
                    )
                found[word] = unquote(" ".join(value))
            else:
                raise CommandError(
                    _("Option inconnue : {option}. Usage : {usage}").format(
                        option=safe_text(word), usage=usage
                    )
                )
        else:
            positional.append(word)
        i += 1
    least, most = words
    if len(positional) < least or (most is not None and len(positional) > most):
        raise usage_error(usage)
    if not required <= found.keys() or len(exclusive & found.keys()) > 1:
        raise usage_error(usage)
    return found, positional


def unquote(text: str) -> str:
    """`"En cours"` sent with its quotes (quoted twice by the caller's shell) means En cours."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def ticket_number(word: str, usage: str) -> int:
    # str.isdigit() holds for ², ١ and the like, which int() refuses or reads as another number.
    if not (word.isascii() and word.isdigit()) or len(word) > 9:
        raise CommandError(
            _("Numéro de ticket invalide : {word}. Usage : {usage}").format(word=safe_text(word), usage=usage)
        )
    return int(word)


def iso(moment: datetime | None) -> str | None:
    """A stored moment (UTC) as ISO 8601 with its offset."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def shown_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def to_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def csv_lines(rows: Sequence[Sequence[object]]) -> str:
    """RFC 4180: comma-separated, quoted when needed, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return buffer.getvalue()


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: columns padded with spaces, untrusted text sanitised, no colour."""
    cells = [[safe_text("" if v is None else str(v)) for v in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines) + "\n"
