"""Reads and writes settlement: merchants' settings, batches with their lines, settlement
payouts; and reads what reconciliation says of a date (runs, open and resolved differences)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from paysuite import accounts
from recon.adapters.completed_runs import run_completed
from recon.adapters.tables import (
    discrepancies,
    settlement_batches,
    settlement_channel_lines,
    settlement_lines,
    settlement_payouts,
    settlement_settings,
)
from recon.domain.discrepancies import DiscrepancyState
from recon.domain.settlement import (
    BatchState,
    ChannelTotals,
    LineState,
    MerchantTotals,
    PayoutState,
    SettlementBatch,
    SettlementLine,
    SettlementPayout,
    SettlementSettings,
)

_UNPAID = (LineState.SCHEDULED.value, LineState.HELD.value)
_SETTINGS_FIELDS = (
    "currency",
    "cycle_days",
    "advance",
    "minimum_payout",
    "reserve_bps",
    "reserve_days",
    "account_no",
    "account_name",
)


def _settings(row: Any) -> SettlementSettings:
    return SettlementSettings(
        merchant_id=row.merchant_id,
        **{name: getattr(row, name) for name in _SETTINGS_FIELDS},
        updated_at=row.updated_at,
    )


def _batch(row: Any) -> SettlementBatch:
    return SettlementBatch(
        row.batch_id, row.trade_date, BatchState(row.state), row.created_at, row.updated_at
    )


def _line(row: Any) -> SettlementLine:
    totals = MerchantTotals(
        row.merchant_id,
        row.currency,
        row.payments,
        row.payments_count,
        row.refunds,
        row.refunds_count,
        row.fees,
        row.adjustments,
        row.coupons,
    )
    return SettlementLine(
        batch_id=row.batch_id,
        totals=totals,
        trade_date=row.trade_date,
        settlement_date=row.settlement_date,
        reserve_held=row.reserve_held,
        reserve_release_date=row.reserve_release_date,
        advanced=row.advanced,
        state=LineState(row.state),
        reserve_released=row.reserve_released,
        paid_on=row.paid_on,
    )


def _line_values(line: SettlementLine, now: datetime) -> dict[str, Any]:
    totals = line.totals
    return {
        "batch_id": line.batch_id,
        "merchant_id": totals.merchant_id,
        "currency": totals.currency,
        "trade_date": line.trade_date,
        "settlement_date": line.settlement_date,
        "payments": totals.payments,
        "payments_count": totals.payments_count,
        "refunds": totals.refunds,
        "refunds_count": totals.refunds_count,
        "fees": totals.fees,
        "adjustments": totals.adjustments,
        "coupons": totals.coupons,
        "net": totals.net,
        "reserve_held": line.reserve_held,
        "reserve_release_date": line.reserve_release_date,
        "reserve_released": line.reserve_released,
        "advanced": line.advanced,
        "state": line.state.value,
        "paid_on": line.paid_on,
        "created_at": now,
        "updated_at": now,
    }


def _payout(row: Any) -> SettlementPayout:
    return SettlementPayout(
        merchant_id=row.merchant_id,
        currency=row.currency,
        settlement_date=row.settlement_date,
        batch_id=row.batch_id,
        amount=row.amount,
        reserve_released=row.reserve_released,
        advanced=row.advanced,
        created_at=row.created_at,
        updated_at=row.updated_at,
        attempt=row.attempt,
        payout_id=row.payout_id,
        state=PayoutState(row.state),
        failure_reason=row.failure_reason,
        return_reason=row.return_reason,
    )


def _payout_values(payout: SettlementPayout) -> dict[str, Any]:
    return {
        "batch_id": payout.batch_id,
        "amount": payout.amount,
        "reserve_released": payout.reserve_released,
        "advanced": payout.advanced,
        "attempt": payout.attempt,
        "request_id": payout.request_id,
        "payout_id": payout.payout_id,
        "state": payout.state.value,
        "failure_reason": payout.failure_reason[:64],
        "return_reason": payout.return_reason[:64],
        "updated_at": payout.updated_at,
    }


def _line_key(line: SettlementLine) -> Any:
    return and_(
        settlement_lines.c.batch_id == line.batch_id,
        settlement_lines.c.merchant_id == line.merchant_id,
        settlement_lines.c.currency == line.currency,
    )


class SettlementRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    # Settings.
    async def get_settings(self, merchant_id: str) -> SettlementSettings | None:
        row = (
            await self._conn.execute(
                select(settlement_settings).where(settlement_settings.c.merchant_id == merchant_id)
            )
        ).first()
        return _settings(row) if row else None

    async def settings_of(self, merchant_ids: Iterable[str]) -> dict[str, SettlementSettings]:
        rows = await self._conn.execute(
            select(settlement_settings).where(
                settlement_settings.c.merchant_id.in_(sorted(set(merchant_ids)))
            )
        )
        return {row.merchant_id: _settings(row) for row in rows}

    async def save_settings(self, settings: SettlementSettings, now: datetime) -> None:
        values = {name: getattr(settings, name) for name in _SETTINGS_FIELDS}
        statement = pg_insert(settlement_settings).values(
            merchant_id=settings.merchant_id, created_at=now, updated_at=now, **values
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=["merchant_id"], set_={**values, "updated_at": now}
            )
        )

    # What reconciliation says of a date.
    async def reconciled(self, channel: str, day: date) -> bool:
        """Whether a run of the channel's date completed."""
        return await run_completed(self._conn, channel, day)

    async def open_differences(self, channel: str, day: date) -> int:
        found = await self._conn.scalar(
            select(func.count())
            .select_from(discrepancies)
            .where(
                discrepancies.c.channel == channel,
                discrepancies.c.statement_date == day,
                discrepancies.c.state == DiscrepancyState.OPEN.value,
            )
        )
        return int(found or 0)

    async def adjustments(self, day: date) -> list[tuple[str, str, int]]:
        """(merchant, currency, amount) of the date's differences resolved to a merchant's
        payable: what they moved onto it."""
        rows = await self._conn.execute(
            select(
                discrepancies.c.counter_account_id,
                discrepancies.c.currency,
                func.sum(discrepancies.c.suspense_amount),
            )
            .where(
                discrepancies.c.statement_date == day,
                discrepancies.c.state == DiscrepancyState.RESOLVED.value,
                discrepancies.c.counter_account_id.like("merchant.%.payable.%"),
            )
            .group_by(discrepancies.c.counter_account_id, discrepancies.c.currency)
        )
        found = []
        for account, currency, amount in rows:
            merchant = account.removeprefix("merchant.").removesuffix(f".payable.{currency}")
            if accounts.merchant_payable(merchant, currency) == account:
                found.append((merchant, currency, int(amount)))
        return found

    # Batches and their lines.
    async def lock_batch(self, day: date) -> None:
        """Holds the trade date for this transaction: one clearing of a date at a time."""
        key = f"recon.settle:{day.isoformat()}"
        await self._conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))

    async def get_batch(self, batch_id: str) -> SettlementBatch | None:
        row = (
            await self._conn.execute(
                select(settlement_batches).where(settlement_batches.c.batch_id == batch_id)
            )
        ).first()
        return _batch(row) if row else None

    async def add_batch(
        self,
        batch: SettlementBatch,
        lines: list[SettlementLine],
        channels: list[ChannelTotals],
    ) -> None:
        await self._conn.execute(
            pg_insert(settlement_batches).values(
                batch_id=batch.batch_id,
                trade_date=batch.trade_date,
                state=batch.state.value,
                created_at=batch.created_at,
                updated_at=batch.updated_at,
            )
        )
        if lines:
            await self._conn.execute(
                pg_insert(settlement_lines),
                [_line_values(line, batch.created_at) for line in lines],
            )
        if channels:
            await self._conn.execute(
                pg_insert(settlement_channel_lines),
                [
                    {
                        "batch_id": batch.batch_id,
                        "channel": c.channel,
                        "currency": c.currency,
                        "payments": c.payments,
                        "refunds": c.refunds,
                        "fees": c.fees,
                        "net": c.net,
                    }
                    for c in channels
                ],
            )

    async def set_batch_state(self, batch_id: str, state: BatchState, now: datetime) -> None:
        await self._conn.execute(
            update(settlement_batches)
            .where(settlement_batches.c.batch_id == batch_id)
            .values(state=state.value, updated_at=now)
        )

    async def list_batches(self, after: tuple[date, str] | None, limit: int) -> list[Any]:
        query = select(settlement_batches)
        if after is not None:
            query = query.where(
                tuple_(settlement_batches.c.trade_date, settlement_batches.c.batch_id)
                < tuple_(*after)
            )
        query = query.order_by(
            settlement_batches.c.trade_date.desc(), settlement_batches.c.batch_id.desc()
        ).limit(limit)
        return [_batch(row) for row in await self._conn.execute(query)]

    async def lines_of(self, batch_id: str, merchant_id: str = "") -> list[SettlementLine]:
        query = select(settlement_lines).where(settlement_lines.c.batch_id == batch_id)
        if merchant_id:
            query = query.where(settlement_lines.c.merchant_id == merchant_id)
        query = query.order_by(settlement_lines.c.merchant_id, settlement_lines.c.currency)
        return [_line(row) for row in await self._conn.execute(query)]

    async def channels_of(self, batch_id: str) -> list[ChannelTotals]:
        rows = await self._conn.execute(
            select(settlement_channel_lines)
            .where(settlement_channel_lines.c.batch_id == batch_id)
            .order_by(settlement_channel_lines.c.channel, settlement_channel_lines.c.currency)
        )
        return [ChannelTotals(r.channel, r.currency, r.payments, r.refunds, r.fees) for r in rows]

    async def due_merchants(self, on: date) -> list[tuple[str, str]]:
        """(merchant, currency) with lines or reserves due by the date and not paid."""
        lines = settlement_lines.c
        rows = await self._conn.execute(
            select(lines.merchant_id, lines.currency)
            .where(
                or_(
                    and_(lines.state.in_(_UNPAID), lines.settlement_date <= on),
                    and_(
                        lines.reserve_held > 0,
                        lines.reserve_released.is_(False),
                        lines.reserve_release_date <= on,
                    ),
                )
            )
            .distinct()
            .order_by(lines.merchant_id, lines.currency)
        )
        return [(r.merchant_id, r.currency) for r in rows]

    async def unpaid_lines(self, merchant_id: str, currency: str) -> list[SettlementLine]:
        """The merchant's lines not in a payout yet, and those with a reserve still held."""
        lines = settlement_lines.c
        rows = await self._conn.execute(
            select(settlement_lines)
            .where(
                lines.merchant_id == merchant_id,
                lines.currency == currency,
                or_(
                    lines.state.in_(_UNPAID),
                    and_(lines.reserve_held > 0, lines.reserve_released.is_(False)),
                ),
            )
            .order_by(lines.trade_date)
            .with_for_update()
        )
        return [_line(row) for row in rows]

    async def save_lines(self, changed: Iterable[SettlementLine], now: datetime) -> None:
        for line in changed:
            await self._conn.execute(
                update(settlement_lines)
                .where(_line_key(line))
                .values(
                    state=line.state.value,
                    paid_on=line.paid_on,
                    reserve_released=line.reserve_released,
                    updated_at=now,
                )
            )

    # Settlement payouts.
    async def get_payout(
        self, merchant_id: str, currency: str, on: date, *, for_update: bool = False
    ) -> SettlementPayout | None:
        payouts = settlement_payouts.c
        query = select(settlement_payouts).where(
            payouts.merchant_id == merchant_id,
            payouts.currency == currency,
            payouts.settlement_date == on,
        )
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _payout(row) if row else None

    async def payouts_paying(
        self, lines: Iterable[SettlementLine]
    ) -> dict[tuple[str, str, date], SettlementPayout]:
        """The payouts the lines are in, by (merchant, currency, settlement date)."""
        keys = sorted({(x.merchant_id, x.currency, x.paid_on) for x in lines if x.paid_on})
        if not keys:
            return {}
        payouts = settlement_payouts.c
        rows = await self._conn.execute(
            select(settlement_payouts).where(
                tuple_(payouts.merchant_id, payouts.currency, payouts.settlement_date).in_(keys)
            )
        )
        found = [_payout(row) for row in rows]
        return {(p.merchant_id, p.currency, p.settlement_date): p for p in found}

    async def add_payout(self, payout: SettlementPayout) -> None:
        await self._conn.execute(
            pg_insert(settlement_payouts).values(
                merchant_id=payout.merchant_id,
                currency=payout.currency,
                settlement_date=payout.settlement_date,
                created_at=payout.created_at,
                **_payout_values(payout),
            )
        )

    async def save_payout(self, payout: SettlementPayout) -> None:
        payouts = settlement_payouts.c
        await self._conn.execute(
            update(settlement_payouts)
            .where(
                payouts.merchant_id == payout.merchant_id,
                payouts.currency == payout.currency,
                payouts.settlement_date == payout.settlement_date,
            )
            .values(**_payout_values(payout))
        )

    async def payouts_of_batch(self, batch_id: str) -> list[SettlementPayout]:
        rows = await self._conn.execute(
            select(settlement_payouts)
            .where(settlement_payouts.c.batch_id == batch_id)
            .order_by(settlement_payouts.c.merchant_id, settlement_payouts.c.settlement_date)
        )
        return [_payout(row) for row in rows]

    async def open_payouts(self, limit: int) -> list[SettlementPayout]:
        """Payouts the gateway has not answered definitely, the longest unchecked first."""
        rows = await self._conn.execute(
            select(settlement_payouts)
            .where(settlement_payouts.c.state.in_([s.value for s in PayoutState if s.open]))
            .order_by(settlement_payouts.c.updated_at)
            .limit(limit)
        )
        return [_payout(row) for row in rows]

    async def paid_by(self, payout_ids: Iterable[str]) -> list[SettlementPayout]:
        """The paid settlement payouts among the gateway's payouts named."""
        rows = await self._conn.execute(
            select(settlement_payouts).where(
                settlement_payouts.c.payout_id.in_(sorted(set(payout_ids))),
                settlement_payouts.c.state == PayoutState.SUCCEEDED.value,
            )
        )
        return [_payout(row) for row in rows]

    async def list_payouts(
        self,
        merchant_id: str,
        state: PayoutState | None,
        after: tuple[date, str] | None,
        limit: int,
    ) -> list[SettlementPayout]:
        """Newest settlement date first; after is a (date, "merchant currency") position."""
        payouts = settlement_payouts.c
        query = select(settlement_payouts)
        if merchant_id:
            query = query.where(payouts.merchant_id == merchant_id)
        if state is not None:
            query = query.where(payouts.state == state.value)
        if after is not None:
            merchant, _, currency = after[1].partition(" ")
            query = query.where(
                tuple_(payouts.settlement_date, payouts.merchant_id, payouts.currency)
                < tuple_(after[0], merchant, currency)
            )
        query = query.order_by(
            payouts.settlement_date.desc(), payouts.merchant_id.desc(), payouts.currency.desc()
        ).limit(limit)
        return [_payout(row) for row in await self._conn.execute(query)]
