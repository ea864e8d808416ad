"""SQL only: the schema, the engine, migrations, and one module of queries per area of data."""

from .ddl import SCHEMA_FILE
from .engine import Database, failure_reason, is_mysql, utcnow
from .schema import (
    audit_log,
    history,
    metadata,
    reads,
    schema_versions,
    ssh_keys,
    statuses,
    tickets,
    users,
)

__all__ = [
    "SCHEMA_FILE",
    "Database",
    "audit_log",
    "failure_reason",
    "history",
    "is_mysql",
    "metadata",
    "reads",
    "schema_versions",
    "ssh_keys",
    "statuses",
    "tickets",
    "users",
    "utcnow",
]
