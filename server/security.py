"""Password hashing off the event loop (bcrypt in worker threads of its own)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import bcrypt

BCRYPT_MAX_BYTES = 72


def hash_threads(configured: int) -> int:
    """Threads for bcrypt: as configured, or every core but one, left to the event loop."""
    return configured if configured > 0 else max(1, (os.cpu_count() or 2) - 1)


class PasswordHasher:
    """bcrypt at a fixed cost, computed in worker threads of its own, never on the event loop.

    The pool is smaller than the machine: a storm of logins queues there instead of taking
    every core from the loop that draws everyone's screen.
    """

    def __init__(self, cost: int, threads: int = 0) -> None:
        self.cost = cost
        self._pool = ThreadPoolExecutor(hash_threads(threads), thread_name_prefix="bcrypt")
        # Hash compared against when the account does not exist, so that an unknown
        # e-mail costs exactly the work of a wrong password.
        self._decoy: bytes | None = None

    async def hash(self, password: str) -> str:
        data = password.encode("utf-8")
        if len(data) > BCRYPT_MAX_BYTES:
            raise ValueError("password longer than bcrypt's 72-byte limit")
        hashed = await self._run(bcrypt.hashpw, data, bcrypt.gensalt(self.cost))
        return hashed.decode("ascii")

    async def _run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def prepare(self) -> None:
        """Compute the decoy hash now, so the first unknown e-mail costs no more than the rest."""
        await self._decoy_hash()

    async def _decoy_hash(self) -> bytes:
        if self._decoy is None:
            self._decoy = (await self.hash("decoy password never matches")).encode("ascii")
        return self._decoy

    async def verify(self, password: str, hashed: str | None) -> bool:
        """True if `password` matches `hashed`; with no hash, do the same work and say no."""
        data = password.encode("utf-8")
        too_long = len(data) > BCRYPT_MAX_BYTES
        target = hashed.encode("ascii") if hashed else await self._decoy_hash()
        # bcrypt 5 refuses over-long input; spend the same time on a truncated copy, then refuse.
        ok = await self._run(bcrypt.checkpw, data[:BCRYPT_MAX_BYTES], target)
        return ok and hashed is not None and not too_long
