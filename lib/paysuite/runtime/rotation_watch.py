"""Whether certificate files were rotated, looked at (a stat of each) at most once per interval."""

from __future__ import annotations

import time
from collections.abc import Callable

from paysuite.runtime.tls import Stamp, TlsFiles


class RotationWatch:
    """Compares the files' stamps with the last accepted ones; between looks, a clock reading."""

    def __init__(
        self, files: TlsFiles, every: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._files = files
        self._every = every
        self._clock = clock
        self._accepted = files.stamp()
        self._next_look = clock() + every

    def rotated(self) -> Stamp | None:
        """The files' new stamp if this is the interval's look and they changed since the stamp
        last accepted, else None (also while a file is missing: looked at again next interval)."""
        now = self._clock()
        if now < self._next_look:
            return None
        self._next_look = now + self._every
        try:
            stamp = self._files.stamp()
        except OSError:
            return None
        return None if stamp == self._accepted else stamp

    def accept(self, stamp: Stamp) -> None:
        """The files as of stamp are in use: unchanged from now on until it changes again."""
        self._accepted = stamp
