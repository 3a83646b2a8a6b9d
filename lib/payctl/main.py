"""payctl commands: pay, payment get/query/close, balance; the rest (refund, routes, withdraw,
payouts, ledger, user, recon, trace) from their own modules."""

from __future__ import annotations

import enum
import os
import uuid
from typing import Annotated

import typer

from payctl import funds_commands, gateway_commands, payout_commands
from payctl.common import (
    AsOption,
    JsonOption,
    LedgerOption,
    PkiDirOption,
    choose_caller,
    connect,
    run,
)
from payctl.ledger_commands import ledger_app
from payctl.merchant_commands import merchant_app
from payctl.output import emit, message_dict
from payctl.recon_commands import recon_app
from payctl.settle_commands import settle_app
from payctl.trace_commands import trace
from payctl.user_commands import user_app
from paysuite.accounts import merchant_payable, user_wallet
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.money import Money
from paysuite.runtime.enums import short_name
from paysuite.runtime.protoconv import money_to_proto
from paysuite.runtime.settings import DEV_PKI_DIR

app = typer.Typer(help="Command-line client of the Paysuite payment core.", no_args_is_help=True)
payment_app = typer.Typer(help="Payment orders.", no_args_is_help=True)
app.add_typer(payment_app, name="payment")
app.add_typer(ledger_app, name="ledger")
app.add_typer(user_app, name="user")
app.add_typer(recon_app, name="recon")
app.add_typer(settle_app, name="settle")
app.add_typer(merchant_app, name="merchant")
recon_app.command("reserve")(funds_commands.reserve)
payment_app.command("query")(gateway_commands.query_payment)
payment_app.command("close")(gateway_commands.close_payment)
app.command()(gateway_commands.refund)
app.command()(gateway_commands.routes)
app.command()(payout_commands.withdraw)
app.command()(payout_commands.payouts)
app.command()(trace)


@app.callback()
def identity(as_: AsOption = "operator", pki_dir: PkiDirOption = DEV_PKI_DIR) -> None:
    """Calls the suite over mutual TLS as the operator, or --as another identity."""
    choose_caller(as_, pki_dir)


GatewayOption = Annotated[str, typer.Option(envvar="GATEWAY_ADDR", help="gateway host:port")]


class Method(enum.StrEnum):
    CARD = "card"
    ALIPAY = "alipay"
    WECHAT = "wechat"
    BALANCE = "balance"


METHODS = {
    Method.CARD: gpb.PAYMENT_METHOD_BANK_CARD,
    Method.ALIPAY: gpb.PAYMENT_METHOD_ALIPAY,
    Method.WECHAT: gpb.PAYMENT_METHOD_WECHAT_PAY,
    Method.BALANCE: gpb.PAYMENT_METHOD_WALLET_BALANCE,
}


@app.command()
def pay(
    merchant: Annotated[str, typer.Option(help="merchant id")],
    user: Annotated[str, typer.Option(help="payer user id")],
    amount: Annotated[str, typer.Option(help="amount in major units, e.g. 12.34")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code")] = "CNY",
    order: Annotated[str | None, typer.Option(help="merchant order no")] = None,
    card: Annotated[str, typer.Option(help="bound card id; default card if empty")] = "",
    method: Annotated[
        Method, typer.Option(help="bank card, external wallet, or the platform wallet balance")
    ] = Method.CARD,
    top_up: Annotated[
        bool, typer.Option("--top-up", help="credit the payer's platform wallet instead")
    ] = False,
    coupon: Annotated[
        str | None,
        typer.Option(help="the part of the amount the platform's coupon pays, e.g. 2.00"),
    ] = None,
    gateway: GatewayOption = "localhost:50051",
    as_json: JsonOption = False,
) -> None:
    """Pays a business order by bank card, external wallet or wallet balance, or tops up; the
    platform's coupon, if any, pays part of it and the payer the rest."""
    try:
        money = Money.parse(amount, currency.upper())
    except (ValueError, KeyError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--amount/--currency") from None
    try:
        platform_coupon = None if coupon is None else Money.parse(coupon, currency.upper())
    except (ValueError, KeyError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--coupon") from None
    request = gpb.CreatePaymentRequest(
        request_id=str(uuid.uuid4()),
        merchant_id=merchant,
        merchant_order_no=order or f"PAYCTL-{uuid.uuid4().hex[:12]}",
        amount=money_to_proto(money),
        method=METHODS[method],
        payer_user_id=user,
        card_id=card,
        purpose=gpb.PAYMENT_PURPOSE_TOP_UP if top_up else gpb.PAYMENT_PURPOSE_PURCHASE,
    )
    if platform_coupon is not None:
        request.platform_coupon.CopyFrom(money_to_proto(platform_coupon))

    async def call() -> gpb.CreatePaymentResponse:
        async with connect(gateway) as channel:
            return await gpb_grpc.GatewayServiceStub(channel).CreatePayment(request, timeout=30)

    payment = run(call).payment
    emit(
        message_dict(payment),
        as_json,
        f"{payment.payment_id} {short_name(gpb.Payment.State, payment.state)} "
        f"{money.format()} trace {payment.trace_id}",
    )


@payment_app.command("get")
def get_payment(
    payment_id: str, gateway: GatewayOption = "localhost:50051", as_json: JsonOption = False
) -> None:
    """Shows one payment order and its attempts on channels, with why each channel."""

    async def call() -> gpb.GetPaymentResponse:
        async with connect(gateway) as channel:
            return await gpb_grpc.GatewayServiceStub(channel).GetPayment(
                gpb.GetPaymentRequest(payment_id=payment_id), timeout=10
            )

    answer = run(call)
    payment = answer.payment
    lines = [
        f"{payment.payment_id} {short_name(gpb.Payment.State, payment.state)} "
        f"{Money(payment.amount.currency_code, payment.amount.minor_units).format()} "
        f"order {payment.merchant_order_no} trace {payment.trace_id}"
    ]
    lines += [
        f"  attempt {a.attempt_no} {a.channel} {short_name(gpb.ChannelAttempt.Outcome, a.outcome)} "
        f"{a.error_code} ({a.reason})"
        for a in answer.attempts
    ]
    data = {**message_dict(payment), "attempts": [message_dict(a) for a in answer.attempts]}
    emit(data, as_json, "\n".join(lines))


@app.command()
def balance(
    merchant: Annotated[str, typer.Option(help="merchant id")] = "",
    user: Annotated[str, typer.Option(help="user id: their platform wallet")] = "",
    currency: Annotated[str, typer.Option(help="ISO 4217 code")] = "CNY",
    ledger: LedgerOption = "localhost:50052",
    as_json: JsonOption = False,
) -> None:
    """Shows what the platform owes a merchant (its payable) or a user (their wallet)."""
    if bool(merchant) == bool(user):
        raise typer.BadParameter("give --merchant or --user", param_hint="--merchant/--user")
    owner = merchant or user
    code = currency.upper()
    account_id = merchant_payable(merchant, code) if merchant else user_wallet(user, code)

    async def call() -> lpb.GetAccountResponse:
        async with connect(ledger) as channel:
            return await lpb_grpc.LedgerServiceStub(channel).GetAccount(
                lpb.GetAccountRequest(account_id=account_id), timeout=10
            )

    account = run(call).account
    money = Money(account.balance.currency_code, account.balance.minor_units)
    emit(
        {
            "account_id": account.account_id,
            "currency_code": money.currency,
            "minor_units": money.minor_units,
        },
        as_json,
        f"{owner} {money.format()}",
    )


def main() -> None:
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    app()
