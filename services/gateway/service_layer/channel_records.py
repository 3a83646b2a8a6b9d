"""Our side of a channel's books: transactions per accounting date, and its statement file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import date

from gateway.domain.errors import ChannelNotSupported
from gateway.domain.model import Payment
from gateway.domain.ports import ChannelAdapter
from gateway.service_layer.unit_of_work import SessionFactory


async def list_channel_transactions(
    session: SessionFactory, channel: str, day: date, page_size: int, after: str
) -> tuple[list[Payment], str | None]:
    """One page after the cursor (a payment id), and the next cursor if there is more."""
    async with session() as stores:
        rows = await stores.payments.channel_page(channel, day, after, page_size + 1)
    page, more = rows[:page_size], len(rows) > page_size
    return page, page[-1].payment_id if more else None


def statement(
    channels: Mapping[str, ChannelAdapter], channel: str, day: date
) -> AsyncIterator[bytes]:
    adapter = channels.get(channel)
    if adapter is None:
        raise ChannelNotSupported("unknown channel", metadata={"channel": channel})
    return adapter.statement(day)
