"""payctl settle commands: clear a reconciled date and pay what is due (run), list settlement
batches and payouts, pay a failed or returned payout again (retry), a batch's statement (CSV)
and merchants' settlement settings."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Annotated, Any, TypeVar

import typer

from payctl.common import JsonOption, connect, run
from payctl.ledger_commands import format_date, format_units, parse_date
from payctl.output import emit
from payctl.recon_commands import ReconOption
from paysuite.money import Money
from paysuite.recon.v1 import settlement_service_pb2 as spb
from paysuite.recon.v1 import settlement_service_pb2_grpc as spb_grpc
from paysuite.runtime.enums import short_name, short_names, value_of

T = TypeVar("T")
settle_app = typer.Typer(
    help="Clearing and settlement: runs, batches, payouts, statements.", no_args_is_help=True
)
PAYOUT_STATES = {
    name.lower(): value_of(spb.SettlementPayout.State, name)
    for name in short_names(spb.SettlementPayout.State)
}


def _payout_state(value: spb.SettlementPayout.State.ValueType) -> str:
    return short_name(spb.SettlementPayout.State, value) if value else ""


def _line_state(line: spb.SettlementLine) -> str:
    """The payout's state when the line is in one, else the line's own (SCHEDULED, HELD)."""
    return _payout_state(line.payout_state) or short_name(spb.SettlementLine.State, line.state)


def merchant_line(line: spb.SettlementLine) -> dict[str, Any]:
    return {
        "merchant_id": line.merchant_id,
        "currency": line.net.currency_code,
        "trade_date": format_date(line.trade_date),
        "settlement_date": format_date(line.settlement_date),
        "payments_minor_units": line.payments.minor_units,
        "payments_count": line.payments_count,
        "refunds_minor_units": line.refunds.minor_units,
        "refunds_count": line.refunds_count,
        "fees_minor_units": line.fees.minor_units,
        "adjustments_minor_units": line.adjustments.minor_units,
        "coupons_minor_units": line.coupons.minor_units,
        "net_minor_units": line.net.minor_units,
        "reserve_held_minor_units": line.reserve_held.minor_units,
        "settlement_payout_id": line.settlement_payout_id,
        "payout_state": _line_state(line),
    }


def payout_dict(payout: spb.SettlementPayout) -> dict[str, Any]:
    return {
        "settlement_payout_id": payout.settlement_payout_id,
        "merchant_id": payout.merchant_id,
        "settlement_date": format_date(payout.settlement_date),
        "batch_id": payout.batch_id,
        "amount_minor_units": payout.amount.minor_units,
        "currency": payout.amount.currency_code,
        "reserve_released_minor_units": payout.reserve_released.minor_units,
        "advanced": payout.advanced,
        "attempt": payout.attempt,
        "payout_id": payout.payout_id,
        "state": _payout_state(payout.state),
        "failure_reason": payout.failure_reason,
        "return_reason": payout.return_reason,
    }


def batch_dict(batch: spb.SettlementBatch) -> dict[str, Any]:
    return {
        "batch_id": batch.batch_id,
        "trade_date": format_date(batch.trade_date),
        "state": short_name(spb.SettlementBatch.State, batch.state),
        "merchants": [merchant_line(line) for line in batch.lines],
        "channels": [
            {
                "channel": c.channel,
                "currency": c.net.currency_code,
                "payments_minor_units": c.payments.minor_units,
                "refunds_minor_units": c.refunds.minor_units,
                "fees_minor_units": c.fees.minor_units,
                "net_minor_units": c.net.minor_units,
            }
            for c in batch.channels
        ],
        "payouts": [payout_dict(p) for p in batch.payouts],
    }


def _settle(recon: str, call: Callable[[Any], Awaitable[T]]) -> T:
    """One SettlementService call; a failed one prints its reason and exits with 1."""

    async def exchange() -> T:
        async with connect(recon) as channel:
            return await call(spb_grpc.SettlementServiceStub(channel))

    return run(exchange)


def _money(units: int, currency: str) -> str:
    return format_units(units, currency or "CNY")


def describe_batch(data: dict[str, Any]) -> str:
    lines = [f"{data['batch_id']} trade date {data['trade_date']} {data['state']}"]
    for m in data["merchants"]:
        currency = m["currency"]
        coupons = m["coupons_minor_units"]
        lines.append(
            f"  {m['merchant_id']}: payments {_money(m['payments_minor_units'], currency)}"
            f" refunds {_money(m['refunds_minor_units'], currency)}"
            f" fees {_money(m['fees_minor_units'], currency)}"
            f" net {_money(m['net_minor_units'], currency)}"
            f"{f' coupons {_money(coupons, currency)}' if coupons else ''}"
            f" due {m['settlement_date']} {m['payout_state']}"
        )
    for c in data["channels"]:
        lines.append(f"  channel {c['channel']} owes {_money(c['net_minor_units'], c['currency'])}")
    return "\n".join(lines)


def describe_payout(p: dict[str, Any]) -> str:
    text = (
        f"{p['settlement_payout_id']} {_money(p['amount_minor_units'], p['currency'])}"
        f" {p['state']} attempt {p['attempt']} payout {p['payout_id'] or '-'}"
    )
    reason = p["failure_reason"] or p["return_reason"]
    return f"{text} ({reason})" if reason else text


@settle_app.command("run")
def run_clearing(
    day: Annotated[
        str | None, typer.Option("--date", help="trade date YYYY-MM-DD (default: yesterday)")
    ] = None,
    settle_on: Annotated[
        str | None,
        typer.Option("--settle-on", help="pay what is due by this date (default: today)"),
    ] = None,
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Clears a reconciled trade date and pays each merchant what is due."""
    request = spb.RunClearingRequest(
        trade_date=parse_date(day or (date.today() - timedelta(days=1)).isoformat(), "--date")
    )
    if settle_on:
        request.settlement_date.CopyFrom(parse_date(settle_on, "--settle-on"))
    data = batch_dict(_settle(recon, lambda stub: stub.RunClearing(request, timeout=3600)).batch)
    emit(data, as_json, describe_batch(data))


