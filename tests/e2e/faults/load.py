"""A steady stream of card and wallet payments at a fixed rate, each asked again with the same
request id until the gateway answers it (as a merchant's retrying client would), through
whatever fault the suite is under."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import grpc

from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.runtime.grpc_errors import error_info
from tests.e2e.soak.orders import Order, OrderBook
from tests.e2e.soak.simulators import SIMULATORS

# Errors a fault may cause: the call is sent again (the same request id) until answered. A
# crash cuts calls (UNAVAILABLE, CANCELLED, UNKNOWN); a lost database is UNAVAILABLE, though
# asyncpg's rare internal errors as a connection dies still come out INTERNAL.
PASSING = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
    }
)
CALL_TIMEOUT = 30.0
# A request still unanswered this long after it was first sent is reported.
GIVE_UP_SECONDS = 180.0


@dataclass
class Answers:
    """What each request id was answered, the errors on the way, what was refused and why."""

    payments: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    refused: dict[str, str] = field(default_factory=dict)
    unanswered: list[str] = field(default_factory=list)


class SteadyLoad:
    """Sends payments round-robin over the bank and both wallets at `rate` a second, small
    amounts (the payer's daily limit outlasts the run), until stopped."""

    def __init__(self, gateway: gpb_grpc.GatewayServiceAsyncStub, book: OrderBook, rate: float):
        self._gateway = gateway
        self._book = book
        self._rate = rate
        self.answers = Answers()
        self.orders: list[Order] = []

    async def run(self, stop: asyncio.Event) -> None:
        """Paces new payments until stop is set, then waits for every one to be answered."""
        calls: list[asyncio.Task[None]] = []
        started = time.monotonic()
        while not stop.is_set():
            order = self._book.order(SIMULATORS[len(self.orders) % 3], "load")
            order.request.amount.minor_units = self._book.dice.randint(10, 99)
            self.orders.append(order)
            calls.append(asyncio.create_task(self._pay(order)))
            next_at = started + len(self.orders) / self._rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await asyncio.gather(*calls)

    async def _pay(self, order: Order) -> None:
        request_id = order.request.request_id
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while True:
            try:
                answer = await self._gateway.CreatePayment(
                    order.request, timeout=CALL_TIMEOUT, wait_for_ready=True
                )
            except grpc.aio.AioRpcError as exc:
                info = error_info(exc)
                reason = info.reason if info is not None else ""
                self.answers.errors[f"{exc.code().name} {reason}".strip()] += 1
                if exc.code() not in PASSING:
                    self.answers.refused[request_id] = f"{exc.code().name} {reason}"
                    return
                if time.monotonic() > deadline:
                    self.answers.unanswered.append(request_id)
                    return
                await asyncio.sleep(0.5)
                continue
            self.answers.payments[request_id].append(answer.payment.payment_id)
            return


def answer_violations(answers: Answers, stored: dict[str, str]) -> list[str]:
    """Every request answered once with the payment the gateway keeps for it (`stored`:
    request id to payment id), none given up on; refusals only for business reasons."""
    found = [f"request {r} never answered" for r in answers.unanswered]
    for request_id, payment_ids in answers.payments.items():
        if {stored.get(request_id)} != set(payment_ids):
            found.append(
                f"request {request_id} answered {payment_ids}, kept {stored.get(request_id)}"
            )
    for request_id, why in answers.refused.items():
        if why.split()[0] not in ("FAILED_PRECONDITION", "RESOURCE_EXHAUSTED"):
            found.append(f"request {request_id} refused: {why}")
    return found
