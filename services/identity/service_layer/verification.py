"""Real-naming and card binding by four-element verification, rate limited and audited."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from identity.adapters.crypto import Sealed
from identity.adapters.repository import SealedPerson
from identity.domain import pii
from identity.domain.model import Card, PersonRuleRefused, User, UserState
from identity.domain.verification import Attempt, CardCheck, FourElements, Method, Outcome
from identity.service_layer.deps import IdentityDeps
from identity.service_layer.errors import (
    NotRealNamed,
    PersonAlreadyRealNamed,
    RealNameConflict,
    RequestIdReused,
    UserNotActive,
    UserNotFound,
    VerificationRateLimited,
)
from identity.service_layer.registration import keyed_request_hash
from identity.service_layer.tiering import retier
from identity.service_layer.unit_of_work import UnitOfWork
from paysuite.ids import new_id

LOCAL = "local"
FACE_TO_FACE = "face-to-face"


@dataclass(frozen=True, slots=True)
class VerifyRealName:
    request_id: str
    user_id: str
    method: Method
    name: str
    id_number: str
    card_number: str = ""
    phone: str = ""
    bind_card: bool = False

    def __repr__(self) -> str:
        return f"VerifyRealName(request_id={self.request_id!r}, <pii redacted>)"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    attempt: Attempt
    user: User
    card: Card | None = None


def _open(deps: IdentityDeps, person: SealedPerson) -> tuple[str, str]:
    context = f"customer:{person.customer_id}"
    return (
        deps.vault.open(Sealed(person.key_id, person.name_ct), context=f"{context}:name"),
        deps.vault.open(Sealed(person.key_id, person.id_number_ct), context=f"{context}:id_number"),
    )


async def _replay(deps: IdentityDeps, request_id: str, request_hash: str) -> VerifyResult | None:
    async with deps.uow() as work:
        found = await work.repo.attempt_by_request(request_id)
        if found is None:
            return None
        attempt, stored_hash = found
        if stored_hash != request_hash:
            raise RequestIdReused("request_id was used for a different verification")
        user = await work.repo.get_user(attempt.user_id)
        cards = await work.repo.cards_of(attempt.user_id)
    assert user is not None
    card = next((c for c in cards if c.card_id == attempt.card_id), None)
    return VerifyResult(attempt, user, card)


async def _checked_user(work: UnitOfWork, user_id: str, id_bidx: str) -> User:
    user = await work.repo.get_user(user_id)
    if user is None:
        raise UserNotFound("user not found", metadata={"user_id": user_id})
    if user.state is not UserState.ACTIVE:
        raise UserNotActive("the user is frozen or closed")
    if user.customer_id is not None:
        person = await work.repo.customer(user.customer_id)
        if person is not None and person.id_number_bidx != id_bidx:
            raise RealNameConflict("the user is real-named as another person")
    return user


async def _record(
    deps: IdentityDeps,
    attempt: Attempt,
    request_id: str,
    request_hash: str,
    id_bidx: str,
    card_bidx: str,
) -> None:
    async with deps.uow() as work:
        await work.repo.add_attempt(attempt, request_id, request_hash, id_bidx, card_bidx)
        await work.commit()


async def verify_real_name(deps: IdentityDeps, command: VerifyRealName) -> VerifyResult:
    elements = FourElements(command.name, command.id_number, command.card_number, command.phone)
    request_hash = keyed_request_hash(
        deps,
        "verify-request",
        command.user_id,
        command.method.value,
        command.name,
        command.id_number,
        command.card_number,
        command.phone,
        str(command.bind_card),
    )
    return await _verify(
        deps,
        command.request_id,
        command.user_id,
        command.method,
        elements,
        command.bind_card,
        request_hash,
    )


async def bind_card(
    deps: IdentityDeps, request_id: str, user_id: str, card_number: str, phone: str
) -> VerifyResult:
    """Four elements again, with the person's verified name and ID and the new card."""
    async with deps.uow() as work:
        user = await work.repo.get_user(user_id)
        if user is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        if user.customer_id is None:
            raise NotRealNamed("the user must be real-named before binding a card")
        person = await work.repo.customer(user.customer_id)
    assert person is not None
    name, id_number = _open(deps, person)
    request_hash = keyed_request_hash(deps, "bind-request", user_id, card_number, phone)
    return await _verify(
        deps,
        request_id,
        user_id,
        Method.FOUR_ELEMENTS,
        FourElements(name, id_number, card_number, phone),
        True,
        request_hash,
    )


async def _verify(
    deps: IdentityDeps,
    request_id: str,
    user_id: str,
    method: Method,
    elements: FourElements,
    bind: bool,
    request_hash: str,
) -> VerifyResult:
    if (replayed := await _replay(deps, request_id, request_hash)) is not None:
        return replayed
    vault = deps.vault
    id_bidx = vault.blind_index("id_number", elements.id_number)
    card_bidx = (
        vault.blind_index("card_number", elements.card_number) if elements.card_number else ""
    )
    masked_card = pii.mask_card_number(elements.card_number) if elements.card_number else ""
    now = deps.clock()
    async with deps.uow() as work:
        await _checked_user(work, user_id, id_bidx)
        since = now - timedelta(days=1)
        policy = deps.verification
        limited = (
            await work.repo.attempts_since(since, user_id=user_id)
            >= policy.attempts_per_user_per_day
            or await work.repo.attempts_since(since, id_number_bidx=id_bidx)
            >= policy.attempts_per_person_per_day
        )
    base = Attempt(
        new_id("att"), user_id, method, LOCAL, Outcome.RATE_LIMITED, now, masked_card=masked_card
    )
    if limited:
        await _record(deps, base, request_id, request_hash, id_bidx, card_bidx)
        raise VerificationRateLimited("too many verification attempts; try again later")
    if method is Method.FACE_TO_FACE:
        check = CardCheck(Outcome.MATCH, FACE_TO_FACE)
    else:
        check = await deps.verifier.verify(f"idv-{request_id}", elements, sign=bind, method=method)
    attempt = replace(
        base,
        provider=check.provider,
        outcome=check.outcome,
        mismatched=check.mismatched,
        reference=check.reference,
        created_at=deps.clock(),
    )
    if check.outcome is not Outcome.MATCH:
        await _record(deps, attempt, request_id, request_hash, id_bidx, card_bidx)
        user = await _user(deps, user_id)
        return VerifyResult(attempt, user)
    try:
        return await _apply_match(
            deps, attempt, request_id, request_hash, elements, check, bind, id_bidx, card_bidx
        )
    except PersonAlreadyRealNamed:
        await _record(deps, attempt, request_id, request_hash, id_bidx, card_bidx)
        raise


