"""The egress routes JSON file (GATEWAY_EGRESS_ROUTES_FILE), kept in force on a router as it
changes."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from gateway.adapters.watched_file import WatchedJsonFile
from gateway.domain.egress import Router, default_routes, parse_routes


class EgressRoutesFile(WatchedJsonFile):
    """Keeps a router configured from a file; a channel the file does not name goes direct.
    Errors name fields, never proxy URLs."""

    def __init__(
        self,
        path: Path,
        router: Router,
        channels: Collection[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        interval_seconds: float = 1.0,
    ) -> None:
        self._router = router
        self._channels = tuple(channels)
        super().__init__(
            path, "egress routes", self._configure, clock=clock, interval_seconds=interval_seconds
        )

    def _configure(self, document: Any, first: bool) -> Mapping[str, object]:
        specs = parse_routes(document, self._channels, every_channel=False)
        named = {s.channel for s in specs}
        specs += default_routes(c for c in self._channels if c not in named)
        change = self._router.configure(specs)
        if first:
            return {"routes": [s.route_id for s in specs]}
        return {
            "added": list(change.added),
            "removed": list(change.removed),
            "kept": list(change.kept),
        }
