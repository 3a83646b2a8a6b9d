"""The thin `python -m <service>` entry point: serve (default) or migrate."""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from paysuite.runtime import event_loop
from paysuite.runtime.authz import Policy
from paysuite.runtime.gc_tuning import tune_for_service
from paysuite.runtime.logs import setup_logging
from paysuite.runtime.metrics import setup_metrics
from paysuite.runtime.migrations import upgrade_to_head
from paysuite.runtime.server import Security, ServiceApp, start_server
from paysuite.runtime.settings import ServiceSettings
from paysuite.runtime.telemetry import setup_telemetry

S = TypeVar("S", bound=ServiceSettings)

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition(Generic[S]):
    """Everything the runtime needs to know to migrate and serve one service."""

    name: str
    schema: str
    versions_dir: Path
    settings: Callable[[], S]
    build: Callable[[S], Awaitable[ServiceApp]]


def default_policy_file(service: str) -> Path:
    """The policy.toml shipped in the service's package."""
    return Path(str(importlib.resources.files(service) / "policy.toml"))


def server_security(app: ServiceApp, settings: ServiceSettings) -> Security:
    """Mutual TLS from the settings' files and the service's policy."""
    policy_file = settings.policy_file or default_policy_file(app.name)
    return Security(
        tls=settings.tls_files,
        policy=Policy.load(policy_file, app.services),
        health_port=settings.health_port,
        reflection=settings.reflection,
    )


async def migrate(definition: ServiceDefinition[S], settings: S) -> None:
    await upgrade_to_head(definition.name, definition.schema, settings.dsn, definition.versions_dir)


async def serve(definition: ServiceDefinition[S], settings: S) -> None:
    """Runs until SIGTERM or SIGINT, then stops gracefully and flushes traces."""
    telemetry = setup_telemetry(definition.name, settings)
    measured = setup_metrics(definition.name, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        app = await definition.build(settings)
        running = await start_server(
            app, host=settings.host, port=settings.port, security=server_security(app, settings)
        )
        tune_for_service()
        await stop.wait()
        _log.info("stopping", extra={"grace_seconds": settings.shutdown_grace_seconds})
        await running.stop(settings.shutdown_grace_seconds)
    finally:
        measured.shutdown()
        telemetry.shutdown()


def main(definition: ServiceDefinition[S], argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    settings = definition.settings()
    setup_logging(definition.name, settings.log_level)
    if command == "migrate":
        event_loop.run(migrate(definition, settings))
    elif command == "serve":
        event_loop.run(serve(definition, settings))
    else:
        raise SystemExit(f"usage: python -m {definition.name} [serve|migrate]")
