"""The egress routes JSON file: loaded at start, re-read when it changes, bad versions refused."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Collection
from pathlib import Path

from gateway.domain.routing import RouteConfigError, Router, RouteSpec, parse_routes

_log = logging.getLogger(__name__)

Signature = tuple[int, int, int]


def _signature(path: Path) -> Signature:
    info = os.stat(path)
    return (info.st_mtime_ns, info.st_size, info.st_ino)


class RoutesFile:
    """Keeps a router configured from a file; looks at the file at most once per interval.

    A file that cannot be read or fails validation leaves the routes as they were (logged once
    per change of the file); only the first load raises. Errors name fields, never proxy URLs.
    """

    def __init__(
        self,
        path: Path,
        router: Router,
        channels: Collection[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        interval_seconds: float = 1.0,
    ) -> None:
        self.path = path
        self._router = router
        self._channels = tuple(channels)
        self._clock = clock
        self._interval = interval_seconds
        self._checked: float | None = None
        self._seen: Signature | None = None

    def _read(self) -> list[RouteSpec]:
        try:
            document = json.loads(self.path.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RouteConfigError(f"not valid JSON: {type(exc).__name__}") from None
        return parse_routes(document, self._channels)

    def load(self) -> None:
        """The first load: raises RouteConfigError (or OSError) when the file is unusable."""
        self._checked = self._clock()
        self._seen = _signature(self.path)
        try:
            specs = self._read()
        except RouteConfigError as exc:
            raise RouteConfigError(f"routes file {self.path}: {exc}") from None
        self._router.configure(specs)
        _log.info(
            "egress routes loaded",
            extra={"path": str(self.path), "routes": [s.route_id for s in specs]},
        )

    def refresh(self) -> bool:
        """Re-reads the file if it changed since the last look; True when routes were replaced."""
        now = self._clock()
        if self._checked is not None and now - self._checked < self._interval:
            return False
        self._checked = now
        try:
            signature: Signature | None = _signature(self.path)
        except OSError:
            signature = None
        if signature == self._seen:
            return False
        self._seen = signature
        try:
            if signature is None:
                raise RouteConfigError("cannot be read")
            specs = self._read()
        except (OSError, RouteConfigError) as exc:
            error = str(exc) if isinstance(exc, RouteConfigError) else type(exc).__name__
            _log.error(
                "egress routes file rejected; keeping the previous routes",
                extra={"path": str(self.path), "error": error},
            )
            return False
        change = self._router.configure(specs)
        _log.info(
            "egress routes reloaded",
            extra={
                "path": str(self.path),
                "added": list(change.added),
                "removed": list(change.removed),
                "kept": list(change.kept),
            },
        )
        return True
