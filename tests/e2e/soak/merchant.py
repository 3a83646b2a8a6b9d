"""A merchant calling the gateway through its crash, and what every call answered."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import grpc

from devstack.stack import Stack
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.runtime.grpc_errors import error_info
from paysuite.type.v1.money_pb2 import Money
from tests.e2e.soak.orders import Order
from tests.e2e.soak.states import state_name
from tests.helpers import connect

# How a call cut off by the crash can end, as the client sees it.
CUT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
    }
)
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)
CALL_TIMEOUT = 60.0


@dataclass
class Calls:
    """Every answer and error per request id; payment ids a retry must give back."""

    answers: dict[str, list[gpb.Payment]] = field(default_factory=lambda: defaultdict(list))
    cut: set[str] = field(default_factory=set)
    # request id -> the payment the database held for it before the retry (None: no row)
    before_retry: dict[str, str | None] = field(default_factory=dict)
    refund_answers: dict[str, list[gpb.Refund]] = field(default_factory=lambda: defaultdict(list))
    closes: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)


def _reason(exc: grpc.aio.AioRpcError, default: str = "") -> str:
    info = error_info(exc)
    return info.reason if info is not None else default


class Merchant:
    """Sends payments, closes and refunds as a merchant would, through the gateway's crash."""

    def __init__(self, stack: Stack, pool: Any) -> None:
        self.pool = pool
        self.calls = Calls()
        self.channel = connect(stack.config.addr("gateway"), options=CHANNEL_OPTIONS)
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
                reason = _reason(exc)
                already_paid = reason == "ORDER_ALREADY_PAID"
                if not (exc.code() is grpc.StatusCode.FAILED_PRECONDITION and already_paid):
                    self.calls.unexpected.append(
                        f"CreatePayment {order.label}: {exc.code().name} {reason}"
                    )
                return None
            payment = answer.payment
            self.calls.answers[request_id].append(payment)
            if order.close_if_waiting and payment.state == gpb.Payment.STATE_UNKNOWN:
                await self.close_payment(payment.payment_id)
            return payment

    async def close_payment(self, payment_id: str) -> None:
        try:
            answer = await self.gateway.ClosePayment(
                gpb.ClosePaymentRequest(request_id=uuid.uuid4().hex, payment_id=payment_id),
                timeout=CALL_TIMEOUT,
            )
        except grpc.aio.AioRpcError as exc:
            reason = _reason(exc, exc.code().name)
            # Refused when the buyer paid meanwhile or the channel cannot tell yet: both fine.
            if reason in ("PAYMENT_NOT_CLOSABLE", "PAYMENT_STATUS_UNKNOWN") or (
                self.killing and exc.code() in CUT_CODES
            ):
                self.calls.closes[reason] += 1
            else:
                self.calls.unexpected.append(f"ClosePayment {payment_id}: {reason}")
            return
        self.calls.closes[state_name(answer.payment)] += 1

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
            self.calls.unexpected.append(
                f"RefundPayment {request.request_id} of {payment.payment_id} "
                f"({minor_units} of {payment.amount.minor_units}): "
                f"{exc.code().name} {_reason(exc)}"
            )
            return None
        self.calls.refund_answers[request.request_id].append(answer.refund)
        return answer.refund

    async def payment_state(self, payment_id: str) -> str:
        answer = await self.gateway.GetPayment(
            gpb.GetPaymentRequest(payment_id=payment_id), timeout=CALL_TIMEOUT
        )
        return state_name(answer.payment)

    async def query(self, payment_id: str) -> None:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self.gateway.QueryPayment(
                gpb.QueryPaymentRequest(payment_id=payment_id), timeout=20
            )


async def pay_all(merchant: Merchant, orders: list[Order], workers: int) -> None:
    """Pays the orders in turn with this many calls at once."""
    queue: asyncio.Queue[Order] = asyncio.Queue()
    for order in orders:
        queue.put_nowait(order)

    async def work() -> None:
        while not queue.empty():
            await merchant.pay(queue.get_nowait())

    await asyncio.gather(*(work() for _ in range(workers)))
