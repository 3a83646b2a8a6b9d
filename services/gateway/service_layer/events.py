"""Payment events for merchants: a gap-free, resumable stream ordered by sequence.

Writers take a per-merchant lock when they add an event and keep it to commit, so a
merchant's sequence numbers are handed out in commit order: resuming after a number never
skips an event that was still being written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gateway.adapters.repository import PaymentEvent
from gateway.domain.model import Payment
from gateway.domain.refunds import Refund
from gateway.service_layer.unit_of_work import UnitOfWorkFactory


async def watch(
    uow: UnitOfWorkFactory, merchant_id: str, after: int, poll_seconds: float = 0.2
) -> AsyncIterator[tuple[PaymentEvent, Payment | None, Refund | None]]:
    position = after
    while True:
        async with uow() as work:
            events = await work.repo.events_after(merchant_id, position, 200)
            loaded = []
            for event in events:
                payment = await work.repo.get(event.payment_id)
                refund = await work.repo.get_refund(event.refund_id) if event.refund_id else None
                loaded.append((event, payment, refund))
        for event, payment, refund in loaded:
            position = event.sequence
            yield event, payment, refund
        if len(events) < 200:
            await asyncio.sleep(poll_seconds)
