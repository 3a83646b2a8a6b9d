"""payctl commands on money going out: withdraw from a wallet, list payouts."""

from __future__ import annotations

import enum
import uuid
from typing import Annotated

import typer

from payctl.gateway_commands import GatewayOption, gateway_call
from payctl.output import emit, message_dict
from paysuite.gateway.v1 import payouts_pb2 as ppb
from paysuite.money import Money
from paysuite.runtime.enums import short_name, value_of
from paysuite.runtime.protoconv import money_to_proto
from paysuite.type.v1.money_pb2 import Money as MoneyMessage

PAGE = 100


class Purpose(enum.StrEnum):
    SETTLEMENT = "settlement"
    WITHDRAWAL = "withdrawal"


class State(enum.StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    RETURNED = "returned"


def _money(amount: MoneyMessage) -> str:
    return Money(amount.currency_code, amount.minor_units).format()


def withdraw(
    user: Annotated[str, typer.Option(help="user id: whose platform wallet")],
    amount: Annotated[str, typer.Option(help="amount in major units, e.g. 12.34")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code")] = "CNY",
    card: Annotated[str, typer.Option(help="bound card id; default card if empty")] = "",
    gateway: GatewayOption = "localhost:50051",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Withdraws from a user's platform wallet to their bound card (提现)."""
    try:
        money = Money.parse(amount, currency.upper())
    except (ValueError, KeyError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--amount/--currency") from None
    request = ppb.CreateWithdrawalRequest(
        request_id=str(uuid.uuid4()), user_id=user, amount=money_to_proto(money), card_id=card
    )
    withdrawal = gateway_call(gateway, lambda s: s.CreateWithdrawal(request, timeout=30)).withdrawal
    state = short_name(ppb.Payout.State, withdrawal.state)
    reason = f" {withdrawal.failure_reason}" if withdrawal.failure_reason else ""
    emit(
        message_dict(withdrawal),
        as_json,
        f"{withdrawal.withdrawal_id} {state}{reason} {money.format()} to {withdrawal.card_id}",
    )


def _line(payout: ppb.Payout) -> str:
    owner = payout.merchant_id or payout.user_id
    why = payout.failure_reason or payout.return_reason
    return " ".join(
        part
        for part in (
            payout.payout_id,
            short_name(ppb.PayoutPurpose, payout.purpose),
            owner,
            short_name(ppb.Payout.State, payout.state),
            _money(payout.amount),
            f"to {payout.payee}" if payout.payee else "",
            why,
            "(reconciliation)" if payout.needs_reconciliation else "",
        )
        if part
    )


def payouts(
    purpose: Annotated[Purpose | None, typer.Option(help="settlements or withdrawals")] = None,
    merchant: Annotated[str, typer.Option(help="only this merchant's settlements")] = "",
    user: Annotated[str, typer.Option(help="only this user's withdrawals")] = "",
    state: Annotated[State | None, typer.Option(help="only payouts in this state")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 50,
    gateway: GatewayOption = "localhost:50051",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Lists payouts (merchant settlements and wallet withdrawals), newest first."""
    request = ppb.ListPayoutsRequest(merchant_id=merchant, user_id=user)
    if purpose is not None:
        request.purpose = value_of(ppb.PayoutPurpose, purpose.name)
    if state is not None:
        request.state = value_of(ppb.Payout.State, state.name)
    found: list[ppb.Payout] = []
    while len(found) < limit:
        request.page_size = min(PAGE, limit - len(found))
        page = gateway_call(gateway, lambda s: s.ListPayouts(request, timeout=10))
        found.extend(page.payouts)
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    emit(
        {"payouts": [message_dict(p) for p in found]},
        as_json,
        "\n".join(_line(p) for p in found) or "no payouts",
    )
