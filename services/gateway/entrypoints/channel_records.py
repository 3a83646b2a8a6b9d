"""ChannelRecordsService over gRPC: a channel's payments and refunds streamed for
reconciliation, its payments flagged for it, and their flags cleared once a run resolved them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import Any

import grpc

from gateway.domain.channel_records import ChannelRecord, RecordKind
from gateway.service_layer import channel_records
from gateway.service_layer.channel_records import RecordsUnitFactory
from paysuite.errors import Violations
from paysuite.gateway.v1 import channel_records_pb2 as pb
from paysuite.gateway.v1 import channel_records_pb2_grpc as pb_grpc
from paysuite.runtime.authz import caller_of
from paysuite.runtime.enums import value_of
from paysuite.runtime.paging import PageSize, Paging
from paysuite.runtime.protoconv import (
    check_id,
    date_from_proto,
    date_to_proto,
    money_to_proto,
    timestamp,
)

Context = grpc.aio.ServicerContext[Any, Any]

BATCH = PageSize(default=5000, maximum=20000)
FLAGGED_PAGE = PageSize(default=500, maximum=5000)
# Payments whose flags one ClearReconciliationFlags clears at most.
CLEAR_MAX = 1000
KINDS = {k: value_of(pb.ChannelRecord.Kind, k.name) for k in RecordKind}


def record_to_proto(record: ChannelRecord) -> pb.ChannelRecord:
    return pb.ChannelRecord(
        kind=KINDS[record.kind],
        payment_id=record.payment_id,
        refund_id=record.refund_id,
        merchant_id=record.merchant_id,
        channel_transaction_id=record.channel_transaction_id,
        amount=money_to_proto(record.amount),
        fee_minor_units=record.fee,
        merchant_fee_minor_units=record.merchant_fee,
        top_up=record.top_up,
        platform_coupon_minor_units=record.platform_coupon,
        traceparent=record.traceparent,
        state=value_of(pb.ChannelRecord.State, record.state.upper()),
        needs_reconciliation=record.needs_reconciliation,
        accounting_date=date_to_proto(record.accounting_date),
        create_time=timestamp(record.created_at),
        update_time=timestamp(record.updated_at),
    )


class ChannelRecordsServicer(pb_grpc.ChannelRecordsServiceServicer):
    """records: one snapshot to read from; writes: a unit of work to clear flags in."""

    def __init__(
        self,
        records: RecordsUnitFactory,
        paging: Paging,
        writes: RecordsUnitFactory,
        clock: Callable[[], datetime],
    ) -> None:
        self._records = records
        self._paging = paging
        self._writes = writes
        self._clock = clock

    async def StreamChannelRecords(
        self, request: pb.StreamChannelRecordsRequest, context: Context
    ) -> AsyncIterator[pb.StreamChannelRecordsResponse]:
        violations = Violations()
        check_id(request.channel, "channel", violations, max_length=32)
        day = date_from_proto(request.accounting_date, "accounting_date", violations)
        batch = BATCH.clamp(request.batch_size, violations, "batch_size")
        violations.raise_if_any()
        assert day is not None
        async for found in channel_records.stream_records(
            self._records, request.channel, day, batch
        ):
            yield pb.StreamChannelRecordsResponse(records=[record_to_proto(r) for r in found])

    async def ListFlaggedPayments(
        self, request: pb.ListFlaggedPaymentsRequest, context: Context
    ) -> pb.ListFlaggedPaymentsResponse:
        violations = Violations()
        check_id(request.channel, "channel", violations, max_length=32)
        page = self._paging.page(request, FLAGGED_PAGE, violations, (str, str))
        violations.raise_if_any()
        after = None
        if page.after is not None:
            after = (date.fromisoformat(page.after[0]), page.after[1])
        found = await channel_records.flagged_payments(
            self._records, request.channel, after, page.size + 1
        )
        payments, token = page.cut(found, lambda p: (p.accounting_date.isoformat(), p.payment_id))
        return pb.ListFlaggedPaymentsResponse(
            payments=[record_to_proto(p) for p in payments], next_page_token=token
        )

    async def ClearReconciliationFlags(
        self, request: pb.ClearReconciliationFlagsRequest, context: Context
    ) -> pb.ClearReconciliationFlagsResponse:
        violations = Violations()
        check_id(request.channel, "channel", violations, max_length=32)
        check_id(request.run_id, "run_id", violations)
        ids = list(request.payment_ids)
        violations.require(bool(ids), "payment_ids", "required")
        violations.require(len(ids) <= CLEAR_MAX, "payment_ids", f"at most {CLEAR_MAX}")
        for number, payment_id in enumerate(ids[:CLEAR_MAX]):
            check_id(payment_id, f"payment_ids[{number}]", violations, max_length=40)
        violations.raise_if_any()
        caller = caller_of(context)
        cleared = await channel_records.clear_flags(
            self._writes,
            request.channel,
            ids,
            request.run_id,
            caller.path if caller is not None else "",
            self._clock(),
        )
        return pb.ClearReconciliationFlagsResponse(cleared_payment_ids=cleared)
