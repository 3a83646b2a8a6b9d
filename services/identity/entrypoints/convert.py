"""Identity protobuf messages to commands and back; request validation lives here."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

from identity.domain import phones, pii
from identity.domain.model import Card, Eligibility, Ineligibility, Tier, User, UserState
from identity.domain.verification import Attempt, Method, Outcome
from identity.service_layer.limits import (
    Authorization,
    Authorize,
    Reserve,
    Settled,
    Settlement,
    WindowUse,
)
from identity.service_layer.registration import RegisterUser
from identity.service_layer.verification import VerifyRealName
from paysuite.errors import Violations
from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.money import Money
from paysuite.runtime.enums import value_of
from paysuite.runtime.protoconv import check_id, money_from_proto, money_to_proto, timestamp

ZONE = ZoneInfo("Asia/Shanghai")
TIERS = {
    Tier.NONE: pb.TIER_UNSPECIFIED,
    Tier.CLASS_I: pb.TIER_CLASS_I,
    Tier.CLASS_II: pb.TIER_CLASS_II,
    Tier.CLASS_III: pb.TIER_CLASS_III,
}
TIERS_IN = {v: k for k, v in TIERS.items()}
STATES = {s: value_of(pb.User.State, s.name) for s in UserState}
REASONS = {r: value_of(pb.IneligibilityReason, r.name) for r in Ineligibility}
METHODS = {m: value_of(pb.VerificationMethod, m.name) for m in Method}
METHODS_IN = {v: k for k, v in METHODS.items()}
OUTCOMES = {o: value_of(pb.VerificationOutcome, o.name) for o in Outcome}


def _phone(value: str, field: str, violations: Violations) -> str:
    normal = phones.normalise_mobile(value)
    if normal is None:
        violations.add(field, "must be a mainland mobile number")
        return ""
    return normal


def _id_number(value: str, field: str, violations: Violations, required: bool = True) -> str:
    if not value and not required:
        return ""
    normal = pii.normalise_id_number(value)
    if normal is None:
        violations.add(field, "must be a valid resident ID number (GB 11643)")
        return ""
    return normal


def _name(value: str, field: str, violations: Violations, required: bool = True) -> str:
    if not value and not required:
        return ""
    if not pii.name_valid(value):
        violations.add(field, "required, at most 64 characters, no digits")
    return value.strip()


def _card(value: str, field: str, violations: Violations) -> str:
    digits = value.replace(" ", "").replace("-", "")
    shaped = 13 <= len(digits) <= 19 and digits.isascii() and digits.isdigit()
    # Some UnionPay ("62") cards are issued without a Luhn check digit: accepted, not refused.
    if not shaped or not (pii.luhn_valid(digits) or digits.startswith("62")):
        violations.add(field, "must be a 13 to 19 digit bank card number")
    return digits


def register_command(request: pb.RegisterUserRequest) -> RegisterUser:
    violations = Violations()
    check_id(request.request_id, "request_id", violations)
    check_id(request.user_id, "user_id", violations, max_length=32, required=False)
    phone = _phone(request.phone, "phone", violations)
    name = _name(request.name, "name", violations, required=False)
    id_number = _id_number(request.id_number, "id_number", violations, required=False)
    violations.raise_if_any()
    return RegisterUser(request.request_id, request.user_id, phone, name, id_number)


def verify_command(request: pb.VerifyRealNameRequest) -> VerifyRealName:
    violations = Violations()
    check_id(request.request_id, "request_id", violations)
    check_id(request.user_id, "user_id", violations, max_length=32)
    method = METHODS_IN.get(request.method)
    violations.require(method is not None, "method", "required")
    name = _name(request.name, "name", violations)
    id_number = _id_number(request.id_number, "id_number", violations)
    card, phone = "", ""
    if method in (Method.FOUR_ELEMENTS, Method.THREE_ELEMENTS):
        card = _card(request.card_number, "card_number", violations)
    if method is Method.FOUR_ELEMENTS:
        phone = _phone(request.phone, "phone", violations)
    elif request.bind_card:
        violations.add("bind_card", "only a four-element verification can bind a card")
    violations.raise_if_any()
    assert method is not None
    return VerifyRealName(
        request.request_id, request.user_id, method, name, id_number, card, phone, request.bind_card
    )


def bind_fields(request: pb.BindCardRequest) -> tuple[str, str, str, str]:
    violations = Violations()
    check_id(request.request_id, "request_id", violations)
    check_id(request.user_id, "user_id", violations, max_length=32)
    card = _card(request.card_number, "card_number", violations)
    phone = _phone(request.phone, "phone", violations)
    violations.raise_if_any()
    return request.request_id, request.user_id, card, phone


def _reservation(
    request: pb.ReserveLimitRequest | pb.AuthorizePaymentRequest, violations: Violations
) -> Reserve | None:
    check_id(request.payment_id, "payment_id", violations)
    check_id(request.user_id, "user_id", violations, max_length=32)
    amount = money_from_proto(
        request.amount, "amount", violations, has_value=request.HasField("amount")
    )
    violations.require(request.funding != pb.FUNDING_UNSPECIFIED, "funding", "required")
    violations.require(0 <= request.auth_factors <= 5, "auth_factors", "0 to 5")
    if amount is None:
        return None
    return Reserve(
        request.payment_id,
        request.user_id,
        amount,
        balance_funded=request.funding == pb.FUNDING_BALANCE,
        auth_factors=request.auth_factors or 1,
    )


def _authorization(request: pb.AuthorizePaymentRequest, violations: Violations) -> Authorize | None:
    """One payment to authorize; a transfer to one's own card is made to a bound card."""
    reservation = _reservation(request, violations)
    check_id(request.card_id, "card_id", violations, required=False)
    violations.require(
        request.card_required or not request.own_card_transfer,
        "own_card_transfer",
        "a transfer to one's own card needs card_required",
    )
    if reservation is None:
        return None
    reservation = replace(reservation, own_card_transfer=request.own_card_transfer)
    return Authorize(reservation, request.card_required, request.card_id)


