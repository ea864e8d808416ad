"""Mail about tickets and accounts, queued in the transaction of the event it reports.

Who is told what is decided here, once: a requester hears of replies and status changes on
their tickets (never an internal note), admins who asked for everything also hear of new
tickets and of tickets assigned to them; only a verified address receives mail, and nothing
is queued while no relay is configured. Each text is in its recipient's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import Action, HistoryEntry, Notifications, Role
from ..domain.wording import describe
from ..i18n import N_, Language, _, speaking
from ..store import accounts, outbox
from ..store import history as history_store
from ..store import tickets as tickets_store
from .resources import SessionResources

# What a requester is told of (the service's closing too); admins who chose `Tout` also of
# CREATED and of their ASSIGNED.
FOR_REQUESTER = frozenset({Action.REPLY, Action.STATUS_CHANGED, Action.REOPENED, Action.AUTO_CLOSED})
FOR_ALL = frozenset({Action.CREATED, Action.ASSIGNED, Action.CATEGORY_ASSIGNED})

SUBJECT = N_("[Support #{id}] {title}")
FOOTER = N_(
    "Pour répondre ou suivre le ticket : {command}\n"
    "(Se connecter, avec votre e-mail et votre mot de passe.)\n"
    "\n"
    "Ces courriels se règlent dans Mon compte → Notifications par e-mail."
)


@dataclass(frozen=True)
class Recipient:
    user_id: int
    name: str
    email: str
    language: str | None


def recipient_of(row) -> Recipient:
    # The language chosen in Mon compte; none chosen: French.
    return Recipient(row.id, row.nom, row.email, row.langue)


def mail_ready(row) -> bool:
    """Whether this account may receive mail at all: a verified address."""
    return bool(row.email_verifie)


async def queue(
    conn: AsyncConnection,
    resources: SessionResources,
    to: Recipient,
    subject: str,
    body: str,
    now: datetime,
    *,
    about: str = "",
    delay: int = 0,
) -> int | None:
    """Queue one message in `conn`'s transaction; None when no relay is configured."""
    if not resources.mail.enabled:
        return None
    mail_id = await outbox.enqueue(
        conn,
        user_id=to.user_id,
        to_address=to.email,
        to_name=to.name,
        subject=subject,
        body=body,
        now=now,
        about=about,
        delay=delay,
    )
    # Read by the door's write once the transaction has committed: the sender looks at once.
    conn.info["mail_queued"] = True
    return mail_id


def connect_command(resources: SessionResources) -> str:
    address = resources.files_address
    host = f"[{address.host}]" if ":" in address.host else address.host
    port = "" if address.port == 22 else f"-p {address.port} "
    return f"ssh {port}{resources.guest_user}@{host}"


def _line(entry: HistoryEntry) -> str:
    text = f"- {describe(entry)}"
    if entry.action is Action.REPLY and entry.details:
        text += "\n" + "\n".join("    " + line for line in entry.details.splitlines())
    return text


def ticket_text(
    to: Recipient, ticket_id: int, title: str, entries: list[HistoryEntry], command: str
) -> tuple[str, str]:
    """(subject, body) about one ticket, in the recipient's language."""
    with speaking(Language(to.language or "fr")):
        subject = _(SUBJECT).format(id=ticket_id, title=title)
        head = _("Bonjour {name},").format(name=to.name)
        intro = _("Du nouveau sur le ticket #{id} « {title} » :").format(id=ticket_id, title=title)
        lines = "\n".join(_line(e) for e in entries)
        body = f"{head}\n\n{intro}\n\n{lines}\n\n{_(FOOTER).format(command=command)}\n"
    return subject, body


async def ticket_event(
    conn: AsyncConnection,
    resources: SessionResources,
    ticket_id: int,
    action: Action,
    actor_id: int | None,
    internal: bool,
    now: datetime,
) -> None:
    """Queue what this new history entry means for the people of the ticket (its transaction)."""
    if not resources.mail.enabled or internal:
        return
    ticket = await tickets_store.row(conn, ticket_id)
    if ticket is None:
        return
    wanted: list = []
    if action in FOR_REQUESTER and ticket.auteur_id != actor_id:
        wanted.append(await accounts.by_id(conn, ticket.auteur_id))
    if action is Action.CREATED:
        wanted.extend(a for a in await accounts.rows_wanting_all(conn) if a.id != actor_id)
    assignee = ticket.assigne_id not in (None, actor_id, ticket.auteur_id)
    if assignee and action in FOR_REQUESTER | {Action.ASSIGNED, Action.CATEGORY_ASSIGNED}:
        # Admins who chose everything: the news of the tickets they have in hand, too.
        row = await accounts.by_id(conn, ticket.assigne_id)
        if row is not None and row.notifications == Notifications.ALL.value:
            wanted.append(row)
    for row in wanted:
        if row is None or not mail_ready(row) or row.notifications == Notifications.NONE.value:
            continue
        everything = row.notifications == Notifications.ALL.value and row.role == Role.ADMIN.value
        if (action in FOR_ALL or row.id != ticket.auteur_id) and not everything:
            continue
        kinds = FOR_REQUESTER | FOR_ALL if everything else FOR_REQUESTER
        await _about_ticket(conn, resources, recipient_of(row), ticket, kinds, now)


async def _about_ticket(
    conn: AsyncConnection, resources: SessionResources, to: Recipient, ticket, kinds: frozenset, now
) -> None:
    """One message per recipient and ticket for the events of one `group_window`: a waiting
    one is rewritten with every entry since it was queued, else a new one waits that long."""
    about = f"ticket:{ticket.id}"
    window = resources.mail.group_window
    waiting = await outbox.waiting_about(conn, to.user_id, about, now)
    since = waiting.created_at if waiting is not None else now
    # Internal notes never; the requester's own entries are not news to them.
    entries = [
        e
        for e in await history_store.since(conn, ticket.id, since, exclude_actor=to.user_id)
        if e.action in kinds
    ]
    if not entries:
        return
    subject, body = ticket_text(to, ticket.id, ticket.titre, entries, connect_command(resources))
    if waiting is not None and await outbox.extend(conn, waiting.id, subject, body):
        return
    await queue(conn, resources, to, subject, body, now, about=about, delay=window)


# Codes sent by mail ---------------------------------------------------------------------------

CODE_BODY = N_(
    "Bonjour {name},\n"
    "\n"
    "{what}\n"
    "\n"
    "    {code}\n"
    "\n"
    "Il est valable jusqu'à {until} (UTC) et ne sert qu'une fois. Si vous n'avez rien demandé, "
    "ignorez ce courriel : rien ne change sans ce code.\n"
    "\n"
    "Support technique : {command}\n"
)


def code_text(
    to: Recipient, subject: str, what: str, code: str, until: datetime, command: str
) -> tuple[str, str]:
    """(subject, body) of a message carrying a code; `subject` and `what` are N_() strings."""
    with speaking(Language(to.language or "fr")):
        body = _(CODE_BODY).format(
            name=to.name, what=_(what), code=code, until=until.strftime("%d/%m/%Y %H:%M"), command=command
        )
        return _(subject), body
