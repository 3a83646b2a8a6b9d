"""The proxy's fault knobs and counters, changed at run time through the admin endpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from pydantic import BaseModel, ConfigDict, StrictBool

from egressproxy.settings import Millis


@dataclass(frozen=True)
class Faults:
    latency_ms: int = 0  # added before forwarding each request
    fail: bool = False  # refuse connections: the proxy port stops listening

    def as_dict(self) -> dict[str, int | bool]:
        return asdict(self)


class FaultsUpdate(BaseModel):
    """A partial change, as posted to /_admin/faults; unknown knobs are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: Millis | None = None
    fail: StrictBool | None = None

    def apply(self, faults: Faults) -> Faults:
        changes = {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}
        return replace(faults, **changes)


@dataclass
class Stats:
    forwarded: int = 0  # requests sent on to their target
    refused: int = 0  # not forwarded: not a proxy request, or not a loopback target
    unreachable: int = 0  # the target could not be connected to: 502, marked, nothing sent
    upstream_errors: int = 0  # sent, then no (complete) answer: 502/504, not marked

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
