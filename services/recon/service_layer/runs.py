"""Running a reconciliation of a channel's date, three ways, in hash buckets.

The run stages its inputs as files (the day's bill lines out of recon's own schema, the
gateway's records and the ledger's entries streamed from their APIs, and what earlier dates
carried in), has the engine match them a bucket range at a time, then stores what differs and
parks it in suspense. A date runs one run at a time; running it again finds the same
differences (their ids derive from what differs), posts none twice, and resolves as matched
those it no longer finds.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter as time_counter
from typing import Protocol
from zoneinfo import ZoneInfo

from paysuite import accounts
from paysuite.errors import DomainError, RequestIdReused
from paysuite.ids import new_id
from recon.adapters import business_dates, engine, indexed_job
from recon.adapters.engine import EngineSettings
from recon.domain.discrepancies import (
    Action,
    Discrepancy,
    DiscrepancyState,
    Resolution,
    Resolve,
    discrepancy,
    resolution,
    resolved,
)
from recon.domain.matching import CarryWindow, Finding, LedgerItem, OurItem, Outcome
from recon.domain.model import Phase, ReconciliationRun, RunState
from recon.domain.statement_totals import StatementImport
from recon.domain.statements import StatementFormat
from recon.service_layer import imports
from recon.service_layer.flagged_payments import clear_resolved
from recon.service_layer.flagged_traces import trace_flagged
from recon.service_layer.imports import ReaderFactory
from recon.service_layer.measurements import record_run
from recon.service_layer.unit_of_work import StatementUnitOfWorkFactory, UnitOfWorkFactory

_log = logging.getLogger(__name__)

OUR_ZONE = ZoneInfo("Asia/Shanghai")  # the gateway's accounting date is this calendar day


class StatementMissing(imports.StatementInvalid):
    """No statement was imported for the date, and recon cannot fetch one for the channel."""


class Records(Protocol):
    """Our side of a channel's date (recon.adapters.records)."""

    async def write_ours(self, channel: str, day: date, path: Path) -> int: ...

    async def write_entries(
        self,
        account_id: str,
        day: date,
        path: Path,
        *,
        skip: frozenset[str] = frozenset(),
        late: tuple[int, Path] | None = None,
    ) -> int: ...

    async def flagged(self, channel: str) -> list[tuple[date, OurItem]]: ...

    async def capture(self, payment_id: str, account_id: str) -> LedgerItem | None: ...

    def statement(self, channel: str, day: date) -> AsyncIterator[bytes]: ...

    async def clear_flags(self, channel: str, payment_ids: list[str], run_id: str) -> int: ...


class Suspense(Protocol):
    """The ledger's suspense account (recon.adapters.suspense)."""

    async def open_accounts(self, channel: str, currencies: list[str]) -> None: ...

    async def park(self, found: list[Discrepancy]) -> list[str]: ...

    async def clear(self, found: Discrepancy, how: Resolution) -> None: ...


class RangesNotMatched(DomainError):
    """The Indexed Job did not match every range of a run: a range failed more often than the
    Job retries it, or had no result in the time the run waits."""


@dataclass(frozen=True, slots=True)
class IndexedJob:
    """Ranges matched by the Kubernetes Indexed Job's pods over work_dir (a volume they mount):
    how long a run waits for every range, how often it looks, and the failed attempts a range
    may have (the Job's backoffLimitPerIndex)."""

    timeout_seconds: float
    poll_seconds: float
    retries: int


@dataclass(frozen=True, slots=True)
class RunConfig:
    engine: EngineSettings
    work_dir: Path
    carry_seconds: int
    formats: Mapping[str, StatementFormat]
    bill_zones: Mapping[str, str]
    failure_states: tuple[str, ...]
    # Channels whose bills' fees are not compared: their answers state none.
    fees_from_bill: frozenset[str] = frozenset()
    # Channels whose book is the ledger itself (the wallet balance): no bill to reconcile.
    ledger_books: frozenset[str] = frozenset()
    # Who matches the ranges: None, worker processes of this one; else the Indexed Job.
    indexed_job: IndexedJob | None = None


@dataclass(frozen=True, slots=True)
class RunDeps:
    uow: UnitOfWorkFactory
    statements: StatementUnitOfWorkFactory
    records: Records
    suspense: Suspense
    open_reader: ReaderFactory
    new_spool: Callable[[], imports.Spool]
    clock: Callable[[], datetime]
    config: RunConfig


