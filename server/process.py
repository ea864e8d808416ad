"""The process's own set-up before it serves: its open-files limit and its log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource

from .config import ConfigError, Settings

# Descriptors the service needs besides one per connection and one per pooled database
# connection: the listener, the log, the host key, SQLite's files, the event loop's own.
RESERVED_DESCRIPTORS = 100


def raise_descriptor_limit(settings: Settings) -> int:
    """Raise the soft limit on open files to the hard one; refuse a limit that cannot hold
    `ssh.max_connections` (each connection is one socket, nothing more)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    database = settings.database
    need = settings.ssh.max_connections + database.pool_size + database.max_overflow + RESERVED_DESCRIPTORS
    target = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if soft != target:
        # An unlimited hard limit (macOS) or one above the kernel's nr_open cannot be taken
        # as is: the soft limit then stays, and the check below says whether it is enough.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft != resource.RLIM_INFINITY and need > soft:
        raise ConfigError(
            f"ssh.max_connections {settings.ssh.max_connections} demande {need} descripteurs de "
            f"fichiers, la limite de ce processus est {soft} : augmentez-la (ulimit -n, "
            "LimitNOFILE= pour systemd) ou baissez ssh.max_connections"
        )
    return soft


def setup_logging(level: str, worker: int | None = None) -> None:
    """One line per event; a worker process of ssh.workers says which it is (worker=N)."""
    tag = f"worker={worker} " if worker is not None else ""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s %(levelname)s %(name)s {tag}%(message)s",
        force=True,
    )
    # asyncssh's own per-packet chatter would drown our one-line-per-event log.
    logging.getLogger("asyncssh").setLevel(logging.WARNING)


def log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """An error no task awaited (a screen's drawing, say): one log event, nothing on any terminal."""
    exc = context.get("exception")
    logging.getLogger("support.app").error("unexpected error: %s", context.get("message"), exc_info=exc)
