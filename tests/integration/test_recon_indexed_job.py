"""Reconciliation with RECON_MATCH_RUNNER=indexed-job against real services: the run stages its
day into the shared work folder, writes its manifest and waits, while the test plays
Kubernetes and starts `python -m recon.entrypoints.bucket_job` as OS processes, one per
completion index (JOB_COMPLETION_INDEX), as an Indexed Job's pods would. The run then ends
exactly as a run matched by recon's own worker processes; a range with no result fails the run
when its time is up, and a range failing past the Job's retries fails it at once."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from pathlib import Path
from time import monotonic
from typing import Any

import asyncpg
import grpc
import pytest

from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from recon.bootstrap import build_app as build_recon
from recon.settings import ReconSettings
from tests.helpers import connect
from tests.integration.conftest import serving
from tests.integration.test_recon_matching import (
    HEADER,
    SHANGHAI,
    _date,
    _discrepancies,
    _every_difference,
    _import,
    _pay,
    _records,
    _run,
    _suspense_balance,
    card_user,  # noqa: F401 - the fixture
    gateway,  # noqa: F401 - the fixture (on this module's channel)
    line,
)

RANGES = 4  # the test's runs: completions 0-3, 256 buckets each
JobRecon = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture
def channel() -> str:
    return f"rj{secrets.token_hex(3)}"


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """The volume recon and the Job's pods share."""
    return tmp_path / "recon-work"


@pytest.fixture
def job_recon(gateway_addr: str, ledger_addr: str, work_dir: Path) -> JobRecon:
    """Starts a recon whose runs' ranges are matched by the Indexed Job over work_dir."""

    def start(**overrides: Any) -> AbstractAsyncContextManager[str]:
        settings = ReconSettings(
            gateway_addr=gateway_addr,
            ledger_addr=ledger_addr,
            ranges=RANGES,
            match_runner="indexed-job",
            work_dir=work_dir,
            job_poll_seconds=0.1,
            **overrides,
        )
        return serving(build_recon, settings)

    return start


async def _staged(work_dir: Path, running: asyncio.Task[Any]) -> Path:
    """The folder of the run once its manifest is written (the run waits for the Job then)."""
    deadline = monotonic() + 60
    while monotonic() < deadline:
        found = list(work_dir.glob("*/manifest.json"))
        if found:
            [manifest] = found
            return manifest.parent
        if running.done():
            running.result()  # the run's error, if it failed before waiting
            raise AssertionError("the run ended without waiting for the Job")
        await asyncio.sleep(0.05)
    raise AssertionError("no run staged in time")


