"""How old the open reconciliation items are: counted by channel into age buckets, sampled
every so often into the recon.open_items gauge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from recon.service_layer.measurements import OpenItemsGauge
from recon.service_layer.unit_of_work import UnitOfWorkFactory

_log = logging.getLogger(__name__)

# Upper bounds in whole days since an item was found, and the bucket's name; older: "30d+".
AGE_BUCKETS = ((1, "0d"), (3, "1d-3d"), (7, "3d-7d"), (30, "7d-30d"))
OLDEST = "30d+"


def age_bucket(days: int) -> str:
    """The bucket of an item found this many whole days ago."""
    return next((name for bound, name in AGE_BUCKETS if days < bound), OLDEST)


def bucketed(ages: Iterable[tuple[str, int, int]]) -> dict[tuple[str, str], int]:
    """(channel, days, count) rows summed by channel and bucket, every bucket of a channel."""
    counts: dict[tuple[str, str], int] = {}
    for channel, days, count in ages:
        for _, name in (*AGE_BUCKETS, (0, OLDEST)):
            counts.setdefault((channel, name), 0)
        counts[channel, age_bucket(days)] += count
    return counts


async def sample_open_items(
    uow: UnitOfWorkFactory, clock: Callable[[], datetime], gauge: OpenItemsGauge
) -> None:
    """Counts the open items by channel and age into the gauge."""
    async with uow() as work:
        ages = await work.repo.open_item_ages(clock())
    gauge.set(bucketed(ages))


async def measure_open_items(
    uow: UnitOfWorkFactory, clock: Callable[[], datetime], every_seconds: float = 30.0
) -> None:
    """Samples the open items forever (a failed sample is logged and tried again)."""
    gauge = OpenItemsGauge()
    while True:
        try:
            await sample_open_items(uow, clock, gauge)
        except Exception:  # a measurement must not stop the service
            _log.exception("open reconciliation items not sampled")
        await asyncio.sleep(every_seconds)
