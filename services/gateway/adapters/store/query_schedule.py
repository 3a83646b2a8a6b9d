"""The janitor's schedule of queries to channels, kept alike on payments and payouts: which
unresolved rows are due (claimed, so that other janitors skip them) and when to ask next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg


class ScheduledQueries:
    """For a store of rows the janitor asks channels about (`_table`, keyed by `_key`)."""

    _conn: asyncpg.Connection
    _table: str
    _key: str

    async def schedule_query(
        self, row_id: str, at: datetime | None, attempts: int, hand_over: bool = False
    ) -> None:
        """The next query at `at` (None: none), after `attempts`; handed over to
        reconciliation, it is asked about no more."""
        await self._conn.execute(
            f"UPDATE {self._table} SET next_query_at = $2, query_attempts = $3, "
            f"needs_reconciliation = $4, version = version + 1 WHERE {self._key} = $1",
            row_id,
            at,
            attempts,
            hand_over,
        )

    async def due_for_query(
        self, now: datetime, limit: int, channels: Sequence[str]
    ) -> list[tuple[str, int]]:
        """Unresolved rows on these channels whose next query is due, with how often they were
        asked; other janitors skip them."""
        found = await self._conn.fetch(
            f"""
            SELECT {self._key}, query_attempts FROM {self._table}
            WHERE channel = ANY($3::text[]) AND state IN ('processing', 'unknown')
              AND NOT needs_reconciliation AND next_query_at <= $1
            ORDER BY next_query_at LIMIT $2
            FOR UPDATE SKIP LOCKED
            """,
            now,
            limit,
            list(channels),
        )
        return [(r[self._key], r["query_attempts"]) for r in found]

    async def due_count(self, now: datetime) -> int:
        """Unresolved rows whose query is due (the janitor's backlog), on any channel."""
        count: int = await self._conn.fetchval(
            f"""
            SELECT count(*) FROM {self._table}
            WHERE state IN ('processing', 'unknown') AND NOT needs_reconciliation
              AND next_query_at <= $1
            """,
            now,
        )
        return count
