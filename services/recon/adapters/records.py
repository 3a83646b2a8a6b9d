"""Our side of a channel's date, written into a run's files as the engine reads them: the
gateway's payments and refunds and the ledger's entries on the channel's receivable, streamed
from their services (recon reads no other service's schema); and the statement file, fetched
through the gateway. FileRecords reads files prepared beforehand instead (the benchmark)."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import grpc

from paysuite.gateway.v1 import channel_records_pb2 as cpb
from paysuite.gateway.v1 import channel_records_pb2_grpc as cpb_grpc
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.enums import short_name
from paysuite.runtime.protoconv import date_to_proto
from recon.adapters.account_statements import fetched_chunks
from recon.adapters.engine import LEDGER_ENTRY_COLUMNS, OURS_COLUMNS
from recon.domain.matching import Kind, LedgerItem, OurItem

STREAM_BATCH = 10000


def _our_row(record: cpb.ChannelRecord) -> list[object]:
    refund = record.kind == cpb.ChannelRecord.KIND_REFUND
    return [
        "refund" if refund else "payment",
        record.refund_id if refund else record.payment_id,
        record.channel_transaction_id,
        record.amount.currency_code,
        record.amount.minor_units,
        None if refund else record.fee_minor_units,
        short_name(cpb.ChannelRecord.State, record.state).lower(),
        record.needs_reconciliation,
        record.merchant_id,
        record.create_time.seconds,
    ]


def _coupon_only(record: cpb.ChannelRecord) -> bool:
    """A refund all of whose amount went back to the platform's coupon, none through the
    channel: not on the channel's bill, nothing of it on the receivable."""
    return (
        record.kind == cpb.ChannelRecord.KIND_REFUND
        and record.amount.minor_units == 0
        and record.platform_coupon_minor_units > 0
    )


def our_item(record: cpb.ChannelRecord) -> OurItem:
    """A flagged payment of an earlier date, as a run takes it in (carried: never again)."""
    return OurItem(
        Kind.PAYMENT,
        record.payment_id,
        record.channel_transaction_id,
        record.amount.currency_code,
        record.amount.minor_units,
        record.fee_minor_units,
        short_name(cpb.ChannelRecord.State, record.state).lower(),
        record.create_time.seconds,
        flagged=True,
        merchant_id=record.merchant_id,
        carried=True,
        traceparent=record.traceparent,
    )


