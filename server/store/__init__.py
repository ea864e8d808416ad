"""SQL only: the schema, the engine, migrations, and one module of queries per area of data.

The tables are in `store.schema`; each area's queries in its module (accounts, tickets,
history, keys, reads, audit, search, dashboard, feed), every function taking the caller's
connection.
"""

from .engine import Database, failure_reason, is_mysql, utcnow

__all__ = ["Database", "failure_reason", "is_mysql", "utcnow"]
