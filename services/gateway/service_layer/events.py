"""Payment and settlement payout events for merchants: a gap-free, resumable stream
ordered by sequence.

Changes write their events unnumbered; the sequencer numbers committed ones in the order they
were written, one run at a time, so resuming after a number never skips an event that was
still being written, and no merchant-wide lock is held while payments commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from gateway.adapters.store.events import LoadedEvent
from gateway.service_layer.unit_of_work import SessionFactory

_log = logging.getLogger(__name__)

PAGE = 200
# Events numbered per run at most; a backlog takes several runs back to back.
SEQUENCER_BATCH = 5000


class Bell(Protocol):
    """Rings when the sequencer (of any replica) numbered events."""

    def next_ring(self) -> asyncio.Event:
        """Set at the next ring: taken before reading, so a ring during the read counts."""
        ...


class EventSequencer:
    """Numbers committed events soon after it is woken (lingering so that one run numbers the
    events of concurrent payments), else every poll_seconds (for events written by processes
    that could not wake it)."""

    def __init__(
        self, session: SessionFactory, *, linger_seconds: float, poll_seconds: float = 0.5
    ) -> None:
        self._session = session
        self._poll = poll_seconds
        self._linger = linger_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def number_once(self) -> int:
        """Numbers what is pending (one statement, its own transaction); returns how many."""
        async with self._session() as stores:
            return await stores.events.number_pending(SEQUENCER_BATCH)

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                numbered = await self.number_once()
            except Exception:  # the sequencer must outlive any one failure
                _log.exception("event sequencer pass failed")
                numbered = 0
            if numbered < SEQUENCER_BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                await asyncio.sleep(self._linger)


async def watch(
    session: SessionFactory,
    bell: Bell,
    merchant_id: str,
    after: int,
    poll_seconds: float = 1.0,
) -> AsyncIterator[LoadedEvent]:
    position = after
    while True:
        ring = bell.next_ring()
        async with session() as stores:
            loaded = await stores.events.after(merchant_id, position, PAGE)
        for found in loaded:
            position = found.event.sequence
            yield found
        if len(loaded) < PAGE:
            # Rings can be missed while the listening connection is down: poll as well.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ring.wait(), poll_seconds)
