"""After the load, as superuser and straight in SQL: is anything lost, stuck or counted twice?

- the ledger's books: every balance equals its entries, debits and credits net to zero per
  currency;
- every payment is final or handed to reconciliation;
- every succeeded payment is posted to the ledger exactly once, and the merchant is owed the
  sum of what it was paid less fees;
- each payer's committed limit use equals the sum of their succeeded payments, and nothing is
  left reserved for a payment that is final.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from paysuite.runtime.dsn import plain_postgres_url

from .. import invariants

FINAL = ("succeeded", "failed", "closed", "duplicate")
_OPEN_PAYMENTS = """
SELECT count(*) FROM gateway.payments
WHERE state <> ALL($1::text[]) AND NOT needs_reconciliation
"""
_UNDELIVERED = "SELECT count(*) FROM gateway.outbox"
_CAPTURES_NOT_ONCE = """
SELECT count(*) FROM gateway.payments p
LEFT JOIN ledger.transfers t ON t.transfer_id = p.payment_id || ':capture'
WHERE p.state = 'succeeded' AND p.merchant_id = $1 AND t.transfer_id IS NULL
"""
_MERCHANT_OWED = """
SELECT
  (SELECT coalesce(sum(amount - merchant_fee), 0) FROM gateway.payments
    WHERE merchant_id = $1 AND state = 'succeeded' AND refunded = 0) AS paid,
  (SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM ledger.accounts
    WHERE account_id = $2) AS owed
"""
_LIMITS_VS_PAYMENTS = """
WITH paid AS (
  SELECT payer_user_id AS user_id, sum(amount) AS amount FROM gateway.payments
  WHERE state = 'succeeded' AND merchant_id = $1 GROUP BY payer_user_id
), used AS (
  SELECT user_id, sum(amount) AS amount FROM identity.limit_usages
  WHERE state = 'committed' GROUP BY user_id
)
SELECT count(*) FROM paid FULL JOIN used USING (user_id)
WHERE coalesce(paid.amount, 0) <> coalesce(used.amount, 0)
  AND (paid.user_id IS NULL OR paid.user_id LIKE $2)
"""
_RESERVED_BUT_FINAL = """
SELECT count(*) FROM identity.limit_usages u
JOIN gateway.payments p ON p.payment_id = u.payment_id
WHERE u.state = 'reserved' AND p.state = ANY($1::text[])
"""


async def last_event(database_url: str) -> int:
    """The highest numbered payment event: a watcher starting after it sees only new ones."""
    conn = await asyncpg.connect(plain_postgres_url(database_url))
    try:
        return int(
            await conn.fetchval("SELECT coalesce(max(sequence), 0) FROM gateway.payment_events")
        )
    finally:
        await conn.close()


async def settled(database_url: str, timeout: float) -> bool:
    """Waits until no payment is open and the outbox is empty; False if that never came."""
    conn = await asyncpg.connect(plain_postgres_url(database_url))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            open_payments = await conn.fetchval(_OPEN_PAYMENTS, list(FINAL))
            undelivered = await conn.fetchval(_UNDELIVERED)
            if open_payments == 0 and undelivered == 0:
                return True
            await asyncio.sleep(1.0)
        return False
    finally:
        await conn.close()


async def problems(
    database_url: str, merchant_id: str, payable_account: str, payer_prefix: str
) -> list[str]:
    """Every invariant that does not hold, described; empty when all hold."""
    found: list[str] = []
    conn = await asyncpg.connect(plain_postgres_url(database_url))
    try:
        books = await invariants.books_problem(conn)
        if books:
            found.append(f"ledger: {books}")
        if n := await conn.fetchval(_OPEN_PAYMENTS, list(FINAL)):
            found.append(f"{n} payments neither final nor handed to reconciliation")
        if n := await conn.fetchval(_UNDELIVERED):
            found.append(f"{n} outbox messages never delivered")
        if n := await conn.fetchval(_CAPTURES_NOT_ONCE, merchant_id):
            found.append(f"{n} succeeded payments without their ledger capture")
        row = await conn.fetchrow(_MERCHANT_OWED, merchant_id, payable_account)
        if row["paid"] != row["owed"]:
            found.append(f"merchant paid {row['paid']} but the ledger owes it {row['owed']}")
        if n := await conn.fetchval(_LIMITS_VS_PAYMENTS, merchant_id, f"{payer_prefix}%"):
            found.append(f"{n} payers whose committed limit use differs from their payments")
        if n := await conn.fetchval(_RESERVED_BUT_FINAL, list(FINAL)):
            found.append(f"{n} limit reservations still open for final payments")
    finally:
        await conn.close()
    return found
