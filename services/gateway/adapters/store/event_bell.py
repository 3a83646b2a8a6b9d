"""A bell rung by Postgres NOTIFY whenever any replica's sequencer numbered payment events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from gateway.adapters.store.events import CHANNEL

_log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0


class EventBell:
    """One LISTEN connection for the whole process; every waiter wakes on each ring. A lost
    connection (a Postgres restart) is listened on again; meanwhile waiters fall back to their
    poll, and the first ring after it wakes them all (an event may have come in between)."""

    def __init__(self) -> None:
        self._pool: Any = None
        self._connection: asyncpg.Connection | None = None
        self._rung = asyncio.Event()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False

    async def open(self, pool: Any) -> None:
        self._pool = pool
        connection = await pool.acquire()
        try:
            await connection.add_listener(CHANNEL, self._ring)
        except BaseException:
            await pool.release(connection)
            raise
        connection.add_termination_listener(self._lost)
        self._connection = connection

    def _ring(self, *_: object) -> None:
        rung, self._rung = self._rung, asyncio.Event()
        rung.set()

    def next_ring(self) -> asyncio.Event:
        return self._rung

    def _lost(self, *_: object) -> None:
        self._connection = None
        if not self._closed and self._reconnecting is None:
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        try:
            while not self._closed:
                await asyncio.sleep(RECONNECT_SECONDS)
                try:
                    await self.open(self._pool)
                except (OSError, asyncpg.PostgresError) as exc:
                    _log.warning("event listener not back yet", extra={"error": type(exc).__name__})
                    continue
                _log.info("event listener back")
                self._ring()
                return
        finally:
            self._reconnecting = None

    async def close(self, pool: Any) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await connection.remove_listener(CHANNEL, self._ring)
            await pool.release(connection)
