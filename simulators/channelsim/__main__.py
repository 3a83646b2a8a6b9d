"""`python -m channelsim`: JSON logs, tracing, then serve until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from channelsim.serve import serve
from channelsim.settings import ChannelSimSettings
from paysuite.runtime.logs import setup_logging
from paysuite.runtime.settings import CommonSettings
from paysuite.runtime.telemetry import setup_telemetry


def main() -> None:
    common = CommonSettings()
    try:
        settings = ChannelSimSettings()  # type: ignore[call-arg]  # secret from environment
    except ValidationError as exc:
        raise SystemExit(f"channelsim: invalid CHANNELSIM_* settings:\n{exc}") from None
    setup_logging(settings.channel, common.log_level)
    telemetry = setup_telemetry(settings.channel, common)
    try:
        asyncio.run(serve(settings, grace_seconds=common.shutdown_grace_seconds))
    finally:
        telemetry.shutdown()
        logging.shutdown()


if __name__ == "__main__":
    main()
