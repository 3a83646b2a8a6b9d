"""Payment events for merchants, numbered in commit order, and how far each merchant's
callbacks have got.

Events are written without a number, in the transaction of the change they report; the
sequencer numbers every committed one, one run at a time under a lock held to its commit, so
a merchant resuming after a number never skips an event that was still being written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.adapters.store import rows
from gateway.domain.model import Payment
from gateway.domain.payouts import Payout
from gateway.domain.refunds import Refund

# Rung by number_payment_events (migration g0022) whenever a run numbered something.
CHANNEL = "gateway_payment_events"
PAYOUT_EVENT_PREFIX = "payout."


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    sequence: int
    merchant_id: str
    type: str
    payment_id: str
    refund_id: str
    created_at: datetime
    payout_id: str = ""  # a settlement payout's event's; payment_id then ''

    @property
    def is_payout(self) -> bool:
        """A settlement payout's event ("payout.succeeded")."""
        return self.type.startswith(PAYOUT_EVENT_PREFIX)

    @property
    def payout(self) -> str:
        """The payout a payout event is about: its payout_id, or its payment_id when a gateway
        from before g0019 wrote it (during a rolling upgrade)."""
        return (self.payout_id or self.payment_id) if self.is_payout else ""


@dataclass(frozen=True, slots=True)
class LoadedEvent:
    """An event with what it is about: a payment (and a refund of it), or a payout."""

    event: PaymentEvent
    payment: Payment | None
    refund: Refund | None
    payout: Payout | None


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    merchant_id: str
    url: str
    secret: str
    delivered_sequence: int
    attempts: int


class EventStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def add(
        self, merchant_id: str, type_: str, payment_id: str, refund_id: str, now: datetime
    ) -> None:
        """Adds an event; the sequencer numbers it once this transaction has committed."""
        await self._conn.execute(
            "INSERT INTO payment_events (merchant_id, type, payment_id, refund_id, created_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            merchant_id,
            type_,
            payment_id,
            refund_id,
            now,
        )

    async def number_pending(self, limit: int) -> int:
        """Numbers committed events in the order they were written, one run at a time (the
        function takes the sequencer's lock first); tells listeners when something was
        numbered. Outside a transaction: the statement's own commits the run and frees the lock."""
        return int(await self._conn.fetchval("SELECT number_payment_events($1)", limit))

    async def after(self, merchant_id: str, sequence: int, limit: int) -> list[LoadedEvent]:
        """The merchant's numbered events after `sequence`, each with its payment and refund,
        or its settlement payout."""
        found = await self._conn.fetch(
            """
            SELECT sequence, merchant_id, type, payment_id, refund_id, created_at, payout_id
            FROM payment_events WHERE merchant_id = $1 AND sequence > $2
            ORDER BY sequence LIMIT $3
            """,
            merchant_id,
            sequence,
            limit,
        )
        events = [PaymentEvent(**dict(r)) for r in found]
        payout_ids = list({e.payout for e in events if e.is_payout})
        payment_ids = list({e.payment_id for e in events if not e.is_payout})
        refund_ids = list({e.refund_id for e in events if e.refund_id})
        payments = {
            r["payment_id"]: rows.payment(r)
            for r in await self._conn.fetch(
                f"SELECT {rows.PAYMENT_COLUMNS} FROM payments WHERE payment_id = ANY($1::text[])",
                payment_ids,
            )
        }
        refunds = {
            r["refund_id"]: rows.refund(r)
            for r in (
                await self._conn.fetch(
                    "SELECT * FROM refunds WHERE refund_id = ANY($1::text[])", refund_ids
                )
                if refund_ids
                else []
            )
        }
        payouts = {
            r["payout_id"]: rows.payout(r)
            for r in (
                await self._conn.fetch(
                    f"SELECT {rows.PAYOUT_COLUMNS} FROM payouts WHERE payout_id = ANY($1::text[])",
                    payout_ids,
                )
                if payout_ids
                else []
            )
        }
        return [
            LoadedEvent(
                e,
                None if e.is_payout else payments.get(e.payment_id),
                refunds.get(e.refund_id),
                payouts.get(e.payout) if e.is_payout else None,
            )
            for e in events
        ]

    async def set_callback(self, merchant_id: str, url: str, secret: str, now: datetime) -> None:
        """Sets the endpoint; delivery starts with the merchant's next event."""
        await self._conn.execute(
            "UPDATE merchants SET callback_url = $2, callback_secret = $3 WHERE merchant_id = $1",
            merchant_id,
            url,
            secret,
        )
        await self._conn.execute(
            """
            INSERT INTO callback_cursors (
                merchant_id, delivered_sequence, attempts, next_attempt_at, last_error
            )
            SELECT $1::text, coalesce(max(sequence), 0), 0, $2, '' FROM payment_events
            WHERE merchant_id = $1::text
            ON CONFLICT (merchant_id) DO NOTHING
            """,
            merchant_id,
            now,
        )

    async def due_callbacks(self, now: datetime, limit: int) -> list[CallbackTarget]:
        """Merchants with undelivered events whose next attempt is due; others skip them."""
        found = await self._conn.fetch(
            """
            SELECT c.merchant_id, m.callback_url, m.callback_secret, c.delivered_sequence,
                   c.attempts
            FROM callback_cursors c JOIN merchants m ON m.merchant_id = c.merchant_id
            WHERE m.callback_url IS NOT NULL AND c.next_attempt_at <= $1
              AND EXISTS (SELECT 1 FROM payment_events e WHERE e.merchant_id = c.merchant_id
                          AND e.sequence > c.delivered_sequence)
            LIMIT $2
            FOR UPDATE OF c SKIP LOCKED
            """,
            now,
            limit,
        )
        return [
            CallbackTarget(
                r["merchant_id"],
                r["callback_url"],
                r["callback_secret"] or "",
                r["delivered_sequence"],
                r["attempts"],
            )
            for r in found
        ]

    async def callback_delivered(self, merchant_id: str, sequence: int, now: datetime) -> None:
        await self._conn.execute(
            # Forward only: a dispatcher whose lease ran out never takes back what another
            # delivered since.
            "UPDATE callback_cursors SET delivered_sequence = GREATEST(delivered_sequence, $2), "
            "attempts = 0, "
            "next_attempt_at = $3, last_error = '' WHERE merchant_id = $1",
            merchant_id,
            sequence,
            now,
        )

    async def callback_failed(
        self, merchant_id: str, attempts: int, retry_at: datetime, error: str
    ) -> None:
        await self._conn.execute(
            "UPDATE callback_cursors SET attempts = $2, next_attempt_at = $3, last_error = $4 "
            "WHERE merchant_id = $1",
            merchant_id,
            attempts,
            retry_at,
            error[:300],
        )
