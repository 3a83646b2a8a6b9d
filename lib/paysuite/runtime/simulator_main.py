"""The entry point the simulators share: settings, JSON logs, tracing, serve until a signal."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from pydantic import ValidationError

from paysuite.runtime import event_loop
from paysuite.runtime.logs import setup_logging
from paysuite.runtime.settings import CommonSettings
from paysuite.runtime.telemetry import setup_telemetry

S = TypeVar("S")


def run_simulator(
    program: str,
    load: Callable[[], S],
    name: Callable[[S], str],
    serve: Callable[[S, CommonSettings], Coroutine[Any, Any, None]],
    *,
    traced: bool = True,
) -> None:
    """Reads the program's settings (a clear exit when they are invalid), then serves."""
    common = CommonSettings()
    try:
        settings = load()
    except ValidationError as exc:
        raise SystemExit(f"{program}: invalid {program.upper()}_* settings:\n{exc}") from None
    setup_logging(name(settings), common.log_level)
    telemetry = setup_telemetry(name(settings), common) if traced else None
    try:
        event_loop.run(serve(settings, common))
    finally:
        if telemetry is not None:
            telemetry.shutdown()
        logging.shutdown()
