"""IdentityPort over gRPC."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from gateway.domain.ports import (
    AuthorizePayment,
    Funding,
    LimitSettlement,
    PaymentAuthorization,
    SettleOutcome,
)
from paysuite.errors import Unavailable
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime.protoconv import money_to_proto

_REFUSAL_PREFIX = "INELIGIBILITY_REASON_"
_OUTCOMES = {
    pb.SETTLEMENT_OUTCOME_SETTLED: SettleOutcome.SETTLED,
    pb.SETTLEMENT_OUTCOME_NOT_FOUND: SettleOutcome.NOT_FOUND,
    pb.SETTLEMENT_OUTCOME_SETTLED_OTHERWISE: SettleOutcome.SETTLED_OTHERWISE,
}


class GrpcIdentity:
    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 3.0) -> None:
        self._stub = pb_grpc.IdentityServiceStub(channel)
        self._timeout = timeout_seconds

    async def authorize(self, request: AuthorizePayment) -> PaymentAuthorization:
        try:
            response = await self._authorize(request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                return PaymentAuthorization(False, reason="USER_NOT_FOUND")
            raise Unavailable(f"identity: {exc.code().name}") from exc
        if not response.authorized:
            reason = pb.IneligibilityReason.Name(response.refusal).removeprefix(_REFUSAL_PREFIX)
            return PaymentAuthorization(False, reason=reason)
        return PaymentAuthorization(
            True,
            card_id=response.instrument.card_id,
            agreement_no=response.instrument.channel_agreement_no,
        )

    async def _authorize(self, request: AuthorizePayment) -> pb.AuthorizePaymentResponse:
        return await self._stub.AuthorizePayment(
            pb.AuthorizePaymentRequest(
                payment_id=request.payment_id,
                user_id=request.user_id,
                amount=money_to_proto(request.amount),
                funding=pb.FUNDING_BALANCE
                if request.funding is Funding.BALANCE
                else pb.FUNDING_CARD,
                auth_factors=request.auth_factors,
                card_required=request.needs_card,
                card_id=request.card_id,
            ),
            timeout=self._timeout,
        )

    async def settle_limits(
        self, settlements: Sequence[LimitSettlement]
    ) -> dict[str, SettleOutcome]:
        request = pb.SettleLimitsRequest(
            settlements=[
                pb.LimitSettlement(payment_id=s.payment_id, commit=s.commit) for s in settlements
            ]
        )
        try:
            response = await self._stub.SettleLimits(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"identity: {exc.code().name}") from exc
        return {r.payment_id: _OUTCOMES[r.outcome] for r in response.results}
