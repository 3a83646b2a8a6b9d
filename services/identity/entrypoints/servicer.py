"""IdentityService over gRPC: validate, call the use case, answer with masked values only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc

from identity.domain.model import Card
from identity.entrypoints import convert
from identity.service_layer import cards, limits, registration, tiering, verification
from identity.service_layer.deps import IdentityDeps
from paysuite.errors import Violations
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime.paging import PageSize, Paging
from paysuite.runtime.protoconv import check_id, money_from_proto

Context = grpc.aio.ServicerContext[Any, Any]
CARDS_PAGE = PageSize(default=20, maximum=100)
ATTEMPTS_PAGE = PageSize(default=50, maximum=500)


def _user_id(value: str) -> None:
    violations = Violations()
    check_id(value, "user_id", violations, max_length=32)
    violations.raise_if_any()


def _reason(value: str, violations: Violations) -> str:
    violations.text(value.strip(), "reason", at_most=200, required=True)
    return value.strip()


def _card_position(card: Card) -> tuple[datetime, str]:
    assert card.created_at is not None  # every stored card has one
    return card.created_at, card.card_id


class IdentityServicer(pb_grpc.IdentityServiceServicer):
    def __init__(self, deps: IdentityDeps, paging: Paging) -> None:
        self._deps = deps
        self._paging = paging

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
        violations = Violations()
        check_id(request.user_id, "user_id", violations, max_length=32)
        page = self._paging.page(request, CARDS_PAGE, violations, (datetime, str))
        violations.raise_if_any()
        # A user has a handful of cards, oldest first: the keyset is applied to them in memory.
        bound = await cards.list_cards(self._deps.uow, request.user_id)
        after = page.after
        found = [c for c in bound if after is None or _card_position(c) > after]
        listed, token = page.cut(found[: page.size + 1], _card_position)
        return pb.ListCardsResponse(
            cards=[convert.card_to_proto(c) for c in listed], next_page_token=token
        )

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
        tier = convert.TIERS_IN.get(request.tier)
        if tier is None:
            violations.add("tier", "must be a known tier")
        violations.raise_if_any()
        assert tier is not None
        user = await tiering.downgrade(self._deps, request.user_id, tier, reason)
        return pb.DowngradeTierResponse(user=convert.user_to_proto(user))

    async def ReserveLimit(
        self, request: pb.ReserveLimitRequest, context: Context
    ) -> pb.ReserveLimitResponse:
        command = convert.reserve_command(request)
        uses = await limits.reserve(self._deps, command)
        return pb.ReserveLimitResponse(
            limits=[convert.window_to_proto(u, command.amount.currency) for u in uses]
        )

    async def AuthorizePayment(
        self, request: pb.AuthorizePaymentRequest, context: Context
    ) -> pb.AuthorizePaymentResponse:
        result = await limits.authorize(self._deps, convert.authorize_command(request))
        return convert.authorization_to_proto(result)

    async def BatchAuthorizePayments(
        self, request: pb.BatchAuthorizePaymentsRequest, context: Context
    ) -> pb.BatchAuthorizePaymentsResponse:
        results = await limits.authorize_many(self._deps, convert.authorize_batch(request))
        return pb.BatchAuthorizePaymentsResponse(
            responses=[convert.authorization_to_proto(result) for result in results]
        )

    async def SettleLimits(
        self, request: pb.SettleLimitsRequest, context: Context
    ) -> pb.SettleLimitsResponse:
        outcomes = await limits.settle_many(self._deps, convert.settlements(request))
        return convert.settled_to_proto(outcomes)

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
        page = self._paging.page(request, ATTEMPTS_PAGE, violations, (datetime, str))
        violations.raise_if_any()
        found = await verification.list_attempts(
            self._deps, request.user_id, page.after, page.size + 1
        )
        attempts, token = page.cut(found, lambda a: (a.created_at, a.attempt_id))
        return pb.ListVerificationAttemptsResponse(
            attempts=[convert.attempt_to_proto(a) for a in attempts], next_page_token=token
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
