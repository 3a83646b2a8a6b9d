"""CPU the ledger process and the Postgres processes use during a phase, read from /proc.

Which side is the limit decides what to work on: a phase where the ledger sits near one core
is bound by Python, one where neither does is bound by waiting. Linux only: elsewhere the
figures are absent.
"""

from __future__ import annotations

from dataclasses import dataclass

from .proc_cpu import POSTGRES, CpuSnapshot, cpu_seconds, snapshot


@dataclass(frozen=True)
class CpuUse:
    """Cores in use on average over a phase (1.0 is one core busy throughout), and its length."""

    ledger: float
    postgres: float
    seconds: float


class CpuMeter:
    """Snapshot at start(), difference at stop()."""

    def __init__(self, ledger_pid: int | None) -> None:
        self._pids = {} if ledger_pid is None else {"ledger": ledger_pid}
        self._started: CpuSnapshot | None = None

    def start(self) -> None:
        if self._pids:
            self._started = snapshot(self._pids)

    def stop(self) -> CpuUse | None:
        if self._started is None:
            return None
        ended = snapshot(self._pids)
        seconds = ended.at - self._started.at
        if "ledger" not in ended.named or seconds <= 0:
            return None
        spent = cpu_seconds(self._started, ended)
        return CpuUse(spent["ledger"] / seconds, spent.get(POSTGRES, 0.0) / seconds, seconds)
