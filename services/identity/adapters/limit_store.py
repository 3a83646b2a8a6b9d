"""Payers and their limit use on the payment path, in plain asyncpg: a batch of reservations
is read under the payers' locks in one statement and written in another, settlements in one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg

from identity.domain.limits import DayUse, Reservation, UseRead, owners
from identity.domain.model import Card, MaskedIdentity, Tier, User, UserState

# The payers locked, then read with their use in a statement of its own (migration i0005).
_LOCK_AND_READ = "SELECT * FROM lock_payers_and_read_use($1, $2, $3, $4, $5, $6)"
_RESERVE = """
WITH usage AS (
    INSERT INTO limit_usages (
        payment_id, user_id, customer_id, amount, currency, balance_funded, counts_for_tier,
        day, state, created_at, updated_at
    )
    SELECT *, 'reserved', $9::timestamptz, $9::timestamptz
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bool[],
                $7::bool[], $8::date[])
)
INSERT INTO limit_totals (owner, day, amount, tier_amount)
SELECT * FROM unnest($10::text[], $11::date[], $12::bigint[], $13::bigint[])
ON CONFLICT (owner, day) DO UPDATE SET
    amount = limit_totals.amount + excluded.amount,
    tier_amount = limit_totals.tier_amount + excluded.tier_amount
"""
_SETTLE = """
WITH asked AS (
    SELECT * FROM unnest($1::text[], $2::text[]) AS s(payment_id, wanted)
), current AS (
    SELECT l.payment_id, l.state, asked.wanted
    FROM limit_usages l JOIN asked USING (payment_id)
    WHERE l.payment_id = ANY($1::text[])
    FOR UPDATE OF l
), settled AS (
    UPDATE limit_usages l
    SET state = current.wanted, updated_at = $3
    FROM current
    WHERE l.payment_id = current.payment_id
      AND (current.state = 'reserved'
           OR (current.wanted = 'returned' AND current.state = 'committed'))
    RETURNING l.state, l.user_id, l.customer_id, l.day, l.amount, l.counts_for_tier
), given_back AS (
    SELECT owner, day, sum(amount) AS amount,
           sum(CASE WHEN counts_for_tier THEN amount ELSE 0 END) AS tier_amount
    FROM (
        SELECT 'user:' || user_id AS owner, day, amount, counts_for_tier
        FROM settled WHERE state IN ('released', 'returned')
        UNION ALL
        SELECT 'person:' || customer_id, day, amount, counts_for_tier
        FROM settled WHERE state IN ('released', 'returned') AND customer_id IS NOT NULL
    ) released
    GROUP BY owner, day
), totals AS (
    UPDATE limit_totals t
    SET amount = t.amount - given_back.amount, tier_amount = t.tier_amount - given_back.tier_amount
    FROM given_back WHERE t.owner = given_back.owner AND t.day = given_back.day
)
SELECT asked.payment_id, current.state AS before, asked.wanted
FROM asked LEFT JOIN current USING (payment_id)
"""


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

    async def lock_and_read(
        self, user_ids: Sequence[str], payment_ids: Sequence[str], reads: Sequence[UseRead]
    ) -> tuple[dict[str, tuple[User, list[Card]]], dict[str, tuple[str, int, str]], list[DayUse]]:
        """Locks the persons (or lone accounts) of these users for reservations until this
        transaction ends, then reads, as of once the locks are held: the users found, each
        with their active cards (oldest first); what was reserved for these payments before
        (user id, amount, currency); and the use per day of each owner that `reads` names for
        the user's tier."""
        args = (
            user_ids,
            payment_ids,
            [r.tier.value for r in reads],
            [r.real_named for r in reads],
            [r.scope.value for r in reads],
            [r.since for r in reads],
        )
        rows = await self._conn.fetch(_LOCK_AND_READ, *args)
        # A payer real-named while this waited for the locks is locked as the person now (the
        # locks already held are taken again at no cost), so that its use is counted under
        # the lock of the owners it counts for.
        while any(r["kind"] == "payer" and not r["locked"] for r in rows):
            rows = await self._conn.fetch(_LOCK_AND_READ, *args)
        found: dict[str, tuple[User, list[Card]]] = {}
        reserved: dict[str, tuple[str, int, str]] = {}
        used: list[DayUse] = []
        for r in rows:
            kind = r["kind"]
            if kind == "used":
                used.append(DayUse(r["name"], r["day"], r["amount"], r["tier_amount"]))
            elif kind == "reserved":
                reserved[r["name"]] = (r["user_id"], r["amount"], r["currency"])
            else:
                user_id = r["user_id"]
                if user_id not in found:
                    found[user_id] = (_user(r), [])
                if r["card_id"] is not None:
                    found[user_id][1].append(
                        Card(
                            r["card_id"],
                            user_id,
                            r["bank_code"],
                            r["masked_card_number"],
                            r["agreement_no"],
                            r["is_default"],
                            r["active"],
                            r["bank_name"],
                            r["card_type"],
                            r["card_created_at"],
                        )
                    )
        return found, reserved, used

    async def reserve(self, reservations: Sequence[Reservation], now: datetime) -> None:
        """Records the reservations and adds them to each owner's use of their day."""
        totals: dict[tuple[str, date], list[int]] = {}
        for r in reservations:
            for owner in owners(r.user_id, r.customer_id):
                total = totals.setdefault((owner, r.day), [0, 0])
                total[0] += r.amount
                total[1] += r.amount if r.counts_for_tier else 0
        await self._conn.execute(
            _RESERVE,
            [r.payment_id for r in reservations],
            [r.user_id for r in reservations],
            [r.customer_id for r in reservations],
            [r.amount for r in reservations],
            [r.currency for r in reservations],
            [r.balance_funded for r in reservations],
            [r.counts_for_tier for r in reservations],
            [r.day for r in reservations],
            now,
            [owner for owner, _ in totals],
            [day for _, day in totals],
            [t[0] for t in totals.values()],
            [t[1] for t in totals.values()],
        )

    async def settle(
        self, settlements: Sequence[tuple[str, str]], now: datetime
    ) -> list[tuple[str, str | None, str]]:
        """Moves each reservation to the state asked (committed or released while still open,
        returned once committed too), giving released and returned use back; returns (payment
        id, its state before, the state asked) for each."""
        found = await self._conn.fetch(
            _SETTLE, [s[0] for s in settlements], [s[1] for s in settlements], now
        )
        return [(r["payment_id"], r["before"], r["wanted"]) for r in found]
