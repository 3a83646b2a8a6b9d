"""Where merchants' event callbacks go and how far each merchant's delivery has got."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.adapters.tables import callback_cursors, merchants, payment_events


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    merchant_id: str
    url: str
    secret: str
    delivered_sequence: int
    attempts: int


class CallbackQueries:
    """Merchant callback endpoints and how far each merchant's events were delivered."""

    _conn: AsyncConnection

    async def set_callback(self, merchant_id: str, url: str, secret: str, now: datetime) -> None:
        """Sets the endpoint; delivery starts with the merchant's next event."""
        await self._conn.execute(
            update(merchants)
            .where(merchants.c.merchant_id == merchant_id)
            .values(callback_url=url, callback_secret=secret)
        )
        latest = (
            await self._conn.execute(
                select(func.coalesce(func.max(payment_events.c.sequence), 0)).where(
                    payment_events.c.merchant_id == merchant_id
                )
            )
        ).scalar_one()
        await self._conn.execute(
            insert(callback_cursors)
            .values(
                merchant_id=merchant_id,
                delivered_sequence=latest,
                attempts=0,
                next_attempt_at=now,
                last_error="",
            )
            .on_conflict_do_nothing(index_elements=["merchant_id"])
        )

    async def due_callbacks(self, now: datetime, limit: int) -> list[CallbackTarget]:
        """Merchants with undelivered events whose next attempt is due; others skip them."""
        rows = (
            await self._conn.execute(
                select(callback_cursors, merchants.c.callback_url, merchants.c.callback_secret)
                .join(merchants, merchants.c.merchant_id == callback_cursors.c.merchant_id)
                .where(
                    merchants.c.callback_url.is_not(None),
                    callback_cursors.c.next_attempt_at <= now,
                    select(payment_events.c.sequence)
                    .where(
                        payment_events.c.merchant_id == callback_cursors.c.merchant_id,
                        payment_events.c.sequence > callback_cursors.c.delivered_sequence,
                    )
                    .exists(),
                )
                .limit(limit)
                .with_for_update(of=callback_cursors, skip_locked=True)
            )
        ).all()
        return [
            CallbackTarget(
                r.merchant_id,
                r.callback_url,
                r.callback_secret or "",
                r.delivered_sequence,
                r.attempts,
            )
            for r in rows
        ]

    async def callback_delivered(self, merchant_id: str, sequence: int, now: datetime) -> None:
        await self._conn.execute(
            update(callback_cursors)
            .where(callback_cursors.c.merchant_id == merchant_id)
            .values(delivered_sequence=sequence, attempts=0, next_attempt_at=now, last_error="")
        )

    async def callback_failed(
        self, merchant_id: str, attempts: int, retry_at: datetime, error: str
    ) -> None:
        await self._conn.execute(
            update(callback_cursors)
            .where(callback_cursors.c.merchant_id == merchant_id)
            .values(attempts=attempts, next_attempt_at=retry_at, last_error=error[:300])
        )
