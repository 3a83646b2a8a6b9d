"""Reads and writes identity rows; sealed PII goes in, masked domain objects come out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from identity.adapters.tables import cards, users
from identity.domain.model import Card, MaskedIdentity, Tier, User, UserState


def _user(row: Any) -> User:
    return User(
        user_id=row.user_id,
        state=UserState(row.state),
        masked=MaskedIdentity(row.masked_name, row.masked_id_number, row.masked_phone),
        real_name_verified=row.real_name_verified,
        tier=Tier(row.tier),
        created_at=row.created_at,
    )


def _card(row: Any) -> Card:
    return Card(
        row.card_id,
        row.user_id,
        row.bank_code,
        row.masked_card_number,
        row.agreement_no,
        row.is_default,
        row.active,
    )


@dataclass(frozen=True, slots=True)
class UserRequestRecord:
    user_id: str
    request_hash: str


class IdentityRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def find_by_request(self, request_id: str) -> UserRequestRecord | None:
        row = (
            await self._conn.execute(
                select(users.c.user_id, users.c.request_hash).where(
                    users.c.request_id == request_id
                )
            )
        ).first()
        return UserRequestRecord(row.user_id, row.request_hash) if row else None

    async def user_id_taken(self, user_id: str) -> bool:
        row = (
            await self._conn.execute(select(users.c.user_id).where(users.c.user_id == user_id))
        ).first()
        return row is not None

    async def id_number_taken(self, id_number_bidx: str) -> bool:
        row = (
            await self._conn.execute(
                select(users.c.user_id).where(users.c.id_number_bidx == id_number_bidx)
            )
        ).first()
        return row is not None

    async def insert_user(self, values: dict[str, Any]) -> bool:
        """Inserts unless the id, request id or ID number is taken; True when inserted."""
        statement = (
            insert(users).values(**values).on_conflict_do_nothing().returning(users.c.user_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def get_user(self, user_id: str) -> User | None:
        row = (await self._conn.execute(select(users).where(users.c.user_id == user_id))).first()
        return _user(row) if row else None

    async def mark_verified(self, user_id: str, tier: Tier) -> None:
        await self._conn.execute(
            users.update()
            .where(users.c.user_id == user_id)
            .values(real_name_verified=True, tier=tier.value)
        )

    async def insert_card(self, values: dict[str, Any]) -> bool:
        statement = (
            insert(cards).values(**values).on_conflict_do_nothing().returning(cards.c.card_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def card_id_by_index(self, user_id: str, card_number_bidx: str) -> str | None:
        row = (
            await self._conn.execute(
                select(cards.c.card_id).where(
                    cards.c.user_id == user_id, cards.c.card_number_bidx == card_number_bidx
                )
            )
        ).first()
        return str(row.card_id) if row else None

    async def cards_of(self, user_id: str) -> list[Card]:
        rows = (
            await self._conn.execute(
                select(cards).where(cards.c.user_id == user_id).order_by(cards.c.created_at)
            )
        ).all()
        return [_card(row) for row in rows]
