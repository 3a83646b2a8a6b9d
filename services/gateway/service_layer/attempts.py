"""Putting a payment on a channel: the first candidate with daily volume left, recorded as an
attempt with the channel decision; and moving it to the next when the channel was unreachable."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from gateway.domain.attempts import ChannelAttempt
from gateway.domain.channel_selection import ChannelDecision
from gateway.domain.model import Payment
from gateway.domain.ports import ChannelAnswer
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.unit_of_work import UnitOfWork
from paysuite.money import Money

_log = logging.getLogger(__name__)

ACCOUNTING_ZONE = ZoneInfo("Asia/Shanghai")
DAILY_LIMIT = "CHANNEL_DAILY_LIMIT"


def accounting_date(moment: datetime) -> date:
    return moment.astimezone(ACCOUNTING_ZONE).date()


@dataclass(frozen=True, slots=True)
class Claim:
    """The channel taken (None: every candidate's day is full), whether volume was reserved on
    it, the candidates left behind it, and what was skipped on the way."""

    channel: str | None
    reserved: bool
    rest: tuple[str, ...]
    skipped: tuple[str, ...]

    def reason(self, decision: ChannelDecision) -> str:
        if not self.skipped:
            return decision.reason
        return "; ".join([decision.reason, *self.skipped, f"took {self.channel}"])


@dataclass(frozen=True, slots=True)
class Rerouted:
    payment: Payment
    attempt_no: int
    reason: str
    rest: tuple[str, ...]


async def claim_channel(
    deps: PaymentDeps, work: UnitOfWork, candidates: Sequence[str], day: date, amount: Money
) -> Claim:
    """The first candidate that can take the amount today; a limited channel's volume is
    reserved under its row lock, so concurrent payments never pass the limit together."""
    skipped: list[str] = []
    for index, name in enumerate(candidates):
        limit = deps.terms[name].daily_limit
        reserved = limit > 0
        if reserved and not await work.repo.payments.reserve_volume(name, day, amount, limit):
            skipped.append(f"skipped {name}: {DAILY_LIMIT}")
            continue
        return Claim(name, reserved, tuple(candidates[index + 1 :]), tuple(skipped))
    return Claim(None, False, (), tuple(skipped))


async def reroute(
    deps: PaymentDeps,
    payment: Payment,
    answer: ChannelAnswer,
    candidates: Sequence[str],
    decision: ChannelDecision,
) -> Rerouted | None:
    """Closes the attempt the channel never received or declined without charging, gives back
    its volume and opens one on the next candidate that can take it; None when none can."""
    now = deps.clock()
    async with deps.uow() as work:
        current = await work.repo.payments.get(payment.payment_id, for_update=True)
        assert current is not None
        attempt_no = len(await work.repo.payments.attempts(payment.payment_id)) + 1
        await work.repo.payments.attempt_answered(
            payment.payment_id, answer.outcome.value, answer.error_code, now
        )
        await work.repo.payments.release_volume(payment.payment_id)
        claim = await claim_channel(
            deps, work, candidates, accounting_date(current.created_at), current.charged
        )
        if claim.channel is None:
            await work.commit()
            return None
        updated = current.rerouted(claim.channel, now)
        await work.repo.payments.save(updated)
        reason = f"failover: {current.channel} {answer.error_code}; {claim.reason(decision)}"
        await work.repo.payments.add_attempt(
            ChannelAttempt(
                updated.payment_id,
                attempt_no,
                claim.channel,
                decision.rule,
                reason,
                now,
                now,
                volume_reserved=claim.reserved,
            )
        )
        await work.commit()
    _log.warning(
        "payment sent to the next channel",
        extra={
            "payment_id": payment.payment_id,
            "from": current.channel,
            "to": claim.channel,
            "error_code": answer.error_code,
        },
    )
    return Rerouted(updated.at_version(current.version + 1), attempt_no, reason, claim.rest)
