"""The grpc.aio server every service runs: health, reflection, tracing, errors, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from opentelemetry.metrics import MeterProvider

from paysuite.runtime.authz import AuthorizationInterceptor, Policy
from paysuite.runtime.grpc_errors import ErrorMappingInterceptor
from paysuite.runtime.grpc_spans import ServerSpans
from paysuite.runtime.metrics import RpcMetricsInterceptor
from paysuite.runtime.refusals import RefusedCalls
from paysuite.runtime.tls import TlsFiles, server_credentials

_log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 32 * 1024 * 1024


@dataclass
class ServiceApp:
    """What a service's composition root hands to the runtime."""

    name: str
    services: Sequence[ServiceDescriptor]
    register: Callable[[grpc.aio.Server], None]
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    on_stop: Sequence[Callable[[], Awaitable[None]]] = ()
    # Innermost, after authorization: the app's own (the request-id store).
    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = ()


def grpc_service_app(
    name: str,
    service: ServiceDescriptor,
    add_to_server: Callable[[Any, grpc.aio.Server], None],
    servicer: Any,
    *,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
) -> ServiceApp:
    """The usual app: one generated servicer registered with its add_*_to_server function."""
    return ServiceApp(
        name=name,
        services=[service],
        register=lambda server: add_to_server(servicer, server),
        background=background,
        on_stop=on_stop,
        interceptors=interceptors,
    )


@dataclass(frozen=True)
class Security:
    """How a server admits callers: mutual TLS from files, a policy per RPC, and optionally a
    plaintext health-only port for probes."""

    tls: TlsFiles
    policy: Policy
    health_port: int | None = None
    reflection: bool = True


@dataclass
class RunningServer:
    """A started server; stop() flips health to NOT_SERVING, drains, then releases resources."""

    app: ServiceApp
    server: grpc.aio.Server
    health: HealthServicer
    port: int
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    probes: grpc.aio.Server | None = None
    probe_port: int | None = None

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        if self.probes is not None:
            await self.probes.stop(grace)
        await self.server.stop(grace)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for callback in self.app.on_stop:
            await callback()


def _interceptors(
    domain: str,
    policy: Policy,
    own: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
    meter_provider: MeterProvider | None = None,
) -> list[grpc.aio.ServerInterceptor[Any, Any]]:
    # Tracing first so the span covers error mapping; health probes produce no spans.
    # Authorization last (innermost): its refusals are mapped to statuses like any error.
    # Metrics outermost: the status code recorded is the one the caller gets.
    return [
        RpcMetricsInterceptor(meter_provider),
        ServerSpans(),
        ErrorMappingInterceptor(domain),
        AuthorizationInterceptor(policy, on_refused=RefusedCalls(meter_provider)),
        *own,
    ]


async def _start_probes(
    host: str, port: int, health: HealthServicer
) -> tuple[grpc.aio.Server, int]:
    """Health alone on a plaintext port: probes cannot present a client certificate."""
    probes = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health, probes)
    bound = probes.add_insecure_port(f"{host}:{port}")
    await probes.start()
    return probes, bound


async def start_server(
    app: ServiceApp,
    *,
    host: str,
    port: int,
    security: Security,
    meter_provider: MeterProvider | None = None,
) -> RunningServer:
    """Starts the app's server on host:port (0 picks a free port) with everything it needs:
    callers must present a certificate of the suite and be allowed by the policy."""
    server = grpc.aio.server(
        interceptors=_interceptors(
            f"{app.name}.paysuite", security.policy, app.interceptors, meter_provider
        ),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    app.register(server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [s.full_name for s in app.services]
    if security.reflection:
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
    bound = server.add_secure_port(f"{host}:{port}", server_credentials(security.tls))
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    running = RunningServer(app, server, health_servicer, bound)
    if security.health_port is not None:
        running.probes, running.probe_port = await _start_probes(
            host, security.health_port, health_servicer
        )
    running.tasks = [asyncio.create_task(job(), name=f"{app.name}-bg") for job in app.background]
    _log.info("serving", extra={"port": bound, "services": names})
    return running
