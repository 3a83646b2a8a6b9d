"""A bell rung by Postgres NOTIFY whenever any replica's sequencer numbered payment events."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from gateway.adapters.store.events import CHANNEL


class EventBell:
    """One LISTEN connection for the whole process; every waiter wakes on each ring."""

    def __init__(self) -> None:
        self._connection: asyncpg.Connection | None = None
        self._rung = asyncio.Event()

    async def open(self, pool: Any) -> None:
        self._connection = await pool.acquire()
        await self._connection.add_listener(CHANNEL, self._ring)

    def _ring(self, *_: object) -> None:
        rung, self._rung = self._rung, asyncio.Event()
        rung.set()

    def next_ring(self) -> asyncio.Event:
        return self._rung

    async def close(self, pool: Any) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.remove_listener(CHANNEL, self._ring)
            await pool.release(connection)
