"""`python -m walletsim`: JSON logs, tracing, then serve until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from paysuite.runtime.logs import setup_logging
from paysuite.runtime.settings import CommonSettings
from paysuite.runtime.telemetry import setup_telemetry
from walletsim.serve import serve
from walletsim.settings import WalletSimSettings


def main() -> None:
    common = CommonSettings()
    try:
        settings = WalletSimSettings()  # type: ignore[call-arg]  # secret from environment
    except ValidationError as exc:
        raise SystemExit(f"walletsim: invalid WALLETSIM_* settings:\n{exc}") from None
    setup_logging(settings.channel, common.log_level)
    telemetry = setup_telemetry(settings.channel, common)
    try:
        asyncio.run(serve(settings, grace_seconds=common.shutdown_grace_seconds))
    finally:
        telemetry.shutdown()
        logging.shutdown()


if __name__ == "__main__":
    main()