def authorize_command(request: pb.AuthorizePaymentRequest) -> Authorize:
    violations = Violations()
    command = _authorization(request, violations)
    violations.raise_if_any()
    assert command is not None
    return command


MAX_BATCH = 1000


def authorize_batch(request: pb.BatchAuthorizePaymentsRequest) -> list[Authorize]:
    violations = Violations()
    violations.require(
        0 < len(request.requests) <= MAX_BATCH, "requests", f"1 to {MAX_BATCH} payments"
    )
    commands: list[Authorize] = []
    seen: set[str] = set()
    for index, item in enumerate(request.requests):
        nested = Violations()
        command = _authorization(item, nested)
        nested.require(item.payment_id not in seen, "payment_id", "repeated in the batch")
        seen.add(item.payment_id)
        violations.extend(nested, prefix=f"requests[{index}].")
        if command is not None:
            commands.append(command)
    violations.raise_if_any()
    return commands


def authorization_to_proto(result: Authorization) -> pb.AuthorizePaymentResponse:
    response = pb.AuthorizePaymentResponse(
        authorized=result.authorized, exceeded_limit=result.exceeded
    )
    if result.refusal is not None:
        response.refusal = REASONS[result.refusal]
    if result.card is not None:
        response.instrument.CopyFrom(instrument_to_proto(result.card))
    return response


SETTLED = {
    Settled.SETTLED: pb.SETTLEMENT_OUTCOME_SETTLED,
    Settled.NOT_FOUND: pb.SETTLEMENT_OUTCOME_NOT_FOUND,
    Settled.SETTLED_OTHERWISE: pb.SETTLEMENT_OUTCOME_SETTLED_OTHERWISE,
}
MAX_SETTLEMENTS = 1000


def settlements(request: pb.SettleLimitsRequest) -> list[Settlement]:
    violations = Violations()
    violations.require(
        0 < len(request.settlements) <= MAX_SETTLEMENTS,
        "settlements",
        f"1 to {MAX_SETTLEMENTS} settlements",
    )
    seen: set[str] = set()
    for index, item in enumerate(request.settlements):
        check_id(item.payment_id, f"settlements[{index}].payment_id", violations)
        violations.require(
            item.payment_id not in seen, f"settlements[{index}].payment_id", "repeated"
        )
        seen.add(item.payment_id)
    violations.raise_if_any()
    return [Settlement(item.payment_id, item.commit, item.returned) for item in request.settlements]


def settled_to_proto(outcomes: dict[str, Settled]) -> pb.SettleLimitsResponse:
    return pb.SettleLimitsResponse(
        results=[
            pb.LimitSettlementResult(payment_id=payment_id, outcome=SETTLED[outcome])
            for payment_id, outcome in outcomes.items()
        ]
    )


def reserve_command(request: pb.ReserveLimitRequest) -> Reserve:
    violations = Violations()
    reservation = _reservation(request, violations)
    violations.raise_if_any()
    assert reservation is not None
    return replace(
        reservation,
        digital_certificate=request.digital_certificate,
        own_card_transfer=request.own_card_transfer,
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


def card_to_proto(card: Card) -> pb.Card:
    return pb.Card(
        card_id=card.card_id,
        user_id=card.user_id,
        bank_code=card.bank_code,
        bank_name=card.bank_name,
        card_type=card.card_type,
        masked_card_number=card.masked_card_number,
        is_default=card.is_default,
        create_time=timestamp(card.created_at),
    )


def attempt_to_proto(attempt: Attempt) -> pb.VerificationAttempt:
    return pb.VerificationAttempt(
        attempt_id=attempt.attempt_id,
        user_id=attempt.user_id,
        method=METHODS[attempt.method],
        provider=attempt.provider,
        outcome=OUTCOMES[attempt.outcome],
        mismatched_elements=list(attempt.mismatched),
        masked_card_number=attempt.masked_card,
        provider_reference=attempt.reference,
        create_time=timestamp(attempt.created_at),
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


def window_to_proto(use: WindowUse, currency: str = "CNY") -> pb.LimitWindow:
    window = use.window
    message = pb.LimitWindow(
        kind=window.kind.value,
        limit=money_to_proto(Money(currency, window.limit)),
        used=money_to_proto(Money(currency, use.used)),
        remaining=money_to_proto(Money(currency, use.remaining)),
    )
    if window.start is not None and window.end is not None:
        message.start_time.CopyFrom(timestamp(datetime.combine(window.start, time(), ZONE)))
        message.end_time.CopyFrom(timestamp(datetime.combine(window.end, time(), ZONE)))
    return message
