"""Small writes committed together: one transaction for every one queued meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import DatabaseUnavailable

Work = Callable[[AsyncConnection], Awaitable[Any]]
Begin = Callable[[], Any]

# Writes in one transaction at most: a batch stays a few hundred statements.
BATCH = 200


class Together:
    """Writes that only write (an audit row, a login's counters) run in one transaction with
    every other one that arrived while the previous batch was being committed.

    Why: on SQLite writers take turns, and under a burst of logins the event loop is so busy
    that one write holds its turn 35–60 ms (its round trips to the driver's thread wait for the
    loop), measured with 600 sessions opening at once: about 25 logins a second, while they
    arrived faster, so the queue grew until writers waited past `database.lock_timeout` and
    hundreds of logins failed. A batch costs one turn and one commit however many it holds, so
    what the queue carries grows with the queue. A job that fails on its own (not the database:
    an integrity error) makes the batch roll back; each is then run alone, so no job ever fails
    because of another.
    """

    def __init__(self, begin: Begin) -> None:
        # `begin()`: a write transaction's context manager (Database.transaction(write=True)).
        self._begin = begin
        self._pending: list[tuple[Work, asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def run(self, work: Work) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Work, asyncio.Future]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                await self._commit(batch)
        except BaseException as exc:
            # Cancelled with the loop: nobody may wait for a batch that will never run.
            for _, future in batch + self._pending:
                _settle(future, exception=DatabaseUnavailable(reason=type(exc).__name__))
            self._pending = []
            raise
        finally:
            self._task = None

    async def _commit(self, batch: list[tuple[Work, asyncio.Future]]) -> None:
        try:
            async with self._begin() as conn:
                results = [await work(conn) for work, _ in batch]
        except DatabaseUnavailable as exc:
            # The database refused the whole transaction: each would have met it alone.
            for _, future in batch:
                _settle(future, exception=DatabaseUnavailable(reason=exc.reason))
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exception=exc)
                return
            for job in batch:
                await self._commit([job])
        else:
            for (_, future), result in zip(batch, results, strict=True):
                _settle(future, result=result)


def _settle(future: asyncio.Future, *, result: Any = None, exception: BaseException | None = None) -> None:
    if future.done():
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)
