"""GatewayService over gRPC: validate, call the use case, convert the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc

from gateway.domain.ports import ChannelAdapter
from gateway.entrypoints import convert
from gateway.service_layer import card_verification, channel_records, payments
from gateway.service_layer.card_verification import VerificationDeps
from gateway.service_layer.payments import PaymentDeps
from paysuite.errors import Violations
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.runtime.protoconv import check_id, date_from_proto, page_cursor, page_token

Context = grpc.aio.ServicerContext[Any, Any]


class GatewayServicer(pb_grpc.GatewayServiceServicer):
    def __init__(
        self,
        deps: PaymentDeps,
        channels: Mapping[str, ChannelAdapter],
        verification: VerificationDeps,
    ) -> None:
        self._deps = deps
        self._channels = channels
        self._verification = verification

    async def CreatePayment(
        self, request: pb.CreatePaymentRequest, context: Context
    ) -> pb.CreatePaymentResponse:
        command = convert.create_command(request)
        payment = await payments.create_payment(self._deps, command)
        return pb.CreatePaymentResponse(payment=convert.payment_to_proto(payment))

    async def GetPayment(
        self, request: pb.GetPaymentRequest, context: Context
    ) -> pb.GetPaymentResponse:
        violations = Violations()
        check_id(request.payment_id, "payment_id", violations)
        violations.raise_if_any()
        payment = await payments.get_payment(self._deps.uow, request.payment_id)
        return pb.GetPaymentResponse(payment=convert.payment_to_proto(payment))

    async def ListChannelTransactions(
        self, request: pb.ListChannelTransactionsRequest, context: Context
    ) -> pb.ListChannelTransactionsResponse:
        violations = Violations()
        check_id(request.channel, "channel", violations, max_length=32)
        day = date_from_proto(request.accounting_date, "accounting_date", violations)
        size = convert.page_size(request.page_size, violations)
        violations.raise_if_any()
        assert day is not None
        page, cursor = await channel_records.list_channel_transactions(
            self._deps.uow, request.channel, day, size, page_cursor(request.page_token)
        )
        return pb.ListChannelTransactionsResponse(
            transactions=[convert.channel_transaction_to_proto(p) for p in page],
            next_page_token=page_token(cursor),
        )

    async def FetchChannelStatement(
        self, request: pb.FetchChannelStatementRequest, context: Context
    ) -> AsyncIterator[pb.FetchChannelStatementResponse]:
        violations = Violations()
        check_id(request.channel, "channel", violations, max_length=32)
        day = date_from_proto(request.statement_date, "statement_date", violations)
        violations.raise_if_any()
        assert day is not None
        first = True
        async for chunk in channel_records.statement(self._channels, request.channel, day):
            yield pb.FetchChannelStatementResponse(
                format=f"{request.channel}-csv-v1" if first else "", chunk=chunk
            )
            first = False

    async def VerifyCard(
        self, request: pb.VerifyCardRequest, context: Context
    ) -> pb.VerifyCardResponse:
        check = convert.card_check(request)
        record = await card_verification.verify_card(self._verification, check)
        return convert.verification_to_proto(record)
