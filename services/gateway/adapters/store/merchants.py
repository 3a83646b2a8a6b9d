"""Merchants the gateway takes payments for: state and fee rate."""

from __future__ import annotations

from datetime import datetime

import asyncpg


class MerchantStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def active(self, merchant_id: str) -> bool:
        state = await self._conn.fetchval(
            "SELECT state FROM merchants WHERE merchant_id = $1", merchant_id
        )
        return bool(state == "active")

    async def upsert(self, merchant_id: str, name: str, fee_bps: int, now: datetime) -> None:
        """Registers the merchant as active, or updates its name and fee rate."""
        await self._conn.execute(
            """
            INSERT INTO merchants (merchant_id, name, state, created_at, fee_bps)
            VALUES ($1, $2, 'active', $3, $4)
            ON CONFLICT (merchant_id) DO UPDATE SET name = excluded.name,
                                                    fee_bps = excluded.fee_bps
            """,
            merchant_id,
            name,
            now,
            fee_bps,
        )