@dataclass(frozen=True, slots=True)
class RunReconciliation:
    """fetch: fetch the bill of a channel recon fetches bills of (False: the current import)."""

    request_id: str
    channel: str
    statement_date: date
    fetch: bool = True


def window(config: RunConfig, channel: str, day: date) -> CarryWindow:
    """The date's cut as the channel's bill and the gateway count days, and how near is near."""
    bill_zone = ZoneInfo(config.bill_zones.get(channel, "Asia/Shanghai"))
    following = day + timedelta(days=1)
    return CarryWindow(
        bill_cut=int(datetime.combine(following, time(), bill_zone).timestamp()),
        our_cut=int(datetime.combine(following, time(), OUR_ZONE).timestamp()),
        seconds=config.carry_seconds,
    )


async def run_reconciliation(deps: RunDeps, command: RunReconciliation) -> ReconciliationRun:
    """A new run per request id; the same request id returns its run."""
    run, new = await start_run(deps, command)
    return await finish_run(deps, run, fetch=command.fetch) if new else run


async def start_run(deps: RunDeps, command: RunReconciliation) -> tuple[ReconciliationRun, bool]:
    """The request's run, recorded as running, and whether it is new (to be finished)."""
    async with deps.uow() as work:
        previous = await work.repo.by_request_id(command.request_id)
    if previous is not None:
        if (previous.channel, previous.statement_date) != (command.channel, command.statement_date):
            raise RequestIdReused("request_id was used for another run")
        return previous, False
    run = ReconciliationRun(
        run_id=new_id("rec"),
        request_id=command.request_id,
        channel=command.channel,
        statement_date=command.statement_date,
        state=RunState.RUNNING,
        created_at=deps.clock(),
        buckets_total=deps.config.engine.buckets,
        updated_at=deps.clock(),
    )
    async with deps.uow() as work:
        if not await work.repo.add_run(run):
            await work.rollback()
            raced = await work.repo.by_request_id(command.request_id)
            assert raced is not None
            return raced, False
        await work.commit()
    return run, True


async def finish_run(deps: RunDeps, run: ReconciliationRun, *, fetch: bool) -> ReconciliationRun:
    """Reconciles a started run's date; a failure is kept on the run and raised."""
    started = time_counter()
    try:
        finished = await _reconcile(deps, run, fetch)
    except Exception as exc:
        async with deps.uow() as work:  # as far as it got: its phase, counts, buckets matched
            saved = await work.repo.get_run(run.run_id) or run
        failure = str(exc)[:500] or type(exc).__name__
        failed = replace(saved, state=RunState.FAILED, failure=failure)
        await _save(deps, failed)
        record_run(run.channel, failed.state.value, time_counter() - started)
        raise
    record_run(run.channel, finished.state.value, time_counter() - started)
    return finished


async def reconcile_again(deps: RunDeps, imported: StatementImport) -> ReconciliationRun | None:
    """A file that replaced a date's import (a corrected bill) which a run had reconciled: the
    date reconciled again on it, once per import (the run's request id is the import's)."""
    if not imported.replaces:
        return None
    async with deps.uow() as work:
        earlier = await work.repo.list_runs(imported.channel, imported.statement_date, None, 1)
    if not earlier:
        return None
    command = RunReconciliation(
        f"reimport:{imported.import_id}", imported.channel, imported.statement_date, fetch=False
    )
    return await run_reconciliation(deps, command)


async def _save(deps: RunDeps, run: ReconciliationRun) -> ReconciliationRun:
    run = replace(run, updated_at=deps.clock())
    async with deps.uow() as work:
        await work.repo.save_run(run)
        await work.commit()
    return run


async def _statement(deps: RunDeps, channel: str, day: date, fetch: bool) -> StatementImport:
    """The date's bill: for a channel recon fetches statements of, fetched through the gateway
    and imported (the same file as before is the import made already, a corrected one replaces
    it); for another, or when not to fetch, the import made by ImportStatement."""
    statement_format = deps.config.formats.get(channel)
    if statement_format is None or not fetch:
        async with deps.statements() as work:
            current = await work.repo.current_import(channel, day)
        if current is None:
            raise StatementMissing(
                "no statement imported for the date: import the channel's bill first",
                metadata={"channel": channel, "statement_date": day.isoformat()},
            )
        return current
    command = imports.ImportStatement(channel, statement_format, day)
    return await imports.import_fetched(
        deps.statements,
        deps.open_reader,
        deps.new_spool,
        command,
        deps.records.statement(channel, day),
        deps.clock,
    )


