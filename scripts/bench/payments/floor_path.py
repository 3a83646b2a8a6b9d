"""The floor as a payment path: what a payment cannot do without, put together in real
processes on the services' stack and offered the card steps' rates open loop. A call in over
mutual TLS reaches a gateway hop, which writes a row in its own transaction, calls an identity
hop (which writes a row in its own) and POSTs to a bare HTTP channel, then answers. The highest
rate this path sustains is the most any payment path could sustain on the machine in that run.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

from devstack.free_ports import free_ports
from devstack.pki import dev_channel
from paysuite.runtime import event_loop

from .arrivals import OpenLoop, StepResult
from .echo_server import METHOD
from .floors import PAYLOAD, serve_http_echo

ECHO_SERVER = Path(__file__).resolve().parent / "echo_server.py"
CALL_TIMEOUT_SECONDS = 15.0
CONNECTIONS = 4
KIND = "floor"
STARTUP_SECONDS = 2.0

Call = grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]


@dataclass(frozen=True)
class FloorStepSpec:
    """One step of the floor path; picklable, handed to the load process."""

    address: str
    rate: float
    warmup_seconds: float
    steady_seconds: float
    drain_seconds: float
    pids: dict[str, int]
    caller: str
    kind: str = KIND
    database_url: str = ""


class _FloorStep(OpenLoop[bytes]):
    def __init__(self, spec: FloorStepSpec, calls: list[Call]) -> None:
        super().__init__(spec)
        self.next_call = itertools.cycle(calls).__next__

    def request(self, index: int) -> bytes:
        return PAYLOAD

    async def one(self, request: bytes, intended: float) -> None:
        try:
            await self.next_call()(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            self.record(intended, None, f"rpc {exc.code().name}")
            return
        self.record(intended, time.perf_counter(), "SUCCEEDED")


async def _run(spec: FloorStepSpec) -> StepResult:
    # The payment load's connections: as many, calling as the merchant.
    channels = [dev_channel(spec.address, spec.caller) for _ in range(CONNECTIONS)]
    try:
        await asyncio.gather(*(c.channel_ready() for c in channels))
        calls = [
            c.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
            for c in channels
        ]
        return await _FloorStep(spec, calls).run()
    finally:
        await asyncio.gather(*(c.close(None) for c in channels))


def run_floor_step(spec: FloorStepSpec) -> StepResult:
    """Process entry point: one step on a fresh event loop; this process counted as "load"."""
    return event_loop.run(_run(replace(spec, pids={**spec.pids, "load": os.getpid()})))


@dataclass(frozen=True)
class RunningPath:
    """The floor path's address (its gateway hop) and its processes by the role they play."""

    address: str
    pids: dict[str, int]


@asynccontextmanager
async def floor_path(database_url: str, env: dict[str, str]) -> AsyncIterator[RunningPath]:
    """Starts the HTTP channel, the identity hop and the gateway hop; stops them after."""
    ports = free_ports(["gateway", "identity", "channel"])
    channel = multiprocessing.get_context("spawn").Process(
        target=serve_http_echo, args=(ports["channel"],), daemon=True
    )
    channel.start()
    hops: list[asyncio.subprocess.Process] = []
    try:
        identity_address = f"127.0.0.1:{ports['identity']}"
        for port, extra in (
            (ports["identity"], []),
            (
                ports["gateway"],
                [
                    "--call",
                    identity_address,
                    "--post",
                    f"http://127.0.0.1:{ports['channel']}/echo",
                ],
            ),
        ):
            hops.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(ECHO_SERVER),
                    str(port),
                    "--database-url",
                    database_url,
                    *extra,
                    env=env,
                )
            )
            await asyncio.sleep(STARTUP_SECONDS)  # up before its caller connects
            if hops[-1].returncode is not None:
                raise RuntimeError(f"floor path: a hop exited with {hops[-1].returncode}")
        pids = {"identity": hops[0].pid, "gateway": hops[1].pid}
        if channel.pid is not None:
            pids["channel"] = channel.pid
        yield RunningPath(f"127.0.0.1:{ports['gateway']}", pids)
    finally:
        for hop in reversed(hops):
            hop.terminate()
            await hop.wait()
        channel.terminate()
        channel.join()
