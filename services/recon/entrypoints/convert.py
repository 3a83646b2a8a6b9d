"""Runs, discrepancies and merchant statements to proto, and the requests about them validated."""

from __future__ import annotations

from datetime import date, datetime

from paysuite.errors import Violations
from paysuite.money import MINOR_UNIT_EXPONENTS, Money
from paysuite.recon.v1 import recon_service_pb2 as pb
from paysuite.runtime.enums import value_of
from paysuite.runtime.paging import Page, PageSize, Paging
from paysuite.runtime.protoconv import (
    check_id,
    date_from_proto,
    date_to_proto,
    money_to_proto,
    timestamp,
)
from paysuite.type.v1.money_pb2 import Money as MoneyProto
from recon.domain.discrepancies import Action, Discrepancy, DiscrepancyState, Resolve
from recon.domain.matching import Kind, Outcome
from recon.domain.merchant_statement import LineKind, MerchantStatement
from recon.domain.model import Phase, ReconciliationRun, RunState

RUNS_PAGE = PageSize(default=50, maximum=500)
DISCREPANCIES_PAGE = PageSize(default=100, maximum=1000)

OUTCOMES = {o: value_of(pb.MatchOutcome, o.name) for o in Outcome}
STATES = {s: value_of(pb.ReconciliationRun.State, s.name) for s in RunState}
PHASES = {p: value_of(pb.ReconciliationRun.Phase, p.name) for p in Phase}
KINDS = {k: value_of(pb.TransactionKind, k.name) for k in Kind}
ACTIONS = {a: value_of(pb.ResolutionAction, a.name) for a in Action}
ITEM_STATES = {s: value_of(pb.Discrepancy.State, s.name) for s in DiscrepancyState}


def run_to_proto(run: ReconciliationRun) -> pb.ReconciliationRun:
    return pb.ReconciliationRun(
        run_id=run.run_id,
        channel=run.channel,
        statement_date=date_to_proto(run.statement_date),
        state=STATES[run.state],
        statement_rows=run.statement_rows,
        our_records=run.our_records,
        outcome_counts=[
            pb.OutcomeCount(outcome=OUTCOMES[o], count=n)
            for o, n in sorted(run.counts.items(), key=lambda i: OUTCOMES[i[0]])
        ],
        create_time=timestamp(run.created_at),
        ledger_records=run.ledger_records,
        carried_in=run.carried_in,
        phase=PHASES[run.phase],
        buckets_done=run.buckets_done,
        buckets_total=run.buckets_total,
        import_id=run.import_id,
        discrepancies=run.discrepancies,
        posted=run.posted,
        matched_later=run.matched_later,
        flagged_resolved=run.flagged_resolved,
        failure=run.failure,
        update_time=timestamp(run.updated_at or run.created_at),
    )


def discrepancy_to_proto(found: Discrepancy) -> pb.Discrepancy:
    f = found.finding
    b, g, ledger = f.bill, f.ours, f.ledger
    currency = found.currency

    def money(units: int | None) -> Money | None:
        return None if units is None else Money(currency, units)

    message = pb.Discrepancy(
        discrepancy_id=found.discrepancy_id,
        run_id=found.run_id,
        channel=found.channel,
        statement_date=date_to_proto(found.statement_date),
        outcome=OUTCOMES[f.outcome],
        kind=KINDS[f.kind],
        transaction_id=f.key,
        channel_transaction_id=(b.channel_id if b else "") or (g.channel_id if g else ""),
        statement_succeeded=bool(b and b.succeeded),
        our_state=g.state if g else "",
        flagged=bool(g and g.flagged),
        suspense_amount=money_to_proto(Money(currency, found.suspense_amount)),
        suspense_item_id=found.suspense_item_id if found.posted else "",
        suspense_transfer_id=found.suspense_transfer_id if found.posted else "",
        state=ITEM_STATES[found.state],
        create_time=timestamp(found.created_at),
        merchant_id=found.merchant_id,
    )
    for field, units in (
        ("statement_amount", b.amount if b else None),
        ("our_amount", g.amount if g else None),
        ("ledger_amount", ledger.net if ledger else None),
        ("statement_fee", b.fee if b else None),
        ("our_fee", g.fee if g else None),
    ):
        amount = money(units)
        if amount is not None:
            getattr(message, field).CopyFrom(money_to_proto(amount))
    how = found.resolution
    if how is not None:
        message.resolution.CopyFrom(
            pb.Resolution(
                action=ACTIONS[how.action],
                reason=how.reason,
                approver=how.approver,
                business_reference=how.business_reference,
                clearing_transfer_id=found.clearing_transfer_id if found.posted else "",
                counter_account_id=how.counter_account_id,
                resolve_time=timestamp(how.resolved_at),
            )
        )
    return message


