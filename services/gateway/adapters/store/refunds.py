"""Refunds of payments: recorded with their request id, resent until the channel answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from gateway.adapters.store import rows
from gateway.domain.refunds import Refund, RefundState


class RefundStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def by_request(self, merchant_id: str, request_id: str) -> Refund | None:
        """The merchant's refund of this request id: ids are unique per merchant only."""
        row = await self._conn.fetchrow(
            "SELECT * FROM refunds WHERE merchant_id = $1 AND request_id = $2",
            merchant_id,
            request_id,
        )
        return rows.refund(row) if row else None

    async def get(self, refund_id: str, *, for_update: bool = False) -> Refund | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT * FROM refunds WHERE refund_id = $1{lock}", refund_id
        )
        return rows.refund(row) if row else None

    async def add(self, refund: Refund, merchant_id: str) -> bool:
        """Inserts a refund of the merchant's payment; False when its request id is taken."""
        added = await self._conn.fetchval(
            """
            INSERT INTO refunds (
                refund_id, request_id, request_hash, payment_id, amount, currency, state, reason,
                channel_refund_id, failure_reason, trace_id, created_at, updated_at, merchant_id,
                platform_coupon
            ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (merchant_id, request_id) DO NOTHING
            RETURNING refund_id
            """,
            refund.refund_id,
            refund.request_id,
            refund.request_hash,
            refund.payment_id,
            refund.amount.minor_units,
            refund.amount.currency,
            refund.state.value,
            refund.reason,
            refund.channel_refund_id,
            refund.failure_reason,
            refund.trace_id,
            refund.created_at,
            refund.updated_at,
            merchant_id,
            refund.platform_coupon,
        )
        return added is not None

    async def save(self, refund: Refund) -> None:
        await self._conn.execute(
            "UPDATE refunds SET state = $2, channel_refund_id = $3, failure_reason = $4, "
            "updated_at = $5 WHERE refund_id = $1",
            refund.refund_id,
            refund.state.value,
            refund.channel_refund_id,
            refund.failure_reason,
            refund.updated_at,
        )

    async def succeeded_total(self, payment_id: str) -> int:
        """What succeeded refunds of the payment have given back so far (minor units)."""
        total = await self._conn.fetchval(
            "SELECT coalesce(sum(amount), 0) FROM refunds WHERE payment_id = $1 AND state = $2",
            payment_id,
            RefundState.SUCCEEDED.value,
        )
        return int(total or 0)

    async def coupon_refunded(self, payment_id: str) -> int:
        """What the payment's refunds not failed have given back of its platform coupon (those
        in flight included: they hold their share)."""
        total = await self._conn.fetchval(
            "SELECT coalesce(sum(platform_coupon), 0) FROM refunds "
            "WHERE payment_id = $1 AND state <> $2",
            payment_id,
            RefundState.FAILED.value,
        )
        return int(total or 0)

    async def claim_unanswered(
        self,
        now: datetime,
        first_wait: timedelta,
        longest_wait: timedelta,
        limit: int,
        channels: Sequence[str],
    ) -> list[str]:
        """Refunds on these channels still processing and due again, stamped now so others
        skip them.

        Each waits as long as it has been pending so far (so the waits double), from
        first_wait up to longest_wait.
        """
        found = await self._conn.fetch(
            """
            UPDATE refunds SET updated_at = $1::timestamptz
            WHERE refund_id IN (
                SELECT r.refund_id FROM refunds r
                WHERE r.state = $2
                  AND r.updated_at <= $1::timestamptz - greatest(
                      $3::interval, least($4::interval, r.updated_at - r.created_at)
                  )
                  AND EXISTS (SELECT 1 FROM payments p
                              WHERE p.payment_id = r.payment_id AND p.channel = ANY($6::text[]))
                ORDER BY r.updated_at LIMIT $5
                FOR UPDATE SKIP LOCKED
            )
            RETURNING refund_id
            """,
            now,
            RefundState.PROCESSING.value,
            first_wait,
            longest_wait,
            limit,
            list(channels),
        )
        return [r["refund_id"] for r in found]
