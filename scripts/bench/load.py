"""Load generator, run in a process of its own: K gRPC clients posting until a deadline."""

from __future__ import annotations

import asyncio
import gc
import math
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Literal

import grpc

from devstack.pki import dev_channel
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.runtime.server import MAX_MESSAGE_BYTES

from .cpu import CpuMeter, CpuUse
from .stats import percentile
from .workload import TransferFactory

METHOD = "/paysuite.ledger.v1.LedgerService/CreateTransfers"
RPC_TIMEOUT_SECONDS = 900.0
POSTED = pb.CREATE_TRANSFER_RESULT_POSTED
# Pre-build this many times what the warm-up rate says the timed phase will need.
PREBUILD_FACTOR = 3.0
MAX_PREBUILT_TRANSFERS = 3_000_000
WARMUP_BATCH_MAX = 1000

Phase = Literal["batch", "single"]
Call = grpc.aio.UnaryUnaryMultiCallable[bytes, pb.CreateTransfersResponse]


@dataclass(frozen=True)
class LoadSpec:
    """What one phase sends; picklable, handed to the load process."""

    address: str
    phase: Phase
    clients: int
    batch_size: int
    seconds: float
    warmup_seconds: float
    cold_count: int
    hot_share: float
    id_prefix: str
    seed: int
    ledger_pid: int | None = None


@dataclass
class LoadResult:
    """What one phase measured; posted_ranges are (prefix, first, stop) of POSTED ids."""

    phase: Phase
    clients: int
    posted: int = 0
    elapsed: float = 0.0
    calls: int = 0
    warmup_posted: int = 0
    not_posted: dict[str, int] = field(default_factory=dict)
    mismatched_ids: int = 0
    prebuilt_transfers: int = 0
    built_while_timed: int = 0
    client_cpu_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    p50_ms: float | None = None
    p99_ms: float | None = None
    posted_ranges: list[tuple[str, int, int]] = field(default_factory=list)
    server_cpu: CpuUse | None = None

    @property
    def tps(self) -> float:
        return self.posted / self.elapsed if self.elapsed > 0 else 0.0


class _Tally:
    """Outcomes of the calls of one stretch of time (warm-up or timed)."""

    def __init__(self) -> None:
        self.posted = 0
        self.calls = 0
        self.not_posted: Counter[str] = Counter()
        self.mismatched = 0
        self.errors: list[str] = []
        self.latencies_ns: list[int] = []
        self.started_ns = time.perf_counter_ns()
        self.last_done_ns = 0
        self._ranges: dict[str, list[list[int]]] = {}

    def add(self, prefix: str, first: int, size: int, response: pb.CreateTransfersResponse) -> None:
        self.calls += 1
        results = response.results
        if len(results) != size:
            self.mismatched += size
            return
        ranges = self._ranges.setdefault(prefix, [])
        for offset, item in enumerate(results):
            seq = first + offset
            if item.transfer_id != f"{prefix}{seq}":
                self.mismatched += 1
            elif item.result == POSTED:
                self.posted += 1
                if ranges and ranges[-1][1] == seq:
                    ranges[-1][1] = seq + 1
                else:
                    ranges.append([seq, seq + 1])
            else:
                self.not_posted[pb.CreateTransferResult.Name(item.result)] += 1

    @property
    def elapsed_s(self) -> float:
        """From the start of the stretch to the last completed call."""
        return max(0, self.last_done_ns - self.started_ns) / 1e9

    def ranges(self) -> list[tuple[str, int, int]]:
        return [(p, start, stop) for p, runs in self._ranges.items() for start, stop in runs]


