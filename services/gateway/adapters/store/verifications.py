"""Card verifications done through the bank channel, by request id."""

from __future__ import annotations

import asyncpg

from gateway.adapters.store import rows
from gateway.domain.verification import CardVerificationRecord


class VerificationStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def get(self, request_id: str) -> CardVerificationRecord | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM card_verifications WHERE request_id = $1", request_id
        )
        return rows.card_verification(row) if row else None

    async def add(self, record: CardVerificationRecord) -> bool:
        """Inserts a verification; False when its request id is taken."""
        result = record.result
        added = await self._conn.fetchval(
            """
            INSERT INTO card_verifications (
                request_id, request_hash, channel, outcome, mismatched, card_state,
                channel_reference, bank_code, agreement_no, created_at
            ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (request_id) DO NOTHING
            RETURNING request_id
            """,
            record.request_id,
            record.request_hash,
            record.channel,
            result.outcome.value,
            [e.value for e in result.mismatched],
            result.card_state,
            result.reference,
            result.bank_code,
            result.agreement_no,
            record.created_at,
        )
        return added is not None
