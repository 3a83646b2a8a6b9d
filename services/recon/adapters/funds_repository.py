"""Recon's schema as reserve account reconciliation uses it: the imported statement's entries,
reconciliation's differences parked for a channel's date, the entries booked, the channels'
settlement positions, each date's balance check, and the D+0 payouts whose advances the
channels' money repays."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert

from paysuite.money import MINOR_UNIT_EXPONENTS
from recon.adapters.completed_runs import run_completed
from recon.adapters.statement_repository import StatementRepository
from recon.adapters.tables import (
    discrepancies,
    funds_checks,
    funds_entries,
    funds_positions,
    settlement_batches,
    settlement_channel_lines,
    settlement_lines,
    settlement_payouts,
    statement_lines,
)
from recon.domain.advance_repayment import AdvancedPayout, Arrival, DateFunds
from recon.domain.funds import (
    EntryKind,
    Outcome,
    Position,
    ReserveEntry,
    ReserveLine,
    ReserveReconciliation,
)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


class FundsRepository(StatementRepository):
    async def lock_reserve(self) -> None:
        """Holds the reserve account for this transaction: one reconciliation at a time."""
        await self._conn.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended("recon.funds", 0)))
        )

    async def reserve_lines(self, import_id: str) -> list[ReserveLine]:
        rows = await self._conn.execute(
            select(
                statement_lines.c.channel_transaction_id,
                statement_lines.c.order_id,
                statement_lines.c.direction,
                statement_lines.c.amount_minor_units,
                statement_lines.c.currency,
                statement_lines.c.line_no,
            )
            .where(statement_lines.c.import_id == import_id)
            .order_by(statement_lines.c.seq)
        )
        return [
            ReserveLine(r[0], r[1], r[2] == "credit", r[3], r[4], r[5]) for r in rows.fetchall()
        ]

    async def bill_fees(self, channel: str, day: date, currency: str) -> int:
        """The fees the channel's current bill of the date states (charged less given back), in
        minor units rounded half away from zero (a bill states them in major units)."""
        current = await self.current_import(channel, day)
        totals = (
            () if current is None else [t for t in current.summary.totals if t.currency == currency]
        )
        scale = Decimal(10) ** MINOR_UNIT_EXPONENTS.get(currency, 2)
        return sum(int((t.fee_net * scale).quantize(Decimal(1), ROUND_HALF_UP)) for t in totals)

    async def bill_reconciled(self, channel: str, day: date) -> bool:
        """Whether a run of the channel's date completed on its current bill."""
        current = await self.current_import(channel, day)
        return current is not None and await run_completed(
            self._conn, channel, day, current.import_id
        )

    async def bill_parked(self, channel: str, day: date, currency: str) -> int:
        """What reconciliation of the channel's bill parked for the date (receivable debited
        positive)."""
        d = discrepancies.c
        total = await self._conn.scalar(
            select(func.coalesce(func.sum(d.suspense_amount), 0)).where(
                d.channel == channel,
                d.statement_date == day,
                d.currency == currency,
                d.posted.is_(True),
            )
        )
        return int(total or 0)

    async def add_entries(
        self, entries: Iterable[ReserveEntry], statement_date: date, import_id: str, now: datetime
    ) -> None:
        rows = [
            {
                "bank_ref": e.line.bank_ref,
                "statement_date": statement_date,
                "import_id": import_id,
                "line_no": e.line.line_no,
                "kind": e.kind.value,
                "channel": e.channel,
                "business_date": e.business_date,
                "payout_id": e.payout_id,
                "credit": e.line.credit,
                "currency": e.line.currency,
                "amount": e.line.amount,
                "transfer_id": e.transfer_id,
                "created_at": now,
            }
            for e in entries
        ]
        if rows:
            await self._conn.execute(pg_insert(funds_entries).values(rows).on_conflict_do_nothing())

    async def booked_kinds(self, bank_refs: list[str]) -> dict[str, str]:
        """What each of these statement entries was booked as, if it was."""
        if not bank_refs:
            return {}
        e = funds_entries.c
        rows = await self._conn.execute(select(e.bank_ref, e.kind).where(e.bank_ref.in_(bank_refs)))
        return {r.bank_ref: r.kind for r in rows}

    async def arrived(self, channel: str, day: date, currency: str) -> int:
        """Every arrival of the channel's settlement of the date, on any statement."""
        e = funds_entries.c
        total = await self._conn.scalar(
            select(func.coalesce(func.sum(e.amount), 0)).where(
                e.channel == channel,
                e.business_date == day,
                e.currency == currency,
                e.kind == EntryKind.ARRIVAL.value,
            )
        )
        return int(total or 0)

    async def position(self, channel: str, day: date, currency: str) -> Position | None:
        p = funds_positions.c
        row = (
            await self._conn.execute(
                select(funds_positions).where(
                    p.channel == channel, p.business_date == day, p.currency == currency
                )
            )
        ).first()
        if row is None:
            return None
        return Position(
            row.channel,
            row.business_date,
            row.currency,
            row.expected,
            row.arrived,
            row.parked,
            row.parks,
            Outcome(row.outcome),
        )

    async def save_position(self, position: Position, statement_date: date, now: datetime) -> None:
        values = {
            "channel": position.channel,
            "business_date": position.business_date,
            "currency": position.currency,
            "expected": position.expected,
            "arrived": position.arrived,
            "parked": position.parked,
            "parks": position.parks,
            "outcome": position.outcome.value,
            "statement_date": statement_date,
            "updated_at": now,
        }
        statement = pg_insert(funds_positions).values(values)
        keys = ("channel", "business_date", "currency")
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=list(keys),
                set_={k: statement.excluded[k] for k in values if k not in keys},
            )
        )

    async def save_checks(self, result: ReserveReconciliation, now: datetime) -> None:
        differences = [_plain(asdict(d)) for d in result.differences]
        for check in result.balances:
            values = {
                "statement_date": result.statement_date,
                "currency": check.currency,
                "import_id": result.import_id,
                "bank_closing": check.bank_closing,
                "ledger_balance": check.ledger_balance,
                "balanced": check.balanced,
                "counts": result.counts,
                "differences": [d for d in differences if d["currency"] == check.currency],
                "created_at": now,
            }
            statement = pg_insert(funds_checks).values(values)
            keys = ("statement_date", "currency")
            await self._conn.execute(
                statement.on_conflict_do_update(
                    index_elements=list(keys),
                    set_={k: statement.excluded[k] for k in values if k not in keys},
                )
            )

    async def advanced_payouts(self, trade_dates: Iterable[date]) -> list[AdvancedPayout]:
        """The D+0 payouts that paid a line of any of the trade dates, each with every trade
        date it paid."""
        days = sorted(set(trade_dates))
        if not days:
            return []
        lines, payouts = settlement_lines.c, settlement_payouts.c
        key = (lines.merchant_id, lines.currency, lines.paid_on)
        paying = select(*key).where(lines.trade_date.in_(days), lines.paid_on.is_not(None))
        rows = await self._conn.execute(
            select(*key, lines.trade_date)
            .select_from(
                settlement_lines.join(
                    settlement_payouts,
                    and_(
                        payouts.merchant_id == lines.merchant_id,
                        payouts.currency == lines.currency,
                        payouts.settlement_date == lines.paid_on,
                    ),
                )
            )
            .where(payouts.advanced.is_(True), tuple_(*key).in_(paying))
            .order_by(*key, lines.trade_date)
        )
        paid: dict[tuple[str, str, date], list[date]] = {}
        for row in rows:
            paid.setdefault((row.merchant_id, row.currency, row.paid_on), []).append(row.trade_date)
        return [AdvancedPayout(*k, tuple(v)) for k, v in paid.items()]

    async def date_funds(self, day: date, currency: str) -> DateFunds | None:
        """What each channel owes for the trade date by its clearing, and each channel's
        settlement of it as reserve reconciliation last found it; None when the date was never
        cleared."""
        batches, channels = settlement_batches.c, settlement_channel_lines.c
        cleared = await self._conn.scalar(select(batches.batch_id).where(batches.trade_date == day))
        if cleared is None:
            return None
        rows = await self._conn.execute(
            select(channels.channel, channels.net).where(
                channels.batch_id == cleared, channels.currency == currency
            )
        )
        owed = {r.channel: int(r.net) for r in rows}
        p = funds_positions.c
        positions = await self._conn.execute(
            select(p.channel, p.expected, p.arrived).where(
                p.business_date == day, p.currency == currency
            )
        )
        return DateFunds(owed, {r.channel: Arrival(r.expected, r.arrived) for r in positions})
