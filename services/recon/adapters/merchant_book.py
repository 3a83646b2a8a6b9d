"""A merchant's movements of a date out of the ledger: the entries on its payable account, then
each entry's transfer with all its postings (read a few at a time)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.protoconv import date_to_proto
from recon.domain.merchant_statement import Movement, Posting

# Transfers read side by side.
CONCURRENT_READS = 16


class LedgerMerchantBook:
    def __init__(self, ledger: grpc.aio.Channel, timeout_seconds: float = 600.0) -> None:
        self._ledger = lpb_grpc.LedgerServiceStub(ledger)
        self._timeout = timeout_seconds

    async def movements(self, account_id: str, day: date) -> list[Movement]:
        """Every transfer that moved the account on the accounting date, once each, with what
        it moved the account by (credits less debits) and when it was first posted."""
        moved: dict[str, tuple[int, datetime]] = {}
        call = self._ledger.StreamAccountEntries(
            lpb.StreamAccountEntriesRequest(
                account_id=account_id, accounting_date=date_to_proto(day)
            ),
            timeout=self._timeout,
        )
        try:
            async for batch in call:
                for entry in batch.entries:
                    signed = entry.amount.minor_units
                    if entry.side == lpb.ENTRY_SIDE_DEBIT:
                        signed = -signed
                    net, at = moved.get(entry.transfer_id, (0, _when(entry.create_time)))
                    moved[entry.transfer_id] = (net + signed, at)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.NOT_FOUND:  # no such account: no movements
                raise
        gate = asyncio.Semaphore(CONCURRENT_READS)
        return list(
            await asyncio.gather(
                *(self._movement(t, net, at, gate) for t, (net, at) in moved.items())
            )
        )

    async def _movement(
        self, transfer_id: str, net: int, at: datetime, gate: asyncio.Semaphore
    ) -> Movement:
        async with gate:
            answer = await self._ledger.GetTransfer(
                lpb.GetTransferRequest(transfer_id=transfer_id), timeout=60
            )
        postings = tuple(
            Posting(p.debit_account_id, p.credit_account_id, p.amount.minor_units)
            for p in answer.transfer.postings
        )
        return Movement(transfer_id, at, net, postings)


def _when(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime().replace(tzinfo=UTC)
