"""Real name, cards, tiers and limits through real identity, gateway, bank and Postgres."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import asyncpg
import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from paysuite.identity.v1 import identity_service_pb2 as pb
from paysuite.identity.v1 import identity_service_pb2_grpc as pb_grpc
from paysuite.runtime.grpc_errors import error_info, error_reason
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect
from tests.integration.kyc_support import Person, bank_knows, fresh_card, fresh_person

FOUR = pb.VERIFICATION_METHOD_FOUR_ELEMENTS


@pytest.fixture
async def identity(identity_addr: str, gateway_addr: str) -> pb_grpc.IdentityServiceAsyncStub:
    return pb_grpc.IdentityServiceStub(connect(identity_addr))


def cny(amount: int) -> Money:
    return Money(currency_code="CNY", minor_units=amount)


async def _register(identity: pb_grpc.IdentityServiceAsyncStub, person: Person) -> str:
    answer = await identity.RegisterUser(
        pb.RegisterUserRequest(request_id=f"reg-{secrets.token_hex(6)}", phone=person.phone)
    )
    return answer.user.user_id


async def _verify(
    identity: pb_grpc.IdentityServiceAsyncStub,
    user_id: str,
    person: Person,
    card: str,
    *,
    phone: str | None = None,
    bind: bool = True,
) -> pb.VerifyRealNameResponse:
    return await identity.VerifyRealName(
        pb.VerifyRealNameRequest(
            request_id=f"v-{secrets.token_hex(6)}",
            user_id=user_id,
            method=FOUR,
            name=person.name,
            id_number=person.id_number,
            card_number=card,
            phone=phone or person.phone,
            bind_card=bind,
        ),
        timeout=30,
    )


async def _real_named(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str, banks: tuple[str, ...] = ("ICBC",)
) -> tuple[str, Person]:
    person = fresh_person()
    user_id = await _register(identity, person)
    for bank in banks:
        card = fresh_card(bank)
        await bank_knows(bank_url, person, card, bank)
        answer = await _verify(identity, user_id, person, card)
        assert answer.attempt.outcome == pb.VERIFICATION_OUTCOME_MATCH
    return user_id, person


async def test_four_elements_real_name_the_user_and_bind_the_card(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str
) -> None:
    person = fresh_person()
    user_id = await _register(identity, person)
    before = (await identity.GetUser(pb.GetUserRequest(user_id=user_id))).user
    assert not before.real_name_verified and before.tier == pb.TIER_UNSPECIFIED
    card = fresh_card("CMB")
    await bank_knows(bank_url, person, card, "CMB")
    answer = await _verify(identity, user_id, person, card)
    assert answer.user.real_name_verified and answer.user.tier == pb.TIER_CLASS_I
    assert answer.card.bank_name and answer.card.card_type == "DEBIT"
    assert answer.card.masked_card_number == card[:6] + "*" * (len(card) - 10) + card[-4:]
    attempts = await identity.ListVerificationAttempts(
        pb.ListVerificationAttemptsRequest(user_id=user_id)
    )
    assert [a.outcome for a in attempts.attempts] == [pb.VERIFICATION_OUTCOME_MATCH]


async def test_a_mismatch_names_the_element_and_real_names_nobody(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str
) -> None:
    person = fresh_person()
    user_id = await _register(identity, person)
    card = fresh_card()
    await bank_knows(bank_url, person, card, "ICBC")
    answer = await _verify(identity, user_id, person, card, phone="13700000000")
    assert answer.attempt.outcome == pb.VERIFICATION_OUTCOME_MISMATCH
    assert list(answer.attempt.mismatched_elements) == ["PHONE"]
    assert not answer.user.real_name_verified
    cards = await identity.ListCards(pb.ListCardsRequest(user_id=user_id))
    assert not cards.cards


async def test_tier_rises_with_each_external_verification(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str
) -> None:
    user_id, person = await _real_named(identity, bank_url)
    tiers = []
    for bank in ("CMB", "CCB", "ABC", "BOC"):
        card = fresh_card(bank)
        await bank_knows(bank_url, person, card, bank)
        answer = await identity.BindCard(
            pb.BindCardRequest(
                request_id=f"b-{secrets.token_hex(6)}",
                user_id=user_id,
                card_number=card,
                phone=person.phone,
            )
        )
        assert answer.attempt.outcome == pb.VERIFICATION_OUTCOME_MATCH
        tiers.append((await identity.GetTier(pb.GetTierRequest(user_id=user_id))).tier)
    assert tiers == [pb.TIER_CLASS_I, pb.TIER_CLASS_II, pb.TIER_CLASS_II, pb.TIER_CLASS_III]
    view = await identity.GetTier(pb.GetTierRequest(user_id=user_id))
    assert view.external_verifications == 5
    lowered = await identity.DowngradeTier(
        pb.DowngradeTierRequest(
            request_id=uuid.uuid4().hex, user_id=user_id, tier=pb.TIER_CLASS_I, reason="risk review"
        )
    )
    assert lowered.user.tier == pb.TIER_CLASS_I
    card = fresh_card("PSBC")
    await bank_knows(bank_url, person, card, "PSBC")
    await identity.BindCard(
        pb.BindCardRequest(
            request_id=f"b-{secrets.token_hex(6)}",
            user_id=user_id,
            card_number=card,
            phone=person.phone,
        )
    )
    assert (await identity.GetTier(pb.GetTierRequest(user_id=user_id))).tier == pb.TIER_CLASS_I
    listed: list[str] = []
    token = ""
    for expected in (4, 2):  # six cards: the real-naming one, four banks, PSBC
        page = await identity.ListCards(
            pb.ListCardsRequest(user_id=user_id, page_size=4, page_token=token)
        )
        assert len(page.cards) == expected
        listed += [c.card_id for c in page.cards]
        token = page.next_page_token
    assert not token and len(set(listed)) == 6


async def test_one_person_is_real_named_on_one_user(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str
) -> None:
    _, person = await _real_named(identity, bank_url)
    other = await identity.RegisterUser(
        pb.RegisterUserRequest(
            request_id=f"reg-{secrets.token_hex(6)}", phone="136" + person.phone[3:]
        )
    )
    card = fresh_card("CCB")
    await bank_knows(bank_url, person, card, "CCB")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _verify(identity, other.user.user_id, person, card)
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_PERSON_ALREADY_REAL_NAMED


async def test_class_i_lifetime_limit_at_and_just_over_the_boundary(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str
) -> None:
    user_id, _ = await _real_named(identity, bank_url)

    async def reserve(payment_id: str, amount: int) -> pb.ReserveLimitResponse:
        return await identity.ReserveLimit(
            pb.ReserveLimitRequest(
                payment_id=payment_id,
                user_id=user_id,
                amount=cny(amount),
                funding=pb.FUNDING_BALANCE,
                auth_factors=2,
            )
        )

    await reserve(f"p1-{user_id}", 99_999)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await reserve(f"p2-{user_id}", 2)
    info = error_info(caught.value)
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_LIMIT_EXCEEDED
    assert info is not None
    assert info.metadata["window"] == "TIER_LIFETIME"
    await reserve(f"p3-{user_id}", 1)
    again = await reserve(f"p3-{user_id}", 1)
    lifetime = next(w for w in again.limits if w.kind == "TIER_LIFETIME")
    assert lifetime.remaining.minor_units == 0
    await identity.ReleaseLimit(
        pb.ReleaseLimitRequest(request_id=uuid.uuid4().hex, payment_id=f"p3-{user_id}")
    )
    await identity.ReleaseLimit(
        pb.ReleaseLimitRequest(request_id=uuid.uuid4().hex, payment_id=f"p3-{user_id}")
    )
    await identity.CommitLimit(
        pb.CommitLimitRequest(request_id=uuid.uuid4().hex, payment_id=f"p1-{user_id}")
    )
    with pytest.raises(grpc.aio.AioRpcError) as final:
        await identity.ReleaseLimit(
            pb.ReleaseLimitRequest(request_id=uuid.uuid4().hex, payment_id=f"p1-{user_id}")
        )
    assert error_reason(final.value) == ErrorReason.ERROR_REASON_RESERVATION_FINAL
    left = await identity.GetLimits(pb.GetLimitsRequest(user_id=user_id))
    lifetime = next(w for w in left.limits if w.kind == "TIER_LIFETIME")
    assert (lifetime.used.minor_units, lifetime.remaining.minor_units) == (99_999, 1)
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await reserve(f"p1-{user_id}", 5)
    assert error_reason(reused.value) == ErrorReason.ERROR_REASON_PAYMENT_ID_REUSED


async def test_concurrent_reservations_race_for_the_last_yuan(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str
) -> None:
    user_id, _ = await _real_named(identity, bank_url)

    async def attempt(n: int) -> bool:
        try:
            await identity.ReserveLimit(
                pb.ReserveLimitRequest(
                    payment_id=f"race{n}-{user_id}",
                    user_id=user_id,
                    amount=cny(10_000),
                    funding=pb.FUNDING_BALANCE,
                    auth_factors=2,
                )
            )
        except grpc.aio.AioRpcError as exc:
            assert error_reason(exc) == ErrorReason.ERROR_REASON_LIMIT_EXCEEDED
            return False
        return True

    results = await asyncio.gather(*(attempt(n) for n in range(25)))
    assert sum(results) == 10


async def test_daily_card_limit_follows_authentication_strength(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str
) -> None:
    user_id, _ = await _real_named(identity, bank_url)

    async def card_payment(payment_id: str, amount: int, factors: int) -> str:
        try:
            await identity.ReserveLimit(
                pb.ReserveLimitRequest(
                    payment_id=payment_id,
                    user_id=user_id,
                    amount=cny(amount),
                    funding=pb.FUNDING_CARD,
                    auth_factors=factors,
                )
            )
        except grpc.aio.AioRpcError as exc:
            info = error_info(exc)
            return info.metadata["window"] if info else "?"
        return "ok"

    assert await card_payment(f"c1-{user_id}", 100_000, 1) == "ok"
    assert await card_payment(f"c2-{user_id}", 1, 1) == "DAILY_AUTH"
    assert await card_payment(f"c3-{user_id}", 400_000, 2) == "ok"
    assert await card_payment(f"c4-{user_id}", 1, 2) == "DAILY_AUTH"


async def test_frozen_user_may_not_pay_or_reserve(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str
) -> None:
    user_id, _ = await _real_named(identity, bank_url)
    frozen = await identity.FreezeUser(
        pb.FreezeUserRequest(
            request_id=uuid.uuid4().hex, user_id=user_id, frozen=True, reason="fraud report"
        )
    )
    assert frozen.user.state == pb.User.STATE_FROZEN
    eligibility = await identity.CheckPaymentEligibility(
        pb.CheckPaymentEligibilityRequest(user_id=user_id, amount=cny(100))
    )
    assert eligibility.reason == pb.INELIGIBILITY_REASON_USER_NOT_ACTIVE
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.ReserveLimit(
            pb.ReserveLimitRequest(
                payment_id=f"f-{user_id}", user_id=user_id, amount=cny(1), funding=pb.FUNDING_CARD
            )
        )
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_USER_NOT_ACTIVE
    thawed = await identity.FreezeUser(
        pb.FreezeUserRequest(
            request_id=uuid.uuid4().hex, user_id=user_id, frozen=False, reason="cleared"
        )
    )
    assert thawed.user.state == pb.User.STATE_ACTIVE


async def test_verification_attempts_are_rate_limited(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str
) -> None:
    person = fresh_person()
    user_id = await _register(identity, person)
    for _ in range(10):
        answer = await _verify(identity, user_id, person, fresh_card(), bind=False)
        assert answer.attempt.outcome == pb.VERIFICATION_OUTCOME_NO_RECORD
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _verify(identity, user_id, person, fresh_card(), bind=False)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_VERIFY_RATE_LIMITED
    attempts = await identity.ListVerificationAttempts(
        pb.ListVerificationAttemptsRequest(user_id=user_id, page_size=5)
    )
    assert len(attempts.attempts) == 5 and attempts.next_page_token
    assert attempts.attempts[0].outcome == pb.VERIFICATION_OUTCOME_RATE_LIMITED


async def test_no_pii_at_rest_or_in_spans(
    identity: pb_grpc.IdentityServiceAsyncStub,
    bank_url: str,
    db: asyncpg.Connection,
    spans: InMemorySpanExporter,
) -> None:
    person = fresh_person()
    user_id = await _register(identity, person)
    card = fresh_card("BOC")
    await bank_knows(bank_url, person, card, "BOC")
    await _verify(identity, user_id, person, card)
    secrets_ = [person.id_number, person.phone, card, person.name]
    for table in ("users", "customers", "cards", "verification_attempts", "user_events"):
        rows = await db.fetch(f"SELECT * FROM identity.{table}")
        text = " ".join(str(dict(r)) for r in rows)
        assert not any(s in text for s in secrets_), f"plain PII in identity.{table}"
    for table in ("card_verifications",):
        rows = await db.fetch(f"SELECT * FROM gateway.{table}")
        text = " ".join(str(dict(r)) for r in rows)
        assert not any(s in text for s in secrets_), f"plain PII in gateway.{table}"
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.force_flush()
    exported = " ".join(str(s.to_json()) for s in spans.get_finished_spans())
    assert exported and not any(s in exported for s in secrets_), "plain PII in spans"


async def test_three_element_and_name_id_checks_count_as_further_channels(
    identity: pb_grpc.IdentityServiceAsyncStub, bank_url: str
) -> None:
    user_id, person = await _real_named(identity, bank_url)
    card = fresh_card("CMB")
    await bank_knows(bank_url, person, card, "CMB")
    three = await identity.VerifyRealName(
        pb.VerifyRealNameRequest(
            request_id=f"v3-{secrets.token_hex(6)}",
            user_id=user_id,
            method=pb.VERIFICATION_METHOD_THREE_ELEMENTS,
            name=person.name,
            id_number=person.id_number,
            card_number=card,
        )
    )
    assert three.attempt.outcome == pb.VERIFICATION_OUTCOME_MATCH
    assert three.attempt.provider.endswith(":CMB")
    name_id = await identity.VerifyRealName(
        pb.VerifyRealNameRequest(
            request_id=f"v2-{secrets.token_hex(6)}",
            user_id=user_id,
            method=pb.VERIFICATION_METHOD_NAME_ID,
            name=person.name,
            id_number=person.id_number,
        )
    )
    assert name_id.attempt.provider == "citizen-register"
    tier = await identity.GetTier(pb.GetTierRequest(user_id=user_id))
    assert (tier.external_verifications, tier.tier) == (3, pb.TIER_CLASS_II)
    cards = await identity.ListCards(pb.ListCardsRequest(user_id=user_id))
    assert len(cards.cards) == 1  # only four elements bind a card


@pytest.mark.parametrize(
    ("banks", "tier", "yearly"),
    [
        (("ICBC", "CMB", "CCB"), pb.TIER_CLASS_II, 10_000_000),
        (("ICBC", "CMB", "CCB", "ABC", "BOC"), pb.TIER_CLASS_III, 20_000_000),
    ],
)
async def test_yearly_tier_limit_at_and_just_over_the_boundary(
    identity: pb_grpc.IdentityServiceAsyncStub,
    bank_url: str,
    banks: tuple[str, ...],
    tier: int,
    yearly: int,
) -> None:
    user_id, _ = await _real_named(identity, bank_url, banks)
    assert (await identity.GetTier(pb.GetTierRequest(user_id=user_id))).tier == tier

    async def balance_payment(payment_id: str, amount: int) -> str:
        try:
            await identity.ReserveLimit(
                pb.ReserveLimitRequest(
                    payment_id=payment_id,
                    user_id=user_id,
                    amount=cny(amount),
                    funding=pb.FUNDING_BALANCE,
                    digital_certificate=True,
                )
            )
        except grpc.aio.AioRpcError as exc:
            info = error_info(exc)
            return info.metadata["window"] if info else "?"
        return "ok"

    assert await balance_payment(f"y1-{user_id}", yearly - 1) == "ok"
    assert await balance_payment(f"y2-{user_id}", 2) == "TIER_YEARLY"
    assert await balance_payment(f"y3-{user_id}", 1) == "ok"
    own_card = await identity.ReserveLimit(
        pb.ReserveLimitRequest(
            payment_id=f"y4-{user_id}",
            user_id=user_id,
            amount=cny(50_000),
            funding=pb.FUNDING_BALANCE,
            digital_certificate=True,
            own_card_transfer=True,
        )
    )
    yearly_window = next(w for w in own_card.limits if w.kind == "TIER_YEARLY")
    assert yearly_window.remaining.minor_units == 0
