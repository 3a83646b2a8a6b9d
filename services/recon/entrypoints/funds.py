"""FundsService over gRPC: reconcile the reserve account's statement of a date."""

from __future__ import annotations

from datetime import date
from typing import Any

import grpc

from paysuite.errors import Violations
from paysuite.money import Money
from paysuite.recon.v1 import funds_service_pb2 as pb
from paysuite.recon.v1 import funds_service_pb2_grpc as pb_grpc
from paysuite.runtime.protoconv import date_from_proto, date_to_proto, money_to_proto
from recon.domain.funds import Difference, ReserveReconciliation
from recon.service_layer.funds import FundsDeps, reconcile_reserve

Context = grpc.aio.ServicerContext[Any, Any]

# The dates a reserve statement can be of: the arithmetic on settlement lags around them stays
# within the calendar.
EARLIEST, LATEST = date(2000, 1, 1), date(9998, 12, 31)

_KINDS = {
    "short": pb.FUNDS_DIFFERENCE_KIND_SHORT,
    "missing": pb.FUNDS_DIFFERENCE_KIND_MISSING,
    "over": pb.FUNDS_DIFFERENCE_KIND_OVER,
    "unexpected": pb.FUNDS_DIFFERENCE_KIND_UNEXPECTED,
    "payout_amount": pb.FUNDS_DIFFERENCE_KIND_PAYOUT_AMOUNT,
    "funding_amount": pb.FUNDS_DIFFERENCE_KIND_FUNDING_AMOUNT,
}


def _difference(found: Difference) -> pb.FundsDifference:
    return pb.FundsDifference(
        kind=_KINDS.get(found.kind, pb.FUNDS_DIFFERENCE_KIND_UNSPECIFIED),
        reference=found.reference,
        channel=found.channel,
        business_date=date_to_proto(found.business_date),
        expected=money_to_proto(Money(found.currency, found.expected)),
        actual=money_to_proto(Money(found.currency, found.actual)),
        parked=money_to_proto(Money(found.currency, found.parked)),
    )


def to_proto(result: ReserveReconciliation) -> pb.ReconcileReserveAccountResponse:
    counts = result.counts
    return pb.ReconcileReserveAccountResponse(
        statement_date=date_to_proto(result.statement_date),
        import_id=result.import_id,
        arrivals=counts.get("arrival", 0),
        payouts=counts.get("payout", 0),
        payout_returns=counts.get("payout_return", 0),
        unexpected=counts.get("unexpected", 0),
        fundings=counts.get("funding", 0),
        matched=counts.get("matched", 0),
        short=counts.get("short", 0),
        missing=counts.get("missing", 0),
        over=counts.get("over", 0),
        posted=result.posted,
        differences=[_difference(d) for d in result.differences],
        balances=[
            pb.ReserveBalanceCheck(
                bank_closing_balance=(
                    None
                    if b.bank_closing is None
                    else money_to_proto(Money(b.currency, b.bank_closing))
                ),
                ledger_balance=money_to_proto(Money(b.currency, b.ledger_balance)),
                balanced=b.balanced,
            )
            for b in result.balances
        ],
        balanced=result.balanced,
        clean=result.balanced and not result.differences,
    )


class FundsServicer(pb_grpc.FundsServiceServicer):
    def __init__(self, deps: FundsDeps) -> None:
        self._deps = deps

    async def ReconcileReserveAccount(
        self, request: pb.ReconcileReserveAccountRequest, context: Context
    ) -> pb.ReconcileReserveAccountResponse:
        violations = Violations()
        day = date_from_proto(request.statement_date, "statement_date", violations)
        if day is not None and not EARLIEST <= day <= LATEST:
            violations.add("statement_date", f"must be between {EARLIEST} and {LATEST}")
        violations.raise_if_any()
        assert day is not None
        return to_proto(await reconcile_reserve(self._deps, day))
