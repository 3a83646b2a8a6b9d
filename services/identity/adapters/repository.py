"""Reads and writes identity rows; sealed PII goes in, masked domain objects come out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from identity.adapters.tables import (
    cards,
    customers,
    user_events,
    users,
    verification_attempts,
)
from identity.domain.model import (
    Card,
    MaskedIdentity,
    PersonRuleRefused,
    Tier,
    User,
    UserState,
)
from identity.domain.verification import Attempt, Method, Outcome


def _user(row: Any) -> User:
    return User(
        user_id=row.user_id,
        state=UserState(row.state),
        masked=MaskedIdentity(row.masked_name, row.masked_id_number, row.masked_phone),
        real_name_verified=row.real_name_verified,
        tier=Tier(row.tier),
        created_at=row.created_at,
        opened_on=row.opened_on,
        customer_id=row.customer_id,
        tier_cap=Tier(row.tier_cap) if row.tier_cap else None,
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
        row.bank_name,
        row.card_type,
        row.created_at,
    )


def _attempt(row: Any) -> Attempt:
    return Attempt(
        attempt_id=row.attempt_id,
        user_id=row.user_id,
        method=Method(row.method),
        provider=row.provider,
        outcome=Outcome(row.outcome),
        created_at=row.created_at,
        mismatched=tuple(m for m in row.mismatched.split(",") if m),
        masked_card=row.masked_card,
        reference=row.reference,
        card_id=row.card_id,
    )


@dataclass(frozen=True, slots=True)
class RequestRecord:
    subject_id: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class SealedPerson:
    """A natural person's sealed legal name and ID number, for re-verifying a new card."""

    customer_id: str
    id_number_bidx: str
    key_id: str
    name_ct: bytes
    id_number_ct: bytes


class IdentityRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    # -- users --------------------------------------------------------------------------------

    async def find_by_request(self, request_id: str) -> RequestRecord | None:
        row = (
            await self._conn.execute(
                select(users.c.user_id, users.c.request_hash).where(
                    users.c.request_id == request_id
                )
            )
        ).first()
        return RequestRecord(row.user_id, row.request_hash) if row else None

    async def user_id_taken(self, user_id: str) -> bool:
        row = (
            await self._conn.execute(select(users.c.user_id).where(users.c.user_id == user_id))
        ).first()
        return row is not None

    async def phone_taken(self, phone_bidx: str) -> bool:
        row = (
            await self._conn.execute(
                select(users.c.user_id).where(users.c.phone_bidx == phone_bidx)
            )
        ).first()
        return row is not None

    async def insert_user(self, values: dict[str, Any]) -> bool:
        """Inserts unless the id, request id or phone is taken; True when inserted."""
        statement = (
            insert(users).values(**values).on_conflict_do_nothing().returning(users.c.user_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def get_user(self, user_id: str, *, lock: bool = False) -> User | None:
        statement = select(users).where(users.c.user_id == user_id)
        if lock:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).first()
        return _user(row) if row else None

    async def update_user(self, user_id: str, **values: Any) -> None:
        await self._conn.execute(update(users).where(users.c.user_id == user_id).values(**values))

    async def update_user_per_person(self, user_id: str, **values: Any) -> None:
        """Updates a user unless a one-per-person index refuses it (PersonRuleRefused); in a
        savepoint, so the transaction goes on either way."""
        try:
            async with self._conn.begin_nested():
                await self.update_user(user_id, **values)
        except IntegrityError as exc:
            raise PersonRuleRefused from exc

    async def users_of(self, customer_id: str) -> list[User]:
        rows = (
            await self._conn.execute(
                select(users).where(users.c.customer_id == customer_id).order_by(users.c.user_id)
            )
        ).all()
        return [_user(r) for r in rows]

    async def add_event(self, user_id: str, kind: str, detail: str, now: datetime) -> None:
        await self._conn.execute(
            insert(user_events).values(user_id=user_id, kind=kind, detail=detail, created_at=now)
        )

    # -- natural persons ----------------------------------------------------------------------

    async def customer_by_index(
        self, id_number_bidx: str, *, lock: bool = False
    ) -> SealedPerson | None:
        statement = select(customers).where(customers.c.id_number_bidx == id_number_bidx)
        if lock:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).first()
        return (
            SealedPerson(
                row.customer_id, row.id_number_bidx, row.key_id, row.name_ct, row.id_number_ct
            )
            if row
            else None
        )

    async def customer(self, customer_id: str, *, lock: bool = False) -> SealedPerson | None:
        statement = select(customers).where(customers.c.customer_id == customer_id)
        if lock:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).first()
        return (
            SealedPerson(
                row.customer_id, row.id_number_bidx, row.key_id, row.name_ct, row.id_number_ct
            )
            if row
            else None
        )

    async def insert_customer(self, values: dict[str, Any]) -> None:
        await self._conn.execute(insert(customers).values(**values).on_conflict_do_nothing())

    async def face_to_face(self, customer_id: str) -> bool:
        row = (
            await self._conn.execute(
                select(customers.c.face_to_face).where(customers.c.customer_id == customer_id)
            )
        ).first()
        return bool(row and row.face_to_face)

    async def mark_face_to_face(self, customer_id: str) -> None:
        await self._conn.execute(
            update(customers)
            .where(customers.c.customer_id == customer_id)
            .values(face_to_face=True)
        )

    # -- cards --------------------------------------------------------------------------------

    async def insert_card(self, values: dict[str, Any]) -> bool:
        statement = (
            insert(cards).values(**values).on_conflict_do_nothing().returning(cards.c.card_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def card_by_index(self, user_id: str, card_number_bidx: str) -> Card | None:
        row = (
            await self._conn.execute(
                select(cards).where(
                    cards.c.user_id == user_id, cards.c.card_number_bidx == card_number_bidx
                )
            )
        ).first()
        return _card(row) if row else None

    async def reactivate_card(self, card_id: str, agreement_no: str, is_default: bool) -> None:
        await self._conn.execute(
            update(cards)
            .where(cards.c.card_id == card_id)
            .values(active=True, unbound_at=None, agreement_no=agreement_no, is_default=is_default)
        )

    async def cards_of(self, user_id: str) -> list[Card]:
        rows = (
            await self._conn.execute(
                select(cards)
                .where(cards.c.user_id == user_id)
                .order_by(cards.c.created_at, cards.c.card_id)
            )
        ).all()
        return [_card(row) for row in rows]

    async def unbind_card(self, card_id: str, now: datetime) -> None:
        await self._conn.execute(
            update(cards)
            .where(cards.c.card_id == card_id)
            .values(active=False, is_default=False, unbound_at=now)
        )

    async def make_default(self, card_id: str) -> None:
        await self._conn.execute(
            update(cards).where(cards.c.card_id == card_id).values(is_default=True)
        )

    # -- verification attempts ----------------------------------------------------------------

    async def attempt_by_request(self, request_id: str) -> tuple[Attempt, str] | None:
        row = (
            await self._conn.execute(
                select(verification_attempts).where(
                    verification_attempts.c.request_id == request_id
                )
            )
        ).first()
        return (_attempt(row), row.request_hash) if row else None

    async def add_attempt(
        self,
        attempt: Attempt,
        request_id: str,
        request_hash: str,
        id_number_bidx: str,
        card_bidx: str,
    ) -> None:
        await self._conn.execute(
            insert(verification_attempts).values(
                attempt_id=attempt.attempt_id,
                request_id=request_id,
                request_hash=request_hash,
                user_id=attempt.user_id,
                id_number_bidx=id_number_bidx,
                card_bidx=card_bidx,
                method=attempt.method.value,
                provider=attempt.provider,
                outcome=attempt.outcome.value,
                mismatched=",".join(attempt.mismatched),
                masked_card=attempt.masked_card,
                reference=attempt.reference,
                card_id=attempt.card_id,
                created_at=attempt.created_at,
            )
        )

    async def attempts_since(
        self, since: datetime, *, user_id: str = "", id_number_bidx: str = ""
    ) -> int:
        condition = (
            verification_attempts.c.user_id == user_id
            if user_id
            else verification_attempts.c.id_number_bidx == id_number_bidx
        )
        row = (
            await self._conn.execute(
                select(func.count()).where(condition, verification_attempts.c.created_at >= since)
            )
        ).first()
        return int(row[0]) if row else 0

    async def matched_providers(self, id_number_bidx: str) -> frozenset[str]:
        rows = (
            await self._conn.execute(
                select(verification_attempts.c.provider)
                .distinct()
                .where(
                    verification_attempts.c.id_number_bidx == id_number_bidx,
                    verification_attempts.c.outcome == Outcome.MATCH.value,
                    verification_attempts.c.method != Method.FACE_TO_FACE.value,
                )
            )
        ).all()
        return frozenset(r.provider for r in rows)

    async def list_attempts(
        self, user_id: str, before: tuple[datetime, str] | None, limit: int
    ) -> list[Attempt]:
        statement = select(verification_attempts).where(verification_attempts.c.user_id == user_id)
        if before is not None:
            statement = statement.where(
                (verification_attempts.c.created_at, verification_attempts.c.attempt_id) < before  # type: ignore[operator]
            )
        rows = (
            await self._conn.execute(
                statement.order_by(
                    verification_attempts.c.created_at.desc(),
                    verification_attempts.c.attempt_id.desc(),
                ).limit(limit)
            )
        ).all()
        return [_attempt(r) for r in rows]