class _Client:
    """One client: its own channel (own HTTP/2 connection), id prefix and request supply."""

    def __init__(self, spec: LoadSpec, index: int) -> None:
        # Posting is the gateway's (and recon's) to do: the load calls as the gateway.
        self.channel = dev_channel(
            spec.address,
            "gateway",
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.use_local_subchannel_pool", 1),
            ],
        )
        self.call: Call = self.channel.unary_unary(
            METHOD,
            request_serializer=None,
            response_deserializer=pb.CreateTransfersResponse.FromString,
        )
        prefix = f"{spec.id_prefix}{spec.phase[0]}{index}-"
        seed = spec.seed * 1000 + index
        self.factory = TransferFactory(prefix, spec.cold_count, spec.hot_share, seed)
        self.prebuilt: deque[tuple[bytes, int]] = deque()
        self.built_while_timed = 0

    def prebuild(self, batches: int, size: int) -> None:
        self.prebuilt.extend(self.factory.batch(size) for _ in range(batches))

    def _next(self, size: int, timed: bool) -> tuple[bytes, int]:
        if self.prebuilt:
            return self.prebuilt.popleft()
        if timed:
            self.built_while_timed += size
        return self.factory.batch(size)

    async def run(self, size: int, deadline_ns: int, tally: _Tally, timed: bool) -> None:
        """Sends back-to-back calls until the deadline; the call in flight then completes."""
        while time.perf_counter_ns() < deadline_ns:
            payload, first = self._next(size, timed)
            started = time.perf_counter_ns()
            try:
                response = await self.call(payload, timeout=RPC_TIMEOUT_SECONDS)
            except grpc.aio.AioRpcError as exc:
                tally.errors.append(f"{exc.code().name}: {exc.details()}")
                return
            done = time.perf_counter_ns()
            tally.latencies_ns.append(done - started)
            tally.last_done_ns = max(tally.last_done_ns, done)
            tally.add(self.factory.prefix, first, size, response)


def percentile_ms(latencies_ns: list[int], pct: float) -> float | None:
    """Nearest-rank percentile in milliseconds."""
    found = percentile(latencies_ns, pct)
    return None if found is None else found / 1e6


async def _stretch(clients: list[_Client], size: int, seconds: float, timed: bool) -> _Tally:
    tally = _Tally()
    deadline = tally.started_ns + int(seconds * 1e9)
    await asyncio.gather(*(c.run(size, deadline, tally, timed) for c in clients))
    return tally


def _prebuild_plan(spec: LoadSpec, warm_rate: float) -> int:
    """Batches per client to build before the timed stretch."""
    wanted = warm_rate * spec.seconds * PREBUILD_FACTOR
    wanted = min(wanted, MAX_PREBUILT_TRANSFERS)
    per_client = wanted / spec.clients / spec.batch_size
    floor = 2 if spec.phase == "batch" else 100
    return max(floor, math.ceil(per_client))


async def _run(spec: LoadSpec) -> LoadResult:
    clients = [_Client(spec, i) for i in range(spec.clients)]
    try:
        await asyncio.gather(*(c.channel.channel_ready() for c in clients))
        warm_size = min(spec.batch_size, WARMUP_BATCH_MAX)
        warm = await _stretch(clients, warm_size, spec.warmup_seconds, timed=False)
        result = LoadResult(spec.phase, spec.clients, warmup_posted=warm.posted)
        if warm.errors:
            result.errors = warm.errors
            result.posted_ranges = warm.ranges()
            return result
        warm_rate = warm.posted / warm.elapsed_s if warm.elapsed_s > 0 else 0.0
        batches = _prebuild_plan(spec, warm_rate)
        for client in clients:
            client.prebuild(batches, spec.batch_size)
        result.prebuilt_transfers = batches * spec.batch_size * spec.clients
        gc.collect()
        gc.freeze()
        cpu_before = time.process_time()
        meter = CpuMeter(spec.ledger_pid)
        meter.start()
        timed = await _stretch(clients, spec.batch_size, spec.seconds, timed=True)
        result.server_cpu = meter.stop()
        result.client_cpu_s = time.process_time() - cpu_before
        result.posted = timed.posted
        result.elapsed = timed.elapsed_s
        result.calls = timed.calls
        result.not_posted = dict(timed.not_posted + warm.not_posted)
        result.mismatched_ids = timed.mismatched + warm.mismatched
        result.built_while_timed = sum(c.built_while_timed for c in clients)
        result.errors = timed.errors
        result.p50_ms = percentile_ms(timed.latencies_ns, 50)
        result.p99_ms = percentile_ms(timed.latencies_ns, 99)
        result.posted_ranges = warm.ranges() + timed.ranges()
        return result
    finally:
        await asyncio.gather(*(c.channel.close(None) for c in clients))


def run_load(spec: LoadSpec) -> LoadResult:
    """Process entry point: runs the phase on a fresh event loop."""
    return asyncio.run(_run(spec))
