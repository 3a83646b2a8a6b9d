"""IdentityPort over gRPC: authorizations of concurrent payments share calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext

from gateway.domain.ports import (
    AuthorizePayment,
    Funding,
    LimitSettlement,
    PaymentAuthorization,
    SettleOutcome,
)
from paysuite.coalescing import Coalescer
from paysuite.errors import Unavailable
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime import span_attributes as attrs
from paysuite.runtime.enums import short_name
from paysuite.runtime.grpc_errors import error_reason
from paysuite.runtime.protoconv import money_to_proto
from paysuite.type.v1.error_reason_pb2 import ErrorReason

_tracer = trace.get_tracer(__name__)
_OUTCOMES = {
    pb.SETTLEMENT_OUTCOME_SETTLED: SettleOutcome.SETTLED,
    pb.SETTLEMENT_OUTCOME_NOT_FOUND: SettleOutcome.NOT_FOUND,
    pb.SETTLEMENT_OUTCOME_SETTLED_OTHERWISE: SettleOutcome.SETTLED_OTHERWISE,
}
# A single authorization's errors that are answers about that payment, not about identity, by
# the reason identity gives (not the status code: other not-founds are identity's trouble).
_REFUSALS = {
    ErrorReason.ERROR_REASON_USER_NOT_FOUND: "USER_NOT_FOUND",
    ErrorReason.ERROR_REASON_PAYMENT_ID_REUSED: "PAYMENT_ID_REUSED",
}


@dataclass(frozen=True, slots=True)
class _Asked:
    request: pb.AuthorizePaymentRequest
    span: SpanContext


def _request(ask: AuthorizePayment) -> pb.AuthorizePaymentRequest:
    return pb.AuthorizePaymentRequest(
        payment_id=ask.payment_id,
        user_id=ask.user_id,
        amount=money_to_proto(ask.amount),
        funding=pb.FUNDING_BALANCE if ask.funding is Funding.BALANCE else pb.FUNDING_CARD,
        auth_factors=ask.auth_factors,
        card_required=ask.needs_card,
        card_id=ask.card_id,
        own_card_transfer=ask.own_card_transfer,
    )


def _authorization(response: pb.AuthorizePaymentResponse) -> PaymentAuthorization:
    if not response.authorized:
        return PaymentAuthorization(
            False, reason=short_name(pb.IneligibilityReason, response.refusal)
        )
    return PaymentAuthorization(
        True,
        card_id=response.instrument.card_id,
        agreement_no=response.instrument.channel_agreement_no,
    )


class GrpcIdentity:
    """Authorizations that arrive while one is in flight go together in the next call (one
    transaction in identity); settlements come batched from the outbox already."""

    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 3.0) -> None:
        self._stub = pb_grpc.IdentityServiceStub(channel)
        self._timeout = timeout_seconds
        self._authorizations = Coalescer(self._authorize_batch, max_batch=256)

    async def authorize(self, request: AuthorizePayment) -> PaymentAuthorization:
        span = trace.get_current_span().get_span_context()
        return await self._authorizations.submit(_Asked(_request(request), span))

    async def _authorize_batch(self, asked: Sequence[_Asked]) -> list[PaymentAuthorization]:
        if len(asked) == 1:
            return [await self._authorize_one(asked[0].request)]
        links = [Link(a.span) for a in asked if a.span.is_valid]
        with _tracer.start_as_current_span(
            "gateway.identity.authorize_batch",
            links=links,
            attributes={attrs.BATCH_SIZE: len(asked)},
        ):
            try:
                answer = await self._stub.BatchAuthorizePayments(
                    pb.BatchAuthorizePaymentsRequest(requests=[a.request for a in asked]),
                    timeout=self._timeout,
                )
            except grpc.aio.AioRpcError as exc:
                raise Unavailable(f"identity: {exc.code().name}") from exc
        return [_authorization(response) for response in answer.responses]

    async def _authorize_one(self, request: pb.AuthorizePaymentRequest) -> PaymentAuthorization:
        try:
            response = await self._stub.AuthorizePayment(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if (refusal := _REFUSALS.get(error_reason(exc))) is not None:
                return PaymentAuthorization(False, reason=refusal)
            raise Unavailable(f"identity: {exc.code().name}") from exc
        return _authorization(response)

    async def settle_limits(
        self, settlements: Sequence[LimitSettlement]
    ) -> dict[str, SettleOutcome]:
        request = pb.SettleLimitsRequest(
            settlements=[
                pb.LimitSettlement(payment_id=s.payment_id, commit=s.commit, returned=s.returned)
                for s in settlements
            ]
        )
        try:
            response = await self._stub.SettleLimits(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"identity: {exc.code().name}") from exc
        return {r.payment_id: _OUTCOMES[r.outcome] for r in response.results}
