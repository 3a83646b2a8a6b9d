"""Whether an error is the database going away (a restart, a failover, a cut connection):
the call can be retried, so it is answered UNAVAILABLE, not INTERNAL."""

from __future__ import annotations

import asyncpg
from asyncpg.exceptions import OperatorInterventionError

# Connection lost or refused, or the server shutting down or not yet accepting connections.
_LOST = (asyncpg.PostgresConnectionError, OperatorInterventionError, ConnectionError)


def lost_database(error: BaseException) -> bool:
    """The error, or one it was raised from (SQLAlchemy wraps the driver's), is a lost or
    refused database connection."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _LOST):
            return True
        if isinstance(current, asyncpg.InterfaceError) and "closed" in str(current):
            return True
        if isinstance(current, OSError) and _raised_in_driver(current):
            return True  # a unix socket gone while the server restarts, say
        current = current.__cause__ or current.__context__
    return False


def _raised_in_driver(error: BaseException) -> bool:
    """The error came up through asyncpg (its connect), not from our own code's files."""
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_globals.get("__name__", "").startswith("asyncpg"):
            return True
        frame = frame.tb_next
    return False
