"""Bound cards: list, unbind, and whether a user may pay with one."""

from __future__ import annotations

from identity.domain.model import Card, Eligibility, payment_eligibility
from identity.service_layer.deps import IdentityDeps
from identity.service_layer.errors import CardNotFound, UserNotFound
from identity.service_layer.unit_of_work import UnitOfWorkFactory


async def list_cards(uow: UnitOfWorkFactory, user_id: str) -> list[Card]:
    async with uow() as work:
        if await work.repo.get_user(user_id) is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        return [c for c in await work.repo.cards_of(user_id) if c.active]


async def unbind_card(deps: IdentityDeps, user_id: str, card_id: str) -> None:
    """Unbinds; when it was the default, the oldest remaining card becomes the default."""
    async with deps.uow() as work:
        user = await work.repo.get_user(user_id, lock=True)
        if user is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        cards = [c for c in await work.repo.cards_of(user_id) if c.active]
        card = next((c for c in cards if c.card_id == card_id), None)
        if card is None:
            raise CardNotFound("card not found", metadata={"card_id": card_id})
        await work.repo.unbind_card(card_id, deps.clock())
        remaining = [c for c in cards if c.card_id != card_id]
        if card.is_default and remaining:
            await work.repo.make_default(remaining[0].card_id)
        await work.repo.add_event(user_id, "card_unbound", card.masked_card_number, deps.clock())
        await work.commit()


async def check_eligibility(uow: UnitOfWorkFactory, user_id: str, card_id: str) -> Eligibility:
    async with uow() as work:
        user = await work.repo.get_user(user_id)
        if user is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        cards = await work.repo.cards_of(user_id)
    return payment_eligibility(user, cards, card_id)
