"""payctl recon run, runs, list, resolve and merchant-statement against a canned in-process
ReconService: the requests it sends and what it prints (lines, --json, --csv, errors)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import grpc
import pytest
from google.type import date_pb2
from typer.testing import CliRunner

from payctl.main import app
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.runtime.grpc_errors import abort_with, status_for
from paysuite.type.v1.money_pb2 import Money
from tests.unit.canned_grpc import serving_in_thread

Context = grpc.aio.ServicerContext[Any, Any]
TODAY = date.today()


def _date(day: date) -> date_pb2.Date:
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def _cny(units: int) -> Money:
    return Money(currency_code="CNY", minor_units=units)


RUN = rpb.ReconciliationRun(
    run_id="rec_1",
    channel="wechatsim",
    statement_date=_date(date(2026, 3, 4)),
    state=rpb.ReconciliationRun.STATE_COMPLETED,
    phase=rpb.ReconciliationRun.PHASE_DONE,
    buckets_done=1024,
    buckets_total=1024,
    statement_rows=12,
    our_records=11,
    ledger_records=10,
    carried_in=1,
    outcome_counts=[
        rpb.OutcomeCount(outcome=rpb.MATCH_OUTCOME_MATCHED, count=9),
        rpb.OutcomeCount(outcome=rpb.MATCH_OUTCOME_SHORT, count=1),
        rpb.OutcomeCount(outcome=rpb.MATCH_OUTCOME_LONG, count=2),
    ],
    discrepancies=3,
    posted=3,
    matched_later=1,
    flagged_resolved=1,
    import_id="imp_7",
)


def _discrepancy(number: int, outcome: int, age_days: int, **fields: Any) -> rpb.Discrepancy:
    return rpb.Discrepancy(
        discrepancy_id=f"dis_{number}",
        channel=fields.pop("channel", "wechatsim"),
        statement_date=_date(TODAY - timedelta(days=age_days)),
        outcome=outcome,  # type: ignore[arg-type]
        kind=rpb.TRANSACTION_KIND_PAYMENT,
        transaction_id=f"pay_{number}",
        suspense_amount=_cny(fields.pop("suspense", 100)),
        suspense_item_id=f"recon:dis_{number}:park:0C",
        state=rpb.Discrepancy.STATE_OPEN,
        **fields,
    )


DISCREPANCIES = [
    _discrepancy(1, rpb.MATCH_OUTCOME_SHORT, 0, suspense=-2001, our_amount=_cny(2001)),
    _discrepancy(2, rpb.MATCH_OUTCOME_LONG, 3, statement_amount=_cny(777)),
    _discrepancy(3, rpb.MATCH_OUTCOME_LONG, 3, channel="banksim"),
    _discrepancy(4, rpb.MATCH_OUTCOME_STATE_MISMATCH, 40, our_state="failed", flagged=True),
]


class CannedRecon(rpb_grpc.ReconServiceServicer):
    """Canned replies for the RPCs payctl calls; records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def RunReconciliation(
        self, request: rpb.RunReconciliationRequest, context: Context
    ) -> rpb.RunReconciliationResponse:
        self.requests.append(request)
        return rpb.RunReconciliationResponse(run=RUN)

    async def ListRuns(
        self, request: rpb.ListRunsRequest, context: Context
    ) -> rpb.ListRunsResponse:
        self.requests.append(request)
        failed = rpb.ReconciliationRun(
            run_id="rec_0",
            channel="alipaysim",
            statement_date=_date(date(2026, 3, 3)),
            state=rpb.ReconciliationRun.STATE_FAILED,
            failure="the channel's statement could not be fetched",
        )
        return rpb.ListRunsResponse(runs=[RUN, failed])

    async def ListDiscrepancies(
        self, request: rpb.ListDiscrepanciesRequest, context: Context
    ) -> rpb.ListDiscrepanciesResponse:
        self.requests.append(request)
        start = int(request.page_token or "0")
        end = start + 3  # this service's pages hold three at most
        more = str(end) if end < len(DISCREPANCIES) else ""
        return rpb.ListDiscrepanciesResponse(
            discrepancies=DISCREPANCIES[start:end], next_page_token=more
        )

    async def ResolveDiscrepancy(
        self, request: rpb.ResolveDiscrepancyRequest, context: Context
    ) -> rpb.ResolveDiscrepancyResponse:
        self.requests.append(request)
        if request.discrepancy_id == "dis_1" and request.action == rpb.RESOLUTION_ACTION_REFUND:
            code = grpc.StatusCode.FAILED_PRECONDITION
            message = "a refund resolves only money the channel holds for us (a long item)"
            await abort_with(context, code, status_for(code, message, "FAILED_PRECONDITION", "r"))
        done = rpb.Discrepancy()
        done.CopyFrom(DISCREPANCIES[1])
        done.state = rpb.Discrepancy.STATE_RESOLVED
        done.resolution.CopyFrom(
            rpb.Resolution(
                action=request.action,
                reason=request.reason,
                approver=request.approver,
                business_reference=request.business_reference,
                counter_account_id="channel.wechatsim.receivable.CNY",
            )
        )
        return rpb.ResolveDiscrepancyResponse(discrepancy=done)

    async def GetMerchantStatement(
        self, request: rpb.GetMerchantStatementRequest, context: Context
    ) -> rpb.GetMerchantStatementResponse:
        self.requests.append(request)
        if request.merchant_id == "M_OPEN":
            code = grpc.StatusCode.FAILED_PRECONDITION
            status = status_for(
                code,
                "the date's channel reconciliation is not clean",
                "RECONCILIATION_NOT_CLEAN",
                "recon",
                {"channels": "wechatsim: 1 differences open"},
            )
            await abort_with(context, code, status)
        line = rpb.MerchantStatementLine(
            kind=rpb.MerchantStatementLine.KIND_PAYMENT,
            transaction_id="pay_1",
            channel="wechatsim",
            amount=_cny(10_000),
            fee=_cny(-60),
            net=_cny(9_940),
        )
        line.post_time.FromSeconds(1_772_600_000)
        statement = rpb.MerchantStatement(
            merchant_id=request.merchant_id,
            statement_date=request.statement_date,
            payment_count=1,
            payment_amount=_cny(10_000),
            refund_amount=_cny(0),
            fee_amount=_cny(60),
            adjustment_amount=_cny(0),
            other_amount=_cny(0),
            net_amount=_cny(9_940),
            channels=["wechatsim"],
            lines=[line],
        )
        return rpb.GetMerchantStatementResponse(
            statement=statement, csv="merchant_id,...\nM1,...\n"
        )


