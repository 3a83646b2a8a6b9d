"""Our side of a channel's books: transactions per accounting date, and its statement file."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from datetime import date

from gateway.domain.errors import ChannelNotSupported
from gateway.domain.model import Payment
from gateway.domain.ports import ChannelAdapter
from gateway.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.errors import FieldViolation, InvalidArgument


def _cursor(token: str) -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument([FieldViolation("page_token", "not a token from this API")]) from exc


async def list_channel_transactions(
    uow: UnitOfWorkFactory, channel: str, day: date, page_size: int, page_token: str
) -> tuple[list[Payment], str]:
    after = _cursor(page_token)
    async with uow() as work:
        rows = await work.repo.channel_page(channel, day, after, page_size + 1)
    page, more = rows[:page_size], len(rows) > page_size
    token = base64.urlsafe_b64encode(page[-1].payment_id.encode()).decode() if more else ""
    return page, token


def statement(
    channels: Mapping[str, ChannelAdapter], channel: str, day: date
) -> AsyncIterator[bytes]:
    adapter = channels.get(channel)
    if adapter is None:
        raise ChannelNotSupported("unknown channel", metadata={"channel": channel})
    return adapter.statement(day)
