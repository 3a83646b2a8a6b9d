"""payctl recon import and run draw a progress bar on stderr when stderr is a terminal (bytes
uploaded; a run's phase and buckets matched), against a canned in-process ReconService; stdout
(--json) carries the one JSON object only, and without a terminal nothing is drawn."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.type import date_pb2
from typer.testing import CliRunner

from payctl import progress, recon_commands
from payctl.main import app
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from tests.unit.canned_grpc import serving_in_thread

Context = grpc.aio.ServicerContext[Any, Any]
DAY = date_pb2.Date(year=2026, month=3, day=4)
BUCKETS = 1024
# What a run reports as it goes, one per look: phase and buckets matched.
STEPS = [
    (rpb.ReconciliationRun.PHASE_STAGING, 0),
    (rpb.ReconciliationRun.PHASE_MATCHING, 256),
    (rpb.ReconciliationRun.PHASE_MATCHING, 768),
    (rpb.ReconciliationRun.PHASE_POSTING, 1024),
]


def _run(state: int, phase: int, done: int) -> rpb.ReconciliationRun:
    return rpb.ReconciliationRun(
        run_id="rec_1",
        channel="wechatsim",
        statement_date=DAY,
        state=state,  # type: ignore[arg-type]
        phase=phase,  # type: ignore[arg-type]
        buckets_done=done,
        buckets_total=BUCKETS,
    )


class SlowRecon(rpb_grpc.ReconServiceServicer):
    """A run that finishes once it has been looked at for every step; an import that reads
    every byte sent."""

    def __init__(self) -> None:
        self.looks = 0
        self.received = 0
        self.wait_for_looks = True
        self._seen_all = asyncio.Event()

    async def RunReconciliation(
        self, request: rpb.RunReconciliationRequest, context: Context
    ) -> rpb.RunReconciliationResponse:
        if self.wait_for_looks:
            await asyncio.wait_for(self._seen_all.wait(), 10)
        done = _run(rpb.ReconciliationRun.STATE_COMPLETED, rpb.ReconciliationRun.PHASE_DONE, 0)
        done.buckets_done = BUCKETS
        return rpb.RunReconciliationResponse(run=done)

    async def ListRuns(
        self, request: rpb.ListRunsRequest, context: Context
    ) -> rpb.ListRunsResponse:
        assert (request.channel, request.statement_date, request.page_size) == ("wechatsim", DAY, 1)
        phase, done = STEPS[min(self.looks, len(STEPS) - 1)]
        self.looks += 1
        if self.looks >= len(STEPS):
            self._seen_all.set()
        return rpb.ListRunsResponse(runs=[_run(rpb.ReconciliationRun.STATE_RUNNING, phase, done)])

    async def ImportStatement(
        self, request_iterator: AsyncIterator[rpb.ImportStatementRequest], context: Context
    ) -> rpb.ImportStatementResponse:
        async for message in request_iterator:
            self.received += len(message.chunk)
        imported = rpb.StatementImport(
            import_id="imp_1",
            channel="wechatsim",
            format=rpb.STATEMENT_FORMAT_WECHAT,
            statement_date=DAY,
            file_bytes=self.received,
            rows=3,
            totals=[rpb.StatementTotals(currency_code="CNY", payments=3)],
            control_totals_consistent=True,
        )
        return rpb.ImportStatementResponse(statement_import=imported)


@pytest.fixture
def recon() -> Iterator[tuple[str, SlowRecon]]:
    servicer = SlowRecon()  # type: ignore[abstract]
    with serving_in_thread(
        lambda server: rpb_grpc.add_ReconServiceServicer_to_server(servicer, server)
    ) as address:
        yield address, servicer


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stderr taken for a terminal; every state drawn; a run looked at often."""
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    monkeypatch.setattr(progress, "REDRAW_SECONDS", 0.0)
    monkeypatch.setattr(recon_commands, "POLL_SECONDS", 0.02)
    monkeypatch.setenv("COLUMNS", "120")


def _payctl(address: str, *args: str) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["recon", *args, "--recon", address])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout, result.stderr


def _drawn(stderr: str) -> str:
    """The bar's text without its terminal controls."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stderr)


def _statement(tmp_path: Path) -> Path:
    path = tmp_path / "bill.csv"
    path.write_bytes(b"x" * 2500)
    return path


def test_import_draws_the_bytes_sent(
    recon: tuple[str, SlowRecon],
    terminal: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, servicer = recon
    monkeypatch.setattr(recon_commands, "CHUNK_BYTES", 1000)
    args = ("import", str(_statement(tmp_path)), "--channel", "wechatsim", "--format", "wechat")
    out, err = _payctl(address, *args, "--date", "2026-03-04")

    drawn = _drawn(err)
    positions = [drawn.find(f"{sent}/2.5 kB") for sent in ("0.0", "1.0", "2.0", "2.5")]
    assert -1 not in positions, drawn
    assert positions == sorted(positions)  # the bar advanced chunk by chunk
    assert "importing" in drawn
    assert servicer.received == 2500
    assert out.splitlines()[0] == "imp_1 wechatsim wechat 2026-03-04"
    assert "kB" not in out


def test_import_json_is_one_object_while_the_bar_is_drawn(
    recon: tuple[str, SlowRecon], terminal: None, tmp_path: Path
) -> None:
    address, _ = recon
    args = ("import", str(_statement(tmp_path)), "--channel", "wechatsim", "--format", "wechat")
    out, err = _payctl(address, *args, "--json")

    assert "2.5/2.5 kB" in _drawn(err)
    data = json.loads(out)  # the whole of stdout: one object, nothing else
    assert (data["import_id"], data["file_bytes"], data["payments"]) == ("imp_1", 2500, 3)


def test_run_draws_its_phase_and_buckets_as_they_go(
    recon: tuple[str, SlowRecon], terminal: None
) -> None:
    address, servicer = recon
    out, err = _payctl(address, "run", "--channel", "wechatsim", "--date", "2026-03-04", "--json")

    drawn = _drawn(err)
    shown = ["staging", "matching", "256/1024", "768/1024", "posting", "done"]
    positions = [drawn.find(text) for text in shown]
    assert -1 not in positions, drawn
    assert positions == sorted(positions)
    assert servicer.looks >= len(STEPS)
    data = json.loads(out)
    assert (data["state"], data["buckets_done"], data["buckets_total"]) == (
        "completed",
        BUCKETS,
        BUCKETS,
    )


def test_without_a_terminal_nothing_is_drawn_and_the_run_is_not_polled(
    recon: tuple[str, SlowRecon], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address, servicer = recon
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: False)
    args = ("import", str(_statement(tmp_path)), "--channel", "wechatsim", "--format", "wechat")
    out, err = _payctl(address, *args, "--json")
    assert err == ""
    assert json.loads(out)["file_bytes"] == 2500

    servicer.wait_for_looks = False
    out, err = _payctl(address, "run", "--channel", "wechatsim", "--json")
    assert err == ""
    assert json.loads(out)["state"] == "completed"
    assert servicer.looks == 0
