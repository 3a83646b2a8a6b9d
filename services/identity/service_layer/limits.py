"""Limit reservations: reserve atomically per person, then commit or release, by payment id."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from identity.adapters.limit_store import LimitStore, LockedPayer
from identity.domain.limits import Window, applies, earliest_day, owner_of, used_in, windows
from identity.domain.model import Card, Ineligibility, User, UserState, payment_eligibility
from identity.service_layer.deps import IdentityDeps
from identity.service_layer.errors import (
    LimitExceeded,
    ReservationConflict,
    ReservationFinal,
    ReservationNotFound,
    UserNotActive,
    UserNotFound,
)
from paysuite.money import Money

ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class Reserve:
    payment_id: str
    user_id: str
    amount: Money
    balance_funded: bool
    auth_factors: int = 1
    digital_certificate: bool = False
    own_card_transfer: bool = False


@dataclass(frozen=True, slots=True)
class Authorize:
    """A payment to authorize: the reservation, and for a card payment, the card."""

    reservation: Reserve
    card_required: bool = False
    card_id: str = ""


@dataclass(frozen=True, slots=True)
class Authorization:
    authorized: bool
    refusal: Ineligibility | None = None
    card: Card | None = None
    exceeded: str = ""


@dataclass(frozen=True, slots=True)
class Settlement:
    payment_id: str
    commit: bool


class Settled(enum.Enum):
    SETTLED = "settled"
    NOT_FOUND = "not_found"
    SETTLED_OTHERWISE = "settled_otherwise"


@dataclass(frozen=True, slots=True)
class WindowUse:
    window: Window
    used: int

    @property
    def remaining(self) -> int:
        return max(self.window.limit - self.used, 0)


def _windows(
    deps: IdentityDeps, user: User, today: date, factors: int, certificate: bool
) -> list[Window]:
    opened = user.opened_on or today
    return windows(
        deps.limits,
        user.tier,
        opened,
        today,
        factors,
        certificate,
        real_named=user.customer_id is not None,
    )


async def _uses(store: LimitStore, user: User, found: Sequence[Window]) -> list[WindowUse]:
    """What is used of each window: one read of the owners' use per day."""

    def owner(window: Window) -> str:
        return owner_of(window, user.user_id, user.customer_id)

    days = await store.totals(sorted({owner(w) for w in found}), earliest_day(found))
    return [WindowUse(w, used_in(w, owner(w), days)) for w in found]


async def _locked(store: LimitStore, user_id: str, payment_id: str) -> LockedPayer:
    payer = await store.lock_payer(user_id, payment_id)
    if payer is None:
        raise UserNotFound("user not found", metadata={"user_id": user_id})
    return payer


async def _reserve_locked(
    store: LimitStore, payer: LockedPayer, command: Reserve, found: list[Window], now: datetime
) -> list[WindowUse]:
    """Reserves the amount for the payment on the locked payer (nothing when it was before);
    what is used of each window afterwards."""
    user, amount = payer.user, command.amount
    if payer.reserved_before is not None:
        if payer.reserved_before != (command.user_id, amount.minor_units, amount.currency):
            raise ReservationConflict("payment_id was reserved with other content")
        return await _uses(store, user, found)
    if user.state is not UserState.ACTIVE:
        raise UserNotActive("the user is frozen or closed")
    uses = await _uses(store, user, found)
    counts = [applies(u.window, command.balance_funded, command.own_card_transfer) for u in uses]
    for use, counted in zip(uses, counts, strict=True):
        if counted and use.used + amount.minor_units > use.window.limit:
            raise LimitExceeded(
                "the payment exceeds a limit",
                metadata={
                    "window": use.window.kind.value,
                    "remaining_minor_units": str(use.remaining),
                },
            )
    await store.reserve(
        command.payment_id,
        user,
        amount.minor_units,
        amount.currency,
        command.balance_funded,
        counts_for_tier=command.balance_funded and not command.own_card_transfer,
        day=now.astimezone(ZONE).date(),
        now=now,
    )
    return [
        WindowUse(u.window, u.used + amount.minor_units if counted else u.used)
        for u, counted in zip(uses, counts, strict=True)
    ]


async def reserve(deps: IdentityDeps, command: Reserve) -> list[WindowUse]:
    now = deps.clock()
    async with deps.limit_units() as work:
        payer = await _locked(work.repo, command.user_id, command.payment_id)
        found = _windows(
            deps,
            payer.user,
            now.astimezone(ZONE).date(),
            command.auth_factors,
            command.digital_certificate,
        )
        uses = await _reserve_locked(work.repo, payer, command, found, now)
        await work.commit()
    return uses


async def authorize(deps: IdentityDeps, command: Authorize) -> Authorization:
    """Checks the payer (and the card, for a card payment) and reserves the amount, in one
    transaction; a refusal is an answer, and reserves nothing."""
    now = deps.clock()
    reservation = command.reservation
    async with deps.limit_units() as work:
        payer = await _locked(work.repo, reservation.user_id, reservation.payment_id)
        user, card = payer.user, None
        if command.card_required:
            cards = await work.repo.active_cards(user.user_id)
            eligibility = payment_eligibility(user, cards, command.card_id)
            if not eligibility.eligible:
                return Authorization(False, eligibility.reason)
            card = eligibility.card
        found = _windows(
            deps,
            user,
            now.astimezone(ZONE).date(),
            reservation.auth_factors,
            reservation.digital_certificate,
        )
        try:
            await _reserve_locked(work.repo, payer, reservation, found, now)
        except UserNotActive:
            return Authorization(False, Ineligibility.USER_NOT_ACTIVE)
        except LimitExceeded as exc:
            window = exc.metadata.get("window", "")
            return Authorization(False, Ineligibility.LIMIT_EXCEEDED, exceeded=window)
        await work.commit()
    return Authorization(True, card=card)


async def settle_many(deps: IdentityDeps, settlements: list[Settlement]) -> dict[str, Settled]:
    """Commits or releases each payment's reservation, in one statement; a released one gives
    its use back."""
    async with deps.limit_units() as work:
        found = await work.repo.settle(
            [(s.payment_id, s.commit) for s in settlements], deps.clock()
        )
        await work.commit()
    outcomes = {}
    for payment_id, before, commit in found:
        wanted = "committed" if commit else "released"
        if before is None:
            outcomes[payment_id] = Settled.NOT_FOUND
        elif before in ("reserved", wanted):
            outcomes[payment_id] = Settled.SETTLED
        else:
            outcomes[payment_id] = Settled.SETTLED_OTHERWISE
    return outcomes


async def _settle(deps: IdentityDeps, payment_id: str, commit: bool) -> None:
    match (await settle_many(deps, [Settlement(payment_id, commit)]))[payment_id]:
        case Settled.NOT_FOUND:
            raise ReservationNotFound(
                "no reservation for this payment", metadata={"payment_id": payment_id}
            )
        case Settled.SETTLED_OTHERWISE:
            state = "released" if commit else "committed"
            raise ReservationFinal("the reservation is already settled", metadata={"state": state})


async def commit(deps: IdentityDeps, payment_id: str) -> None:
    await _settle(deps, payment_id, commit=True)


async def release(deps: IdentityDeps, payment_id: str) -> None:
    await _settle(deps, payment_id, commit=False)


async def limits(deps: IdentityDeps, user_id: str, auth_factors: int) -> list[WindowUse]:
    today = deps.clock().astimezone(ZONE).date()
    async with deps.limit_units() as work:
        user = await work.repo.user(user_id)
        if user is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        return await _uses(work.repo, user, _windows(deps, user, today, auth_factors, False))
