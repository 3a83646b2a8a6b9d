"""Reads and writes imported statement files and, by COPY, their lines."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from paysuite.money import MINOR_UNIT_EXPONENTS
from paysuite.runtime.database import driver_connection
from recon.adapters.tables import statement_imports, statement_lines
from recon.domain.matching import BillItem, Kind
from recon.domain.statement_totals import (
    CurrencyTotals,
    StatementImport,
    StatementSummary,
)
from recon.domain.statements import Rejection, StatementFormat, StatementLine, plain

CURRENT = "current"
# Layouts whose lines state no fee: the fee is not compared.
NO_FEES = frozenset(
    {StatementFormat.CAMT053, StatementFormat.MT940, StatementFormat.WECHAT_FUNDFLOW}
)
REPLACED = "replaced"
_LINE_COLUMNS = [c.name for c in statement_lines.columns]
_EXPONENT = " ".join(f"WHEN '{c}' THEN {e}" for c, e in sorted(MINOR_UNIT_EXPONENTS.items()))
# An import's lines as the matching engine reads them (recon.adapters.engine.BILL_LINE_COLUMNS):
# fees in minor units, rounded half away from zero, times in epoch seconds.
_EXPORT = f"""
    SELECT kind, order_id, channel_transaction_id, refund_id, channel_refund_id, currency,
        amount_minor_units,
        CASE WHEN $2 THEN
            round(fee * power(10::numeric, CASE currency {_EXPONENT} ELSE 2 END))::bigint END,
        status, coalesce(extract(epoch FROM occurred_at)::bigint, 0), line_no
    FROM {statement_lines.name} WHERE import_id = $1 AND seq BETWEEN $3 AND $4
