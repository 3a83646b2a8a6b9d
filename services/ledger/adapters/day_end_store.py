"""The set-based SQL of a day-end: daily balances, type totals, and the two cross-checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from ledger.domain.day_end import ROW_VS_BOOKS, DayEndReport, Difference, TypeTotals
from ledger.domain.model import AccountType

DAY_END_LOCK = 0x1ED6E4_0002

_VOUCHER_LEGS = """
    SELECT split_part(leg, ',', 1) AS debit, split_part(leg, ',', 2) AS credit,
           split_part(leg, ',', 3) AS currency, split_part(leg, ',', 4)::bigint AS amount
    FROM transfers t, string_to_table(t.postings, ';') AS leg
    WHERE t.accounting_date = $1 AND t.postings <> ''
"""


class DayEndStore:
    """Runs inside one REPEATABLE READ transaction: every figure comes from one snapshot."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def _db(self) -> Any:
        return self._connection

    async def lock(self) -> None:
        db = await self._db()
        await db.execute("SELECT pg_advisory_xact_lock($1)", DAY_END_LOCK)

    async def state(self) -> tuple[date, date | None]:
        db = await self._db()
        row = await db.fetchrow("SELECT business_date, last_closed_date FROM ledger_state")
        return row["business_date"], row["last_closed_date"]

    async def stored_report(self, day: date) -> DayEndReport | None:
        db = await self._db()
        text = await db.fetchval("SELECT report FROM day_ends WHERE accounting_date = $1", day)
        return DayEndReport.from_json(text) if text else None

    async def earliest_open_date(self, before: date, last_closed: date | None) -> date | None:
        db = await self._db()
        value: date | None = await db.fetchval(
            "SELECT min(accounting_date) FROM entries WHERE accounting_date < $1 "
            "AND ($2::date IS NULL OR accounting_date > $2)",
            before,
            last_closed,
        )
        return value

    async def write_daily_balances(self, day: date, last_closed: date | None) -> int:
        db = await self._db()
        status: str = await db.execute(
            """
            INSERT INTO daily_balances
                (accounting_date, account_id, opening, debit_turnover, credit_turnover, closing)
            SELECT $1, a.account_id, coalesce(p.closing, 0), coalesce(t.d, 0), coalesce(t.c, 0),
                   coalesce(p.closing, 0) + coalesce(t.d, 0) - coalesce(t.c, 0)
            FROM accounts a
            LEFT JOIN daily_balances p ON p.account_id = a.account_id AND p.accounting_date = $2
            LEFT JOIN (
                SELECT account_id, sum(amount) FILTER (WHERE side = 'D') AS d,
                       sum(amount) FILTER (WHERE side = 'C') AS c
                FROM entries WHERE accounting_date = $1 GROUP BY account_id
            ) t ON t.account_id = a.account_id
            WHERE p.account_id IS NOT NULL OR t.account_id IS NOT NULL
            """,
            day,
            last_closed,
        )
        return int(status.split()[-1])

    async def entry_count(self, day: date) -> int:
        db = await self._db()
        count: int = await db.fetchval(
            "SELECT count(*) FROM entries WHERE accounting_date = $1", day
        )
        return count

    async def type_totals(self, day: date) -> list[TypeTotals]:
        db = await self._db()
        rows = await db.fetch(
            "SELECT a.type, a.currency, sum(b.opening)::bigint AS opening, "
            "sum(b.debit_turnover)::bigint AS d, sum(b.credit_turnover)::bigint AS c, "
            "sum(b.closing)::bigint AS closing "
            "FROM daily_balances b JOIN accounts a USING (account_id) "
            "WHERE b.accounting_date = $1 GROUP BY a.type, a.currency ORDER BY a.currency, a.type",
            day,
        )
        return [
            TypeTotals(
                AccountType(r["type"]), r["currency"], r["opening"], r["d"], r["c"], r["closing"]
            )
            for r in rows
        ]

    async def rows_vs_books(self, day: date) -> list[Difference]:
        """Account rows whose net totals disagree with day's closing plus later entries."""
        db = await self._db()
        rows = await db.fetch(
            """
            SELECT a.account_id, a.currency,
                   ((a.debits_posted - a.credits_posted)
                    - (coalesce(b.closing, 0) + coalesce(n.net, 0)))::bigint AS diff
            FROM accounts a
            LEFT JOIN daily_balances b ON b.account_id = a.account_id AND b.accounting_date = $1
            LEFT JOIN (
                SELECT account_id,
                       sum(CASE side WHEN 'D' THEN amount ELSE -amount END) AS net
                FROM entries WHERE accounting_date > $1 GROUP BY account_id
            ) n ON n.account_id = a.account_id
            WHERE (a.debits_posted - a.credits_posted)
                  <> coalesce(b.closing, 0) + coalesce(n.net, 0)
            ORDER BY a.account_id
            """,
            day,
        )
        return [
            Difference(ROW_VS_BOOKS, r["currency"], r["diff"], account_id=r["account_id"])
            for r in rows
        ]

    async def general_ledger(self, day: date) -> dict[tuple[AccountType, str], tuple[int, int]]:
        """Debit and credit totals per account type from the vouchers (transfers) of the day."""
        db = await self._db()
        rows = await db.fetch(
            f"""
            WITH legs AS ({_VOUCHER_LEGS}),
            sides AS (
                SELECT debit AS account_id, currency, amount AS d, 0::bigint AS c FROM legs
                UNION ALL
                SELECT credit, currency, 0::bigint, amount FROM legs
            )
            SELECT a.type, s.currency, sum(s.d)::bigint AS d, sum(s.c)::bigint AS c
            FROM sides s JOIN accounts a USING (account_id) GROUP BY a.type, s.currency
            """,
            day,
        )
        return {(AccountType(r["type"]), r["currency"]): (r["d"], r["c"]) for r in rows}

    @staticmethod
    def subledger(totals: Sequence[TypeTotals]) -> dict[tuple[AccountType, str], tuple[int, int]]:
        return {(t.type, t.currency): (t.debit_turnover, t.credit_turnover) for t in totals}

    async def store_report(self, report: DayEndReport) -> None:
        db = await self._db()
        await db.execute(
            "INSERT INTO day_ends (accounting_date, report, completed_at) VALUES ($1, $2, $3)",
            report.accounting_date,
            report.to_json(),
            report.completed_at,
        )
        await db.execute(
            "UPDATE ledger_state SET last_closed_date = $1 "
            "WHERE last_closed_date IS NULL OR last_closed_date < $1",
            report.accounting_date,
        )

    async def roll_day_end_balances(self, day: date, now: datetime) -> None:
        """Sets the dual balance on account rows from the closed date, in lock order."""
        del now
        db = await self._db()
        await db.execute(
            """
            WITH target AS (
                SELECT a.account_id, b.closing FROM accounts a
                JOIN daily_balances b ON b.account_id = a.account_id AND b.accounting_date = $1
                WHERE a.day_end_date IS NULL OR a.day_end_date < $1
                ORDER BY a.account_id FOR UPDATE OF a
            )
            UPDATE accounts a SET day_end_balance = target.closing, day_end_date = $1
            FROM target WHERE a.account_id = target.account_id
            """,
            day,
        )
