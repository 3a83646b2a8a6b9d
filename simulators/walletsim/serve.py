"""Runs the simulator on a TCP port until SIGTERM or SIGINT, then shuts down cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from walletsim.app import create_app
from walletsim.settings import WalletSimSettings

_log = logging.getLogger(__name__)


async def serve(settings: WalletSimSettings, *, grace_seconds: float) -> None:
    """Serves until a stop signal; in-flight requests get grace_seconds to finish."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(create_app(settings), access_log=None, shutdown_timeout=grace_seconds)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.listen_port).start()
        addresses = [f"{address[0]}:{address[1]}" for address in runner.addresses]
        _log.info(
            "listening",
            extra={"addresses": addresses, "channel": settings.channel},
        )
        await stop.wait()
        _log.info("stopping", extra={"grace_seconds": grace_seconds})
    finally:
        await runner.cleanup()
