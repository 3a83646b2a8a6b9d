"""Registering a user by mobile phone, and reading one."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from identity.domain import pii
from identity.domain.model import Tier, User, UserState
from identity.service_layer.deps import IdentityDeps
from identity.service_layer.errors import (
    PhoneRegistered,
    RequestIdReused,
    UserExists,
    UserNotFound,
)
from identity.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.ids import new_id

ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class RegisterUser:
    request_id: str
    user_id: str
    phone: str
    name: str = ""
    id_number: str = ""

    def __repr__(self) -> str:
        return f"RegisterUser(request_id={self.request_id!r}, <pii redacted>)"


def keyed_request_hash(deps: IdentityDeps, kind: str, *parts: str) -> str:
    # Keyed, because requests hold PII that a plain hash would let anyone confirm.
    body = "\x00".join(parts)
    return deps.vault.blind_index(kind, hashlib.sha256(body.encode()).hexdigest())


async def register_user(deps: IdentityDeps, command: RegisterUser) -> User:
    """Registers once per request id and once per phone; name and ID are only claimed."""
    request_hash = keyed_request_hash(
        deps, "register-request", command.user_id, command.phone, command.name, command.id_number
    )
    vault = deps.vault
    async with deps.uow() as work:
        previous = await work.repo.find_by_request(command.request_id)
        if previous is None:
            user_id = command.user_id or new_id("usr")
            if await work.repo.user_id_taken(user_id):
                raise UserExists("user id already registered", metadata={"user_id": user_id})
            phone_bidx = vault.blind_index("phone", command.phone)
            if await work.repo.phone_taken(phone_bidx):
                raise PhoneRegistered("this phone is already registered to a user")
            now = deps.clock()

            def sealed(field: str, value: str) -> bytes | None:
                return vault.seal(value, context=f"user:{user_id}:{field}").blob if value else None

            inserted = await work.repo.insert_user(
                {
                    "user_id": user_id,
                    "request_id": command.request_id,
                    "request_hash": request_hash,
                    "state": UserState.ACTIVE.value,
                    "key_id": vault.active_key_id,
                    "name_ct": sealed("name", command.name),
                    "id_number_ct": sealed("id_number", command.id_number),
                    "phone_ct": sealed("phone", command.phone),
                    "id_number_bidx": (
                        vault.blind_index("id_number", command.id_number)
                        if command.id_number
                        else None
                    ),
                    "phone_bidx": phone_bidx,
                    "masked_name": pii.mask_name(command.name) if command.name else "",
                    "masked_id_number": (
                        pii.mask_id_number(command.id_number) if command.id_number else ""
                    ),
                    "masked_phone": pii.mask_phone(command.phone),
                    "real_name_verified": False,
                    "tier": Tier.NONE.value,
                    "created_at": now,
                    "opened_on": now.astimezone(ZONE).date(),
                    "person_exclusive": False,
                }
            )
            if inserted:
                await work.repo.add_event(user_id, "registered", "", now)
                user = await work.repo.get_user(user_id)
                await work.commit()
                assert user is not None
                return user
            await work.rollback()
            previous = await work.repo.find_by_request(command.request_id)
            if previous is None:
                raise UserExists("user id or phone registered concurrently")
        if previous.request_hash != request_hash:
            raise RequestIdReused("request_id was used for a different registration")
        existing = await work.repo.get_user(previous.subject_id)
        assert existing is not None
        return existing


async def get_user(uow: UnitOfWorkFactory, user_id: str) -> User:
    async with uow() as work:
        user = await work.repo.get_user(user_id)
    if user is None:
        raise UserNotFound("user not found", metadata={"user_id": user_id})
    return user
