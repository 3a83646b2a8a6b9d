"""Reads and writes reconciliation runs, their discrepancies and the items carried between
dates."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from recon.adapters.tables import carried_items, discrepancies, runs
from recon.domain.discrepancies import (
    RETURNING,
    Action,
    Discrepancy,
    DiscrepancyState,
    Resolution,
    finding_from_json,
    items_json,
)
from recon.domain.matching import Finding, Outcome
from recon.domain.model import Phase, ReconciliationRun, RunState

_RUN_FIELDS = (
    "phase",
    "statement_rows",
    "our_records",
    "ledger_records",
    "carried_in",
    "buckets_done",
    "buckets_total",
    "import_id",
    "discrepancies",
    "posted",
    "matched_later",
    "flagged_resolved",
    "failure",
)


def _run(row: Any) -> ReconciliationRun:
    return ReconciliationRun(
        run_id=row.run_id,
        request_id=row.request_id,
        channel=row.channel,
        statement_date=row.statement_date,
        state=RunState(row.state),
        created_at=row.created_at,
        counts={Outcome(k): v for k, v in row.counts.items()},
        updated_at=row.updated_at,
        **{name: getattr(row, name) for name in _RUN_FIELDS if name != "phase"},
        phase=Phase(row.phase),
    )


def _run_values(run: ReconciliationRun) -> dict[str, Any]:
    return {
        "state": run.state.value,
        "counts": {k.value: v for k, v in run.counts.items()},
        "updated_at": run.updated_at,
        **{name: getattr(run, name) for name in _RUN_FIELDS},
        "phase": run.phase.value,
    }


def _discrepancy(row: Any) -> Discrepancy:
    how = None
    if row.resolved_at is not None:
        how = Resolution(
            Action(row.action),
            row.reason,
            row.approver,
            row.business_reference,
            row.counter_account_id,
            row.resolved_at,
            row.resolved_on,
        )
    return Discrepancy(
        discrepancy_id=row.discrepancy_id,
        channel=row.channel,
        statement_date=row.statement_date,
        run_id=row.run_id,
        finding=finding_from_json(row.detail),
        created_at=row.created_at,
        last_run_id=row.last_run_id,
        posted=row.posted,
        state=DiscrepancyState(row.state),
        resolution=how,
    )


def _discrepancy_values(found: Discrepancy) -> dict[str, Any]:
    f = found.finding
    b, g, ledger = f.bill, f.ours, f.ledger
    return {
        "discrepancy_id": found.discrepancy_id,
        "channel": found.channel,
        "statement_date": found.statement_date,
        "run_id": found.run_id,
        "last_run_id": found.last_run_id or found.run_id,
        "outcome": f.outcome.value,
        "kind": f.kind.value,
        "transaction_id": f.key,
        "channel_transaction_id": (b.channel_id if b else "") or (g.channel_id if g else ""),
        "merchant_id": found.merchant_id,
        "currency": found.currency,
        "statement_amount": b.amount if b else None,
        "our_amount": g.amount if g else None,
        "ledger_amount": ledger.net if ledger else None,
        "statement_fee": b.fee if b else None,
        "our_fee": g.fee if g else None,
        "statement_succeeded": bool(b and b.succeeded),
        "our_state": g.state if g else "",
        "flagged": bool(g and g.flagged),
        "detail": items_json(f),
        "suspense_amount": found.suspense_amount,
        "suspense_transfer_id": found.suspense_transfer_id,
        "suspense_item_id": found.suspense_item_id,
        "posted": found.posted,
        "state": found.state.value,
        "action": "",
        "reason": "",
        "approver": "",
        "business_reference": "",
        "clearing_transfer_id": "",
        "counter_account_id": "",
        "resolved_at": None,
        "resolved_on": None,
        "created_at": found.created_at,
    }


class ReconRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def lock_day(self, channel: str, day: date) -> None:
        """Holds the channel's date for this transaction: runs of one date, one at a time."""
        key = f"recon.run:{channel}:{day.isoformat()}"
        await self._conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))

    async def by_request_id(self, request_id: str) -> ReconciliationRun | None:
        row = (
            await self._conn.execute(select(runs).where(runs.c.request_id == request_id))
        ).first()
        return _run(row) if row else None

    async def get_run(self, run_id: str) -> ReconciliationRun | None:
        row = (await self._conn.execute(select(runs).where(runs.c.run_id == run_id))).first()
        return _run(row) if row else None

    async def add_run(self, run: ReconciliationRun) -> bool:
        statement = (
            pg_insert(runs)
            .values(
                run_id=run.run_id,
                request_id=run.request_id,
                channel=run.channel,
                statement_date=run.statement_date,
                created_at=run.created_at,
                **_run_values(run),
            )
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(runs.c.run_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def save_run(self, run: ReconciliationRun) -> None:
        await self._conn.execute(
            update(runs).where(runs.c.run_id == run.run_id).values(**_run_values(run))
        )

    async def list_runs(
        self, channel: str, day: date | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[ReconciliationRun]:
        query = select(runs)
        if channel:
            query = query.where(runs.c.channel == channel)
        if day is not None:
            query = query.where(runs.c.statement_date == day)
        if after is not None:
            query = query.where(tuple_(runs.c.created_at, runs.c.run_id) < tuple_(*after))
        query = query.order_by(runs.c.created_at.desc(), runs.c.run_id.desc()).limit(limit)
        return [_run(r) for r in await self._conn.execute(query)]

    async def discrepancies_of(self, channel: str, day: date) -> list[Discrepancy]:
        rows = await self._conn.execute(
            select(discrepancies).where(
                discrepancies.c.channel == channel, discrepancies.c.statement_date == day
            )
        )
        return [_discrepancy(r) for r in rows]

    async def returning(self, channel: str, day: date) -> list[Discrepancy]:
        """Open long, short and ledger items of earlier dates, and those a run of this date
        resolved as matched (so the date run again takes in what it took in before)."""
        rows = await self._conn.execute(
            select(discrepancies).where(
                discrepancies.c.channel == channel,
                discrepancies.c.statement_date < day,
                discrepancies.c.outcome.in_([o.value for o in RETURNING]),
                or_(
                    discrepancies.c.state == DiscrepancyState.OPEN.value,
                    and_(
                        discrepancies.c.action == Action.MATCHED_LATER.value,
                        discrepancies.c.resolved_on == day,
                    ),
                ),
            )
        )
        return [_discrepancy(r) for r in rows]

    async def get_discrepancy(
        self, discrepancy_id: str, *, for_update: bool = False
    ) -> Discrepancy | None:
        query = select(discrepancies).where(discrepancies.c.discrepancy_id == discrepancy_id)
        row = (await self._conn.execute(query.with_for_update() if for_update else query)).first()
        return _discrepancy(row) if row else None

    async def add_discrepancies(self, found: Iterable[Discrepancy]) -> None:
        values = [_discrepancy_values(d) for d in found]
        for start in range(0, len(values), 1000):
            await self._conn.execute(insert(discrepancies), values[start : start + 1000])

    async def seen_again(self, ids: list[str], run_id: str) -> None:
        await self._conn.execute(
            update(discrepancies)
            .where(discrepancies.c.discrepancy_id.in_(ids))
            .values(last_run_id=run_id)
        )

    async def mark_posted(self, ids: list[str]) -> None:
        await self._conn.execute(
            update(discrepancies).where(discrepancies.c.discrepancy_id.in_(ids)).values(posted=True)
        )

    async def resolve(self, found: Discrepancy, clearing_transfer_id: str) -> None:
        how = found.resolution
        assert how is not None
        await self._conn.execute(
            update(discrepancies)
            .where(discrepancies.c.discrepancy_id == found.discrepancy_id)
            .values(
                state=found.state.value,
                action=how.action.value,
                reason=how.reason,
                approver=how.approver,
                business_reference=how.business_reference,
                clearing_transfer_id=clearing_transfer_id,
                counter_account_id=how.counter_account_id,
                resolved_at=how.resolved_at,
                resolved_on=how.resolved_on,
            )
        )

    async def list_discrepancies(
        self,
        channel: str,
        day: date | None,
        outcome: Outcome | None,
        state: DiscrepancyState | None,
        after: tuple[date, str] | None,
        limit: int,
    ) -> list[Discrepancy]:
        query = select(discrepancies)
        if channel:
            query = query.where(discrepancies.c.channel == channel)
        if day is not None:
            query = query.where(discrepancies.c.statement_date == day)
        if outcome is not None:
            query = query.where(discrepancies.c.outcome == outcome.value)
        if state is not None:
            query = query.where(discrepancies.c.state == state.value)
        key = tuple_(discrepancies.c.statement_date, discrepancies.c.discrepancy_id)
        if after is not None:
            query = query.where(key > tuple_(*after))
        query = query.order_by(
            discrepancies.c.statement_date, discrepancies.c.discrepancy_id
        ).limit(limit)
        return [_discrepancy(r) for r in await self._conn.execute(query)]

    async def open_item_ages(self, now: datetime) -> list[tuple[str, int, int]]:
        """Open discrepancies by channel and whole days since they were found: (channel, days,
        how many)."""
        days = func.floor(func.extract("epoch", now - discrepancies.c.created_at) / 86400).cast(
            Integer
        )
        rows = await self._conn.execute(
            select(discrepancies.c.channel, days.label("days"), func.count())
            .where(discrepancies.c.state == DiscrepancyState.OPEN.value)
            .group_by(discrepancies.c.channel, days)
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def carried_into(self, channel: str, day: date) -> list[Finding]:
        rows = await self._conn.execute(
            select(carried_items.c.detail)
            .where(
                carried_items.c.channel == channel,
                carried_items.c.from_date == day - timedelta(days=1),
            )
            .order_by(carried_items.c.seq)
        )
        return [finding_from_json(r.detail) for r in rows]

    async def replace_carried(self, channel: str, day: date, carried: list[Finding]) -> None:
        await self._conn.execute(
            delete(carried_items).where(
                carried_items.c.channel == channel, carried_items.c.from_date == day
            )
        )
        values = [
            {"channel": channel, "from_date": day, "seq": n, "detail": items_json(f)}
            for n, f in enumerate(carried)
        ]
        for start in range(0, len(values), 1000):
            await self._conn.execute(insert(carried_items), values[start : start + 1000])
