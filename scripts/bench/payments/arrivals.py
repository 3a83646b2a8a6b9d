"""Open-loop arrivals: calls sent at a fixed rate whatever the answers, latency counted from
each call's intended send time, and the processes' CPU, Postgres's writes and the machine read
over the steady window. What is sent and how its answer is awaited is the subclass's."""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import asyncpg

from ..pg_wal import WalSnapshot, wal_snapshot, wal_written
from ..proc_cpu import (
    CpuSnapshot,
    cpu_seconds,
    machine_use,
    postgres_seconds_by_role,
    snapshot,
)

RequestT = TypeVar("RequestT")


class Paced(Protocol):
    """What a step's arrivals and measurements need of its spec."""

    @property
    def kind(self) -> str: ...
    @property
    def rate(self) -> float: ...
    @property
    def warmup_seconds(self) -> float: ...
    @property
    def steady_seconds(self) -> float: ...
    @property
    def drain_seconds(self) -> float: ...
    @property
    def pids(self) -> dict[str, int]: ...
    @property
    def database_url(self) -> str: ...


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


class OpenLoop(Generic[RequestT]):
    """One step: `request(index)` built and `one(request, intended)` started at each arrival;
    `one` reports its outcome through `record`."""

    def __init__(self, spec: Paced) -> None:
        self.pace = spec
        self.result = StepResult(spec.kind, spec.rate)
        self.window = (0.0, 0.0)
        self.drain_until = 0.0

    def request(self, index: int) -> RequestT:
        raise NotImplementedError

    async def one(self, request: RequestT, intended: float) -> None:
        raise NotImplementedError

    async def started(self) -> None:
        """Before the first arrival."""

    async def finished(self) -> None:
        """After every call has its outcome."""

    def record(self, intended: float, done: float | None, state: str, reason: str = "") -> None:
        """A call's outcome: completed in the window if done in it; measured (its latency, its
        outcome, an error unless SUCCEEDED) if it was meant to be sent in it."""
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
        spec = self.pace
        await self.started()
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
            tasks.append(asyncio.create_task(self.one(self.request(index), intended)))
        await asyncio.sleep(max(0.0, stop - time.perf_counter()))
        cpu.append(snapshot(spec.pids))
        if server is not None:
            wal.append(await wal_snapshot(server))
            await server.close()
        if len(wal) == 2:
            self.result.wal = wal_written(wal[0], wal[1])
        self.result.sent = total
        if len(cpu) == 2:
            self.result.window_seconds = cpu[1].at - cpu[0].at
            self.result.cpu_seconds = cpu_seconds(cpu[0], cpu[1])
            self.result.postgres_seconds = postgres_seconds_by_role(cpu[0], cpu[1])
            self.result.machine = machine_use(cpu[0], cpu[1])
        await asyncio.gather(*tasks)
        await self.finished()
        return self.result