async def _flagged_before(
    deps: RunDeps, channel: str, day: date
) -> tuple[list[OurItem], list[LedgerItem], list[str]]:
    """Flagged payments of earlier dates, their captures on the receivable, and their ids (for
    their bill lines): each run resolves them again until the gateway clears the flag."""
    earlier = [item for when, item in await deps.records.flagged(channel) if when < day]
    ledger = []
    for item in earlier:
        receivable = accounts.channel_receivable(channel, item.currency)
        found = await deps.records.capture(item.key, receivable)
        if found is not None:
            ledger.append(found)
    return earlier, ledger, [i.key for i in earlier]


# Connections the bill's lines are COPYed out over side by side, each a range of them.
EXPORT_PARTS = 2


async def _stage(
    deps: RunDeps,
    run: ReconciliationRun,
    folder: Path,
    returning: list[Discrepancy],
    fetch: bool,
) -> tuple[ReconciliationRun, business_dates.Sorted]:
    """The run's inputs as files, then staged: our side (the gateway's records, the ledger's
    entries, what earlier dates carried in) is staged while the bill's lines are still being
    COPYed out of recon's schema, the bill once they are. The ledger's entries are those of
    its business date of the same name, and those of the dates beside it that are this date's
    (recon.adapters.business_dates): what the run took of the next business date, and what of
    its own it hands on to the next date's run, are returned."""
    channel, day = run.channel, run.statement_date
    config = deps.config
    imported = await _statement(deps, channel, day, fetch)
    currencies = sorted({t.currency for t in imported.summary.totals} | {"CNY"})
    compare_fees = channel not in config.fees_from_bill

    async def bill_part(part: int) -> None:
        per = imported.summary.rows // EXPORT_PARTS + 1
        first, last = part * per + 1, (part + 1) * per if part < EXPORT_PARTS - 1 else 2**62
        async with deps.statements() as lines:
            path = folder / f"bill_lines-{part}.csv"
            await lines.repo.export_lines(imported, path, first, last, fees=compare_fees)

    cut = window(config, channel, day).our_cut

    async def entries(taken_before: frozenset[str]) -> None:
        for currency in currencies:
            account = accounts.channel_receivable(channel, currency)
            path = folder / f"ledger_entries-{currency}.csv"
            late = folder / f"{business_dates.LATE_ENTRIES}-{currency}.csv"
            await deps.records.write_entries(
                account, day, path, skip=taken_before, late=(cut, late)
            )
            following = folder / f"{business_dates.NEXT_ENTRIES}-{currency}.csv"
            await deps.records.write_entries(account, day + timedelta(days=1), following)

    async def our_side() -> tuple[dict[str, tuple[int, int]], business_dates.Sorted]:
        async with deps.uow() as work:
            brought = await work.repo.carried_into(channel, day)
        # The run of the day before took these of this business date's entries (its claims).
        carried = [f for f in brought if f.outcome is not Outcome.MATCHED]
        taken_before = frozenset(
            business_dates.transfer_id(f.kind, f.key)
            for f in brought
            if f.outcome is Outcome.MATCHED
        )
        flagged, flagged_ledger, flagged_ids = await _flagged_before(deps, channel, day)
        async with deps.statements() as statements:
            flagged_bill = await statements.repo.lines_of(
                channel, day, flagged_ids, config.failure_states, fees=compare_fees
            )
        await asyncio.gather(
            deps.records.write_ours(channel, day, folder / "ours.csv"), entries(taken_before)
        )
        found = [(f, "") for f in carried] + [(d.finding, d.discrepancy_id) for d in returning]
        engine.write_carried(
            folder,
            [
                *(replace(f.bill, carried=True, open_id=i) for f, i in found if f.bill),
                *flagged_bill,
            ],
            [*(replace(f.ours, carried=True, open_id=i) for f, i in found if f.ours), *flagged],
            [
                *(replace(f.ledger, carried=True, open_id=i) for f, i in found if f.ledger),
                *flagged_ledger,
            ],
        )
        across = await asyncio.to_thread(
            business_dates.sort_out,
            folder,
            [folder / "ours.csv", folder / engine.CARRIED["ours"]],
            folder / engine.CARRIED["ledger"],
        )
        staged = await asyncio.to_thread(
            engine.stage, folder, config.engine, config.failure_states, ("ours", "ledger")
        )
        return staged, across

    (ours, across), _ = await asyncio.gather(
        our_side(), asyncio.gather(*(bill_part(n) for n in range(EXPORT_PARTS)))
    )
    bill = await asyncio.to_thread(
        engine.stage, folder, config.engine, config.failure_states, ("bill",)
    )
    counts = engine.counts({**ours, **bill})
    staged = replace(
        run,
        phase=Phase.MATCHING,
        import_id=imported.import_id,
        statement_rows=counts.bill,
        our_records=counts.ours,
        ledger_records=counts.ledger,
        carried_in=counts.carried_in,
    )
    return staged, across


