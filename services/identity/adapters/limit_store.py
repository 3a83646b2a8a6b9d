"""Payers and their limit use on the payment path, in plain asyncpg: a reservation is read and
written in a handful of statements under the payer's row locks, settlements in one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from identity.domain.limits import DayUse, owners
from identity.domain.model import Card, MaskedIdentity, Tier, User, UserState

_PAYER = """
WITH u AS (
    SELECT user_id, state, masked_name, masked_id_number, masked_phone, real_name_verified,
           tier, created_at, opened_on, customer_id, tier_cap
    FROM users WHERE user_id = $1::text
    FOR UPDATE
), person AS (
    SELECT customer_id FROM customers WHERE customer_id = (SELECT customer_id FROM u)
    FOR UPDATE
)
SELECT u.*, (SELECT count(*) FROM person) AS person_locked,
       b.user_id AS before_user_id, b.amount AS before_amount, b.currency AS before_currency
FROM u LEFT JOIN limit_usages b ON b.payment_id = $2::text
"""
_CARDS = """
SELECT card_id, user_id, bank_code, masked_card_number, agreement_no, is_default, active,
       bank_name, card_type, created_at
FROM cards WHERE user_id = $1 AND active ORDER BY created_at
"""
_TOTALS = """
SELECT owner, day, amount, tier_amount FROM limit_totals
WHERE owner = ANY($1::text[]) AND ($2::date IS NULL OR day >= $2)
"""
_RESERVE = """
WITH usage AS (
    INSERT INTO limit_usages (
        payment_id, user_id, customer_id, amount, currency, balance_funded, counts_for_tier,
        day, state, created_at, updated_at
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'reserved', $9, $9)
)
INSERT INTO limit_totals (owner, day, amount, tier_amount)
SELECT owner, $8, $4, CASE WHEN $7 THEN $4 ELSE 0 END FROM unnest($10::text[]) AS owner
ON CONFLICT (owner, day) DO UPDATE SET
    amount = limit_totals.amount + excluded.amount,
    tier_amount = limit_totals.tier_amount + excluded.tier_amount
"""
_SETTLE = """
WITH asked AS (
    SELECT * FROM unnest($1::text[], $2::bool[]) AS s(payment_id, commit)
), current AS (
    SELECT l.payment_id, l.state, asked.commit
    FROM limit_usages l JOIN asked USING (payment_id)
    WHERE l.payment_id = ANY($1::text[])
    FOR UPDATE OF l
), settled AS (
    UPDATE limit_usages l
    SET state = CASE WHEN current.commit THEN 'committed' ELSE 'released' END, updated_at = $3
    FROM current
    WHERE l.payment_id = current.payment_id AND current.state = 'reserved'
    RETURNING l.state, l.user_id, l.customer_id, l.day, l.amount, l.counts_for_tier
), given_back AS (
    SELECT owner, day, sum(amount) AS amount,
           sum(CASE WHEN counts_for_tier THEN amount ELSE 0 END) AS tier_amount
    FROM (
        SELECT 'user:' || user_id AS owner, day, amount, counts_for_tier
        FROM settled WHERE state = 'released'
        UNION ALL
        SELECT 'person:' || customer_id, day, amount, counts_for_tier
        FROM settled WHERE state = 'released' AND customer_id IS NOT NULL
    ) released
    GROUP BY owner, day
), totals AS (
    UPDATE limit_totals t
    SET amount = t.amount - given_back.amount, tier_amount = t.tier_amount - given_back.tier_amount
    FROM given_back WHERE t.owner = given_back.owner AND t.day = given_back.day
)
SELECT asked.payment_id, current.state AS before, asked.commit
FROM asked LEFT JOIN current USING (payment_id)
"""


@dataclass(frozen=True, slots=True)
class LockedPayer:
    """A payer locked for a reservation (with their person), and what was reserved for the
    payment before, if anything: (user id, amount, currency)."""

    user: User
    reserved_before: tuple[str, int, str] | None


def _user(row: Any) -> User:
    return User(
        user_id=row["user_id"],
        state=UserState(row["state"]),
        masked=MaskedIdentity(row["masked_name"], row["masked_id_number"], row["masked_phone"]),
        real_name_verified=row["real_name_verified"],
        tier=Tier(row["tier"]),
        created_at=row["created_at"],
        opened_on=row["opened_on"],
        customer_id=row["customer_id"],
        tier_cap=Tier(row["tier_cap"]) if row["tier_cap"] else None,
    )


class LimitStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def lock_payer(self, user_id: str, payment_id: str) -> LockedPayer | None:
        """Locks the user and their person (reservations of one person run one at a time)."""
        row = await self._conn.fetchrow(_PAYER, user_id, payment_id)
        if row is None:
            return None
        before = None
        if row["before_user_id"] is not None:
            before = (row["before_user_id"], row["before_amount"], row["before_currency"])
        return LockedPayer(_user(row), before)

    async def user(self, user_id: str) -> User | None:
        row = await self._conn.fetchrow(
            "SELECT user_id, state, masked_name, masked_id_number, masked_phone, "
            "real_name_verified, tier, created_at, opened_on, customer_id, tier_cap "
            "FROM users WHERE user_id = $1",
            user_id,
        )
        return _user(row) if row else None

    async def active_cards(self, user_id: str) -> list[Card]:
        return [
            Card(
                r["card_id"],
                r["user_id"],
                r["bank_code"],
                r["masked_card_number"],
                r["agreement_no"],
                r["is_default"],
                r["active"],
                r["bank_name"],
                r["card_type"],
                r["created_at"],
            )
            for r in await self._conn.fetch(_CARDS, user_id)
        ]

    async def totals(self, owners: Sequence[str], since: date | None) -> list[DayUse]:
        """Each owner's use per day from `since` on (None: every day)."""
        found = await self._conn.fetch(_TOTALS, list(owners), since)
        return [DayUse(r["owner"], r["day"], r["amount"], r["tier_amount"]) for r in found]

    async def reserve(
        self,
        payment_id: str,
        user: User,
        amount: int,
        currency: str,
        balance_funded: bool,
        counts_for_tier: bool,
        day: date,
        now: datetime,
    ) -> None:
        await self._conn.execute(
            _RESERVE,
            payment_id,
            user.user_id,
            user.customer_id,
            amount,
            currency,
            balance_funded,
            counts_for_tier,
            day,
            now,
            owners(user.user_id, user.customer_id),
        )

    async def settle(
        self, settlements: Sequence[tuple[str, bool]], now: datetime
    ) -> list[tuple[str, str | None, bool]]:
        """Commits or releases each reservation still open, giving released use back; returns
        (payment id, its state before, commit asked) for each."""
        found = await self._conn.fetch(
            _SETTLE, [s[0] for s in settlements], [s[1] for s in settlements], now
        )
        return [(r["payment_id"], r["before"], r["commit"]) for r in found]
