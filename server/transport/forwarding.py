"""A protocol that stands in front of another one until it hands the connection over.

The PROXY-header front and the connection gate both hold the real SSH protocol back for a
moment (until a header is read, until a slot is free); once ``inner`` exists, end of input and
flow control go straight to it.
"""

from __future__ import annotations

import asyncio


class Forwarding(asyncio.Protocol):
    """Forwards end of input and flow control to ``inner`` once it exists."""

    inner: asyncio.Protocol | None = None

    def eof_received(self) -> bool | None:
        if self.inner is not None:
            return self.inner.eof_received()
        return None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()
