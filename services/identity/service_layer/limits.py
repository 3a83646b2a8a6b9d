"""Limit reservations: reserve atomically per person, then commit or release, by payment id."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from identity.domain.limits import (
    DayUse,
    Reservation,
    Window,
    applies,
    owner_of,
    use_reads,
    used_in,
    windows,
)
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
from paysuite.errors import DomainError
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
    # A committed use given back: what it paid came back (a returned withdrawal).
    returned: bool = False

    @property
    def wanted(self) -> str:
        if self.returned:
            return "returned"
        return "committed" if self.commit else "released"


# The states each settlement moves a reservation from: a return gives back a committed use
# (or one still reserved, should the return be heard of first).
SETTLES_FROM = {
    "committed": ("reserved",),
    "released": ("reserved",),
    "returned": ("reserved", "committed"),
}


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


def _reservation_windows(
    deps: IdentityDeps, user: User, command: Reserve, today: date
) -> list[Window]:
    return _windows(deps, user, today, command.auth_factors, command.digital_certificate)


def _owner(window: Window, user: User) -> str:
    return owner_of(window, user.user_id, user.customer_id)


@dataclass(frozen=True, slots=True)
class _Outcome:
    authorization: Authorization
    uses: list[WindowUse]
    error: DomainError | None = None


class _Batch:
    """Authorizations decided one after the other on the use read for the batch, each seeing
    what the ones before it reserved."""

    def __init__(self, deps: IdentityDeps, now: datetime, days: list[DayUse]) -> None:
        self._deps = deps
        self._now = now
        self._today = now.astimezone(ZONE).date()
        self._days = days
        self.reservations: list[Reservation] = []

    def uses(self, user: User, found: Sequence[Window]) -> list[WindowUse]:
        return [WindowUse(w, used_in(w, _owner(w, user), self._days)) for w in found]

    def decide(
        self,
        command: Authorize,
        payer: tuple[User, list[Card]] | None,
        before: tuple[str, int, str] | None,
    ) -> _Outcome:
        reservation = command.reservation
        amount = reservation.amount
        error: DomainError
        if payer is None:
            error = UserNotFound("user not found", metadata={"user_id": reservation.user_id})
            return _Outcome(Authorization(False, Ineligibility.USER_NOT_FOUND), [], error)
        user, cards = payer
        card = None
        if command.card_required:
            eligibility = payment_eligibility(user, cards, command.card_id)
            if not eligibility.eligible:
                return _Outcome(Authorization(False, eligibility.reason), [])
            card = eligibility.card
        found = _reservation_windows(self._deps, user, reservation, self._today)
        if before is not None:
            if before != (reservation.user_id, amount.minor_units, amount.currency):
                error = ReservationConflict("payment_id was reserved with other content")
                return _Outcome(Authorization(False, Ineligibility.PAYMENT_ID_REUSED), [], error)
            return _Outcome(Authorization(True, card=card), self.uses(user, found))
        if user.state is not UserState.ACTIVE:
            error = UserNotActive("the user is frozen or closed")
            return _Outcome(Authorization(False, Ineligibility.USER_NOT_ACTIVE), [], error)
        uses = self.uses(user, found)
        for use in uses:
            counted = applies(use.window, reservation.balance_funded, reservation.own_card_transfer)
            if counted and use.used + amount.minor_units > use.window.limit:
                kind = use.window.kind.value
                error = LimitExceeded(
                    "the payment exceeds a limit",
                    metadata={"window": kind, "remaining_minor_units": str(use.remaining)},
                )
                refused = Authorization(False, Ineligibility.LIMIT_EXCEEDED, exceeded=kind)
                return _Outcome(refused, uses, error)
        held = Reservation(
            reservation.payment_id,
            user.user_id,
            user.customer_id,
            amount.minor_units,
            amount.currency,
            reservation.balance_funded,
            reservation.balance_funded and not reservation.own_card_transfer,
            self._today,
        )
        self.reservations.append(held)
        self._days.extend(held.uses())
        return _Outcome(Authorization(True, card=card), self.uses(user, found))


async def _authorize(deps: IdentityDeps, commands: Sequence[Authorize]) -> list[_Outcome]:
    """Decides every command in one transaction: the payers' persons locked and, once locked,
    the payers and their use read in the same round trip, the accepted reservations written
    together."""
    now = deps.clock()
    async with deps.limit_units() as work:
        store = work.repo
        today = now.astimezone(ZONE).date()
        payers, before, days = await store.lock_and_read(
            list({c.reservation.user_id for c in commands}),
            [c.reservation.payment_id for c in commands],
            use_reads(deps.limits, today),
        )
        batch = _Batch(deps, now, days)
        outcomes = [
            batch.decide(c, payers.get(c.reservation.user_id), before.get(c.reservation.payment_id))
            for c in commands
        ]
        if batch.reservations:
            await store.reserve(batch.reservations, now)
        await work.commit()
    return outcomes


async def authorize_many(deps: IdentityDeps, commands: Sequence[Authorize]) -> list[Authorization]:
    """Each payment authorized as authorize() would, in order, in one transaction."""
    return [outcome.authorization for outcome in await _authorize(deps, commands)]


async def authorize(deps: IdentityDeps, command: Authorize) -> Authorization:
    """Checks the payer (and the card, for a card payment) and reserves the amount; a refusal
    is an answer and reserves nothing (an unknown user or a reused payment id is an error)."""
    [outcome] = await _authorize(deps, [command])
    if isinstance(outcome.error, UserNotFound | ReservationConflict):
        raise outcome.error
    return outcome.authorization


async def reserve(deps: IdentityDeps, command: Reserve) -> list[WindowUse]:
    """Reserves the amount against the payer's limits; what each window has used after it."""
    [outcome] = await _authorize(deps, [Authorize(command)])
    if outcome.error is not None:
        raise outcome.error
    return outcome.uses


async def settle_many(deps: IdentityDeps, settlements: list[Settlement]) -> dict[str, Settled]:
    """Commits, releases or returns each payment's reservation, in one statement; a released or
    returned one gives its use back."""
    async with deps.limit_sessions() as store:
        found = await store.settle([(s.payment_id, s.wanted) for s in settlements], deps.clock())
    outcomes = {}
    for payment_id, before, wanted in found:
        if before is None:
            outcomes[payment_id] = Settled.NOT_FOUND
        elif before in (*SETTLES_FROM[wanted], wanted):
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
        payers, _, days = await work.repo.lock_and_read(
            [user_id], [], use_reads(deps.limits, today)
        )
        payer = payers.get(user_id)
        if payer is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        user = payer[0]
        found = _windows(deps, user, today, auth_factors, False)
    return [WindowUse(w, used_in(w, _owner(w, user), days)) for w in found]