@settle_app.command("batches")
def list_batches(
    limit: Annotated[int, typer.Option(help="at most this many batches")] = 20,
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Lists settlement batches, newest trade date first."""
    request = spb.ListSettlementBatchesRequest(page_size=min(limit, 500))
    listed = _settle(recon, lambda stub: stub.ListSettlementBatches(request))
    batches = [batch_dict(b) for b in listed.batches]
    human = "\n".join(f"{b['batch_id']} {b['trade_date']} {b['state']}" for b in batches)
    emit({"batches": batches}, as_json, human or "no settlement batches")


@settle_app.command("batch")
def get_batch(
    batch_id: Annotated[str, typer.Argument(help="batch id, e.g. stb_20261206")],
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Shows a batch: its merchants, channels and payouts."""
    request = spb.GetSettlementBatchRequest(batch_id=batch_id)
    data = batch_dict(_settle(recon, lambda stub: stub.GetSettlementBatch(request)).batch)
    emit(data, as_json, describe_batch(data))


@settle_app.command("payouts")
def list_payouts(
    merchant: Annotated[str, typer.Option(help="only this merchant's")] = "",
    state: Annotated[
        str, typer.Option(help=f"only in this state: {', '.join(PAYOUT_STATES)}")
    ] = "",
    limit: Annotated[int, typer.Option(help="at most this many payouts")] = 20,
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Lists settlement payouts, newest settlement date first."""
    if state and state.lower() not in PAYOUT_STATES:
        raise typer.BadParameter(
            f"{state!r}: one of {', '.join(PAYOUT_STATES)}", param_hint="--state"
        )
    request = spb.ListSettlementPayoutsRequest(
        merchant_id=merchant,
        state=PAYOUT_STATES.get(state.lower(), spb.SettlementPayout.STATE_UNSPECIFIED),
        page_size=min(limit, 500),
    )
    listed = _settle(recon, lambda stub: stub.ListSettlementPayouts(request))
    payouts = [payout_dict(p) for p in listed.payouts]
    human = "\n".join(describe_payout(p) for p in payouts)
    emit({"payouts": payouts}, as_json, human or "no settlement payouts")


@settle_app.command("retry")
def retry_payout(
    settlement_payout_id: Annotated[str, typer.Argument(help="e.g. spo_M100001_CNY_20261207")],
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Pays a failed or returned settlement payout again."""
    request = spb.RetryPayoutRequest(settlement_payout_id=settlement_payout_id)
    data = payout_dict(_settle(recon, lambda stub: stub.RetryPayout(request)).payout)
    emit(data, as_json, describe_payout(data))


@settle_app.command("statement")
def statement(
    batch_id: Annotated[str, typer.Argument(help="batch id, e.g. stb_20261206")],
    merchant: Annotated[str, typer.Option(help="only this merchant's line")] = "",
    recon: ReconOption = "localhost:50054",
) -> None:
    """Prints a batch's merchant settlement statement as CSV."""
    request = spb.GetSettlementStatementRequest(batch_id=batch_id, merchant_id=merchant)
    answer = _settle(recon, lambda stub: stub.GetSettlementStatement(request))
    sys.stdout.write(answer.content.decode("utf-8"))


@settle_app.command("settings")
def settings(
    merchant: Annotated[str, typer.Argument(help="merchant id")],
    cycle_days: Annotated[int | None, typer.Option(help="T+N: business days")] = None,
    advance: Annotated[bool | None, typer.Option(help="D+0, advanced by the platform")] = None,
    minimum: Annotated[str | None, typer.Option(help="minimum payout, e.g. 100.00")] = None,
    reserve_bps: Annotated[int | None, typer.Option(help="rolling reserve, basis points")] = None,
    reserve_days: Annotated[int | None, typer.Option(help="days the reserve is held")] = None,
    account_no: Annotated[str | None, typer.Option(help="settlement bank account")] = None,
    account_name: Annotated[str | None, typer.Option(help="the account holder's name")] = None,
    currency: Annotated[str, typer.Option(help="currency settled")] = "CNY",
    recon: ReconOption = "localhost:50054",
    as_json: JsonOption = False,
) -> None:
    """Shows a merchant's settlement settings, changing the ones given."""
    given = spb.SettlementSettings(merchant_id=merchant, currency_code=currency.upper())
    paths: list[str] = []
    for path, value in (
        ("cycle_days", cycle_days),
        ("advance", advance),
        ("reserve_basis_points", reserve_bps),
        ("reserve_days", reserve_days),
        ("account_no", account_no),
        ("account_name", account_name),
    ):
        if value is not None:
            setattr(given, path, value)
            paths.append(path)
    if minimum is not None:
        try:
            units = Money.parse(minimum, given.currency_code).minor_units
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--minimum") from None
        given.minimum_payout.currency_code = given.currency_code
        given.minimum_payout.minor_units = units
        paths.append("minimum_payout")

    if paths:
        update = spb.UpdateSettlementSettingsRequest(settings=given)
        update.update_mask.paths.extend(paths)
        found = _settle(recon, lambda stub: stub.UpdateSettlementSettings(update)).settings
    else:
        request = spb.GetSettlementSettingsRequest(merchant_id=merchant)
        found = _settle(recon, lambda stub: stub.GetSettlementSettings(request)).settings
    data = {
        "merchant_id": found.merchant_id,
        "currency": found.currency_code,
        "cycle_days": found.cycle_days,
        "advance": found.advance,
        "minimum_payout_minor_units": found.minimum_payout.minor_units,
        "reserve_basis_points": found.reserve_basis_points,
        "reserve_days": found.reserve_days,
        "account_no": found.account_no,
        "account_name": found.account_name,
    }
    cycle = "D+0" if found.advance else f"T+{found.cycle_days}"
    minimum_text = _money(found.minimum_payout.minor_units, found.currency_code)
    human = (
        f"{found.merchant_id} {cycle} minimum {minimum_text}"
        f" reserve {found.reserve_basis_points} bps for {found.reserve_days} days"
        f" account {found.account_no or '-'}"
    )
    emit(data, as_json, human)
