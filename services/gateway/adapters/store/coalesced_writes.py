"""The payment path's two writes, coalesced across concurrent payments: the records (and the
answers) that arrive while one statement is in flight go together in the next, one round
trip and one commit for them all, and none waits when the line is idle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.adapters.store.payment_batches import (
    AnswerWrite,
    NewPayment,
    apply_many,
    record_many,
)
from gateway.adapters.store.payments import Applied, Recorded
from paysuite.coalescing import Coalescer

# Items a statement carries at most; more wait for the next one.
MAX_BATCH = 64


class CoalescedPaymentWrites:
    """Records new payments and applies channels' answers, each kind one statement at a time
    on a connection of the pool."""

    def __init__(self, pool: Any, *, max_batch: int = MAX_BATCH) -> None:
        self._pool = pool
        self._records = Coalescer(self._record_batch, max_batch=max_batch)
        self._answers = Coalescer(self._apply_batch, max_batch=max_batch)

    async def record(self, item: NewPayment) -> Recorded:
        return await self._records.submit(item)

    async def apply(self, item: AnswerWrite) -> Applied:
        return await self._answers.submit(item)

    async def _record_batch(self, items: Sequence[NewPayment]) -> list[Recorded]:
        async with self._pool.acquire() as conn:
            return await record_many(conn, items)

    async def _apply_batch(self, items: Sequence[AnswerWrite]) -> list[Applied]:
        async with self._pool.acquire() as conn:
            return await apply_many(conn, items)
