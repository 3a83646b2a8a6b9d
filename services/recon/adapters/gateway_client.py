"""The gateway as recon sees it: our channel records and the channel's statement file."""

from __future__ import annotations

from datetime import date

import grpc

from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.money import Money
from paysuite.runtime.protoconv import date_to_proto
from recon.domain.model import OurRecord

_CAPTURED = (pb.Payment.STATE_SUCCEEDED, pb.Payment.STATE_DUPLICATE)


class GrpcGatewayRecords:
    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 60.0) -> None:
        self._stub = pb_grpc.GatewayServiceStub(channel)
        self._timeout = timeout_seconds

    async def records(self, channel: str, day: date) -> list[OurRecord]:
        records: list[OurRecord] = []
        token = ""
        while True:
            page = await self._stub.ListChannelTransactions(
                pb.ListChannelTransactionsRequest(
                    channel=channel,
                    accounting_date=date_to_proto(day),
                    page_size=5000,
                    page_token=token,
                ),
                timeout=self._timeout,
            )
            records.extend(
                OurRecord(
                    t.payment_id,
                    Money(t.amount.currency_code, t.amount.minor_units),
                    # A duplicate was taken by the channel too (and refunded by its own refund).
                    t.state in _CAPTURED,
                )
                for t in page.transactions
            )
            token = page.next_page_token
            if not token:
                return records

    async def statement(self, channel: str, day: date) -> bytes:
        chunks: list[bytes] = []
        call = self._stub.FetchChannelStatement(
            pb.FetchChannelStatementRequest(channel=channel, statement_date=date_to_proto(day)),
            timeout=self._timeout,
        )
        async for response in call:
            chunks.append(response.chunk)
        return b"".join(chunks)
