"""Identity use cases: register a user, read one, bind a verified card, check eligibility."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from identity.adapters.crypto import PiiVault
from identity.domain import pii
from identity.domain.errors import IdNumberRegistered, RequestIdReused, UserExists, UserNotFound
from identity.domain.model import Eligibility, Tier, User, UserState, payment_eligibility
from identity.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.ids import new_id

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RegisterUser:
    request_id: str
    user_id: str
    name: str
    id_number: str
    phone: str


@dataclass(frozen=True, slots=True)
class BindVerifiedCard:
    """A card whose four elements the bank channel has verified, with its agreement number."""

    user_id: str
    card_number: str
    bank_code: str
    agreement_no: str


def _request_hash(vault: PiiVault, command: RegisterUser) -> str:
    # Keyed, because the request holds PII that a plain hash would let anyone confirm.
    body = "\x00".join([command.user_id, command.name, command.id_number, command.phone])
    return vault.blind_index("register-request", hashlib.sha256(body.encode()).hexdigest())


async def register_user(
    uow: UnitOfWorkFactory, vault: PiiVault, command: RegisterUser, clock: Clock
) -> User:
    """Registers once per request id and once per natural person (ID number)."""
    request_hash = _request_hash(vault, command)
    async with uow() as work:
        previous = await work.repo.find_by_request(command.request_id)
        if previous is None:
            user_id = command.user_id or new_id("usr")
            if await work.repo.user_id_taken(user_id):
                raise UserExists("user id already registered", metadata={"user_id": user_id})
            id_bidx = vault.blind_index("id_number", command.id_number)
            if await work.repo.id_number_taken(id_bidx):
                raise IdNumberRegistered("this ID number is already registered to a user")
            sealed = {
                field: vault.seal(value, context=f"user:{user_id}:{field}")
                for field, value in (
                    ("name", command.name),
                    ("id_number", command.id_number),
                    ("phone", command.phone),
                )
            }
            inserted = await work.repo.insert_user(
                {
                    "user_id": user_id,
                    "request_id": command.request_id,
                    "request_hash": request_hash,
                    "state": UserState.ACTIVE.value,
                    "key_id": sealed["name"].key_id,
                    "name_ct": sealed["name"].blob,
                    "id_number_ct": sealed["id_number"].blob,
                    "phone_ct": sealed["phone"].blob,
                    "id_number_bidx": id_bidx,
                    "phone_bidx": vault.blind_index("phone", command.phone),
                    "masked_name": pii.mask_name(command.name),
                    "masked_id_number": pii.mask_id_number(command.id_number),
                    "masked_phone": pii.mask_phone(command.phone),
                    "real_name_verified": False,
                    "tier": Tier.NONE.value,
                    "created_at": clock(),
                }
            )
            if inserted:
                user = await work.repo.get_user(user_id)
                await work.commit()
                assert user is not None
                return user
            await work.rollback()
            previous = await work.repo.find_by_request(command.request_id)
            if previous is None:
                raise UserExists("user id or ID number registered concurrently")
        if previous.request_hash != request_hash:
            raise RequestIdReused("request_id was used for a different registration")
        existing = await work.repo.get_user(previous.user_id)
        assert existing is not None
        return existing


async def get_user(uow: UnitOfWorkFactory, user_id: str) -> User:
    async with uow() as work:
        user = await work.repo.get_user(user_id)
    if user is None:
        raise UserNotFound("user not found", metadata={"user_id": user_id})
    return user


async def bind_verified_card(
    uow: UnitOfWorkFactory, vault: PiiVault, command: BindVerifiedCard, clock: Clock
) -> str:
    """Binds the card (the first becomes the default) and real-names the user as Class I."""
    card_bidx = vault.blind_index("card_number", command.card_number)
    async with uow() as work:
        user = await work.repo.get_user(command.user_id)
        if user is None:
            raise UserNotFound("user not found", metadata={"user_id": command.user_id})
        cards = await work.repo.cards_of(command.user_id)
        card_id = new_id("card")
        sealed = vault.seal(command.card_number, context=f"card:{card_id}")
        inserted = await work.repo.insert_card(
            {
                "card_id": card_id,
                "user_id": command.user_id,
                "bank_code": command.bank_code,
                "key_id": sealed.key_id,
                "card_number_ct": sealed.blob,
                "card_number_bidx": card_bidx,
                "masked_card_number": pii.mask_card_number(command.card_number),
                "agreement_no": command.agreement_no,
                "is_default": not any(c.is_default and c.active for c in cards),
                "active": True,
                "created_at": clock(),
            }
        )
        if not inserted:
            existing = await work.repo.card_id_by_index(command.user_id, card_bidx)
            assert existing is not None
            card_id = existing
        if not user.real_name_verified:
            await work.repo.mark_verified(command.user_id, Tier.CLASS_I)
        await work.commit()
    return card_id


async def check_eligibility(uow: UnitOfWorkFactory, user_id: str, card_id: str) -> Eligibility:
    async with uow() as work:
        user = await work.repo.get_user(user_id)
        if user is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        cards = await work.repo.cards_of(user_id)
    return payment_eligibility(user, cards, card_id)
