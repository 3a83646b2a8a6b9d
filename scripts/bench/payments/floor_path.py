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
class Server:
    """A server the benchmark started: where to reach it, and its process."""

    address: str
    pid: int


@asynccontextmanager
async def http_channel() -> AsyncIterator[Server]:
    """A bare aiohttp server answering POST /echo with the body, in a process of its own; its
    address is the URL to POST to."""
    port = free_ports(["channel"])["channel"]
    process = multiprocessing.get_context("spawn").Process(
        target=serve_http_echo, args=(port,), daemon=True
    )
    process.start()
    try:
        assert process.pid is not None
        yield Server(f"http://127.0.0.1:{port}/echo", process.pid)
    finally:
        process.terminate()
        process.join()


@asynccontextmanager
async def echo_hop(env: dict[str, str], *options: str) -> AsyncIterator[Server]:
    """The echo server (echo_server.py, with its hop options), up before it is yielded."""
    port = free_ports(["echo"])["echo"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ECHO_SERVER), str(port), *options, env=env
    )
    try:
        await asyncio.sleep(STARTUP_SECONDS)  # it imports the runtime before it listens
        if process.returncode is not None:
            raise RuntimeError(f"echo server exited with {process.returncode}")
        yield Server(f"127.0.0.1:{port}", process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


@dataclass(frozen=True)
class RunningPath:
    """The floor path's address (its gateway hop) and its processes by the role they play."""

    address: str
    pids: dict[str, int]


@asynccontextmanager
async def floor_path(database_url: str, env: dict[str, str]) -> AsyncIterator[RunningPath]:
    """Starts the HTTP channel, the identity hop and the gateway hop; stops them after."""
    async with (
        http_channel() as channel,
        echo_hop(env, "--database-url", database_url) as identity,
        echo_hop(
            env,
            "--database-url",
            database_url,
            "--call",
            identity.address,
            "--post",
            channel.address,
        ) as gateway,
    ):
        yield RunningPath(
            gateway.address,
            {"gateway": gateway.pid, "identity": identity.pid, "channel": channel.pid},
        )
