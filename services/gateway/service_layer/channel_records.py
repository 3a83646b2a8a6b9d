"""Our side of a channel's books: transactions per accounting date (a page at a time, or all of
a day's payments and refunds streamed for reconciliation), the payments flagged for
reconciliation, the channel's statement file and a bank account's statement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import date, datetime, time, timedelta

from gateway.adapters.store.channel_records import ChannelRecordStore
from gateway.domain.channel_records import ChannelRecord
from gateway.domain.errors import ChannelNotSupported
from gateway.domain.model import Payment
from gateway.domain.ports import AccountStatementChannel, ChannelAdapter
from gateway.service_layer.attempts import ACCOUNTING_ZONE
from gateway.service_layer.unit_of_work import SessionFactory
from paysuite.runtime.database import UnitOfWork

# One snapshot of the records (a transaction, as the cursors need).
RecordsUnitFactory = Callable[[], UnitOfWork[ChannelRecordStore]]


async def list_channel_transactions(
    session: SessionFactory, channel: str, day: date, after: str, limit: int
) -> list[Payment]:
    """Up to limit payments of the accounting date after the cursor (a payment id), in id
    order."""
    async with session() as stores:
        return await stores.payments.channel_page(channel, day, after, limit)


def statement(
    channels: Mapping[str, ChannelAdapter], channel: str, day: date
) -> AsyncIterator[bytes]:
    adapter = channels.get(channel)
    if adapter is None:
        raise ChannelNotSupported("unknown channel", metadata={"channel": channel})
    return adapter.statement(day)


def account_statement(
    channels: Mapping[str, ChannelAdapter], channel: str, account_number: str, day: date
) -> AsyncIterator[bytes]:
    """An account's statement of the day from the bank channel keeping it."""
    adapter = channels.get(channel)
    if not isinstance(adapter, AccountStatementChannel):
        raise ChannelNotSupported(
            "the channel keeps no accounts of ours", metadata={"channel": channel}
        )
    return adapter.account_statement(account_number, day)


async def stream_records(
    records: RecordsUnitFactory, channel: str, day: date, batch: int
) -> AsyncIterator[list[ChannelRecord]]:
    """Every payment of the accounting date and every refund made on it (its Shanghai calendar
    day), a batch at a time, from one snapshot."""
    start = datetime.combine(day, time(), ACCOUNTING_ZONE)
    async with records() as store:
        async for found in store.repo.records(
            channel, day, start, start + timedelta(days=1), batch
        ):
            yield found


async def flagged_payments(
    records: RecordsUnitFactory, channel: str, after: tuple[date, str] | None, limit: int
) -> list[ChannelRecord]:
    async with records() as store:
        return await store.repo.flagged(channel, after, limit)


async def clear_flags(
    records: RecordsUnitFactory,
    channel: str,
    payment_ids: list[str],
    run_id: str,
    actor: str,
    now: datetime,
) -> list[str]:
    """Clears the reconciliation flag of the payments a run resolved (those still flagged),
    recording the run and the caller in each one's events; the ids cleared, in the order
    asked."""
    async with records() as store:
        cleared = await store.repo.clear_flags(channel, payment_ids, run_id, actor, now)
        await store.commit()
    return [p for p in dict.fromkeys(payment_ids) if p in cleared]
