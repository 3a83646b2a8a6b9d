"""Payouts: the payout aggregate, each change of it one statement guarded by its version and
written with the outbox messages it causes."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.adapters.store import rows
from gateway.adapters.store.outbox import enqueue_from, message_columns
from gateway.adapters.store.query_schedule import ScheduledQueries
from gateway.domain.payouts import Payout, PayoutChange, PayoutPurpose, PayoutState

_INSERT = """
INSERT INTO payouts (
    payout_id, request_id, request_hash, purpose, owner_id, amount, currency, channel, payee,
    state, channel_transaction_id, failure_reason, fee, needs_reconciliation, return_reason,
    returned_at, trace_id, created_at, updated_at, next_query_at, query_attempts, version,
    source_account
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '', '', 0, false, '', NULL, $11, $12, $12,
        $13, 0, 0, $14)
ON CONFLICT (request_id) DO NOTHING
RETURNING payout_id
"""
# The merchant's payout.created event, with a new settlement payout ($1 its id, $12 now, $15
# the merchant, '' for none).
_RECORD = f"""
WITH ins AS ({_INSERT}), ev AS (
    INSERT INTO payment_events (merchant_id, type, payment_id, payout_id, refund_id, created_at)
    SELECT $15::text, 'payout.created', '', ins.payout_id, '', $12 FROM ins WHERE $15::text <> ''
)
SELECT payout_id FROM ins
"""

_APPLY = f"""
WITH upd AS (
    UPDATE payouts SET
        state = $2::text, payee = $3::text, channel_transaction_id = $4::text,
        failure_reason = $5::text, fee = $6, needs_reconciliation = $7,
        return_reason = $8::text, returned_at = $9, updated_at = $10,
        next_query_at = CASE WHEN $11 THEN $12 ELSE next_query_at END,
        query_attempts = CASE WHEN $11 THEN $13 ELSE query_attempts END,
        version = version + 1
    WHERE payout_id = $1::text AND version = $14
    RETURNING payout_id
), box AS ({enqueue_from("upd", "$15", "$10", "$16")}
), ev AS (
    INSERT INTO payment_events (merchant_id, type, payment_id, payout_id, refund_id, created_at)
    SELECT $19::text, $20::text, '', upd.payout_id, '', $10 FROM upd WHERE $20::text <> ''
)
SELECT count(*) FROM upd
"""


class PayoutStore(ScheduledQueries):
    _table = "payouts"
    _key = "payout_id"

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def record(self, payout: Payout, next_query_at: datetime | None) -> bool:
        """Inserts a new payout, to be asked about at next_query_at should nothing answer it
        before (a crash); False when its request id is taken."""
        created = await self._conn.fetchval(
            _RECORD,
            payout.payout_id,
            payout.request_id,
            payout.request_hash,
            payout.purpose.value,
            payout.owner_id,
            payout.amount.minor_units,
            payout.amount.currency,
            payout.channel,
            payout.payee,
            payout.state.value,
            payout.trace_id,
            payout.created_at,
            next_query_at,
            payout.source_account_id,
            payout.merchant_id,
        )
        return created is not None

    async def apply(self, change: PayoutChange, expected_version: int, traceparent: str) -> bool:
        """Writes the change if the payout is still at the version it was decided on."""
        payout, schedule = change.payout, change.schedule
        updated = await self._conn.fetchval(
            _APPLY,
            payout.payout_id,
            payout.state.value,
            payout.payee,
            payout.channel_transaction_id,
            payout.failure_reason[:64],
            payout.fee,
            payout.needs_reconciliation,
            payout.return_reason,
            payout.returned_at,
            payout.updated_at,
            schedule is not None,
            schedule.at if schedule else None,
            schedule.attempts if schedule else 0,
            expected_version,
            traceparent,
            *message_columns(change.messages),
            payout.merchant_id,
            payout.merchant_id and change.event,
        )
        return bool(updated)

    async def get(self, payout_id: str) -> Payout | None:
        row = await self._conn.fetchrow(
            f"SELECT {rows.PAYOUT_COLUMNS} FROM payouts WHERE payout_id = $1", payout_id
        )
        return rows.payout(row) if row else None

    async def by_request_id(self, request_id: str) -> Payout | None:
        row = await self._conn.fetchrow(
            f"SELECT {rows.PAYOUT_COLUMNS} FROM payouts WHERE request_id = $1", request_id
        )
        return rows.payout(row) if row else None

    async def list_payouts(
        self,
        purpose: PayoutPurpose | None,
        owner_id: str,
        state: PayoutState | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Payout]:
        """Newest first, after the position `before` (a page's last)."""
        found = await self._conn.fetch(
            f"""
            SELECT {rows.PAYOUT_COLUMNS} FROM payouts
            WHERE ($1::text IS NULL OR purpose = $1)
              AND ($2 = '' OR owner_id = $2)
              AND ($3::text IS NULL OR state = $3)
              AND ($4::timestamptz IS NULL OR (created_at, payout_id) < ($4, $5))
            ORDER BY created_at DESC, payout_id DESC
            LIMIT $6
            """,
            purpose.value if purpose else None,
            owner_id,
            state.value if state else None,
            before[0] if before else None,
            before[1] if before else "",
            limit,
        )
        return [rows.payout(r) for r in found]