@pytest.fixture
def recon() -> Iterator[tuple[str, CannedRecon]]:
    # Only the RPCs payctl calls; the generated base answers the rest UNIMPLEMENTED.
    servicer = CannedRecon()  # type: ignore[abstract]
    with serving_in_thread(
        lambda server: rpb_grpc.add_ReconServiceServicer_to_server(servicer, server)
    ) as address:
        yield address, servicer


def _payctl(address: str, *args: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["recon", *args, "--recon", address])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout, result.stderr


def test_run_sends_the_channel_and_date_and_prints_the_run(
    recon: tuple[str, CannedRecon],
) -> None:
    address, servicer = recon
    out, _ = _payctl(address, "run", "--channel", "wechatsim", "--date", "2026-03-04")
    assert out.splitlines() == [
        "rec_1 wechatsim 2026-03-04 completed",
        "  bill 12 lines, gateway 11 records, ledger 10 postings, 1 carried in",
        "  9 matched, 1 short, 2 long",
        "  3 discrepancies (3 parked now), 1 matched later, 1 flagged resolved",
    ]
    [sent] = servicer.requests
    assert (sent.channel, sent.statement_date) == ("wechatsim", _date(date(2026, 3, 4)))
    assert sent.request_id.startswith("payctl-")
    data = json.loads(
        _payctl(address, "run", "--channel", "wechatsim", "--request-id", "r-1", "--json")[0]
    )
    assert servicer.requests[-1].request_id == "r-1"
    assert servicer.requests[-1].statement_date == _date(TODAY - timedelta(days=1))
    assert data["outcomes"] == {"matched": 9, "short": 1, "long": 2}
    assert (data["state"], data["phase"], data["import_id"]) == ("completed", "done", "imp_7")
    assert (data["buckets_done"], data["buckets_total"], data["posted"]) == (1024, 1024, 3)


def test_runs_lists_runs_with_failures_and_filters(recon: tuple[str, CannedRecon]) -> None:
    address, servicer = recon
    out, _ = _payctl(address, "runs", "--channel", "wechatsim", "--date", "2026-03-04")
    assert out.splitlines()[0] == "rec_1 wechatsim 2026-03-04 completed"
    assert out.splitlines()[-1] == "  failed: the channel's statement could not be fetched"
    sent = servicer.requests[-1]
    assert (sent.channel, sent.statement_date.day, sent.page_size) == ("wechatsim", 4, 20)
    data = json.loads(_payctl(address, "runs", "--limit", "1", "--json")[0])
    assert [r["run_id"] for r in data["runs"]] == ["rec_1"]
    assert servicer.requests[-1].page_size == 1


