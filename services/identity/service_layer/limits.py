"""Limit reservations: reserve atomically per person, then commit or release, by payment id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from identity.domain.limits import Scope, Window, applies, windows
from identity.domain.model import User, UserState
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


async def reserve(deps: IdentityDeps, command: Reserve) -> list[WindowUse]:
    now = deps.clock()
    today = now.astimezone(ZONE).date()
    async with deps.uow() as work:
        user = await _locked_user(work, command.user_id)
        found = _windows(deps, user, today, command.auth_factors, command.digital_certificate)
        existing = await work.repo.usage(command.payment_id)
        if existing is not None:
            if (existing.user_id, existing.amount, existing.currency) != (
                command.user_id,
                command.amount.minor_units,
                command.amount.currency,
            ):
                raise ReservationConflict("payment_id was reserved with other content")
            return await _uses(work, user, found)
        if user.state is not UserState.ACTIVE:
            raise UserNotActive("the user is frozen or closed")
        relevant = [
            w for w in found if applies(w, command.balance_funded, command.own_card_transfer)
        ]
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
                "day": today,
                "state": "reserved",
                "created_at": now,
                "updated_at": now,
            }
        )
        uses = await _uses(work, user, found)
        await work.commit()
    return uses


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