"""


def _totals_json(totals: CurrencyTotals) -> dict[str, Any]:
    return {**asdict(totals), "fee_net": plain(totals.fee_net)}


def _totals(data: dict[str, Any]) -> CurrencyTotals:
    return CurrencyTotals(**{**data, "fee_net": Decimal(data["fee_net"])})


def _import(row: Any) -> StatementImport:
    return StatementImport(
        import_id=row.import_id,
        channel=row.channel,
        format=StatementFormat(row.format),
        statement_date=row.statement_date,
        file_sha256=row.file_sha256,
        file_bytes=row.file_bytes,
        summary=StatementSummary(
            rows=row.rows,
            totals=tuple(_totals(t) for t in row.totals),
            rejected=row.rejected_count,
            rejections=tuple(Rejection(r["line"], r["reason"]) for r in row.rejected_lines),
            breaks=tuple(row.breaks),
            control_totals_consistent=row.control_totals_consistent,
            balances_consistent=row.balances_consistent,
        ),
        replaces=row.replaces_import_id or "",
        created_at=row.created_at,
    )


async def _records(
    import_id: str, batches: AsyncIterable[list[StatementLine]]
) -> AsyncIterator[tuple[Any, ...]]:
    seq = 0
    async for batch in batches:
        for line in batch:
            seq += 1
            yield (
                import_id,
                seq,
                line.line_no,
                line.kind.value,
                line.direction.value,
                line.channel_transaction_id,
                line.order_id,
                line.channel_refund_id,
                line.refund_id,
                line.amount.currency,
                line.amount.minor_units,
                line.fee,
                line.occurred_at,
                line.status,
            )


class StatementRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def lock_day(self, channel: str, day: date) -> None:
        """Holds the day's imports for this transaction: imports of one day run one at a time."""
        key = f"recon.statement:{channel}:{day.isoformat()}"
        await self._conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))

    async def current_import(self, channel: str, day: date) -> StatementImport | None:
        row = (
            await self._conn.execute(
                select(statement_imports).where(
                    statement_imports.c.channel == channel,
                    statement_imports.c.statement_date == day,
                    statement_imports.c.state == CURRENT,
                )
            )
        ).first()
        return _import(row) if row else None

    async def import_of_file(self, channel: str, day: date, sha256: str) -> StatementImport | None:
        """The day's latest import of the file with this hash, current or replaced since."""
        row = (
            await self._conn.execute(
                select(statement_imports)
                .where(
                    statement_imports.c.channel == channel,
                    statement_imports.c.statement_date == day,
                    statement_imports.c.file_sha256 == sha256,
                )
                .order_by(statement_imports.c.created_at.desc())
                .limit(1)
            )
        ).first()
        return _import(row) if row else None

    async def add_lines(self, import_id: str, batches: AsyncIterable[list[StatementLine]]) -> None:
        """COPYs the lines in as the batches arrive; none is held beyond its batch."""
        db, _ = await driver_connection(self._conn)
        await db.copy_records_to_table(
            statement_lines.name,
            schema_name=statement_lines.schema,
            columns=_LINE_COLUMNS,
            records=_records(import_id, batches),
        )

    async def export_lines(
        self,
        imported: StatementImport,
        path: Path,
        first: int = 1,
        last: int = 2**62,
        *,
        fees: bool = True,
    ) -> None:
        """COPYs an import's lines (seq first..last) out to a CSV file with a header, as the
        engine reads them; fees only of layouts that state them (a bank's lines have none) and
        when asked (not for a channel whose fees are known only from its bill)."""
        db, _ = await driver_connection(self._conn)
        fees = fees and imported.format not in NO_FEES
        await db.copy_from_query(
            _EXPORT,
            imported.import_id,
            fees,
            first,
            last,
            output=str(path),
            format="csv",
            header=True,
        )

    async def lines_of(
        self,
        channel: str,
        before: date,
        order_ids: list[str],
        failure_states: Iterable[str],
        *,
        fees: bool = True,
    ) -> list[BillItem]:
        """The payment lines of these orders in the channel's current imports of dates before
        `before`, as carried items (the flagged payments a run takes in from earlier dates);
        fees left out unless asked for."""
        if not order_ids:
            return []
        db, _ = await driver_connection(self._conn)
        rows = await db.fetch(
            f"""
            SELECT l.order_id, l.channel_transaction_id, l.currency, l.amount_minor_units,
                round(l.fee * power(10::numeric, CASE l.currency {_EXPONENT} ELSE 2 END))::bigint
                    AS fee,
                l.status, coalesce(extract(epoch FROM l.occurred_at)::bigint, 0) AS moment,
                l.line_no
            FROM statement_imports i JOIN statement_lines l ON l.import_id = i.import_id
            WHERE i.channel = $1 AND i.state = 'current' AND i.statement_date < $2
                AND l.kind = 'payment' AND l.order_id = ANY($3::text[])
            """,
            channel,
            before,
            order_ids,
        )
        failed = {s.upper() for s in failure_states}
        return [
            BillItem(
                Kind.PAYMENT,
                r["order_id"],
                r["channel_transaction_id"],
                r["currency"],
                r["amount_minor_units"],
                r["fee"] if fees else None,
                r["status"].upper() not in failed,
                r["moment"],
                r["line_no"],
                carried=True,
            )
            for r in rows
        ]

    async def replace(self, import_id: str) -> None:
        """Marks an import replaced by a newer file of its day, and drops its lines."""
        await self._conn.execute(
            update(statement_imports)
            .where(statement_imports.c.import_id == import_id)
            .values(state=REPLACED)
        )
        await self._conn.execute(
            delete(statement_lines).where(statement_lines.c.import_id == import_id)
        )

    async def add_import(self, imported: StatementImport) -> None:
        summary = imported.summary
        await self._conn.execute(
            statement_imports.insert().values(
                import_id=imported.import_id,
                channel=imported.channel,
                format=imported.format.value,
                statement_date=imported.statement_date,
                file_sha256=imported.file_sha256,
                file_bytes=imported.file_bytes,
                state=CURRENT,
                rows=summary.rows,
                totals=[_totals_json(t) for t in summary.totals],
                rejected_count=summary.rejected,
                rejected_lines=[{"line": r.line, "reason": r.reason} for r in summary.rejections],
                control_totals_consistent=summary.control_totals_consistent,
                balances_consistent=summary.balances_consistent,
                breaks=list(summary.breaks),
                replaces_import_id=imported.replaces or None,
                created_at=imported.created_at,
            )
        )
