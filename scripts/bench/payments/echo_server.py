"""A gRPC echo service on the services' own server stack (tracing and error-mapping
interceptors, health, reflection, collector tuning): the benchmark's echo yardstick.

Run as a file: `python echo_server.py PORT`; SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import grpc

from devstack.pki import DevCA
from paysuite.runtime import event_loop
from paysuite.runtime.authz import Policy
from paysuite.runtime.gc_tuning import tune_for_service
from paysuite.runtime.identities import service
from paysuite.runtime.server import Security, ServiceApp, start_server
from paysuite.runtime.settings import CommonSettings
from paysuite.runtime.telemetry import setup_telemetry

SERVICE = "paysuite.bench.v1.EchoService"
METHOD = f"/{SERVICE}/Echo"


async def _echo(request: bytes, _context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return request


def _register(server: grpc.aio.Server) -> None:
    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers((handler,))


async def serve(port: int) -> None:
    telemetry = setup_telemetry("echo", CommonSettings())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # Over mutual TLS as the services serve: the dev CA's ledger certificate, any operator or
    # service of the suite may call.
    ca = DevCA.from_environment()
    ca.ensure_suite()
    security = Security(
        tls=ca.files(service("ledger")), policy=Policy({METHOD: ("operator/*", "service/*")})
    )
    running = await start_server(
        ServiceApp(name="echo", services=[], register=_register),
        host="127.0.0.1",
        port=port,
        security=security,
    )
    tune_for_service()
    await stop.wait()
    await running.stop(1.0)
    telemetry.shutdown()


if __name__ == "__main__":
    event_loop.run(serve(int(sys.argv[1])))