async def _user(deps: IdentityDeps, user_id: str) -> User:
    async with deps.uow() as work:
        user = await work.repo.get_user(user_id)
    assert user is not None
    return user


async def _apply_match(
    deps: IdentityDeps,
    attempt: Attempt,
    request_id: str,
    request_hash: str,
    elements: FourElements,
    check: CardCheck,
    bind: bool,
    id_bidx: str,
    card_bidx: str,
) -> VerifyResult:
    vault = deps.vault
    now = attempt.created_at
    async with deps.uow() as work:
        person = await work.repo.customer_by_index(id_bidx)
        if person is None:
            customer_id = new_id("cus")
            context = f"customer:{customer_id}"
            await work.repo.insert_customer(
                {
                    "customer_id": customer_id,
                    "id_number_bidx": id_bidx,
                    "key_id": vault.active_key_id,
                    "name_ct": vault.seal(elements.name, context=f"{context}:name").blob,
                    "id_number_ct": vault.seal(
                        elements.id_number, context=f"{context}:id_number"
                    ).blob,
                    "masked_name": pii.mask_name(elements.name),
                    "masked_id_number": pii.mask_id_number(elements.id_number),
                    "face_to_face": False,
                    "created_at": now,
                }
            )
            person = await work.repo.customer_by_index(id_bidx, lock=True)
        else:
            person = await work.repo.customer_by_index(id_bidx, lock=True)
        assert person is not None
        user = await work.repo.get_user(attempt.user_id, lock=True)
        assert user is not None
        if user.customer_id is None:
            try:
                await work.repo.update_user_per_person(
                    user.user_id,
                    customer_id=person.customer_id,
                    real_name_verified=True,
                    person_exclusive=deps.verification.one_user_per_person,
                    id_number_bidx=id_bidx,
                    masked_name=pii.mask_name(elements.name),
                    masked_id_number=pii.mask_id_number(elements.id_number),
                )
            except PersonRuleRefused as exc:
                raise PersonAlreadyRealNamed(
                    "this person is already real-named on another user"
                ) from exc
            await work.repo.add_event(user.user_id, "real_named", attempt.method.value, now)
        if attempt.method is Method.FACE_TO_FACE:
            await work.repo.mark_face_to_face(person.customer_id)
        card: Card | None = None
        if bind and elements.card_number:
            card = await _bind(deps, work, user.user_id, elements.card_number, card_bidx, check)
            attempt = replace(attempt, card_id=card.card_id)
        await work.repo.add_attempt(attempt, request_id, request_hash, id_bidx, card_bidx)
        user = await work.repo.get_user(user.user_id)
        assert user is not None
        await retier(deps, work, user, id_bidx)
        user = await work.repo.get_user(user.user_id)
        await work.commit()
    assert user is not None
    return VerifyResult(attempt, user, card)


async def _bind(
    deps: IdentityDeps,
    work: UnitOfWork,
    user_id: str,
    card_number: str,
    card_bidx: str,
    check: CardCheck,
) -> Card:
    cards = await work.repo.cards_of(user_id)
    has_default = any(c.is_default and c.active for c in cards)
    existing = await work.repo.card_by_index(user_id, card_bidx)
    if existing is not None:
        if not existing.active:
            await work.repo.reactivate_card(existing.card_id, check.agreement_no, not has_default)
        card_id = existing.card_id
    else:
        card_id = new_id("card")
        sealed = deps.vault.seal(card_number, context=f"card:{card_id}")
        bank_name, card_type = deps.bins(card_number)
        await work.repo.insert_card(
            {
                "card_id": card_id,
                "user_id": user_id,
                "bank_code": check.bank_code,
                "bank_name": bank_name,
                "card_type": card_type,
                "key_id": sealed.key_id,
                "card_number_ct": sealed.blob,
                "card_number_bidx": card_bidx,
                "masked_card_number": pii.mask_card_number(card_number),
                "agreement_no": check.agreement_no,
                "is_default": not has_default,
                "active": True,
                "created_at": deps.clock(),
            }
        )
        await work.repo.add_event(
            user_id, "card_bound", pii.mask_card_number(card_number), deps.clock()
        )
    bound = next(c for c in await work.repo.cards_of(user_id) if c.card_id == card_id)
    return bound


async def list_attempts(
    deps: IdentityDeps, user_id: str, before: tuple[datetime, str] | None, limit: int
) -> list[Attempt]:
    async with deps.uow() as work:
        if await work.repo.get_user(user_id) is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        return await work.repo.list_attempts(user_id, before, limit)
