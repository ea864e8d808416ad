"""Idle sessions: a warning on screen shortly before the end, then the terminal closes."""

from __future__ import annotations

import asyncio
import contextvars
import logging

from ..i18n import _
from .terminal import Terminal

log = logging.getLogger("support.idle")


def idle_warning_text(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        if minutes == 1:
            return _("Sans activité, vous serez déconnecté dans 1 minute.")
        return _("Sans activité, vous serez déconnecté dans {n} minutes.").format(n=minutes)
    return _("Sans activité, vous serez déconnecté dans {n} secondes.").format(n=seconds)


def idle_closed_text(seconds: int) -> str:
    if seconds % 60 == 0:
        return _("Déconnecté après {n} min sans activité.").format(n=seconds // 60)
    return _("Déconnecté après {n} s sans activité.").format(n=seconds)


def _later(delay: float, callback) -> asyncio.TimerHandle:
    # In a context of its own: a cancelled timer stays in the event loop's queue until its
    # time (a quarter of an hour), and one made in the session's context would hold the
    # session (its application, its channel, its connection) that long after it closed. Every
    # key arms a new one. (The application draws in its own context, whichever calls it.)
    return asyncio.get_running_loop().call_later(delay, callback, context=contextvars.Context())


class IdleGuard:
    """Closes a terminal after `timeout` seconds without a key, warning `warning` seconds before.

    Any key resets it. Counting keys rather than bytes from the connection keeps it on the
    screen's side: a terminal answering queries or a resize is not the person coming back.
    """

    def __init__(self, term: Terminal, timeout: int, warning: int, address: str = "-") -> None:
        self.term = term
        self.timeout = timeout
        self.warning = warning
        self.address = address
        self.warning_text = idle_warning_text(warning)
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.term.app.key_processor.before_key_press += self._key_pressed
        self._arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.term.app.key_processor.before_key_press -= self._key_pressed

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = _later(self.timeout - self.warning, self._warn)

    def _key_pressed(self, _processor) -> None:
        if self.term.banner == self.warning_text:
            self.term.announce("")
        self._arm()

    def _warn(self) -> None:
        if not self.term.banner:  # a shutdown notice says more than this
            self.term.announce(self.warning_text)
        self._timer = _later(self.warning, self._expire)

    def _expire(self) -> None:
        self._timer = None
        log.info("addr=%s user=%s idle session closed", self.address, self.term.who or "-")
        self.term.announce(idle_closed_text(self.timeout))
        self.term.close()
