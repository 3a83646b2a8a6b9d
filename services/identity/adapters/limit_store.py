"""Payers and their limit use on the payment path, in plain asyncpg: a batch of reservations
is read in one statement and reserved in another, if the use read is still the use (or read
under the payers' locks and written in a transaction when it moved); settlements in one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from identity.domain.limits import DayUse, Reservation, UseRead, owners
from identity.domain.model import Card, MaskedIdentity, Tier, User, UserState

# The payers locked, then read with their use in a statement of its own (migration i0005).
_LOCK_AND_READ = "SELECT * FROM lock_payers_and_read_use($1, $2, $3, $4, $5, $6)"
# The same read without locks, and the reservation checked against it (migration i0006).
_READ = "SELECT * FROM read_payers_and_use($1, $2, $3, $4, $5, $6)"
_RESERVE_IF_UNCHANGED = (
    "SELECT reserve_if_use_unchanged($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
    " $14, $15, $16, $17, $18, $19, $20, $21)"
)
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


def _read_arguments(
    user_ids: Sequence[str], payment_ids: Sequence[str], reads: Sequence[UseRead]
) -> tuple[Any, ...]:
    return (
        user_ids,
        payment_ids,
        [r.tier.value for r in reads],
        [r.real_named for r in reads],
        [r.scope.value for r in reads],
        [r.since for r in reads],
    )


Payers = dict[str, tuple[User, list[Card]]]
Reserved = dict[str, tuple[str, int, str]]


@dataclass(frozen=True, slots=True)
class UseSeen:
    """A read without locks: the payers (with their cards), what was reserved for the payments
    before, each owner's use per day, and what a reservation must find unchanged: each
    owner's first day read (None: every day) and each payer's lock key."""

    payers: Payers
    reserved: Reserved
    used: list[DayUse]
    owners: list[tuple[str, date | None]]
    lock_keys: Mapping[str, str]


def _parsed(rows: Sequence[Any]) -> tuple[Payers, Reserved, list[DayUse]]:
    found: Payers = {}
    reserved: Reserved = {}
    used: list[DayUse] = []
    for r in rows:
        kind = r["kind"]
        if kind == "used":
            used.append(DayUse(r["name"], r["day"], r["amount"], r["tier_amount"]))
        elif kind == "reserved":
            reserved[r["name"]] = (r["user_id"], r["amount"], r["currency"])
        elif kind == "payer":
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


def _totals(reservations: Sequence[Reservation]) -> dict[tuple[str, date], list[int]]:
    """Each owner's use to add on each day."""
    totals: dict[tuple[str, date], list[int]] = {}
    for r in reservations:
        for owner in owners(r.user_id, r.customer_id):
            total = totals.setdefault((owner, r.day), [0, 0])
            total[0] += r.amount
            total[1] += r.amount if r.counts_for_tier else 0
    return totals


def _reservation_columns(reservations: Sequence[Reservation], now: datetime) -> list[Any]:
    """The reservations and their use per owner and day, as the statements' arrays."""
    totals = _totals(reservations)
    return [
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
    ]


class LimitStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def read(
        self, user_ids: Sequence[str], payment_ids: Sequence[str], reads: Sequence[UseRead]
    ) -> UseSeen:
        """What lock_and_read reads, without taking a lock: for reserve_if_unchanged."""
        rows = await self._conn.fetch(_READ, *_read_arguments(user_ids, payment_ids, reads))
        found, reserved, used = _parsed(rows)
        return UseSeen(
            found,
            reserved,
            used,
            [(r["name"], r["day"]) for r in rows if r["kind"] == "owner"],
            {r["user_id"]: r["lock_key"] for r in rows if r["kind"] == "payer"},
        )

    async def reserve_if_unchanged(
        self, seen: UseSeen, reservations: Sequence[Reservation], now: datetime
    ) -> bool:
        """Reserves, under the payers' locks, if every payer is still under the lock it was
        read with and each owner's use is still what `seen` read; False, writing nothing, if
        anything moved (or one of these payments was reserved meanwhile)."""
        try:
            reserved = await self._conn.fetchval(
                _RESERVE_IF_UNCHANGED,
                list(seen.lock_keys),
                list(seen.lock_keys.values()),
                [owner for owner, _ in seen.owners],
                [since for _, since in seen.owners],
                [u.owner for u in seen.used],
                [u.day for u in seen.used],
                [u.amount for u in seen.used],
                [u.tier_amount for u in seen.used],
                *_reservation_columns(reservations, now),
            )
        except asyncpg.UniqueViolationError:
            return False
        return bool(reserved)

    async def lock_and_read(
        self, user_ids: Sequence[str], payment_ids: Sequence[str], reads: Sequence[UseRead]
    ) -> tuple[Payers, Reserved, list[DayUse]]:
        """Locks the persons (or lone accounts) of these users for reservations until this
        transaction ends, then reads, as of once the locks are held: the users found, each
        with their active cards (oldest first); what was reserved for these payments before
        (user id, amount, currency); and the use per day of each owner that `reads` names for
        the user's tier."""
        args = _read_arguments(user_ids, payment_ids, reads)
        rows = await self._conn.fetch(_LOCK_AND_READ, *args)
        # A payer real-named while this waited for the locks is locked as the person now (the
        # locks already held are taken again at no cost), so that its use is counted under
        # the lock of the owners it counts for.
        while any(r["kind"] == "payer" and not r["locked"] for r in rows):
            rows = await self._conn.fetch(_LOCK_AND_READ, *args)
        return _parsed(rows)

    async def reserve(self, reservations: Sequence[Reservation], now: datetime) -> None:
        """Records the reservations and adds them to each owner's use of their day."""
        await self._conn.execute(_RESERVE, *_reservation_columns(reservations, now))

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