async def _match(deps: RunDeps, run: ReconciliationRun, folder: Path) -> ReconciliationRun:
    """The ranges in worker processes, or by the Indexed Job; progress saved on the run as
    they finish."""
    if deps.config.indexed_job is not None:
        return await _match_by_job(deps, run, folder, deps.config.indexed_job)
    done = [0]
    task = asyncio.create_task(
        asyncio.to_thread(
            engine.run_ranges, folder, deps.config.engine, lambda n: done.__setitem__(0, n)
        )
    )
    shown = 0
    while not task.done():
        await asyncio.wait([task], timeout=0.5)
        if done[0] != shown:
            shown = done[0]
            run = await _save(deps, replace(run, buckets_done=shown))
    await task
    return replace(run, buckets_done=run.buckets_total)


async def _match_by_job(
    deps: RunDeps, run: ReconciliationRun, folder: Path, job: IndexedJob
) -> ReconciliationRun:
    """The staged run's manifest written, then each range's result waited for: the Job's pods
    (started by the operator with the run's id, never by recon) match a range each."""
    manifest = indexed_job.Manifest(run.run_id, deps.config.engine, job.retries)
    path = await asyncio.to_thread(indexed_job.write_manifest, folder, manifest)
    _log.info(
        "reconciliation run waits for the bucket Indexed Job",
        extra={"run_id": run.run_id, "manifest": str(path), "ranges": manifest.engine.ranges},
    )
    deadline = time_counter() + job.timeout_seconds
    shown = 0
    while True:
        seen = await asyncio.to_thread(indexed_job.progress, folder, manifest)
        if seen.failed:
            index, error = min(seen.failed.items())
            raise RangesNotMatched(
                f"bucket range {index} of run {run.run_id} failed in the Indexed Job "
                f"{job.retries + 1} times, last: {error}",
                metadata={"run_id": run.run_id, "range": str(index)},
            )
        if seen.buckets_done != shown:
            shown = seen.buckets_done
            run = await _save(deps, replace(run, buckets_done=shown))
        if seen.complete:
            return replace(run, buckets_done=run.buckets_total)
        if time_counter() >= deadline:
            missing = ", ".join(str(i) for i in seen.missing)
            raise RangesNotMatched(
                f"no result in {job.timeout_seconds:g} s for bucket ranges {missing} (of "
                f"{manifest.engine.ranges}) of run {run.run_id}: is the Indexed Job running "
                f"with RUN_ID={run.run_id}?",
                metadata={"run_id": run.run_id, "missing": missing},
            )
        await asyncio.sleep(job.poll_seconds)


