"""Open-loop payment load, run in a process of its own: arrivals at a fixed rate, whatever
the answers, with latency counted from each payment's intended send time to its definite
answer (the CreatePayment answer when final, else the payment's final event on the
merchant's event stream)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import asyncpg
import grpc

from devstack.pki import dev_channel
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.runtime import event_loop
from paysuite.type.v1 import money_pb2

from ..pg_wal import WalSnapshot, wal_snapshot, wal_written
from ..proc_cpu import (
    CpuSnapshot,
    cpu_seconds,
    machine_use,
    postgres_seconds_by_role,
    snapshot,
)

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


@dataclass
class StepResult:
    """What a step measured over its steady window."""

    kind: str
    rate: float
    window_seconds: float = 0.0
    sent: int = 0
    measured: int = 0
    completed_in_window: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    # WAL records, full-page images, bytes and checkpoints over the window (pg_wal).
    wal: dict[str, float] = field(default_factory=dict)
    # Postgres's CPU seconds by what its processes work for (proc_cpu.postgres_role).
    postgres_seconds: dict[str, float] = field(default_factory=dict)
    # The machine's busy share and context switches over the window (proc_cpu.machine_use).
    machine: dict[str, float] = field(default_factory=dict)
    payment_ids: list[str] = field(default_factory=list)

    @property
    def completed_rate(self) -> float:
        return self.completed_in_window / self.window_seconds if self.window_seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


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


class _Step:
    def __init__(self, spec: StepSpec, stubs: Sequence[pb_grpc.GatewayServiceAsyncStub]) -> None:
        self.spec = spec
        self.stubs = stubs
        self.next_stub = itertools.cycle(stubs).__next__
        self.answers = _Answers()
        self.rng = random.Random(spec.seed)
        self.result = StepResult(spec.kind, spec.rate)
        self.window = (0.0, 0.0)
        self.drain_until = 0.0

    def _request(self, index: int) -> pb.CreatePaymentRequest:
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
        result = self.result
        try:
            answer = await self.next_stub().CreatePayment(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            self._record(intended, None, f"rpc {exc.code().name}")
            return
        payment = answer.payment
        result.payment_ids.append(payment.payment_id)
        if payment.state in _FINAL_STATES:
            state = pb.Payment.State.Name(payment.state).removeprefix("STATE_")
            self._record(intended, time.perf_counter(), state, payment.failure_reason)
            return
        final = await self.answers.wait(payment.payment_id, self.drain_until)
        if final is None:
            self._record(intended, None, "no definite answer")
        else:
            self._record(intended, final[0], final[1])

    def _record(self, intended: float, done: float | None, state: str, reason: str = "") -> None:
        result = self.result
        start, end = self.window
        if done is not None and start <= done < end:
            result.completed_in_window += 1
        if not start <= intended < end:
            return
        result.measured += 1
        label = f"{state} {reason}".strip()
        result.outcomes[label] = result.outcomes.get(label, 0) + 1
        if done is None or state != "SUCCEEDED":
            result.errors[label] = result.errors.get(label, 0) + 1
        if done is not None:
            result.latencies_ms.append((done - intended) * 1000)

    async def run(self) -> StepResult:
        spec = self.spec
        watcher = (
            asyncio.create_task(_watch(self.stubs[0], spec, self.answers))
            if spec.kind == "wallet"
            else None
        )
        gc.collect()
        gc.freeze()
        begin = time.perf_counter() + 0.2
        steady_from = begin + spec.warmup_seconds
        stop = steady_from + spec.steady_seconds
        self.window = (steady_from, stop)
        self.drain_until = stop + spec.drain_seconds
        total = int(spec.rate * (spec.warmup_seconds + spec.steady_seconds))
        tasks: list[asyncio.Task[None]] = []
        cpu: list[CpuSnapshot] = []
        wal: list[WalSnapshot] = []
        server = await asyncpg.connect(spec.database_url) if spec.database_url else None
        for index in range(total):
            intended = begin + index / spec.rate
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if not cpu and intended >= steady_from:
                cpu.append(snapshot(spec.pids))
                if server is not None:
                    wal.append(await wal_snapshot(server))
            tasks.append(asyncio.create_task(self.one(self._request(index), intended)))
        await asyncio.sleep(max(0.0, stop - time.perf_counter()))
        cpu.append(snapshot(spec.pids))
        if server is not None:
            wal.append(await wal_snapshot(server))
            await server.close()
        if len(wal) == 2:
            self.result.wal = wal_written(wal[0], wal[1])
        self.result.sent = total
        self.result.window_seconds = cpu[1].at - cpu[0].at if len(cpu) == 2 else 0.0
        self.result.cpu_seconds = cpu_seconds(cpu[0], cpu[1]) if len(cpu) == 2 else {}
        if len(cpu) == 2:
            self.result.postgres_seconds = postgres_seconds_by_role(cpu[0], cpu[1])
            self.result.machine = machine_use(cpu[0], cpu[1])
        await asyncio.gather(*tasks)
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await watcher
        return self.result


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
