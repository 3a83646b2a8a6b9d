"""Checks the ledger's books after the load, as superuser, straight in SQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import asyncpg

from paysuite.runtime.dsn import plain_postgres_url

# Totals on each account vs the sum of its entries by side; a full join also catches entries
# of unknown accounts.
_TOTALS_VS_ENTRIES = """
WITH sums AS (
    SELECT account_id,
           coalesce(sum(amount) FILTER (WHERE side = 'D'), 0) AS debits,
           coalesce(sum(amount) FILTER (WHERE side = 'C'), 0) AS credits
    FROM ledger.entries
    GROUP BY account_id
)
SELECT coalesce(a.account_id, s.account_id) AS account_id,
       a.debits_posted, a.credits_posted,
       coalesce(s.debits, 0) AS entry_debits, coalesce(s.credits, 0) AS entry_credits
FROM ledger.accounts a
FULL JOIN sums s ON s.account_id = a.account_id
WHERE a.account_id IS NULL
   OR a.debits_posted <> coalesce(s.debits, 0)
   OR a.credits_posted <> coalesce(s.credits, 0)
ORDER BY 1
LIMIT 1
"""
_BAD_SIDES = """
SELECT side, count(*) AS n FROM ledger.entries WHERE side NOT IN ('D', 'C') GROUP BY side LIMIT 1
"""
_UNBALANCED_CURRENCY = """
SELECT currency, sum(debits_posted - credits_posted) AS net
FROM ledger.accounts
GROUP BY currency
HAVING sum(debits_posted - credits_posted) <> 0
ORDER BY currency
LIMIT 1
"""
_POSTED_NOT_ONCE = """
SELECT p.transfer_id, count(t.transfer_id) AS n
FROM bench_posted p
LEFT JOIN ledger.transfers t ON t.transfer_id = p.transfer_id
GROUP BY p.transfer_id
HAVING count(t.transfer_id) <> 1
ORDER BY p.transfer_id
LIMIT 1
"""


def expand(ranges: Iterable[tuple[str, int, int]]) -> Iterator[str]:
    """Transfer ids of (prefix, first, stop) ranges."""
    for prefix, first, stop in ranges:
        for seq in range(first, stop):
            yield f"{prefix}{seq}"


async def books_problem(conn: asyncpg.Connection) -> str | None:
    """None when every balance equals its entries and each currency nets to zero; otherwise
    the first discrepancy found."""
    row = await conn.fetchrow(_TOTALS_VS_ENTRIES)
    if row is not None:
        return (
            f"account {row['account_id']}: debits_posted={row['debits_posted']} "
            f"credits_posted={row['credits_posted']} but entries sum to "
            f"D={row['entry_debits']} C={row['entry_credits']}"
        )
    row = await conn.fetchrow(_BAD_SIDES)
    if row is not None:
        return f"{row['n']} entries with side {row['side']!r} (expected 'D' or 'C')"
    row = await conn.fetchrow(_UNBALANCED_CURRENCY)
    if row is not None:
        return f"currency {row['currency']}: sum(debits - credits) = {row['net']}, not 0"
    return None


async def check(database_url: str, posted_ranges: list[tuple[str, int, int]]) -> str | None:
    """None when the books hold; otherwise the first discrepancy found."""
    conn = await asyncpg.connect(plain_postgres_url(database_url))
    try:
        problem = await books_problem(conn)
        if problem is not None:
            return problem
        await conn.execute("CREATE TEMP TABLE bench_posted (transfer_id text NOT NULL)")
        await conn.copy_records_to_table(
            "bench_posted", records=((tid,) for tid in expand(posted_ranges))
        )
        row = await conn.fetchrow(_POSTED_NOT_ONCE)
        if row is not None:
            return f"POSTED transfer {row['transfer_id']} is in ledger.transfers {row['n']} times"
        return None
    finally:
        await conn.close()
