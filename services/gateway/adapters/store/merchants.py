"""Merchants the gateway takes payments for: their terms (fee rate, settlement account), state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from gateway.domain.merchants import Merchant, MerchantState, MerchantTerms

_SELECT = """
SELECT merchant_id, name, fee_bps, settlement_account_id, state, created_at, updated_at
FROM merchants WHERE merchant_id = $1
"""


def _merchant(row: Mapping[str, Any]) -> Merchant:
    terms = MerchantTerms(
        row["name"], row["fee_bps"], row["settlement_account_id"], MerchantState(row["state"])
    )
    return Merchant(row["merchant_id"], terms, row["created_at"], row["updated_at"])


class MerchantStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def active(self, merchant_id: str) -> bool:
        state = await self._conn.fetchval(
            "SELECT state FROM merchants WHERE merchant_id = $1", merchant_id
        )
        return bool(state == "active")

    async def get(self, merchant_id: str, *, lock: bool = False) -> Merchant | None:
        row = await self._conn.fetchrow(_SELECT + (" FOR UPDATE" if lock else ""), merchant_id)
        return None if row is None else _merchant(row)

    async def add(self, merchant: Merchant) -> bool:
        """Inserts the merchant; False when one with its id is there already."""
        terms = merchant.terms
        status = await self._conn.execute(
            """
            INSERT INTO merchants (
                merchant_id, name, fee_bps, settlement_account_id, state, created_at, updated_at
            )
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (merchant_id) DO NOTHING
            """,
            merchant.merchant_id,
            terms.name,
            terms.fee_bps,
            terms.settlement_account_id,
            terms.state.value,
            merchant.created_at,
            merchant.updated_at,
        )
        return bool(status == "INSERT 0 1")

    async def update(self, merchant: Merchant) -> None:
        terms = merchant.terms
        await self._conn.execute(
            """
            UPDATE merchants
            SET name = $2, fee_bps = $3, settlement_account_id = $4, state = $5, updated_at = $6
            WHERE merchant_id = $1
            """,
            merchant.merchant_id,
            terms.name,
            terms.fee_bps,
            terms.settlement_account_id,
            terms.state.value,
            merchant.updated_at,
        )