def test_list_follows_every_page_and_shows_each_discrepancy(
    recon: tuple[str, CannedRecon],
) -> None:
    address, servicer = recon
    out, _ = _payctl(address, "list", "--channel", "wechatsim", "--outcome", "long", "--open")
    assert [r.page_token for r in servicer.requests] == ["", "3"]
    sent = servicer.requests[0]
    assert (sent.channel, sent.outcome, sent.state) == (
        "wechatsim",
        rpb.MATCH_OUTCOME_LONG,
        rpb.Discrepancy.STATE_OPEN,
    )
    first_day = (TODAY).isoformat()
    assert out.splitlines()[0] == (
        f"dis_1 {first_day} short payment pay_1 suspense -20.01 CNY open"
    )
    assert len(out.splitlines()) == 4
    data = json.loads(_payctl(address, "list", "--json")[0])
    [short, long_item, _, state] = data["discrepancies"]
    assert (short["our_amount"], short["statement_amount"]) == ("20.01 CNY", None)
    assert long_item["statement_amount"] == "7.77 CNY"
    assert (state["outcome"], state["our_state"], state["flagged"]) == (
        "state_mismatch",
        "failed",
        True,
    )
    asked = len(servicer.requests)
    _payctl(address, "list", "--outcome", "sideways", code=2)
    assert len(servicer.requests) == asked  # refused before any call


def test_list_aging_counts_open_items_by_age_channel_and_kind(
    recon: tuple[str, CannedRecon],
) -> None:
    address, _ = recon
    data = json.loads(_payctl(address, "list", "--aging", "--json")[0])
    assert data["aging"] == {
        "0-1 days": {"wechatsim": {"short": 1}},
        "2-7 days": {"wechatsim": {"long": 1}, "banksim": {"long": 1}},
        "over 30 days": {"wechatsim": {"state_mismatch": 1}},
    }
    out, _ = _payctl(address, "list", "--aging")
    assert "    0-1 days  wechatsim        short            1" in out.splitlines()


def test_resolve_sends_the_action_and_prints_the_resolution(
    recon: tuple[str, CannedRecon],
) -> None:
    address, servicer = recon
    out, _ = _payctl(
        address,
        "resolve",
        "dis_2",
        "--action",
        "write-off",
        "--reason",
        "too small to chase",
        "--approver",
        "finance-lead",
    )
    assert out.strip().endswith("long payment pay_2 suspense 1.00 CNY resolved (write_off)")
    sent = servicer.requests[-1]
    assert (sent.discrepancy_id, sent.action, sent.approver) == (
        "dis_2",
        rpb.RESOLUTION_ACTION_WRITE_OFF,
        "finance-lead",
    )
    data = json.loads(
        _payctl(
            address, "resolve", "dis_2", "--action", "refund", "--reason", "r", "--reference",
            "RF-1", "--json",
        )[0]
    )  # fmt: skip
    assert data["resolution"] == {
        "action": "refund",
        "reason": "r",
        "approver": "",
        "business_reference": "RF-1",
        "counter_account_id": "channel.wechatsim.receivable.CNY",
    }


def test_resolve_refuses_an_unknown_action_and_prints_the_services_refusal(
    recon: tuple[str, CannedRecon],
) -> None:
    address, servicer = recon
    _payctl(address, "resolve", "dis_1", "--action", "forgive", "--reason", "r", code=2)
    assert servicer.requests == []
    _, err = _payctl(address, "resolve", "dis_1", "--action", "refund", "--reason", "r", code=1)
    assert err.startswith("error: FAILED_PRECONDITION FAILED_PRECONDITION: a refund resolves")


def test_merchant_statement_prints_totals_json_or_the_csv(
    recon: tuple[str, CannedRecon],
) -> None:
    address, servicer = recon
    out, _ = _payctl(address, "merchant-statement", "--merchant", "M1", "--date", "2026-03-04")
    assert out.splitlines() == [
        "M1 2026-03-04 (channels: wechatsim)",
        "  1 payments 100.00 CNY, 0 refunds 0.00 CNY, fees 0.60 CNY",
        "  adjustments 0.00 CNY, other 0.00 CNY, net 99.40 CNY",
    ]
    sent = servicer.requests[-1]
    assert (sent.merchant_id, sent.statement_date.day, sent.currency_code) == ("M1", 4, "CNY")
    data = json.loads(_payctl(address, "merchant-statement", "--merchant", "M1", "--json")[0])
    assert data["lines"] == [
        {
            "kind": "payment",
            "transaction_id": "pay_1",
            "channel": "wechatsim",
            "amount": "100.00 CNY",
            "fee": "-0.60 CNY",
            "net": "99.40 CNY",
            "post_time": "2026-03-04T04:53:20Z",
        }
    ]
    csv_out, _ = _payctl(address, "merchant-statement", "--merchant", "M1", "--csv")
    assert csv_out == "merchant_id,...\nM1,...\n"


def test_merchant_statement_before_the_day_is_clean_says_why(
    recon: tuple[str, CannedRecon],
) -> None:
    address, _ = recon
    _, err = _payctl(address, "merchant-statement", "--merchant", "M_OPEN", code=1)
    assert err.startswith("error: FAILED_PRECONDITION RECONCILIATION_NOT_CLEAN")
