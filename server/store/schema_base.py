"""What every table of the schema shares: the one `metadata`, MariaDB's table options, the
record of the versions applied."""

from __future__ import annotations

import sqlalchemy as sa

# Every MariaDB table is InnoDB in utf8mb4, whatever the server's or the database's default.
MYSQL_TABLE = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

metadata = sa.MetaData()

# Versions of this schema applied to the database (`python -m server init-db` reads it).
schema_versions = sa.Table(
    "version_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
    **MYSQL_TABLE,
)