class GrpcRecords:
    def __init__(
        self,
        gateway: grpc.aio.Channel,
        ledger: grpc.aio.Channel,
        timeout_seconds: float = 3600.0,
    ) -> None:
        self._records = cpb_grpc.ChannelRecordsServiceStub(gateway)
        self._gateway = gpb_grpc.GatewayServiceStub(gateway)
        self._ledger = lpb_grpc.LedgerServiceStub(ledger)
        self._timeout = timeout_seconds

    async def write_ours(self, channel: str, day: date, path: Path) -> int:
        """The gateway's payments and refunds of the date into the run's file."""
        count = 0
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(OURS_COLUMNS)
            call = self._records.StreamChannelRecords(
                cpb.StreamChannelRecordsRequest(
                    channel=channel, accounting_date=date_to_proto(day), batch_size=STREAM_BATCH
                ),
                timeout=self._timeout,
            )
            async for batch in call:
                # A refund the platform's coupon gave all of back moved nothing on the channel.
                rows = [_our_row(r) for r in batch.records if not _coupon_only(r)]
                writer.writerows(rows)
                count += len(rows)
        return count

    async def flagged(self, channel: str) -> list[tuple[date, OurItem]]:
        """The channel's payments flagged for reconciliation, with their accounting dates."""
        found: list[tuple[date, OurItem]] = []
        token = ""
        while True:
            page = await self._records.ListFlaggedPayments(
                cpb.ListFlaggedPaymentsRequest(channel=channel, page_size=5000, page_token=token),
                timeout=60,
            )
            for record in page.payments:
                d = record.accounting_date
                found.append((date(d.year, d.month, d.day), our_item(record)))
            token = page.next_page_token
            if not token:
                return found

    async def clear_flags(self, channel: str, payment_ids: list[str], run_id: str) -> int:
        """Clears at the gateway the flags of flagged payments the run resolved; how many it
        cleared (those cleared before are not counted)."""
        answer = await self._records.ClearReconciliationFlags(
            cpb.ClearReconciliationFlagsRequest(
                channel=channel, payment_ids=payment_ids, run_id=run_id
            ),
            timeout=60,
        )
        return len(answer.cleared_payment_ids)

    async def write_entries(
        self,
        account_id: str,
        day: date,
        path: Path,
        *,
        skip: frozenset[str] = frozenset(),
        late: tuple[int, Path] | None = None,
    ) -> int:
        """The ledger's entries on the account of the business date into the run's file, but
        those of the transfers in skip; late (an instant, a file): those posted at or after the
        instant into that file instead. The number written to path."""
        count = 0
        late_out = late[1].open("w", newline="") if late else None
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(LEDGER_ENTRY_COLUMNS)
            late_writer = csv.writer(late_out) if late_out else None
            if late_writer:
                late_writer.writerow(LEDGER_ENTRY_COLUMNS)
            cut = late[0] if late else 2**62
            call = self._ledger.StreamAccountEntries(
                lpb.StreamAccountEntriesRequest(
                    account_id=account_id,
                    accounting_date=date_to_proto(day),
                    batch_size=STREAM_BATCH,
                ),
                timeout=self._timeout,
            )
            try:
                async for batch in call:
                    for e in batch.entries:
                        if e.transfer_id in skip:
                            continue
                        row = (
                            e.transfer_id,
                            "D" if e.side == lpb.ENTRY_SIDE_DEBIT else "C",
                            e.amount.minor_units,
                            e.amount.currency_code,
                            e.create_time.seconds,
                        )
                        if late_writer and e.create_time.seconds >= cut:
                            late_writer.writerow(row)
                        else:
                            writer.writerow(row)
                            count += 1
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.NOT_FOUND:  # no such account: no entries
                    raise
            finally:
                if late_out:
                    late_out.close()
        return count

    async def capture(self, payment_id: str, account_id: str) -> LedgerItem | None:
        """A payment's capture as it moved the account, if the ledger has it."""
        try:
            answer = await self._ledger.GetTransfer(
                lpb.GetTransferRequest(transfer_id=f"{payment_id}:capture"), timeout=30
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                return None
            raise
        transfer = answer.transfer
        debit = sum(
            p.amount.minor_units for p in transfer.postings if p.debit_account_id == account_id
        )
        credit = sum(
            p.amount.minor_units for p in transfer.postings if p.credit_account_id == account_id
        )
        currency = transfer.postings[0].amount.currency_code if transfer.postings else "CNY"
        moment = transfer.create_time.seconds
        return LedgerItem(Kind.PAYMENT, payment_id, currency, debit, credit, moment, carried=True)

    def statement(self, channel: str, day: date) -> AsyncIterator[bytes]:
        """The channel's statement file for the date, as the gateway fetches it."""
        call = self._gateway.FetchChannelStatement(
            gpb.FetchChannelStatementRequest(channel=channel, statement_date=date_to_proto(day)),
            timeout=self._timeout,
        )
        return fetched_chunks(call, "the channel's statement", channel)


class FileRecords(GrpcRecords):
    """Our side from files prepared under root/<channel>/<date>/ (ours.csv, ledger_entries.csv)
    in the engine's columns: for the benchmark, which writes millions of records straight into
    files instead of through the gateway's and the ledger's APIs. The statement and flagged
    payments still come from the gateway."""

    def __init__(self, root: Path, gateway: grpc.aio.Channel, ledger: grpc.aio.Channel) -> None:
        super().__init__(gateway, ledger)
        self._root = root

    def _link(self, channel: str, day: date, name: str, path: Path) -> int:
        """The prepared file in place of the run's (a link: nothing copied); the engine
        counts its rows."""
        path.symlink_to(self._root / channel / day.isoformat() / name)
        return 0

    async def write_ours(self, channel: str, day: date, path: Path) -> int:
        return self._link(channel, day, "ours.csv", path)

    async def write_entries(
        self,
        account_id: str,
        day: date,
        path: Path,
        *,
        skip: frozenset[str] = frozenset(),
        late: tuple[int, Path] | None = None,
    ) -> int:
        """The prepared file as it is (a date with none, as the next business date usually
        is: no entries); skip and late are not applied to prepared files."""
        channel = account_id.split(".")[1]
        if not (self._root / channel / day.isoformat() / "ledger_entries.csv").exists():
            path.write_text(",".join(LEDGER_ENTRY_COLUMNS) + "\n")
            return 0
        return self._link(channel, day, "ledger_entries.csv", path)

    async def flagged(self, channel: str) -> list[tuple[date, OurItem]]:
        return []
