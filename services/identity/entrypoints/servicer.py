"""IdentityService over gRPC: validate, call the use case, answer with masked values only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc

from identity.entrypoints import convert
from identity.service_layer import cards, limits, registration, tiering, verification
from identity.service_layer.deps import IdentityDeps
from paysuite.errors import FieldViolation, InvalidArgument, Violations
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime.protoconv import check_id, money_from_proto, page_cursor, page_token

Context = grpc.aio.ServicerContext[Any, Any]


def _user_id(value: str) -> None:
    violations = Violations()
    check_id(value, "user_id", violations, max_length=32)
    violations.raise_if_any()


def _reason(value: str, violations: Violations) -> str:
    violations.require(0 < len(value.strip()) <= 200, "reason", "required, at most 200 characters")
    return value.strip()


class IdentityServicer(pb_grpc.IdentityServiceServicer):
    def __init__(self, deps: IdentityDeps) -> None:
        self._deps = deps

    async def RegisterUser(
        self, request: pb.RegisterUserRequest, context: Context
    ) -> pb.RegisterUserResponse:
        user = await registration.register_user(self._deps, convert.register_command(request))
        return pb.RegisterUserResponse(user=convert.user_to_proto(user))

    async def GetUser(self, request: pb.GetUserRequest, context: Context) -> pb.GetUserResponse:
        _user_id(request.user_id)
        user = await registration.get_user(self._deps.uow, request.user_id)
        return pb.GetUserResponse(user=convert.user_to_proto(user))

    async def CheckPaymentEligibility(
        self, request: pb.CheckPaymentEligibilityRequest, context: Context
    ) -> pb.CheckPaymentEligibilityResponse:
        violations = Violations()
        check_id(request.user_id, "user_id", violations, max_length=32)
        check_id(request.card_id, "card_id", violations, required=False)
        money_from_proto(request.amount, "amount", violations, has_value=request.HasField("amount"))
        violations.raise_if_any()
        result = await cards.check_eligibility(self._deps.uow, request.user_id, request.card_id)
        return convert.eligibility_to_proto(result)

    async def VerifyRealName(
        self, request: pb.VerifyRealNameRequest, context: Context
    ) -> pb.VerifyRealNameResponse:
        result = await verification.verify_real_name(self._deps, convert.verify_command(request))
        response = pb.VerifyRealNameResponse(
            attempt=convert.attempt_to_proto(result.attempt),
            user=convert.user_to_proto(result.user),
        )
        if result.card is not None:
            response.card.CopyFrom(convert.card_to_proto(result.card))
        return response

    async def BindCard(self, request: pb.BindCardRequest, context: Context) -> pb.BindCardResponse:
        request_id, user_id, card, phone = convert.bind_fields(request)
        result = await verification.bind_card(self._deps, request_id, user_id, card, phone)
        response = pb.BindCardResponse(attempt=convert.attempt_to_proto(result.attempt))
        if result.card is not None:
            response.card.CopyFrom(convert.card_to_proto(result.card))
        return response

    async def ListCards(
        self, request: pb.ListCardsRequest, context: Context
    ) -> pb.ListCardsResponse:
        _user_id(request.user_id)
        found = await cards.list_cards(self._deps.uow, request.user_id)
        return pb.ListCardsResponse(cards=[convert.card_to_proto(c) for c in found])

    async def UnbindCard(
        self, request: pb.UnbindCardRequest, context: Context
    ) -> pb.UnbindCardResponse:
        violations = Violations()
        check_id(request.user_id, "user_id", violations, max_length=32)
        check_id(request.card_id, "card_id", violations)
        violations.raise_if_any()
        await cards.unbind_card(self._deps, request.user_id, request.card_id)
        return pb.UnbindCardResponse()

    async def GetTier(self, request: pb.GetTierRequest, context: Context) -> pb.GetTierResponse:
        _user_id(request.user_id)
        view = await tiering.get_tier(self._deps, request.user_id)
        return pb.GetTierResponse(
            tier=convert.TIERS[view.tier],
            external_verifications=view.external_verifications,
            face_to_face=view.face_to_face,
            downgraded=view.downgraded,
        )

    async def DowngradeTier(
        self, request: pb.DowngradeTierRequest, context: Context
    ) -> pb.DowngradeTierResponse:
        violations = Violations()
        check_id(request.user_id, "user_id", violations, max_length=32)
        reason = _reason(request.reason, violations)
        violations.raise_if_any()
        user = await tiering.downgrade(
            self._deps, request.user_id, convert.TIERS_IN[request.tier], reason
        )
        return pb.DowngradeTierResponse(user=convert.user_to_proto(user))

    async def ReserveLimit(
        self, request: pb.ReserveLimitRequest, context: Context
    ) -> pb.ReserveLimitResponse:
        command = convert.reserve_command(request)
        uses = await limits.reserve(self._deps, command)
        return pb.ReserveLimitResponse(
            limits=[convert.window_to_proto(u, command.amount.currency) for u in uses]
        )

    async def CommitLimit(
        self, request: pb.CommitLimitRequest, context: Context
    ) -> pb.CommitLimitResponse:
        violations = Violations()
        check_id(request.payment_id, "payment_id", violations)
        violations.raise_if_any()
        await limits.commit(self._deps, request.payment_id)
        return pb.CommitLimitResponse()

    async def ReleaseLimit(
        self, request: pb.ReleaseLimitRequest, context: Context
    ) -> pb.ReleaseLimitResponse:
        violations = Violations()
        check_id(request.payment_id, "payment_id", violations)
        violations.raise_if_any()
        await limits.release(self._deps, request.payment_id)
        return pb.ReleaseLimitResponse()

    async def GetLimits(
        self, request: pb.GetLimitsRequest, context: Context
    ) -> pb.GetLimitsResponse:
        violations = Violations()
        check_id(request.user_id, "user_id", violations, max_length=32)
        violations.require(0 <= request.auth_factors <= 5, "auth_factors", "0 to 5")
        violations.raise_if_any()
        uses = await limits.limits(self._deps, request.user_id, request.auth_factors or 1)
        return pb.GetLimitsResponse(limits=[convert.window_to_proto(u) for u in uses])

    async def ListVerificationAttempts(
        self, request: pb.ListVerificationAttemptsRequest, context: Context
    ) -> pb.ListVerificationAttemptsResponse:
        violations = Violations()
        check_id(request.user_id, "user_id", violations, max_length=32)
        violations.require(request.page_size >= 0, "page_size", "must not be negative")
        violations.raise_if_any()
        size = min(request.page_size or 50, 500)
        cursor = page_cursor(request.page_token)
        before = None
        if cursor:
            stamp, _, attempt_id = cursor.partition("|")
            try:
                before = (datetime.fromisoformat(stamp), attempt_id)
            except ValueError as exc:
                raise InvalidArgument(
                    [FieldViolation("page_token", "not a token from this API")]
                ) from exc
        found = await verification.list_attempts(self._deps, request.user_id, before, size + 1)
        page = found[:size]
        last = (
            f"{page[-1].created_at.isoformat()}|{page[-1].attempt_id}"
            if len(found) > size
            else None
        )
        return pb.ListVerificationAttemptsResponse(
            attempts=[convert.attempt_to_proto(a) for a in page], next_page_token=page_token(last)
        )

    async def FreezeUser(
        self, request: pb.FreezeUserRequest, context: Context
    ) -> pb.FreezeUserResponse:
        violations = Violations()
        check_id(request.user_id, "user_id", violations, max_length=32)
        reason = _reason(request.reason, violations)
        violations.raise_if_any()
        user = await tiering.freeze(self._deps, request.user_id, request.frozen, reason)
        return pb.FreezeUserResponse(user=convert.user_to_proto(user))
