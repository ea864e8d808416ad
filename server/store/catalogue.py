"""What the catalogues' rows share (categories, places, canned answers): their names locked
for a check of uniqueness, a new active row, a change of columns; `Named` gives them to one
table."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


async def names(conn: AsyncConnection, column: sa.Column) -> dict[int, str]:
    """Every row's `column` by id, locked: two admins naming alike run one after the other."""
    rows = await conn.execute(sa.select(column.table.c.id, column).with_for_update())
    return {r[0]: r[1] for r in rows}


async def insert_active(conn: AsyncConnection, table: sa.Table, name: str) -> int:
    """A new active row named `name`; its id."""
    result = await conn.execute(table.insert().values(nom=name, active=True))
    return result.inserted_primary_key[0]


async def update(conn: AsyncConnection, table: sa.Table, row_id: int, **values) -> None:
    await conn.execute(table.update().where(table.c.id == row_id).values(**values))


class Named:
    """The names, a new active row and a change of columns, for one catalogue's `table`."""

    def __init__(self, table: sa.Table, column: str = "nom") -> None:
        self.table = table
        self.column = table.c[column]

    async def names(self, conn: AsyncConnection) -> dict[int, str]:
        """Every row's name by id, locked (see `names`)."""
        return await names(conn, self.column)

    async def insert(self, conn: AsyncConnection, name: str) -> int:
        return await insert_active(conn, self.table, name)

    async def update(self, conn: AsyncConnection, row_id: int, **values) -> None:
        await update(conn, self.table, row_id, **values)