async def _reconcile(deps: RunDeps, run: ReconciliationRun, fetch: bool) -> ReconciliationRun:
    channel, day = run.channel, run.statement_date
    folder = deps.config.work_dir / run.run_id
    async with deps.uow() as lock:
        await lock.repo.lock_day(channel, day)
        async with deps.uow() as work:
            returning = await work.repo.returning(channel, day)
        folder.mkdir(parents=True, exist_ok=True)
        timer = _Timer(run.run_id)
        try:
            run, across = await _stage(deps, run, folder, returning, fetch)
            timer.lap("staged")
            run = await _save(deps, run)
            run = await _match(deps, run, folder)
            timer.lap("matched")
            findings, counts = await asyncio.to_thread(
                engine.finish, folder, window(deps.config, channel, day)
            )
            timer.lap("finished")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        # Entries of the business date posted after the gateway's day ended, of no record of
        # this date: carried to the next date's run, which has their records.
        handed_on = [Finding(Outcome.CARRIED, i.kind, i.key, ledger=i) for i in across.handed_on]
        if handed_on:
            findings = [*findings, *handed_on]
            counts[Outcome.CARRIED] = counts.get(Outcome.CARRIED, 0) + len(handed_on)
        claimed = [Finding(Outcome.MATCHED, i.kind, i.key, ledger=i) for i in across.claimed]
        run = await _save(deps, replace(run, phase=Phase.POSTING))
        run = await _post(deps, run, findings, counts, returning, claimed)
        await trace_flagged(deps.records, run.channel, run.run_id, findings)
        await clear_resolved(deps.records, run.channel, run.run_id, findings)
        timer.lap("posted")
    return await _save(deps, replace(run, state=RunState.COMPLETED, phase=Phase.DONE))


class _Timer:
    """Logs how long each phase of a run took."""

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id
        self._last = time_counter()

    def lap(self, phase: str) -> None:
        now = time_counter()
        _log.info(
            "reconciliation phase done",
            extra={"run_id": self._run_id, "phase": phase, "seconds": round(now - self._last, 2)},
        )
        self._last = now


async def _post(
    deps: RunDeps,
    run: ReconciliationRun,
    findings: list[Finding],
    counts: dict[Outcome, int],
    returning: list[Discrepancy],
    claimed: list[Finding],
) -> ReconciliationRun:
    """Stores what differs, parks what is new in suspense, resolves what matches now; what is
    carried, and the next business date's ledger items the run claimed (stored as MATCHED
    beside them: the next date's run leaves those entries out)."""
    channel, day, now = run.channel, run.statement_date, deps.clock()
    found = {
        d.discrepancy_id: d
        for d in (discrepancy(channel, day, run.run_id, f, now) for f in findings)
        if d.outcome.is_difference
    }
    came_back = {d.discrepancy_id: d for d in returning}
    carried = [f for f in findings if f.outcome is Outcome.CARRIED]
    async with deps.uow() as work:
        known = {d.discrepancy_id: d for d in await work.repo.discrepancies_of(channel, day)}
        known |= came_back
        fresh = [d for i, d in found.items() if i not in known]
        again = [i for i in found if i in known]
        gone = [d for i, d in known.items() if i not in found and d.state is DiscrepancyState.OPEN]
        await work.repo.add_discrepancies(fresh)
        await work.repo.seen_again(again, run.run_id)
        await work.repo.replace_carried(channel, day, [*carried, *claimed])
        await work.commit()
    await deps.suspense.open_accounts(channel, sorted({d.currency for d in fresh}))
    unposted = [*fresh, *(known[i] for i in again if not known[i].posted)]
    parked = await deps.suspense.park(unposted)
    async with deps.uow() as work:
        await work.repo.mark_posted(parked)
        await work.commit()
    for gone_item in gone:
        command = Resolve(
            gone_item.discrepancy_id,
            Action.MATCHED_LATER,
            f"matched by run {run.run_id} of {day.isoformat()}",
            business_reference=run.run_id,
        )
        how = resolution(gone_item, command, now, day)
        assert how is not None
        if gone_item.posted or gone_item.discrepancy_id in parked:
            await deps.suspense.clear(gone_item, how)
        async with deps.uow() as work:
            await work.repo.resolve(resolved(gone_item, how), gone_item.clearing_transfer_id)
            await work.commit()
    # Open items that came back and still differ were reported on their own date already.
    still_open = [f for f in findings if f.open_id and f.discrepancy_id(channel) == f.open_id]
    shown = dict(counts)
    for finding in still_open:
        shown[finding.outcome] -= 1
    return replace(
        run,
        counts={o: n for o, n in shown.items() if n},
        discrepancies=len(found) - len(still_open),
        posted=len([i for i in parked if i not in known or not known[i].posted]),
        matched_later=len(gone),
        flagged_resolved=len(
            [f for f in findings if f.ours and f.ours.flagged and f.outcome is not Outcome.CARRIED]
        ),
    )
