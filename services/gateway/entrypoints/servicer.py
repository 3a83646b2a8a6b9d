"""GatewayService over gRPC: validate, call the use case, convert the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from gateway.domain.egress import RouteHealthSource
from gateway.entrypoints import convert
from gateway.entrypoints import merchants as merchant_convert
from gateway.entrypoints import payouts as payout_convert
from gateway.entrypoints.egress_routes import get_routes
from gateway.service_layer import (
    card_verification,
    channel_records,
    events,
    merchants,
    ownership,
    payments,
    payouts,
    refunds,
    status,
    withdrawals,
)
from gateway.service_layer.card_verification import VerificationDeps
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.events import Bell
from paysuite.errors import Violations
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.gateway.v1 import payouts_pb2 as ppb
from paysuite.runtime.authz import CallerNotAllowed, merchant_scope
from paysuite.runtime.paging import Paging
from paysuite.runtime.protoconv import check_id, date_from_proto, timestamp

Context = grpc.aio.ServicerContext[Any, Any]


class GatewayServicer(pb_grpc.GatewayServiceServicer):
    def __init__(
        self,
        deps: PaymentDeps,
        verification: VerificationDeps,
        paging: Paging,
        bell: Bell,
        *,
        routes: RouteHealthSource | None = None,
    ) -> None:
        self._deps = deps
        self._paging = paging
        self._bell = bell
        self._verification = verification
        self._routes = routes

    async def _own_payment(self, context: Context, payment_id: str) -> None:
        """A merchant's call about another merchant's payment answers NOT_FOUND."""
        await ownership.check_payment(self._deps.session, payment_id, merchant_scope(context))

    async def GetRoutes(
        self, request: pb.GetRoutesRequest, context: Context
    ) -> pb.GetRoutesResponse:
        return get_routes(self._routes, request)

    async def RegisterMerchant(
        self, request: pb.RegisterMerchantRequest, context: Context
    ) -> pb.RegisterMerchantResponse:
        merchant_id, terms = merchant_convert.registration(request)
        merchant = await merchants.register_merchant(
            self._deps.uow, merchant_id, terms, self._deps.clock
        )
        return pb.RegisterMerchantResponse(merchant=merchant_convert.merchant_to_proto(merchant))

    async def GetMerchant(
        self, request: pb.GetMerchantRequest, context: Context
    ) -> pb.GetMerchantResponse:
        violations = Violations()
        merchant_convert.merchant_id(request.merchant_id, "merchant_id", violations)
        violations.raise_if_any()
        merchant = await merchants.get_merchant(self._deps.session, request.merchant_id)
        return pb.GetMerchantResponse(merchant=merchant_convert.merchant_to_proto(merchant))

    async def UpdateMerchant(
        self, request: pb.UpdateMerchantRequest, context: Context
    ) -> pb.UpdateMerchantResponse:
        merchant_id, change = merchant_convert.update(request)
        merchant = await merchants.update_merchant(
            self._deps.uow, merchant_id, change, self._deps.clock
        )
        return pb.UpdateMerchantResponse(merchant=merchant_convert.merchant_to_proto(merchant))

    async def CreatePayment(
        self, request: pb.CreatePaymentRequest, context: Context
    ) -> pb.CreatePaymentResponse:
        command = convert.create_command(request)
        _own_merchant(context, command.merchant_id)
        payment = await payments.create_payment(self._deps, command)
        return pb.CreatePaymentResponse(payment=convert.payment_to_proto(payment))

    async def GetPayment(
        self, request: pb.GetPaymentRequest, context: Context
    ) -> pb.GetPaymentResponse:
        violations = Violations()
        check_id(request.payment_id, "payment_id", violations)
        violations.raise_if_any()
        await self._own_payment(context, request.payment_id)
        payment, attempts = await payments.get_payment_with_attempts(
            self._deps.session, request.payment_id
        )
        return pb.GetPaymentResponse(
            payment=convert.payment_to_proto(payment),
            attempts=[convert.attempt_to_proto(attempt) for attempt in attempts],
        )

    async def ListChannelTransactions(
        self, request: pb.ListChannelTransactionsRequest, context: Context
    ) -> pb.ListChannelTransactionsResponse:
        violations = Violations()
        check_id(request.channel, "channel", violations, max_length=32)
        day = date_from_proto(request.accounting_date, "accounting_date", violations)
        page = self._paging.page(request, convert.CHANNEL_TRANSACTIONS_PAGE, violations, (str,))
        violations.raise_if_any()
        assert day is not None
        (after,) = page.after or ("",)
        found = await channel_records.list_channel_transactions(
            self._deps.session, request.channel, day, after, page.size + 1
        )
        transactions, token = page.cut(found, lambda p: (p.payment_id,))
        return pb.ListChannelTransactionsResponse(
            transactions=[convert.channel_transaction_to_proto(p) for p in transactions],
            next_page_token=token,
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
        async for chunk in channel_records.statement(self._deps.channels, request.channel, day):
            yield pb.FetchChannelStatementResponse(
                format=f"{request.channel}-csv-v1" if first else "", chunk=chunk
            )
            first = False

    async def FetchAccountStatement(
        self, request: pb.FetchAccountStatementRequest, context: Context
    ) -> AsyncIterator[pb.FetchAccountStatementResponse]:
        channel, account_number, day = convert.account_statement_query(request)
        chunks = channel_records.account_statement(
            self._deps.channels, channel, account_number, day
        )
        first = True
        async for chunk in chunks:
            yield pb.FetchAccountStatementResponse(
                format=convert.ACCOUNT_STATEMENT_FORMAT if first else "", chunk=chunk
            )
            first = False

    async def VerifyCard(
        self, request: pb.VerifyCardRequest, context: Context
    ) -> pb.VerifyCardResponse:
        check = convert.card_check(request)
        record = await card_verification.verify_card(self._verification, check)
        return convert.verification_to_proto(record)

    async def QueryPayment(
        self, request: pb.QueryPaymentRequest, context: Context
    ) -> pb.QueryPaymentResponse:
        _payment_id(request.payment_id)
        await self._own_payment(context, request.payment_id)
        payment = await status.query_payment(self._deps, request.payment_id)
        return pb.QueryPaymentResponse(payment=convert.payment_to_proto(payment))

    async def ClosePayment(
        self, request: pb.ClosePaymentRequest, context: Context
    ) -> pb.ClosePaymentResponse:
        _payment_id(request.payment_id)
        await self._own_payment(context, request.payment_id)
        payment = await status.close_payment(self._deps, request.payment_id)
        return pb.ClosePaymentResponse(payment=convert.payment_to_proto(payment))

    async def ListPayments(
        self, request: pb.ListPaymentsRequest, context: Context
    ) -> pb.ListPaymentsResponse:
        query = convert.list_query(request, self._paging)
        _own_merchant(context, query.merchant_id)
        async with self._deps.session() as stores:
            found = await stores.payments.list_payments(
                query.merchant_id,
                query.order_no,
                query.state,
                query.day,
                query.page.after,
                query.page.size + 1,
            )
        payments, token = query.page.cut(found, lambda p: (p.created_at, p.payment_id))
        return pb.ListPaymentsResponse(
            payments=[convert.payment_to_proto(p) for p in payments], next_page_token=token
        )

    async def RefundPayment(
        self, request: pb.RefundPaymentRequest, context: Context
    ) -> pb.RefundPaymentResponse:
        command = convert.refund_command(request)
        await self._own_payment(context, command.payment_id)
        refund = await refunds.refund_payment(self._deps, command)
        return pb.RefundPaymentResponse(refund=convert.refund_to_proto(refund))

    async def GetRefund(
        self, request: pb.GetRefundRequest, context: Context
    ) -> pb.GetRefundResponse:
        violations = Violations()
        check_id(request.refund_id, "refund_id", violations)
        violations.raise_if_any()
        await ownership.check_refund(self._deps.session, request.refund_id, merchant_scope(context))
        refund = await refunds.get_refund(self._deps.session, request.refund_id)
        return pb.GetRefundResponse(refund=convert.refund_to_proto(refund))

    async def CreatePayout(
        self, request: ppb.CreatePayoutRequest, context: Context
    ) -> ppb.CreatePayoutResponse:
        command = payout_convert.settlement_command(request)
        payout = await payouts.create_settlement_payout(self._deps, command)
        return ppb.CreatePayoutResponse(payout=payout_convert.payout_to_proto(payout))

    async def GetPayout(
        self, request: ppb.GetPayoutRequest, context: Context
    ) -> ppb.GetPayoutResponse:
        _check_id(request.payout_id, "payout_id")
        payout = await payouts.load_payout(self._deps, request.payout_id)
        return ppb.GetPayoutResponse(payout=payout_convert.payout_to_proto(payout))

    async def ListPayouts(
        self, request: ppb.ListPayoutsRequest, context: Context
    ) -> ppb.ListPayoutsResponse:
        query = payout_convert.list_query(request, self._paging)
        async with self._deps.session() as stores:
            found = await stores.payouts.list_payouts(
                query.purpose, query.owner_id, query.state, query.page.after, query.page.size + 1
            )
        page, token = query.page.cut(found, lambda p: (p.created_at, p.payout_id))
        return ppb.ListPayoutsResponse(
            payouts=[payout_convert.payout_to_proto(p) for p in page], next_page_token=token
        )

    async def CreateWithdrawal(
        self, request: ppb.CreateWithdrawalRequest, context: Context
    ) -> ppb.CreateWithdrawalResponse:
        command = payout_convert.withdrawal_command(request)
        payout = await withdrawals.create_withdrawal(self._deps, command)
        return ppb.CreateWithdrawalResponse(withdrawal=payout_convert.withdrawal_to_proto(payout))

    async def GetWithdrawal(
        self, request: ppb.GetWithdrawalRequest, context: Context
    ) -> ppb.GetWithdrawalResponse:
        _check_id(request.withdrawal_id, "withdrawal_id")
        payout = await withdrawals.get_withdrawal(self._deps, request.withdrawal_id)
        return ppb.GetWithdrawalResponse(withdrawal=payout_convert.withdrawal_to_proto(payout))

    async def WatchPaymentEvents(
        self, request: pb.WatchPaymentEventsRequest, context: Context
    ) -> AsyncIterator[pb.WatchPaymentEventsResponse]:
        violations = Violations()
        check_id(request.merchant_id, "merchant_id", violations, max_length=32)
        violations.require(request.after_sequence >= 0, "after_sequence", "must not be negative")
        violations.raise_if_any()
        _own_merchant(context, request.merchant_id)
        async for found in events.watch(
            self._deps.session, self._bell, request.merchant_id, request.after_sequence
        ):
            event = found.event
            response = pb.WatchPaymentEventsResponse(
                sequence=event.sequence, type=event.type, create_time=timestamp(event.created_at)
            )
            if found.payment is not None:
                response.payment.CopyFrom(convert.payment_to_proto(found.payment))
            if found.refund is not None:
                response.refund.CopyFrom(convert.refund_to_proto(found.refund))
            if found.payout is not None:
                response.payout.CopyFrom(payout_convert.payout_to_proto(found.payout))
            yield response


def _own_merchant(context: Context, merchant_id: str) -> None:
    """A merchant acts for its own merchant id only."""
    scope = merchant_scope(context)
    if scope is not None and merchant_id != scope:
        raise CallerNotAllowed("a merchant acts for its own merchant id only")


def _payment_id(value: str) -> None:
    _check_id(value, "payment_id")


def _check_id(value: str, field: str) -> None:
    violations = Violations()
    check_id(value, field, violations)
    violations.raise_if_any()