async def _pods(folder: Path, indexes: Iterable[int], *extra: str) -> list[int]:
    """Completions of the Indexed Job, as real processes side by side; their exit codes."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "recon.entrypoints.bucket_job",
            str(folder),
            *extra,
            env={**os.environ, "JOB_COMPLETION_INDEX": str(index)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for index in indexes
    ]
    return [await p.wait() for p in processes]


async def _one_payment_billed(gateway_addr: str, recon_addr: str, channel: str, payer: str) -> date:
    """A payment on the channel today and its bill imported: a day to reconcile."""
    async with connect(gateway_addr) as conn:
        paid = await _pay(gpb_grpc.GatewayServiceStub(conn), 1200, payer)
    day = datetime.now(UTC).astimezone(SHANGHAI).date()
    [record] = [
        r for r in await _records(gateway_addr, channel, day) if r.payment_id == paid.payment_id
    ]
    async with connect(recon_addr) as conn:
        await _import(rpb_grpc.ReconServiceStub(conn), channel, day, f"{HEADER}\n{line(record)}\n")
    return day


async def _run_request(
    recon: rpb_grpc.ReconServiceAsyncStub, channel: str, day: date
) -> rpb.RunReconciliationResponse:
    answer: rpb.RunReconciliationResponse = await recon.RunReconciliation(
        rpb.RunReconciliationRequest(
            request_id=f"rj-{secrets.token_hex(6)}", channel=channel, statement_date=_date(day)
        )
    )
    return answer


async def _latest_run(recon: rpb_grpc.ReconServiceAsyncStub, channel: str) -> rpb.ReconciliationRun:
    listed = await recon.ListRuns(rpb.ListRunsRequest(channel=channel, page_size=1))
    return listed.runs[0]


async def test_a_run_matched_by_the_indexed_job_ends_as_a_local_run_of_the_day(
    gateway: str,  # noqa: F811 - the fixture
    recon_addr: str,
    job_recon: JobRecon,
    work_dir: Path,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    channel: str,
    db: asyncpg.Connection,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    given = await _every_difference(gateway, channel, ledger_stub, db, card_user)
    day, bill, expected = given.day, given.bill, given.expected
    async with connect(recon_addr) as conn:
        local = rpb_grpc.ReconServiceStub(conn)
        await _import(local, channel, day, "\n".join(bill) + "\n")

        async with job_recon(job_timeout_seconds=120) as job_addr, connect(job_addr) as job_conn:
            recon = rpb_grpc.ReconServiceStub(job_conn)
            running = asyncio.create_task(_run(recon, channel, day))
            folder = await _staged(work_dir, running)
            waiting = await _latest_run(recon, channel)
            assert (waiting.run_id, waiting.state) == (
                folder.name,
                rpb.ReconciliationRun.STATE_RUNNING,
            )
            assert waiting.phase == rpb.ReconciliationRun.PHASE_MATCHING
            assert await _pods(folder, range(RANGES), "--ranges", str(RANGES)) == [0] * RANGES
            by_job = await running
        assert (by_job.buckets_done, by_job.buckets_total) == (1024, 1024)
        assert not folder.exists()  # staging removed once the run was done
        found = await _discrepancies(local, channel)
        assert {k: d.suspense_amount.minor_units for k, d in found.items()} == expected
        assert by_job.discrepancies == by_job.posted == len(expected)
        balance = await _suspense_balance(ledger_stub, channel)
        assert balance == sum(expected.values())

        # The same day matched by recon's own worker processes: the same outcomes, the same
        # differences, nothing more in suspense.
        by_workers = await _run(local, channel, day)
        assert {(c.outcome, c.count) for c in by_workers.outcome_counts} == {
            (c.outcome, c.count) for c in by_job.outcome_counts
        }
        assert (by_workers.statement_rows, by_workers.our_records, by_workers.ledger_records) == (
            by_job.statement_rows,
            by_job.our_records,
            by_job.ledger_records,
        )
        assert (by_workers.discrepancies, by_workers.posted) == (len(expected), 0)
        again = await _discrepancies(local, channel)
        assert {k: d.discrepancy_id for k, d in again.items()} == {
            k: d.discrepancy_id for k, d in found.items()
        }
        assert await _suspense_balance(ledger_stub, channel) == balance


async def test_a_range_without_a_result_fails_the_run_when_its_time_is_up(
    gateway: str,  # noqa: F811 - the fixture
    recon_addr: str,
    job_recon: JobRecon,
    work_dir: Path,
    channel: str,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    day = await _one_payment_billed(gateway, recon_addr, channel, card_user)
    async with job_recon(job_timeout_seconds=3) as job_addr, connect(job_addr) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        running = asyncio.create_task(_run_request(recon, channel, day))
        folder = await _staged(work_dir, running)
        # Completion 2 never runs (no pod scheduled, say).
        assert await _pods(folder, [0, 1, 3]) == [0, 0, 0]
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await running
        assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        run = await _latest_run(recon, channel)
    assert run.run_id == folder.name
    assert run.state == rpb.ReconciliationRun.STATE_FAILED
    assert run.failure == str(failed.value.details())
    assert "no result in 3 s for bucket ranges 2 (of 4)" in run.failure
    assert f"RUN_ID={run.run_id}" in run.failure
    assert run.phase == rpb.ReconciliationRun.PHASE_MATCHING  # where it stopped
    assert run.buckets_done == 768  # three ranges' buckets were reported as they came
    assert not folder.exists()


async def test_a_range_failing_past_the_jobs_retries_fails_the_run_at_once(
    gateway: str,  # noqa: F811 - the fixture
    recon_addr: str,
    job_recon: JobRecon,
    work_dir: Path,
    channel: str,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    day = await _one_payment_billed(gateway, recon_addr, channel, card_user)
    started = monotonic()
    async with (
        job_recon(job_timeout_seconds=120, job_retries=1) as job_addr,
        connect(job_addr) as conn,
    ):
        recon = rpb_grpc.ReconServiceStub(conn)
        running = asyncio.create_task(_run_request(recon, channel, day))
        folder = await _staged(work_dir, running)
        assert await _pods(folder, [0, 1, 3]) == [0, 0, 0]
        # Completion 2 in a Job of the wrong size fails; Kubernetes retries it once.
        assert await _pods(folder, [2], "--ranges", "16") == [1]
        await asyncio.sleep(0.3)
        assert not running.done()
        assert await _pods(folder, [2], "--ranges", "16") == [1]
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await running
        run = await _latest_run(recon, channel)
    assert monotonic() - started < 60
    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert run.state == rpb.ReconciliationRun.STATE_FAILED
    assert run.failure.startswith(
        f"bucket range 2 of run {run.run_id} failed in the Indexed Job 2 times, last: "
        "ValueError: the Job has 16 completions, the run 4 ranges"
    )
    assert not folder.exists()
