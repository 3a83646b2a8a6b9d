"""A JSON configuration file: loaded at start, re-read when it changes, bad versions refused."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)

Signature = tuple[int, int, int]


def _signature(path: Path) -> Signature:
    info = os.stat(path)
    return (info.st_mtime_ns, info.st_size, info.st_ino)


class WatchedJsonFile:
    """Hands each valid version of a file to apply; looks at the file at most once per interval.

    apply validates the parsed document (raising ValueError with a message fit for logs, never
    a secret from the file) and returns what to log about the change. A version that cannot be
    read or is refused leaves the previous one in force (logged once per change of the file);
    only the first load raises.
    """

    def __init__(
        self,
        path: Path,
        what: str,
        apply: Callable[[Any, bool], Mapping[str, object]],
        *,
        clock: Callable[[], float] = time.monotonic,
        interval_seconds: float = 1.0,
    ) -> None:
        self.path = path
        self._what = what
        self._apply = apply
        self._clock = clock
        self._interval = interval_seconds
        self._checked: float | None = None
        self._seen: Signature | None = None

    def _read(self) -> Any:
        try:
            return json.loads(self.path.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not valid JSON: {type(exc).__name__}") from None

    def load(self) -> None:
        """The first load: raises ValueError (or OSError) when the file is unusable."""
        self._checked = self._clock()
        self._seen = _signature(self.path)
        try:
            details = self._apply(self._read(), True)
        except ValueError as exc:
            raise type(exc)(f"{self._what} file {self.path}: {exc}") from None
        _log.info(f"{self._what} loaded", extra={"path": str(self.path), **details})

    def refresh(self) -> bool:
        """Re-reads the file if it changed since the last look; True when a new version applies."""
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
                raise ValueError("cannot be read")
            details = self._apply(self._read(), False)
        except (OSError, ValueError) as exc:
            error = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
            _log.error(
                f"{self._what} file rejected; keeping the previous version",
                extra={"path": str(self.path), "error": error},
            )
            return False
        _log.info(f"{self._what} reloaded", extra={"path": str(self.path), **details})
        return True
