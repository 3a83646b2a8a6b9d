"""Payments under dialled channel faults and a gateway crash: nothing lost, nothing doubled.

The whole suite runs as real processes. Every simulated channel misbehaves at moderate rates
(declines, errors, timeouts, slow settlement, false successes, buyers who pay later, lost,
late and repeated notifications) while a few dozen card and wallet payments, retries with the
same request id, duplicate payments of one business order, closes and refunds go through the
gateway, which is killed (SIGKILL) with charges in flight and started again. Once the faults
are off and everything has settled, each payment is checked against the ledger and against the
channel, which is the truth: the ledger holds its capture exactly once if and only if the
channel took the money, and each refund's reversal exactly once if and only if the channel
paid it back.

A few deterministic probes come first (a false success, a charge the bank settles later, a
wallet order closed unpaid, a duplicate payment), and the crash is made deterministic too: it
happens while the bank and a wallet hold charges whose answers the gateway is still waiting
for. The test prints nothing; failures list payment ids, states and amounts, never payer data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import grpc
import pytest

from devstack import demo
from devstack.stack import Stack
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.runtime.grpc_errors import error_info
from paysuite.type.v1.money_pb2 import Money

_log = logging.getLogger(__name__)

BANK = "banksim"
ALIPAY = "alipaysim"
WECHAT = "wechatsim"
SIMULATORS = (BANK, ALIPAY, WECHAT)
MERCHANT_PAYABLE = f"merchant.{demo.MERCHANT_ID}.payable.CNY"
FEE_INCOME = "platform.fee_income.CNY"  # the platform's fee of a payment, given back pro rata

# The gateway gives a channel 10 s (ChannelSettings.timeout_seconds); an injected timeout
# answers later than that, so the gateway really times out and must find out by query.
GATEWAY_CHANNEL_TIMEOUT_MS = 10_000
LATE_ANSWER_MS = GATEWAY_CHANNEL_TIMEOUT_MS + 1_000

BANK_QUIET: dict[str, float] = {
    "latency_ms": 0,
    "decline_rate": 0,
    "timeout_rate": 0,
    "error_rate": 0,
    "processing_rate": 0,
    "false_success_rate": 0,
}
WALLET_QUIET: dict[str, float] = {
    "latency_ms": 0,
    "accepted_rate": 0,
    "decline_rate": 0,
    "timeout_rate": 0,
    "error_rate": 0,
    "notify_delay_ms": 0,
    "notify_duplicate_rate": 0,
    "notify_drop_rate": 0,
}
BANK_STORM: dict[str, float] = {
    "decline_rate": 0.1,
    "timeout_rate": 0.15,
    "timeout_sleep_ms": LATE_ANSWER_MS,
    "error_rate": 0.1,
    "processing_rate": 0.15,
    "processing_ms": 1_500,
    "false_success_rate": 0.1,
}
WALLET_STORM: dict[str, float] = {
    "accepted_rate": 0.3,
    "decide_ms": 1_500,
    "decline_rate": 0.1,
    "timeout_rate": 0.1,
    "timeout_sleep_ms": LATE_ANSWER_MS,
    "error_rate": 0.1,
    "notify_delay_ms": 300,
    "notify_duplicate_rate": 0.3,
    "notify_drop_rate": 0.2,
    "notify_backoff_ms": 200,
    "notify_max_attempts": 5,
    "notify_timeout_ms": 2_000,
}
QUIET = {BANK: BANK_QUIET, ALIPAY: WALLET_QUIET, WECHAT: WALLET_QUIET}
STORM = {BANK: BANK_STORM, ALIPAY: WALLET_STORM, WECHAT: WALLET_STORM}

METHODS = {
    BANK: gpb.PAYMENT_METHOD_BANK_CARD,
    ALIPAY: gpb.PAYMENT_METHOD_ALIPAY,
    WECHAT: gpb.PAYMENT_METHOD_WECHAT_PAY,
}
# How a call cut off by the crash can end, as the client sees it.
CUT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
    }
)
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]
CALL_TIMEOUT = 60.0
# After the faults are off: long enough for a charge the channel never received to be
# declared failed (the gateway believes "no such order" only a minute after the charge) and
# for unanswered refunds to be sent again, with a wide margin.
SETTLE_SECONDS = 150.0

CAPTURED = frozenset({"succeeded", "duplicate"})
TERMINAL = frozenset({"succeeded", "failed", "closed", "duplicate"})
STATE_NAMES = {
    gpb.Payment.PROCESSING: "processing",
    gpb.Payment.SUCCEEDED: "succeeded",
    gpb.Payment.FAILED: "failed",
    gpb.Payment.CLOSED: "closed",
    gpb.Payment.UNKNOWN: "unknown",
    gpb.Payment.DUPLICATE: "duplicate",
}


# --- the simulators' admin endpoints ------------------------------------------------------


async def _admin(
    http: aiohttp.ClientSession, stack: Stack, name: str, method: str, path: str, body: Any = None
) -> Any:
    url = stack.config.simulator_url(name) + path
    async with http.request(method, url, json=body) as response:
        assert response.status == 200, f"{name} {method} {path}: HTTP {response.status}"
        return await response.json()


async def _dial(
    http: aiohttp.ClientSession, stack: Stack, name: str, knobs: dict[str, float]
) -> None:
    await _admin(http, stack, name, "POST", "/_admin/faults", knobs)


async def _dial_all(
    http: aiohttp.ClientSession, stack: Stack, knobs: dict[str, dict[str, float]]
) -> None:
    await asyncio.gather(*(_dial(http, stack, name, knobs[name]) for name in SIMULATORS))


@contextlib.asynccontextmanager
async def _faults_restored(http: aiohttp.ClientSession, stack: Stack) -> AsyncIterator[None]:
    """Whatever happens, every simulator ends with the faults it had and all rates at zero."""
    saved = {name: await _admin(http, stack, name, "GET", "/_admin/faults") for name in SIMULATORS}
    try:
        yield
    finally:
        for name in SIMULATORS:
            await _dial(http, stack, name, {**saved[name], **QUIET[name]})


@dataclass
class ChannelBooks:
    """What the channels say: the bank's orders and refunds, the wallets' trades."""

    bank: dict[str, dict[str, Any]]
    bank_refunds: dict[str, dict[str, Any]]
    wallets: dict[str, dict[str, dict[str, Any]]]


def _bank_refunds(stack: Stack) -> dict[str, dict[str, Any]]:
    """The bank's refunds by out_refund_no. The bank simulator lists none by its admin API,
    so they are read from its own record of answering them: its log."""
    refunds: dict[str, dict[str, Any]] = {}
    log = stack.config.data_dir / "logs" / f"{BANK}.log"
    for line in log.read_text(encoding="utf-8").splitlines():
        if not line.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("msg") == "refund answered":
                refunds[str(event["out_refund_no"])] = event
    return refunds


async def _channel_books(
    http: aiohttp.ClientSession, stack: Stack, *, refunds: bool = True
) -> ChannelBooks:
    records = {
        name: {t["out_trade_no"]: t for t in await _admin(http, stack, name, "GET", path)}
        for name, path in ((n, "/_admin/transactions") for n in SIMULATORS)
    }
    return ChannelBooks(
        bank=records[BANK],
        bank_refunds=_bank_refunds(stack) if refunds else {},
        wallets={ALIPAY: records[ALIPAY], WECHAT: records[WECHAT]},
    )


# --- the client side: what each call answered ---------------------------------------------


@dataclass
class Order:
    """One CreatePayment request as the merchant sends it (and sends again when cut off)."""

    label: str
    channel: str
    request: gpb.CreatePaymentRequest
    close_if_waiting: bool = False


@dataclass
class Calls:
    """Every answer and error per request id; payment ids a retry must give back."""

    answers: dict[str, list[gpb.Payment]] = field(default_factory=lambda: defaultdict(list))
    refused: dict[str, str] = field(default_factory=dict)
    cut: set[str] = field(default_factory=set)
    # request id -> the payment the database held for it before the retry (None: no row)
    before_retry: dict[str, str | None] = field(default_factory=dict)
    refund_answers: dict[str, list[gpb.Refund]] = field(default_factory=lambda: defaultdict(list))
    closes: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)


class Merchant:
    """Sends payments, closes and refunds as a merchant would, through the gateway's crash."""

    def __init__(self, stack: Stack, pool: Any) -> None:
        self.pool = pool
        self.calls = Calls()
        self.channel = grpc.aio.insecure_channel(
            stack.config.addr("gateway"), options=CHANNEL_OPTIONS
        )
        self.gateway = gpb_grpc.GatewayServiceStub(self.channel)
        self.killing = False  # set just before the SIGKILL
        self.restarted = asyncio.Event()

    async def close(self) -> None:
        await self.channel.close(None)

    def _cut(self, exc: grpc.aio.AioRpcError, sent_before_restart: bool) -> bool:
        return self.killing and sent_before_restart and exc.code() in CUT_CODES

    async def pay(self, order: Order) -> gpb.Payment | None:
        """Creates the payment; a call cut by the crash is sent again, same request id."""
        request_id = order.request.request_id
        while True:
            sent_before_restart = not self.restarted.is_set()
            try:
                answer = await self.gateway.CreatePayment(
                    order.request, timeout=CALL_TIMEOUT, wait_for_ready=True
                )
            except grpc.aio.AioRpcError as exc:
                if self._cut(exc, sent_before_restart):
                    self.calls.cut.add(request_id)
                    await self.restarted.wait()
                    # The crashed process is gone: what the database holds now is final.
                    self.calls.before_retry[request_id] = await self.pool.fetchval(
                        "SELECT payment_id FROM gateway.payments WHERE request_id = $1",
                        request_id,
                    )
                    continue
                info = error_info(exc)
                reason = info.reason if info is not None else ""
                if exc.code() is grpc.StatusCode.FAILED_PRECONDITION and (
                    reason == "ORDER_ALREADY_PAID"
                ):
                    self.calls.refused[request_id] = reason
                    return None
                self.calls.unexpected.append(
                    f"CreatePayment {order.label}: {exc.code().name} {reason}"
                )
                return None
            payment = answer.payment
            self.calls.answers[request_id].append(payment)
            if order.close_if_waiting and payment.state == gpb.Payment.UNKNOWN:
                await self.close_payment(payment.payment_id)
            return payment

    async def close_payment(self, payment_id: str) -> None:
        try:
            answer = await self.gateway.ClosePayment(
                gpb.ClosePaymentRequest(payment_id=payment_id), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as exc:
            info = error_info(exc)
            reason = info.reason if info is not None else exc.code().name
            # Refused when the buyer paid meanwhile or the channel cannot tell yet: both fine.
            if reason in ("PAYMENT_NOT_CLOSABLE", "PAYMENT_STATUS_UNKNOWN") or (
                self.killing and exc.code() in CUT_CODES
            ):
                self.calls.closes[reason] += 1
                return
            self.calls.unexpected.append(f"ClosePayment {payment_id}: {reason}")
            return
        self.calls.closes[STATE_NAMES.get(answer.payment.state, "?")] += 1

    async def refund(
        self, payment: gpb.Payment, minor_units: int, request_id: str | None = None
    ) -> gpb.Refund | None:
        request = gpb.RefundPaymentRequest(
            request_id=request_id or f"soak-rfd-{secrets.token_hex(8)}",
            payment_id=payment.payment_id,
            amount=Money(currency_code="CNY", minor_units=minor_units),
            reason="soak test",
        )
        try:
            answer = await self.gateway.RefundPayment(
                request, timeout=CALL_TIMEOUT, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as exc:
            info = error_info(exc)
            reason = info.reason if info is not None else ""
            self.calls.unexpected.append(
                f"RefundPayment {request.request_id} of {payment.payment_id} "
                f"({minor_units} of {payment.amount.minor_units}): {exc.code().name} {reason}"
            )
            return None
        self.calls.refund_answers[request.request_id].append(answer.refund)
        return answer.refund

    async def payment_state(self, payment_id: str) -> str:
        answer = await self.gateway.GetPayment(
            gpb.GetPaymentRequest(payment_id=payment_id), timeout=CALL_TIMEOUT
        )
        return STATE_NAMES.get(answer.payment.state, "?")

    async def query(self, payment_id: str) -> None:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self.gateway.QueryPayment(
                gpb.QueryPaymentRequest(payment_id=payment_id), timeout=20
            )


class OrderBook:
    """Makes the orders of one run: unique numbers, small amounts, a fixed mix of methods."""

    def __init__(self) -> None:
        self.run = secrets.token_hex(4)
        self.dice = random.Random(self.run)
        self.count = 0
        self.orders: list[Order] = []

    def order(
        self, channel: str, label: str, order_no: str | None = None, *, close: bool = False
    ) -> Order:
        self.count += 1
        request = gpb.CreatePaymentRequest(
            request_id=f"soak-{self.run}-{self.count}",
            merchant_id=demo.MERCHANT_ID,
            merchant_order_no=order_no or self.order_no(),
            amount=Money(currency_code="CNY", minor_units=self.dice.randint(100, 999)),
            method=METHODS[channel],
            payer_user_id=demo.USER_ID,
            description="soak test",
            auth_factors=2,  # the higher daily limit: refusals by limit stay rare
        )
        made = Order(f"{label}#{self.count}", channel, request, close)
        self.orders.append(made)
        return made

    def order_no(self) -> str:
        return f"SOAK-{self.run}-{secrets.token_hex(4)}"

    def storm(self, phase: str, singles: int) -> list[Order]:
        """Singles round-robin over the channels (some wallet ones closed if the buyer has not
        paid yet), three business orders paid twice at once, and three requests sent twice."""
        batch: list[Order] = []
        for i in range(singles):
            channel = SIMULATORS[i % 3]
            batch.append(self.order(channel, phase, close=channel != BANK and i % 4 == 1))
        for first, second in ((ALIPAY, WECHAT), (BANK, ALIPAY), (WECHAT, BANK)):
            shared = self.order_no()
            batch.append(self.order(first, f"{phase}-dup", shared))
            batch.append(self.order(second, f"{phase}-dup", shared))
        twins = [batch[i] for i in (0, 4, 8)]
        self.dice.shuffle(batch)
        # Each twin goes out twice, back to back: two workers send it at the same time.
        for twin in twins:
            batch.insert(batch.index(twin) + 1, twin)
        return batch


async def _workers(merchant: Merchant, orders: list[Order], count: int) -> None:
    queue: asyncio.Queue[Order] = asyncio.Queue()
    for order in orders:
        queue.put_nowait(order)

    async def work() -> None:
        while not queue.empty():
            await merchant.pay(queue.get_nowait())

    await asyncio.gather(*(work() for _ in range(count)))


# --- the database: our payments, refunds, outbox and their ledger transfers -------------


@dataclass
class Books:
    payments: dict[str, Any]
    refunds: dict[str, Any]
    undelivered: list[Any]
    transfers: dict[str, Any]
    # transfer id -> (account, side) -> amount, on the merchant's payable and the fee income
    entries: dict[str, Counter[tuple[str, str]]]


async def _books(pool: Any, request_ids: list[str], order_nos: list[str]) -> Books:
    payments = await pool.fetch(
        "SELECT payment_id, request_id, merchant_order_no, amount, channel, state, "
        "failure_reason, needs_reconciliation, refunded, created_at, next_query_at, "
        "query_attempts, merchant_fee "
        "FROM gateway.payments WHERE request_id = ANY($1::text[]) "
        "OR (merchant_id = $2 AND merchant_order_no = ANY($3::text[]))",
        request_ids,
        demo.MERCHANT_ID,
        order_nos,
    )
    payment_ids = [p["payment_id"] for p in payments]
    refunds = await pool.fetch(
        "SELECT refund_id, request_id, payment_id, amount, state, failure_reason "
        "FROM gateway.refunds WHERE payment_id = ANY($1::text[])",
        payment_ids,
    )
    ids = payment_ids + [r["refund_id"] for r in refunds]
    undelivered = await pool.fetch(
        "SELECT idempotency_key, kind, attempts, last_error FROM gateway.outbox "
        "WHERE delivered_at IS NULL AND split_part(idempotency_key, ':', 1) = ANY($1::text[])",
        ids,
    )
    transfers = await pool.fetch(
        "SELECT transfer_id, state, metadata->>'payment_id' AS payment_id FROM ledger.transfers "
        "WHERE split_part(transfer_id, ':', 1) = ANY($1::text[]) "
        "OR metadata->>'payment_id' = ANY($2::text[])",
        ids,
        payment_ids,
    )
    rows = await pool.fetch(
        "SELECT transfer_id, account_id, side, amount FROM ledger.entries "
        "WHERE account_id = ANY($1::text[]) AND transfer_id = ANY($2::text[])",
        [MERCHANT_PAYABLE, FEE_INCOME],
        [t["transfer_id"] for t in transfers],
    )
    entries: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for row in rows:
        entries[row["transfer_id"]][(row["account_id"], row["side"])] += row["amount"]
    return Books(
        payments={p["payment_id"]: p for p in payments},
        refunds={r["refund_id"]: r for r in refunds},
        undelivered=list(undelivered),
        transfers={t["transfer_id"]: t for t in transfers},
        entries=entries,
    )


def _unsettled(books: Books) -> list[str]:
    """What is still moving: payments and refunds without a final answer, undelivered rows."""
    open_payments = [
        f"payment {p['payment_id']} {p['state']} ({p['channel']})"
        for p in books.payments.values()
        if p["state"] not in TERMINAL and not p["needs_reconciliation"]
    ]
    open_refunds = [
        f"refund {r['refund_id']} of {r['payment_id']} processing"
        for r in books.refunds.values()
        if r["state"] == "processing"
    ]
    outbox = [f"outbox {o['idempotency_key']} undelivered" for o in books.undelivered]
    return open_payments + open_refunds + outbox


# --- the invariants -------------------------------------------------------------------------


def _channel_view(
    books: ChannelBooks, channel: str, payment_id: str, refund_ids: Iterable[str] = ()
) -> tuple[str, int, int]:
    """(paid | not_paid | undecided | unknown_to_channel, amount, refunded at the channel).

    The bank's refunds are known by refund number only, so for a bank payment the refunded
    amount adds up the bank's successful refunds of the given refund ids."""
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


def _channel_refund(books: ChannelBooks, channel: str, payment_id: str, refund_id: str) -> Any:
    """The channel's record of one refund (None: it has none), as {"ok", "amount"}."""
    if channel == BANK:
        record = books.bank_refunds.get(refund_id)
        if record is None:
            return None
        return {"ok": record.get("code") == "SUCCESS", "amount": int(record["amount"])}
    trade = books.wallets[channel].get(payment_id)
    for refund in trade["refunds"] if trade is not None else ():
        if refund["out_refund_no"] == refund_id:
            return {"ok": bool(refund["ok"]), "amount": int(refund["amount"])}
    return None


def _violations(books: Books, channels: ChannelBooks) -> list[str]:
    found: list[str] = []
    refunds_of: dict[str, list[Any]] = defaultdict(list)
    for refund in books.refunds.values():
        refunds_of[refund["payment_id"]].append(refund)
    expected_transfers: set[str] = set()
    paid_orders: dict[str, list[str]] = defaultdict(list)
    for pid, p in sorted(books.payments.items()):
        state, channel, amount = p["state"], p["channel"], p["amount"]
        where = f"{pid} ({channel}, {state}, {amount} fen)"
        if p["needs_reconciliation"]:
            found.append(f"handed to reconciliation: {where}")
        if state == "succeeded":
            paid_orders[p["merchant_order_no"]].append(pid)
        # The ledger: the capture exactly once if captured, else none.
        capture = books.transfers.get(f"{pid}:capture")
        if state in CAPTURED:
            expected_transfers.add(f"{pid}:capture")
            # The merchant is owed the amount less the platform's fee, which is income.
            credited = Counter(
                {
                    (MERCHANT_PAYABLE, "C"): amount - p["merchant_fee"],
                    (FEE_INCOME, "C"): p["merchant_fee"],
                }
            )
            posted = books.entries.get(f"{pid}:capture", Counter())
            if capture is None:
                found.append(f"captured but no capture transfer: {where}")
            elif capture["state"] != "posted" or +posted != +credited:
                found.append(f"capture transfer wrong: {where}: {capture['state']}, {dict(posted)}")
        elif capture is not None:
            found.append(f"not captured but a capture transfer exists: {where}")
        # The channel is the truth.
        at_channel, channel_amount, channel_refunded = _channel_view(
            channels, channel, pid, [r["refund_id"] for r in refunds_of[pid]]
        )
        paid = at_channel == "paid"
        if state not in TERMINAL:
            found.append(
                f"unresolved: {where}; at the channel: {at_channel}; next query "
                f"{p['next_query_at'] or 'never'} after {p['query_attempts']}"
            )
        elif at_channel == "undecided":
            found.append(f"final at ours, still undecided at the channel: {where}")
        elif paid != (state in CAPTURED):
            found.append(f"channel says {at_channel} but we say {state}: {where}")
        if at_channel != "unknown_to_channel" and channel_amount != amount:
            found.append(f"channel amount {channel_amount} differs: {where}")
        # Refunds: each succeeded one reversed exactly once, and paid back at the channel.
        succeeded_total = fee_back = 0
        for r in refunds_of[pid]:
            rid, r_state, r_amount = r["refund_id"], r["state"], r["amount"]
            r_where = f"refund {rid} ({r_state}, {r_amount} fen) of {where}"
            reversal = books.transfers.get(f"{rid}:refund")
            at_channel_refund = _channel_refund(channels, channel, pid, rid)
            if r_state == "succeeded":
                succeeded_total += r_amount
                expected_transfers.add(f"{rid}:refund")
                # The merchant and the fee income give back the refund between them.
                posted = books.entries.get(f"{rid}:refund", Counter())
                fee_back += posted[(FEE_INCOME, "D")]
                given_back = posted[(MERCHANT_PAYABLE, "D")] + posted[(FEE_INCOME, "D")]
                if reversal is None:
                    found.append(f"refund succeeded but no reversal: {r_where}")
                elif (
                    reversal["state"] != "posted"
                    or given_back != r_amount
                    or set(+posted) - {(MERCHANT_PAYABLE, "D"), (FEE_INCOME, "D")}
                ):
                    found.append(f"reversal wrong: {r_where}: {reversal['state']}, {dict(posted)}")
                if at_channel_refund is None or not at_channel_refund["ok"]:
                    found.append(f"refund succeeded but the channel did not pay it: {r_where}")
                elif at_channel_refund["amount"] != r_amount:
                    found.append(f"channel refunded {at_channel_refund['amount']}: {r_where}")
            else:
                if reversal is not None:
                    found.append(f"refund not succeeded but a reversal exists: {r_where}")
                if at_channel_refund is not None and at_channel_refund["ok"]:
                    found.append(f"channel paid back a refund we do not count: {r_where}")
        if p["refunded"] != succeeded_total and not any(
            r["state"] == "processing" for r in refunds_of[pid]
        ):
            found.append(f"refunded {p['refunded']} but refunds total {succeeded_total}: {where}")
        fee_due = p["merchant_fee"] if succeeded_total == amount else None
        if fee_back > p["merchant_fee"] or fee_due not in (None, fee_back):
            found.append(f"refunds gave back {fee_back} of a fee of {p['merchant_fee']}: {where}")
        if paid and channel_refunded != succeeded_total:
            found.append(
                f"channel refunded {channel_refunded} but our refunds total "
                f"{succeeded_total}: {where}"
            )
        if state == "duplicate":
            automatic = [r for r in refunds_of[pid] if r["request_id"] == f"duplicate:{pid}"]
            if [r["state"] for r in automatic] != ["succeeded"] or channel_refunded != amount:
                found.append(
                    f"duplicate not refunded in full: {where}: refunds "
                    f"{[(r['state'], r['amount']) for r in automatic]}, "
                    f"at the channel {channel_refunded}"
                )
    for order_no, pids in paid_orders.items():
        if len(pids) > 1:
            found.append(f"business order {order_no} succeeded more than once: {pids}")
    for tid, transfer in sorted(books.transfers.items()):
        if tid not in expected_transfers:
            found.append(
                f"unexpected ledger transfer {tid} ({transfer['state']}) "
                f"of payment {transfer['payment_id']}"
            )
    for row in books.undelivered:
        found.append(
            f"outbox {row['idempotency_key']} ({row['kind']}) undelivered after "
            f"{row['attempts']} attempts: {row['last_error'][:120]}"
        )
    return found


def _client_violations(merchant: Merchant, books: Books) -> list[str]:
    """Every answer names a payment we keep under its request id; retries got the same one."""
    found = list(merchant.calls.unexpected)
    by_request = {p["request_id"]: pid for pid, p in books.payments.items()}
    for request_id, answers in merchant.calls.answers.items():
        ids = {a.payment_id for a in answers}
        if len(ids) != 1 or by_request.get(request_id) not in ids:
            found.append(
                f"request {request_id} answered {sorted(ids)}, stored {by_request.get(request_id)}"
            )
    for request_id, before in merchant.calls.before_retry.items():
        answered = {a.payment_id for a in merchant.calls.answers.get(request_id, [])}
        if before is not None and answered != {before}:
            found.append(f"retry of {request_id} answered {answered}, not {before}")
    for request_id, refunds in merchant.calls.refund_answers.items():
        if len({r.refund_id for r in refunds}) != 1:
            found.append(f"refund request {request_id} answered {[r.refund_id for r in refunds]}")
    return found


# --- the phases -----------------------------------------------------------------------------


async def _wait_for(
    what: str, predicate: Callable[[], Awaitable[bool]], seconds: float = 20.0
) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def _brief(payment: gpb.Payment | None) -> str:
    """A payment for an assertion message: id, state and reason, no payer or card."""
    if payment is None:
        return "no payment"
    state = STATE_NAMES.get(payment.state, "?")
    return f"{payment.payment_id} {state} {payment.failure_reason}".rstrip()


@dataclass
class Probes:
    """Payments whose course the test decides, with the outcome each must reach."""

    expected: dict[str, str] = field(default_factory=dict)  # payment id -> final state
    false_success: str = ""


async def _probes(
    merchant: Merchant, book: OrderBook, http: aiohttp.ClientSession, stack: Stack
) -> Probes:
    """One of each fault with everything else quiet, so their outcomes are certain."""
    probes = Probes()
    await _dial_all(http, stack, QUIET)

    # A false success: the bank says yes, its books say no; the gateway's query catches it.
    await _dial(http, stack, BANK, {"false_success_rate": 1})
    caught = await merchant.pay(book.order(BANK, "probe-false-success"))
    await _dial(http, stack, BANK, BANK_QUIET)
    assert caught is not None and caught.state == gpb.Payment.FAILED, _brief(caught)
    assert caught.failure_reason == "SUCCESS_NOT_CONFIRMED", caught.failure_reason
    probes.expected[caught.payment_id] = "failed"
    probes.false_success = caught.payment_id

    # Settled later at the bank: UNKNOWN now, resolved by query.
    await _dial(http, stack, BANK, {"processing_rate": 1, "processing_ms": 1_500})
    later = await merchant.pay(book.order(BANK, "probe-processing"))
    await _dial(http, stack, BANK, BANK_QUIET)
    assert later is not None and later.state == gpb.Payment.UNKNOWN, _brief(later)
    probes.expected[later.payment_id] = "succeeded"

    # A wallet buyer who has not paid yet: the order is closed at both ends.
    await _dial(http, stack, ALIPAY, {"accepted_rate": 1, "decide_ms": 600_000})
    waiting = await merchant.pay(book.order(ALIPAY, "probe-close", close=True))
    assert waiting is not None and waiting.state == gpb.Payment.UNKNOWN, _brief(waiting)
    assert await merchant.payment_state(waiting.payment_id) == "closed"
    probes.expected[waiting.payment_id] = "closed"

    # A duplicate: the wallet buyer pays after the card paid the same business order.
    shared = book.order_no()
    first = await merchant.pay(book.order(ALIPAY, "probe-duplicate", shared))
    await _dial(http, stack, ALIPAY, {**WALLET_QUIET, "decide_ms": 1_500})
    second = await merchant.pay(book.order(BANK, "probe-duplicate", shared))
    assert first is not None and first.state == gpb.Payment.UNKNOWN, _brief(first)
    assert second is not None and second.state == gpb.Payment.SUCCEEDED, _brief(second)
    await _admin(
        http,
        stack,
        ALIPAY,
        "POST",
        f"/_admin/transactions/{first.payment_id}/decide",
        {"status": "success"},
    )

    async def duplicated() -> bool:
        return await merchant.payment_state(first.payment_id) == "duplicate"

    await _wait_for("the duplicate payment", duplicated)
    probes.expected[first.payment_id] = "duplicate"
    probes.expected[second.payment_id] = "succeeded"
    # And a partial refund at the bank, with the bank answering at once.
    refund = await merchant.refund(second, 100)
    assert refund is not None, "the partial refund was refused"
    assert refund.state == gpb.Refund.SUCCEEDED, (refund.refund_id, refund.state)
    return probes


async def _crash_with_charges_in_flight(
    merchant: Merchant,
    book: OrderBook,
    http: aiohttp.ClientSession,
    stack: Stack,
    answered_enough: asyncio.Event,
) -> list[Order]:
    """SIGKILLs the gateway while the bank has taken two charges (and a wallet refused one)
    whose answers the gateway is still waiting for, then starts it again."""
    with contextlib.suppress(TimeoutError):  # storm payments under way, or enough waiting
        await asyncio.wait_for(answered_enough.wait(), 10)
    # From now every bank and WeChat charge is answered after the gateway's timeout.
    await _dial(
        http, stack, BANK, {**BANK_QUIET, "timeout_rate": 1, "timeout_sleep_ms": LATE_ANSWER_MS}
    )
    await _dial(
        http,
        stack,
        WECHAT,
        {**WALLET_QUIET, "timeout_rate": 1, "decline_rate": 1, "timeout_sleep_ms": LATE_ANSWER_MS},
    )
    doomed = [
        book.order(BANK, "in-flight"),
        book.order(BANK, "in-flight"),
        book.order(WECHAT, "in-flight"),
    ]
    calls = [asyncio.create_task(merchant.pay(order)) for order in doomed]

    async def taken() -> bool:
        """The channel holds each charge while the gateway still waits for its answer."""
        rows = await merchant.pool.fetch(
            "SELECT payment_id, channel, state FROM gateway.payments "
            "WHERE request_id = ANY($1::text[])",
            [o.request.request_id for o in doomed],
        )
        if len(rows) < len(doomed) or any(r["state"] != "processing" for r in rows):
            return False
        books = await _channel_books(http, stack, refunds=False)
        return all(
            _channel_view(books, r["channel"], r["payment_id"])[0] != "unknown_to_channel"
            for r in rows
        )

    await _wait_for("charges in flight", taken, seconds=8.0)
    merchant.killing = True
    stack.kill("gateway")
    await _dial(http, stack, BANK, BANK_STORM)
    await _dial(http, stack, WECHAT, WALLET_STORM)
    await stack.restart("gateway")
    merchant.restarted.set()
    await asyncio.gather(*calls)
    return doomed


async def _refunds(merchant: Merchant, paid: list[gpb.Payment]) -> None:
    """Full, partial, two partials at once, the same full refund sent twice at once (a client
    retrying before the first answer: both must get the one refund), one too many."""
    jobs = []
    for i, payment in enumerate(paid[:8]):
        amount = payment.amount.minor_units
        match i % 4:
            case 0:
                jobs.append(merchant.refund(payment, amount))
            case 1:
                jobs.append(merchant.refund(payment, 100))
            case 2:
                jobs.append(merchant.refund(payment, amount // 2))
                jobs.append(merchant.refund(payment, amount - amount // 2))
            case _:
                request_id = f"soak-rfd-sent-twice-at-once-{secrets.token_hex(6)}"
                jobs.append(merchant.refund(payment, amount, request_id))
                jobs.append(merchant.refund(payment, amount, request_id))
    await asyncio.gather(*jobs)
    if paid:
        # More than was paid: refused, and nothing recorded.
        over = gpb.RefundPaymentRequest(
            request_id=f"soak-rfd-over-{secrets.token_hex(6)}",
            payment_id=paid[-1].payment_id,
            amount=Money(currency_code="CNY", minor_units=paid[-1].amount.minor_units + 1),
            reason="soak test",
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await merchant.gateway.RefundPayment(over, timeout=CALL_TIMEOUT)
        assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def _settle(merchant: Merchant, book: OrderBook) -> Books:
    """Waits until nothing moves; asks the channel about UNKNOWN payments to speed it up.

    PROCESSING payments are left to the gateway: such a payment has no call under way once
    every call has returned, so only the gateway's own recovery can resolve it."""
    request_ids = [o.request.request_id for o in book.orders]
    order_nos = [o.request.merchant_order_no for o in book.orders]
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        books = await _books(merchant.pool, request_ids, order_nos)
        if not _unsettled(books) or time.monotonic() > deadline:
            break
        unknown = [pid for pid, p in books.payments.items() if p["state"] == "unknown"]
        await asyncio.gather(*(merchant.query(pid) for pid in unknown))
        await asyncio.sleep(1.0)
    # Late notifications and resent copies arrive; none may change a final state.
    await asyncio.sleep(2.0)
    return await _books(merchant.pool, request_ids, order_nos)


def _summary(books: Books, merchant: Merchant, started: float) -> str:
    states = Counter(p["state"] for p in books.payments.values())
    reasons = Counter(p["failure_reason"] for p in books.payments.values() if p["failure_reason"])
    refunds = Counter(r["state"] for r in books.refunds.values())
    return (
        f"{len(books.payments)} payments {dict(states)}; failures {dict(reasons)}; "
        f"refunds {dict(refunds)}; {len(merchant.calls.cut)} calls cut by the crash; "
        f"closes {dict(merchant.calls.closes)}; {time.monotonic() - started:.0f} s"
    )


async def test_faults_and_a_gateway_crash_lose_nothing_and_double_nothing(stack: Stack) -> None:
    started = time.monotonic()
    pool = await asyncpg.create_pool(
        plain_postgres_url(stack.config.database_url), min_size=1, max_size=4
    )
    http = aiohttp.ClientSession()
    merchant = Merchant(stack, pool)
    book = OrderBook()
    try:
        async with _faults_restored(http, stack):
            probes = await _probes(merchant, book, http, stack)

            await _dial_all(http, stack, STORM)
            first_wave = book.storm("storm-1", 30)
            answered_enough = asyncio.Event()

            async def watch() -> None:
                while sum(len(a) for a in merchant.calls.answers.values()) < 15:
                    await asyncio.sleep(0.05)
                answered_enough.set()

            watcher = asyncio.create_task(watch())
            doomed, _ = await asyncio.gather(
                _crash_with_charges_in_flight(merchant, book, http, stack, answered_enough),
                _workers(merchant, first_wave, 12),
            )
            watcher.cancel()

            paid = [
                a[-1]
                for a in merchant.calls.answers.values()
                if a
                and a[-1].state == gpb.Payment.SUCCEEDED
                and a[-1].payment_id not in probes.expected
            ]
            await asyncio.gather(
                _workers(merchant, book.storm("storm-2", 21), 12), _refunds(merchant, paid)
            )
            # Asked again once answered: the same payment comes back.
            for order in first_wave[:3]:
                await merchant.pay(order)
            await _dial_all(http, stack, QUIET)
            books = await _settle(merchant, book)
            channels = await _channel_books(http, stack)
    finally:
        if stack.processes["gateway"].returncode is not None:
            await stack.restart("gateway")
        await merchant.close()
        await http.close()
        await pool.close()

    summary = _summary(books, merchant, started)
    _log.info("soak: %s", summary)
    violations = _violations(books, channels) + _client_violations(merchant, books)
    assert not violations, f"{len(violations)} violations ({summary}):\n" + "\n".join(
        violations[:100]
    )
    # The deterministic parts happened as dialled.
    for pid, state in probes.expected.items():
        assert books.payments[pid]["state"] == state, (pid, books.payments[pid]["state"], state)
    assert books.payments[probes.false_success]["failure_reason"] == "SUCCESS_NOT_CONFIRMED"
    doomed_ids = {o.request.request_id for o in doomed}
    assert doomed_ids <= merchant.calls.cut, "the crash should have cut the in-flight charges"
    in_flight = [p for p in books.payments.values() if p["request_id"] in doomed_ids]
    assert sorted(p["state"] for p in in_flight) == ["failed", "succeeded", "succeeded"], [
        (p["payment_id"], p["state"]) for p in in_flight
    ]