def run_id(value: str) -> str:
    violations = Violations()
    check_id(value, "run_id", violations)
    violations.raise_if_any()
    return value


def _optional_date(message: pb.ListRunsRequest | pb.ListDiscrepanciesRequest) -> date | None:
    violations = Violations()
    day = None
    if message.HasField("statement_date"):
        day = date_from_proto(message.statement_date, "statement_date", violations)
    violations.raise_if_any()
    return day


def list_runs_query(
    request: pb.ListRunsRequest, paging: Paging
) -> tuple[str, date | None, Page[tuple[datetime, str]]]:
    violations = Violations()
    check_id(request.channel, "channel", violations, max_length=32, required=False)
    page = paging.page(request, RUNS_PAGE, violations, (datetime, str))
    violations.raise_if_any()
    return request.channel, _optional_date(request), page


def list_discrepancies_query(
    request: pb.ListDiscrepanciesRequest, paging: Paging
) -> tuple[str, date | None, Outcome | None, DiscrepancyState | None, Page[tuple[str, str]]]:
    violations = Violations()
    check_id(request.channel, "channel", violations, max_length=32, required=False)
    page = paging.page(request, DISCREPANCIES_PAGE, violations, (str, str))
    violations.raise_if_any()
    outcome = next((o for o, v in OUTCOMES.items() if v == request.outcome), None)
    state = next((s for s, v in ITEM_STATES.items() if v == request.state), None)
    return request.channel, _optional_date(request), outcome, state, page


def resolve_command(request: pb.ResolveDiscrepancyRequest) -> Resolve:
    violations = Violations()
    check_id(request.discrepancy_id, "discrepancy_id", violations)
    action = next((a for a, v in ACTIONS.items() if v == request.action), None)
    if action is None or action is Action.MATCHED_LATER:
        violations.add("action", "one of REFUND, SUPPLEMENTARY_ORDER, WRITE_OFF")
    violations.text(request.reason.strip(), "reason", at_most=500, required=True)
    violations.text(request.approver, "approver", at_most=64)
    violations.text(request.business_reference, "business_reference", at_most=128)
    check_id(request.merchant_id, "merchant_id", violations, max_length=32, required=False)
    if action is Action.WRITE_OFF and not request.approver.strip():
        violations.add("approver", "required for a write-off")
    violations.raise_if_any()
    assert action is not None
    return Resolve(
        request.discrepancy_id,
        action,
        request.reason.strip(),
        request.approver.strip(),
        request.business_reference.strip(),
        request.merchant_id,
    )


def merchant_statement_query(request: pb.GetMerchantStatementRequest) -> tuple[str, date, str]:
    """(merchant, date, currency) of the request; INVALID_ARGUMENT with field violations."""
    violations = Violations()
    check_id(request.merchant_id, "merchant_id", violations, max_length=64)
    day = date_from_proto(request.statement_date, "statement_date", violations)
    currency = (request.currency_code or "CNY").upper()
    if currency not in MINOR_UNIT_EXPONENTS:
        violations.add("currency_code", "not a supported ISO 4217 currency")
    violations.raise_if_any()
    assert day is not None
    return request.merchant_id, day, currency


_LINE_KINDS = {
    LineKind.PAYMENT: pb.MerchantStatementLine.KIND_PAYMENT,
    LineKind.REFUND: pb.MerchantStatementLine.KIND_REFUND,
    LineKind.ADJUSTMENT: pb.MerchantStatementLine.KIND_ADJUSTMENT,
    LineKind.OTHER: pb.MerchantStatementLine.KIND_OTHER,
}


def merchant_statement_to_proto(statement: MerchantStatement) -> pb.MerchantStatement:
    currency = statement.currency

    def money(units: int) -> MoneyProto:
        return money_to_proto(Money(currency, units))

    return pb.MerchantStatement(
        merchant_id=statement.merchant_id,
        statement_date=date_to_proto(statement.statement_date),
        payment_count=statement.count(LineKind.PAYMENT),
        payment_amount=money(statement.payment_amount),
        refund_count=statement.count(LineKind.REFUND),
        refund_amount=money(statement.refund_amount),
        fee_amount=money(statement.fee_amount),
        adjustment_amount=money(statement.adjustment_amount),
        other_amount=money(statement.other_amount),
        net_amount=money(statement.net_amount),
        channels=statement.channels,
        lines=[
            pb.MerchantStatementLine(
                kind=_LINE_KINDS[line.kind],
                transfer_id=line.transfer_id,
                transaction_id=line.transaction_id,
                channel=line.channel,
                amount=money(line.amount),
                fee=money(line.fee),
                net=money(line.net),
                post_time=timestamp(line.posted_at),
            )
            for line in statement.lines
        ],
    )
