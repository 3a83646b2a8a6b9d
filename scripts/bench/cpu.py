"""CPU the ledger process and the Postgres processes use during a phase, read from /proc.

Which side is the limit decides what to work on: a phase where the ledger sits near one core
is bound by Python, one where neither does is bound by waiting. Postgres processes are those
named `postgres`; one that starts and exits within a phase is missed. Linux only: elsewhere
the figures are absent.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class CpuUse:
    """Cores in use on average over a phase (1.0 is one core busy throughout), and its length."""

    ledger: float
    postgres: float
    seconds: float


def _ticks(pid: int) -> int:
    fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _postgres_ticks() -> dict[int, int]:
    found: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                found[int(entry.name)] = _ticks(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


class CpuMeter:
    """Snapshot at start(), difference at stop()."""

    def __init__(self, ledger_pid: int | None) -> None:
        self._pid = ledger_pid
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._started: tuple[float, int, dict[int, int]] | None = None

    def start(self) -> None:
        if self._pid is None or not PROC.is_dir():
            return
        self._started = (time.monotonic(), _ticks(self._pid), _postgres_ticks())

    def stop(self) -> CpuUse | None:
        if self._started is None or self._pid is None:
            return None
        began, ledger_before, postgres_before = self._started
        seconds = time.monotonic() - began
        ledger = _ticks(self._pid) - ledger_before
        postgres = sum(t - postgres_before.get(p, 0) for p, t in _postgres_ticks().items())
        scale = 1 / (self._hz * seconds) if seconds > 0 else 0.0
        return CpuUse(ledger * scale, postgres * scale, seconds)
