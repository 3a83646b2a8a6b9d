"""What the channels say: the bank's orders and refunds, the wallets' trades and their refunds."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.soak.simulators import BANK, WALLETS, Simulators


@dataclass
class ChannelBooks:
    bank: dict[str, dict[str, Any]]
    bank_refunds: dict[str, dict[str, Any]]
    wallets: dict[str, dict[str, dict[str, Any]]]


@dataclass
class ChannelRefund:
    ok: bool
    amount: int


async def read_channel_books(simulators: Simulators, *, refunds: bool = True) -> ChannelBooks:
    bank = await simulators.transactions(BANK)
    wallets = {name: await simulators.transactions(name) for name in WALLETS}
    log = simulators.stack.config.data_dir / "logs" / f"{BANK}.log"
    return ChannelBooks(bank, _bank_refunds(log) if refunds else {}, wallets)


def _bank_refunds(log: Path) -> dict[str, dict[str, Any]]:
    """The bank's refunds by out_refund_no, from its log: its admin API lists none."""
    refunds: dict[str, dict[str, Any]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        if not line.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("msg") == "refund answered":
                refunds[str(event["out_refund_no"])] = event
    return refunds


def channel_view(
    books: ChannelBooks, channel: str, payment_id: str, refund_ids: Iterable[str] = ()
) -> tuple[str, int, int]:
    """(paid | not_paid | undecided | unknown_to_channel, amount, refunded at the channel).

    The bank knows refunds by refund number only: for a bank payment the refunded amount
    adds up its successful refunds among the given refund ids."""
    if channel == BANK:
        record = books.bank.get(payment_id)
        if record is None:
            return "unknown_to_channel", 0, 0
        refunded = sum(
            int(books.bank_refunds[r]["amount"])
            for r in refund_ids
            if r in books.bank_refunds and books.bank_refunds[r].get("code") == "SUCCESS"
        )
        status = {"SUCCESS": "paid", "FAIL": "not_paid"}.get(record["code"], "undecided")
        return status, int(record["amount"]), refunded
    trade = books.wallets[channel].get(payment_id)
    if trade is None:
        return "unknown_to_channel", 0, 0
    status = {"success": "paid", "failed": "not_paid", "closed": "not_paid"}.get(
        trade["status"], "undecided"
    )
    return status, int(trade["amount"]), int(trade["refunded"])


def channel_refund(
    books: ChannelBooks, channel: str, payment_id: str, refund_id: str
) -> ChannelRefund | None:
    """The channel's record of one refund; None when it has none."""
    if channel == BANK:
        record = books.bank_refunds.get(refund_id)
        if record is None:
            return None
        return ChannelRefund(ok=record.get("code") == "SUCCESS", amount=int(record["amount"]))
    trade = books.wallets[channel].get(payment_id)
    for refund in trade["refunds"] if trade is not None else ():
        if refund["out_refund_no"] == refund_id:
            return ChannelRefund(ok=bool(refund["ok"]), amount=int(refund["amount"]))
    return None
