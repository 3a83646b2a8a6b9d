"""The gRPC floor: how many trivial unary calls/s the ledger's server and our client carry.

Single-transfer RPCs can go no faster than an RPC that does nothing. This phase measures that
ceiling in the same run, with the same client set-up as the single phase: K clients calling
the ledger's gRPC health Check (no database, not traced) back to back.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2

from devstack.pki import dev_channel

from .cpu import CpuMeter, CpuUse

METHOD = "/grpc.health.v1.Health/Check"
WARMUP_SECONDS = 1.0


@dataclass(frozen=True)
class FloorResult:
    calls: int
    elapsed: float
    client_cpu_s: float
    errors: int
    server_cpu: CpuUse | None = None

    @property
    def rps(self) -> float:
        return self.calls / self.elapsed if self.elapsed > 0 else 0.0


async def _client(call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes], until: float) -> int:
    payload = health_pb2.HealthCheckRequest().SerializeToString()
    calls = 0
    while time.perf_counter() < until:
        await call(payload)
        calls += 1
    return calls


async def _run(address: str, clients: int, seconds: float, ledger_pid: int | None) -> FloorResult:
    channels = [
        dev_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(clients)
    ]
    calls = [
        c.unary_unary(METHOD, request_serializer=None, response_deserializer=None) for c in channels
    ]
    try:
        await asyncio.gather(*(c.channel_ready() for c in channels))
        await asyncio.gather(*(_client(c, time.perf_counter() + WARMUP_SECONDS) for c in calls))
        gc.collect()
        gc.freeze()
        meter = CpuMeter(ledger_pid)
        meter.start()
        cpu, start = time.process_time(), time.perf_counter()
        counts = await asyncio.gather(
            *(_client(c, start + seconds) for c in calls), return_exceptions=True
        )
        elapsed = time.perf_counter() - start
        server_cpu = meter.stop()
        done = [n for n in counts if isinstance(n, int)]
        failed = len(counts) - len(done)
        return FloorResult(sum(done), elapsed, time.process_time() - cpu, failed, server_cpu)
    finally:
        await asyncio.gather(*(c.close(None) for c in channels))


def run_floor(
    address: str, clients: int, seconds: float, ledger_pid: int | None = None
) -> FloorResult:
    """Process entry point: runs the phase on a fresh event loop."""
    return asyncio.run(_run(address, clients, seconds, ledger_pid))
