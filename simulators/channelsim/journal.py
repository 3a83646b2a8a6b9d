"""The bank's state file: one JSON record a line, appended and flushed as the bank decides."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

import orjson

_log = logging.getLogger(__name__)

T = TypeVar("T")


def records_of(
    records: Iterable[dict[str, Any]], kind: str, parse: Callable[[dict[str, Any]], T]
) -> Iterator[T]:
    """The journal's records of one kind, parsed; an unreadable one is skipped and logged."""
    for record in records:
        if record.get("record") != kind:
            continue
        try:
            parsed = parse(record)
        except (ValueError, KeyError, TypeError):
            _log.warning("skipping unreadable state record", extra={"record_kind": kind})
            continue
        yield parsed


class Journal:
    """Records appended to the state file (none kept without one), read back at start.

    A record that changes something decided before (a payout returned after it was paid) is
    appended again whole: when the file is read, the later line of an id wins.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._out: TextIO | None = None

    def read(self) -> Iterator[dict[str, Any]]:
        """Every readable record, oldest first; a torn last line (a crash mid-write) is
        skipped and ended, so the next record starts on a line of its own."""
        if self._path is None or not self._path.exists():
            return
        with self._path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    _log.warning("skipping unreadable state line", extra={"line": number})
                    continue
                if isinstance(record, dict):
                    yield record
        self._end_torn_line(self._path)

    def append(self, record: dict[str, Any]) -> None:
        if self._path is None:
            return
        if self._out is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._out = self._path.open("a", encoding="utf-8")
        # Flushed line by line: a killed simulator leaves every answered order on disk.
        self._out.write(orjson.dumps(record).decode() + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    @staticmethod
    def _end_torn_line(path: Path) -> None:
        with path.open("rb+") as data:
            size = data.seek(0, os.SEEK_END)
            if size == 0:
                return
            data.seek(size - 1)
            if data.read(1) != b"\n":
                data.write(b"\n")
