"""A reconciliation run as GetRun shows it against the real service: while it runs, its phase
moves on and its buckets matched grow (as the worker processes finish their ranges, spawned
afresh for the run: a real slow-down, nothing mocked); once done, every field is the run's."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest

from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from recon.bootstrap import build_app as build_recon
from recon.settings import ReconSettings
from tests.helpers import connect, outbox_drained
from tests.integration.conftest import serving
from tests.integration.test_recon_matching import (
    HEADER,
    SHANGHAI,
    _date,
    _import,
    _pay,
    _records,
    card_user,  # noqa: F401 - the fixture
    gateway,  # noqa: F401 - the fixture, on this module's channel
    line,
)

RANGES = 16  # the default: progress in sixteen steps of 64 buckets
Run = rpb.ReconciliationRun


@pytest.fixture
def channel() -> str:
    return f"rp{secrets.token_hex(3)}"


@pytest.fixture
async def recon(
    gateway_addr: str, ledger_addr: str
) -> AsyncIterator[rpb_grpc.ReconServiceAsyncStub]:
    settings = ReconSettings(gateway_addr=gateway_addr, ledger_addr=ledger_addr, ranges=RANGES)
    async with serving(build_recon, settings) as addr, connect(addr) as conn:
        yield rpb_grpc.ReconServiceStub(conn)


async def _watch(
    recon: rpb_grpc.ReconServiceAsyncStub, channel: str, running: asyncio.Task[object]
) -> list[Run]:
    """The run as GetRun shows it, as often as it can be asked, until it is over."""
    seen: list[Run] = []
    run_id = ""
    while not running.done():
        if not run_id:
            listed = await recon.ListRuns(rpb.ListRunsRequest(channel=channel, page_size=1))
            run_id = listed.runs[0].run_id if listed.runs else ""
        if run_id:
            seen.append((await recon.GetRun(rpb.GetRunRequest(run_id=run_id))).run)
        await asyncio.sleep(0.01)
    return seen


async def test_get_run_shows_a_run_in_flight_and_done(
    gateway: str,  # noqa: F811 - the fixture
    channel: str,
    recon: rpb_grpc.ReconServiceAsyncStub,
    db: asyncpg.Connection,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    async with connect(gateway) as conn:
        stub = gpb_grpc.GatewayServiceStub(conn)
        paid = [await _pay(stub, 4000 + n, card_user) for n in range(6)]
    assert await outbox_drained(db)
    day = datetime.now(UTC).astimezone(SHANGHAI).date()
    records = {r.payment_id: r for r in await _records(gateway, channel, day)}
    bill = [HEADER, *(line(records[p.payment_id]) for p in paid[:5])]  # the last one: short
    imported = await _import(recon, channel, day, "\n".join(bill) + "\n")
    started = datetime.now(UTC)

    request = rpb.RunReconciliationRequest(
        request_id=f"rp-{secrets.token_hex(6)}", channel=channel, statement_date=_date(day)
    )

    async def run() -> rpb.RunReconciliationResponse:
        answer: rpb.RunReconciliationResponse = await recon.RunReconciliation(request)
        return answer

    running = asyncio.create_task(run())
    seen = await _watch(recon, channel, running)
    answer = await running

    # In flight: running, its phase never going back, buckets matched never fewer; seen
    # matching with buckets left, and moving on (e.g. staging, matching at 0, at 704, at
    # 1024, posting).
    in_flight = [r for r in seen if r.state == Run.STATE_RUNNING]
    assert in_flight, "the run was never seen running"
    assert [r.phase for r in seen] == sorted(r.phase for r in seen)
    assert [r.buckets_done for r in seen] == sorted(r.buckets_done for r in seen)
    assert any(r.phase == Run.PHASE_MATCHING and r.buckets_done < 1024 for r in in_flight)
    assert len({(r.phase, r.buckets_done) for r in in_flight}) >= 3  # it moved on, twice
    assert all(r.buckets_total == 1024 and not r.failure for r in seen)

    # Done: GetRun gives the run RunReconciliation answered, every field the run's.
    done = (await recon.GetRun(rpb.GetRunRequest(run_id=answer.run.run_id))).run
    assert done == answer.run
    assert (done.channel, done.statement_date, done.state, done.phase) == (
        channel,
        _date(day),
        Run.STATE_COMPLETED,
        Run.PHASE_DONE,
    )
    assert done.run_id.startswith("rec_")
    assert done.import_id == imported.statement_import.import_id
    assert (done.statement_rows, done.our_records, done.ledger_records) == (5, 6, 6)
    assert (done.carried_in, done.buckets_done, done.buckets_total) == (0, 1024, 1024)
    counts = {c.outcome: c.count for c in done.outcome_counts}
    assert counts == {rpb.MATCH_OUTCOME_MATCHED: 5, rpb.MATCH_OUTCOME_SHORT: 1}
    assert (done.discrepancies, done.posted, done.matched_later, done.flagged_resolved) == (
        1,
        1,
        0,
        0,
    )
    assert done.failure == ""
    created, updated = done.create_time.ToDatetime(UTC), done.update_time.ToDatetime(UTC)
    assert started - timedelta(seconds=1) <= created <= updated <= datetime.now(UTC)
    listed = await recon.ListRuns(rpb.ListRunsRequest(channel=channel, statement_date=_date(day)))
    assert [r.run_id for r in listed.runs] == [done.run_id]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await recon.GetRun(rpb.GetRunRequest(run_id=f"rec_{secrets.token_hex(14)}"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
