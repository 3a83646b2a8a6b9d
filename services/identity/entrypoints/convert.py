"""Identity protobuf messages to commands and back; request validation lives here."""

from __future__ import annotations

from identity.domain import pii
from identity.domain.model import Card, Eligibility, Ineligibility, Tier, User, UserState
from identity.service_layer.handlers import RegisterUser
from paysuite.errors import Violations
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.runtime.protoconv import check_id, timestamp

TIERS = {
    Tier.NONE: pb.TIER_UNSPECIFIED,
    Tier.CLASS_I: pb.TIER_CLASS_I,
    Tier.CLASS_II: pb.TIER_CLASS_II,
    Tier.CLASS_III: pb.TIER_CLASS_III,
}
STATES = {
    UserState.ACTIVE: pb.User.ACTIVE,
    UserState.FROZEN: pb.User.FROZEN,
    UserState.CLOSED: pb.User.CLOSED,
}
REASONS = {
    Ineligibility.USER_NOT_ACTIVE: pb.INELIGIBILITY_REASON_USER_NOT_ACTIVE,
    Ineligibility.REAL_NAME_NOT_VERIFIED: pb.INELIGIBILITY_REASON_REAL_NAME_NOT_VERIFIED,
    Ineligibility.NO_CARD: pb.INELIGIBILITY_REASON_NO_CARD,
}


def register_command(request: pb.RegisterUserRequest) -> RegisterUser:
    violations = Violations()
    check_id(request.request_id, "request_id", violations)
    check_id(request.user_id, "user_id", violations, max_length=32, required=False)
    violations.require(
        pii.name_valid(request.name), "name", "required, at most 64 characters, no digits"
    )
    violations.require(
        pii.id_number_valid(request.id_number.upper()),
        "id_number",
        "must be a valid 18-character resident ID number",
    )
    violations.require(
        pii.phone_valid(request.phone), "phone", "must be an 11-digit mainland mobile number"
    )
    violations.raise_if_any()
    return RegisterUser(
        request.request_id,
        request.user_id,
        request.name.strip(),
        request.id_number.upper(),
        request.phone,
    )


def user_to_proto(user: User) -> pb.User:
    return pb.User(
        user_id=user.user_id,
        state=STATES[user.state],
        masked_name=user.masked.name,
        masked_id_number=user.masked.id_number,
        masked_phone=user.masked.phone,
        real_name_verified=user.real_name_verified,
        tier=TIERS[user.tier],
        create_time=timestamp(user.created_at),
    )


def instrument_to_proto(card: Card) -> pb.PaymentInstrument:
    return pb.PaymentInstrument(
        card_id=card.card_id,
        bank_code=card.bank_code,
        masked_card_number=card.masked_card_number,
        channel_agreement_no=card.agreement_no,
    )


def eligibility_to_proto(result: Eligibility) -> pb.CheckPaymentEligibilityResponse:
    response = pb.CheckPaymentEligibilityResponse(eligible=result.eligible)
    if result.reason is not None:
        response.reason = REASONS[result.reason]
    if result.card is not None:
        response.instrument.CopyFrom(instrument_to_proto(result.card))
    return response
