"""Limit reservations: reserve atomically per person, then commit or release, by payment id."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from identity.domain.limits import Scope, Window, applies, windows
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
from identity.service_layer.unit_of_work import UnitOfWork
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


@dataclass(frozen=True, slots=True)
class WindowUse:
    window: Window
    used: int

    @property
    def remaining(self) -> int:
        return max(self.window.limit - self.used, 0)


async def _locked_user(work: UnitOfWork, user_id: str) -> User:
    """Locks the person (or the lone account): reservations of one person run one at a time."""
    user = await work.repo.get_user(user_id, lock=True)
    if user is None:
        raise UserNotFound("user not found", metadata={"user_id": user_id})
    if user.customer_id is not None:
        await work.repo.customer(user.customer_id, lock=True)
    return user


async def _uses(work: UnitOfWork, user: User, found: list[Window]) -> list[WindowUse]:
    uses = []
    for window in found:
        person = user.customer_id if window.scope is Scope.PERSON else None
        used = await work.repo.used(
            user_id=user.user_id,
            customer_id=person,
            start=window.start,
            end=window.end,
            tier_only=window.balance_only,
        )
        uses.append(WindowUse(window, used))
    return uses


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


async def _reserve_locked(
    work: UnitOfWork, user: User, command: Reserve, found: list[Window], now: datetime
) -> None:
    """Reserves the amount for the payment on the locked user; nothing when it was before."""
    existing = await work.repo.usage(command.payment_id)
    if existing is not None:
        if (existing.user_id, existing.amount, existing.currency) != (
            command.user_id,
            command.amount.minor_units,
            command.amount.currency,
        ):
            raise ReservationConflict("payment_id was reserved with other content")
        return
    if user.state is not UserState.ACTIVE:
        raise UserNotActive("the user is frozen or closed")
    relevant = [w for w in found if applies(w, command.balance_funded, command.own_card_transfer)]
    for use in await _uses(work, user, relevant):
        if use.used + command.amount.minor_units > use.window.limit:
            raise LimitExceeded(
                "the payment exceeds a limit",
                metadata={
                    "window": use.window.kind.value,
                    "remaining_minor_units": str(use.remaining),
                },
            )
    await work.repo.add_usage(
        {
            "payment_id": command.payment_id,
            "user_id": user.user_id,
            "customer_id": user.customer_id,
            "amount": command.amount.minor_units,
            "currency": command.amount.currency,
            "balance_funded": command.balance_funded,
            "counts_for_tier": command.balance_funded and not command.own_card_transfer,
            "day": now.astimezone(ZONE).date(),
            "state": "reserved",
            "created_at": now,
            "updated_at": now,
        }
    )


async def reserve(deps: IdentityDeps, command: Reserve) -> list[WindowUse]:
    now = deps.clock()
    today = now.astimezone(ZONE).date()
    async with deps.uow() as work:
        user = await _locked_user(work, command.user_id)
        found = _windows(deps, user, today, command.auth_factors, command.digital_certificate)
        await _reserve_locked(work, user, command, found, now)
        uses = await _uses(work, user, found)
        await work.commit()
    return uses


async def authorize(deps: IdentityDeps, command: Authorize) -> Authorization:
    """Checks the payer (and the card, for a card payment) and reserves the amount, in one
    transaction; a refusal is an answer, and reserves nothing."""
    now = deps.clock()
    today = now.astimezone(ZONE).date()
    reservation = command.reservation
    async with deps.uow() as work:
        user = await _locked_user(work, reservation.user_id)
        card = None
        if command.card_required:
            eligibility = payment_eligibility(
                user, await work.repo.cards_of(user.user_id), command.card_id
            )
            if not eligibility.eligible:
                return Authorization(False, eligibility.reason)
            card = eligibility.card
        found = _windows(
            deps, user, today, reservation.auth_factors, reservation.digital_certificate
        )
        try:
            await _reserve_locked(work, user, reservation, found, now)
        except UserNotActive:
            return Authorization(False, Ineligibility.USER_NOT_ACTIVE)
        except LimitExceeded as exc:
            return Authorization(
                False, Ineligibility.LIMIT_EXCEEDED, exceeded=exc.metadata.get("window", "")
            )
        await work.commit()
    return Authorization(True, card=card)


class Settled(enum.Enum):
    SETTLED = "settled"
    NOT_FOUND = "not_found"
    SETTLED_OTHERWISE = "settled_otherwise"


async def settle_many(deps: IdentityDeps, settlements: list[Settlement]) -> dict[str, Settled]:
    """Commits or releases each payment's reservation, all in one transaction."""
    outcomes: dict[str, Settled] = {}
    async with deps.uow() as work:
        for settlement in settlements:
            wanted = "committed" if settlement.commit else "released"
            usage = await work.repo.usage(settlement.payment_id, lock=True)
            if usage is None:
                outcomes[settlement.payment_id] = Settled.NOT_FOUND
            elif usage.state == "reserved":
                await work.repo.set_usage_state(settlement.payment_id, wanted, deps.clock())
                outcomes[settlement.payment_id] = Settled.SETTLED
            else:
                same = usage.state == wanted
                outcomes[settlement.payment_id] = (
                    Settled.SETTLED if same else Settled.SETTLED_OTHERWISE
                )
        await work.commit()
    return outcomes


async def _settle(deps: IdentityDeps, payment_id: str, state: str) -> None:
    async with deps.uow() as work:
        usage = await work.repo.usage(payment_id, lock=True)
        if usage is None:
            raise ReservationNotFound(
                "no reservation for this payment", metadata={"payment_id": payment_id}
            )
        if usage.state == state:
            return
        if usage.state != "reserved":
            raise ReservationFinal(
                "the reservation is already settled", metadata={"state": usage.state}
            )
        await work.repo.set_usage_state(payment_id, state, deps.clock())
        await work.commit()


async def commit(deps: IdentityDeps, payment_id: str) -> None:
    await _settle(deps, payment_id, "committed")


async def release(deps: IdentityDeps, payment_id: str) -> None:
    await _settle(deps, payment_id, "released")


async def limits(deps: IdentityDeps, user_id: str, auth_factors: int) -> list[WindowUse]:
    today = deps.clock().astimezone(ZONE).date()
    async with deps.uow() as work:
        user = await work.repo.get_user(user_id)
        if user is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        return await _uses(work, user, _windows(deps, user, today, auth_factors, False))
