"""`python -m egressproxy`: JSON logs, then proxy until SIGTERM/SIGINT (EGRESSPROXY_* settings)."""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from egressproxy.server import serve
from egressproxy.settings import EgressProxySettings
from paysuite.runtime.logs import setup_logging
from paysuite.runtime.settings import CommonSettings


def main() -> None:
    common = CommonSettings()
    try:
        settings = EgressProxySettings()
    except ValidationError as exc:
        raise SystemExit(f"egressproxy: invalid EGRESSPROXY_* settings:\n{exc}") from None
    setup_logging(settings.name, common.log_level)
    try:
        asyncio.run(serve(settings))
    finally:
        logging.shutdown()


if __name__ == "__main__":
    main()
