"""Open-loop payment load, run in a process of its own: arrivals at a fixed rate, whatever
the answers, with latency counted from each payment's intended send time to its definite
answer (the CreatePayment answer when final, else the payment's final event on the
merchant's event stream)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import grpc

from devstack.pki import dev_channel
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.runtime import event_loop
from paysuite.type.v1 import money_pb2

from .arrivals import OpenLoop, StepResult

CALL_TIMEOUT_SECONDS = 15.0
CONNECTIONS = 4
FINAL_EVENTS = {
    "payment.succeeded": "SUCCEEDED",
    "payment.failed": "FAILED",
    "payment.closed": "CLOSED",
    "payment.duplicate": "DUPLICATE",
}
_FINAL_STATES = {
    pb.Payment.STATE_SUCCEEDED,
    pb.Payment.STATE_FAILED,
    pb.Payment.STATE_CLOSED,
    pb.Payment.STATE_DUPLICATE,
}


@dataclass(frozen=True)
class StepSpec:
    """One load step; picklable, handed to the load process."""

    gateways: tuple[str, ...]
    kind: str  # "card" or "wallet"
    methods: tuple[pb.PaymentMethod.ValueType, ...]
    rate: float
    warmup_seconds: float
    steady_seconds: float
    drain_seconds: float
    payers: tuple[str, ...]
    merchant_id: str
    id_prefix: str
    after_sequence: int
    pids: dict[str, int]
    seed: int
    min_amount: int = 100
    max_amount: int = 300
    # Where to read what Postgres wrote over the window ('' to leave it out).
    database_url: str = ""


class _Answers:
    """Definite answers by payment id, from CreatePayment or from the event stream."""

    def __init__(self) -> None:
        self.by_event: dict[str, tuple[float, str]] = {}
        self.waiters: dict[str, asyncio.Future[tuple[float, str]]] = {}

    def event(self, payment_id: str, at: float, state: str) -> None:
        self.by_event.setdefault(payment_id, (at, state))
        waiter = self.waiters.pop(payment_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result((at, state))

    async def wait(self, payment_id: str, until: float) -> tuple[float, str] | None:
        if payment_id in self.by_event:
            return self.by_event[payment_id]
        waiter = asyncio.get_running_loop().create_future()
        self.waiters[payment_id] = waiter
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(waiter, max(0.0, until - time.perf_counter()))
        self.waiters.pop(payment_id, None)
        return None


async def _watch(stub: pb_grpc.GatewayServiceAsyncStub, spec: StepSpec, answers: _Answers) -> None:
    request = pb.WatchPaymentEventsRequest(
        merchant_id=spec.merchant_id, after_sequence=spec.after_sequence
    )
    async for event in stub.WatchPaymentEvents(request):
        state = FINAL_EVENTS.get(event.type)
        if state is not None:
            answers.event(event.payment.payment_id, time.perf_counter(), state)


class _Step(OpenLoop[pb.CreatePaymentRequest]):
    def __init__(self, spec: StepSpec, stubs: Sequence[pb_grpc.GatewayServiceAsyncStub]) -> None:
        super().__init__(spec)
        self.spec = spec
        self.stubs = stubs
        self.next_stub = itertools.cycle(stubs).__next__
        self.answers = _Answers()
        self.rng = random.Random(spec.seed)
        self.watcher: asyncio.Task[None] | None = None

    def request(self, index: int) -> pb.CreatePaymentRequest:
        spec, rng = self.spec, self.rng
        key = f"{spec.id_prefix}{index}"
        return pb.CreatePaymentRequest(
            request_id=key,
            merchant_id=spec.merchant_id,
            merchant_order_no=key,
            amount=money_pb2.Money(
                currency_code="CNY", minor_units=rng.randint(spec.min_amount, spec.max_amount)
            ),
            method=rng.choice(spec.methods),
            payer_user_id=rng.choice(spec.payers),
            description="bench",
        )

    async def one(self, request: pb.CreatePaymentRequest, intended: float) -> None:
        try:
            answer = await self.next_stub().CreatePayment(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            self.record(intended, None, f"rpc {exc.code().name}")
            return
        payment = answer.payment
        self.result.payment_ids.append(payment.payment_id)
        if payment.state in _FINAL_STATES:
            state = pb.Payment.State.Name(payment.state).removeprefix("STATE_")
            self.record(intended, time.perf_counter(), state, payment.failure_reason)
            return
        final = await self.answers.wait(payment.payment_id, self.drain_until)
        if final is None:
            self.record(intended, None, "no definite answer")
        else:
            self.record(intended, final[0], final[1])

    async def started(self) -> None:
        if self.spec.kind == "wallet":
            self.watcher = asyncio.create_task(_watch(self.stubs[0], self.spec, self.answers))

    async def finished(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await self.watcher


async def _run(spec: StepSpec) -> StepResult:
    # Several connections, as several calling services would open, spread over the gateway
    # processes as clients balancing over replicas would; calls go round the connections.
    caller = f"merchant-{spec.merchant_id}"
    addresses = spec.gateways
    count = CONNECTIONS * len(addresses)
    channels = [dev_channel(addresses[i % len(addresses)], caller) for i in range(count)]
    try:
        await asyncio.gather(*(c.channel_ready() for c in channels))
        stubs: list[pb_grpc.GatewayServiceAsyncStub] = [
            pb_grpc.GatewayServiceStub(c) for c in channels
        ]
        return await _Step(spec, stubs).run()
    finally:
        await asyncio.gather(*(c.close(None) for c in channels))


def run_step(spec: StepSpec) -> StepResult:
    """Process entry point: one step on a fresh event loop; the load process's own CPU is
    counted under "load"."""
    return event_loop.run(_run(replace(spec, pids={**spec.pids, "load": os.getpid()})))
