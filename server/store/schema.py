"""The schema, written once: every table, column, key and index, for SQLite and MariaDB alike.

One `metadata` (schema_base.py) holds every table; each area defines its tables in its own
module (schema_accounts, schema_catalogues, schema_tickets, schema_mail). Import tables from
here: importing this module is what puts every table in `metadata`.
"""

from __future__ import annotations

from .schema_accounts import account_events, audit_log, email_checks, reset_codes, ssh_keys, users
from .schema_base import MYSQL_TABLE, metadata, schema_versions
from .schema_catalogues import (
    CATEGORY_NAMES,
    CATEGORY_ROWS,
    STATUS_ROWS,
    canned_answers,
    categories,
    place_networks,
    places,
    statuses,
)
from .schema_mail import outbox
from .schema_tickets import attachment_blocks, attachments, history, ratings, reads, tickets

__all__ = [
    "CATEGORY_NAMES",
    "CATEGORY_ROWS",
    "MYSQL_TABLE",
    "STATUS_ROWS",
    "account_events",
    "attachment_blocks",
    "attachments",
    "audit_log",
    "canned_answers",
    "categories",
    "email_checks",
    "history",
    "metadata",
    "outbox",
    "place_networks",
    "places",
    "ratings",
    "reads",
    "reset_codes",
    "schema_versions",
    "ssh_keys",
    "statuses",
    "tickets",
    "users",
]
