"""IdentityPort over gRPC."""

from __future__ import annotations

import grpc

from gateway.domain.ports import Funding, LimitDecision, PayerCheck
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.money import Money
from paysuite.runtime.grpc_errors import error_info
from paysuite.runtime.protoconv import money_to_proto


class GrpcIdentity:
    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 3.0) -> None:
        self._stub = pb_grpc.IdentityServiceStub(channel)
        self._timeout = timeout_seconds

    async def check_payer(self, user_id: str, amount: Money, card_id: str) -> PayerCheck:
        response = await self._stub.CheckPaymentEligibility(
            pb.CheckPaymentEligibilityRequest(
                user_id=user_id, amount=money_to_proto(amount), card_id=card_id
            ),
            timeout=self._timeout,
        )
        if not response.eligible:
            return PayerCheck(False, reason=pb.IneligibilityReason.Name(response.reason))
        return PayerCheck(
            True,
            card_id=response.instrument.card_id,
            agreement_no=response.instrument.channel_agreement_no,
        )

    async def reserve_limit(
        self, payment_id: str, user_id: str, amount: Money, auth_factors: int, funding: Funding
    ) -> LimitDecision:
        try:
            await self._stub.ReserveLimit(
                pb.ReserveLimitRequest(
                    payment_id=payment_id,
                    user_id=user_id,
                    amount=money_to_proto(amount),
                    funding=pb.FUNDING_BALANCE if funding is Funding.BALANCE else pb.FUNDING_CARD,
                    auth_factors=auth_factors,
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            info = error_info(exc)
            if exc.code() is grpc.StatusCode.FAILED_PRECONDITION and info is not None:
                return LimitDecision(False, info.reason)
            raise
        return LimitDecision(True)

    async def settle_limit(self, payment_id: str, commit: bool) -> None:
        if commit:
            await self._stub.CommitLimit(
                pb.CommitLimitRequest(payment_id=payment_id), timeout=self._timeout
            )
        else:
            await self._stub.ReleaseLimit(
                pb.ReleaseLimitRequest(payment_id=payment_id), timeout=self._timeout
            )
