"""The audit trail: one log line and one `journal_audit` row per security-relevant event."""

from __future__ import annotations

import enum
import logging
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncConnection

from .domain.text import loggable
from .errors import Throttled
from .store import Database, utcnow
from .store import audit as audit_store

log = logging.getLogger("support.audit")


class AuditEvent(enum.StrEnum):
    """Kinds of audit events (the `journal_audit.evenement` column)."""

    LOGIN_SUCCEEDED = "connexion_reussie"
    LOGIN_FAILED = "connexion_echouee"
    LOGIN_THROTTLED = "connexion_freinee"
    ACCOUNT_CREATED = "compte_cree"
    ACCOUNT_CREATION_THROTTLED = "creation_freinee"
    PASSWORD_CHANGED = "mot_de_passe_change"
    NAME_CHANGED = "nom_change"
    KEY_ADDED = "cle_ajoutee"
    KEY_REMOVED = "cle_supprimee"
    RESET_CODE_ISSUED = "code_reinit_emis"
    RESET_FAILED = "reinit_echouee"
    RESET_THROTTLED = "reinit_freinee"
    RESET_SUCCEEDED = "reinit_reussie"
    RESET_REQUESTED = "reinit_demandee"
    EMAIL_VERIFIED = "email_verifie"
    EMAIL_CHANGED = "email_change"
    # A code sent to prove an address (Vérifier mon e-mail, Changer d'e-mail): counted, so
    # that nobody makes the service mail an address without limit.
    EMAIL_CODE_SENT = "code_email_envoye"
    EMAIL_CODE_THROTTLED = "code_email_freine"
    # Every admin action: status change, assignment, internal note, role change, deletion…
    ADMIN_ACTION = "action_admin"


def _row(event: AuditEvent, address: str, account: str, user_id: int | None, details: str) -> dict:
    return {
        "created_at": utcnow(),
        "evenement": event.value,
        "adresse": address[:64],
        "compte": account[:254],
        "utilisateur_id": user_id,
        "details": details[:500],
    }


def _log(event: AuditEvent, address: str, account: str, details: str, level: int) -> None:
    log.log(
        level,
        "event=%s addr=%s account=%s %s",
        event.value,
        address,
        loggable(account),
        loggable(details, 500),
    )


async def record_in(
    conn: AsyncConnection,
    event: AuditEvent,
    address: str,
    account: str,
    user_id: int | None = None,
    details: str = "",
    level: int = logging.INFO,
) -> None:
    """Record inside a transaction that is writing anyway: the event stands or falls with it."""
    await audit_store.insert(conn, _row(event, address, account, user_id, details))
    _log(event, address, account, details, level)


async def record(
    db: Database,
    event: AuditEvent,
    address: str,
    account: str,
    user_id: int | None = None,
    details: str = "",
    level: int = logging.INFO,
) -> None:
    """Record on its own (a failed login changes nothing else). Never pass a password here."""
    # An insert that decides nothing: committed with the others of the moment (store/together.py).
    await db.write(
        lambda conn: record_in(conn, event, address, account, user_id, details, level), together=True
    )


async def refuse_throttled(
    db: Database,
    event: AuditEvent,
    address: str,
    account: str,
    wait: int,
    user_id: int | None = None,
    *,
    why: str = "",
    error: type[Throttled] = Throttled,
) -> NoReturn:
    """A request refused for now (too many lately): recorded as a warning, then raised as `error`."""
    await record(db, event, address, account, user_id, details=f"{why}attente={wait}s", level=logging.WARNING)
    raise error(wait)
