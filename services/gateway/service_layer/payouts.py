"""Paying out (代付): record the payout, hold the account it is paid from, ask the bank, apply its
answer; a merchant's settlement here, a user's withdrawal in withdrawals.py by the same path.

The hold is made before the bank is asked, so nothing is paid that is not there; the bank's
answer is applied as payments' are (decided on the payout as read, written only if it is still
at that version), with the hold's post or void and the limit settlement in the outbox. The
payout id is the bank's idempotency key: a payout is never paid twice.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from opentelemetry import trace

from gateway.domain.errors import MerchantNotFound, PayoutNotFound, RequestIdReused
from gateway.domain.payouts import (
    CreateSettlementPayout,
    CreateWithdrawal,
    Payout,
    PayoutChange,
    PayoutPurpose,
    PayoutState,
    decide,
    hold_key,
    hold_transfer,
    refused,
)
from gateway.domain.ports import PayoutAnswer, PayoutInstruction
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.outbox import current_traceparent
from gateway.service_layer.payments import RECOVERY_QUERY_DELAY
from paysuite.errors import Unavailable
from paysuite.ids import new_id
from paysuite.runtime import span_attributes as attrs
from paysuite.runtime.telemetry import current_trace_id

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

# Rounds of read-decide-write before giving up on a payout changing under every attempt.
MAX_ROUNDS = 8
# Why the ledger refused to hold the account paid from, as a payout's failure reason.
_HOLD_REFUSALS = {
    "EXCEEDS_BALANCE": "INSUFFICIENT_BALANCE",
    "ACCOUNT_NOT_FOUND": "ACCOUNT_NOT_FOUND",
    "ACCOUNT_NOT_ACTIVE": "ACCOUNT_NOT_ACTIVE",
}
_HELD = {"PENDING", "EXISTS"}


async def load_payout(deps: PaymentDeps, payout_id: str) -> Payout:
    async with deps.session() as stores:
        payout = await stores.payouts.get(payout_id)
    if payout is None:
        raise PayoutNotFound("payout not found", metadata={"payout_id": payout_id})
    return payout


async def record_payout(
    deps: PaymentDeps, command: CreateSettlementPayout | CreateWithdrawal
) -> tuple[Payout, bool]:
    """Stores a new payout of the command on the payout channel (asked about later should
    nothing answer it, a crash); or returns the payout its request id created before:
    (payout, created)."""
    if deps.payouts_on(deps.payout_channel) is None:
        raise Unavailable(
            "no payout channel is configured", metadata={"channel": deps.payout_channel}
        )
    now = deps.clock()
    payout = Payout.start(command, new_id("po"), deps.payout_channel, current_trace_id(), now)
    async with deps.session() as stores:
        if await stores.payouts.record(payout, now + RECOVERY_QUERY_DELAY):
            _annotate(payout)
            return payout, True
        existing = await stores.payouts.by_request_id(payout.request_id)
    if existing is None:
        raise RuntimeError("a payout was neither recorded nor found")
    if existing.request_hash != payout.request_hash:
        raise RequestIdReused(
            "request_id was used for a different payout",
            metadata={"payout_id": existing.payout_id},
        )
    _annotate(existing)
    return existing, False


def _annotate(payout: Payout) -> None:
    span = trace.get_current_span()
    span.set_attribute(attrs.PAYOUT_ID, payout.payout_id)
    span.set_attribute(attrs.PAYOUT_PURPOSE, payout.purpose.value)
    span.set_attribute(attrs.PAYOUT_STATE, payout.state.value)


def _report(before: Payout, after: Payout) -> None:
    """Says what changed: a returned payout and one for reconciliation are news to act on."""
    if after.state is PayoutState.RETURNED and before.state is not PayoutState.RETURNED:
        _log.warning(
            "payout returned by the payee's bank; the money is back to be paid out again",
            extra={
                "payout_id": after.payout_id,
                "purpose": after.purpose.value,
                "owner_id": after.owner_id,
                "amount": after.amount.minor_units,
                "return_reason": after.return_reason,
            },
        )
    elif after.needs_reconciliation and not before.needs_reconciliation:
        _log.error(
            "the bank contradicts a payout's outcome; handed to reconciliation",
            extra={"payout_id": after.payout_id, "state": after.state.value},
        )
    elif after.state is not before.state:
        _log.info(
            "payout settled" if not after.state.open else "payout unknown",
            extra={"payout_id": after.payout_id, "state": after.state.value},
        )


async def write_payout(deps: PaymentDeps, change: PayoutChange, version: int) -> Payout | None:
    """The payout as written, or None when it moved since `version` (read it again)."""
    async with deps.session() as stores:
        applied = await stores.payouts.apply(change, version, current_traceparent())
    if not applied:
        return None
    if change.messages:
        deps.relay.wake()
    return replace(change.payout, version=version + 1)


async def apply_payout_answer(
    deps: PaymentDeps, payout_id: str, answer: PayoutAnswer, *, current: Payout | None = None
) -> Payout:
    """Applies the bank's answer to the payout (`current`: as the caller just read it)."""
    for _ in range(MAX_ROUNDS):
        if current is None:
            current = await load_payout(deps, payout_id)
        change = decide(current, answer, deps.clock())
        if change is None:
            return current
        if (written := await write_payout(deps, change, current.version)) is not None:
            _report(current, written)
            _annotate(written)
            return written
        current = None
    raise RuntimeError(f"payout {payout_id} kept changing while an answer was applied")


async def refuse_payout(
    deps: PaymentDeps, payout: Payout, reason: str, *, held: bool, reserved: bool
) -> Payout:
    """Fails a payout the bank never saw; undoes what may have been held or reserved."""
    change = refused(payout, reason, deps.clock(), held=held, reserved=reserved)
    written = await write_payout(deps, change, payout.version)
    if written is None:  # the janitor got there first
        return await load_payout(deps, payout.payout_id)
    _report(payout, written)
    _annotate(written)
    return written


async def _overdrawn(deps: PaymentDeps, payout: Payout) -> str | None:
    """Why the payout may not go on with its hold made: a merchant's accounts may run below
    zero (a refund after clearing), so the ledger does not stop a hold on them; what is held
    there must be there. Read after the hold, which it counts: of two payouts that would
    overdraw together, at least the one read later is refused. None when the money is there."""
    if payout.purpose is not PayoutPurpose.SETTLEMENT:
        return None  # a wallet never runs below zero: the ledger refused the hold
    try:
        available = await deps.ledger.available(payout.source_account)
    except Unavailable:
        return "LEDGER_UNAVAILABLE"
    return "INSUFFICIENT_BALANCE" if available < 0 else None


async def hold_and_pay(
    deps: PaymentDeps, payout: Payout, instruction: PayoutInstruction, *, reserved: bool
) -> Payout:
    """Holds the amount on the account paid from, then asks the bank to pay; `reserved`: a
    limit use was reserved for it (to release should it fail)."""
    channel = deps.payouts_on(payout.channel)
    assert channel is not None, "new payouts are made on a payout channel only"
    try:
        results = await deps.ledger.post([hold_transfer(payout)])
    except Unavailable:
        # The hold may have been made: voided with the rest, should it have been.
        return await refuse_payout(deps, payout, "LEDGER_UNAVAILABLE", held=True, reserved=reserved)
    result = results.get(hold_key(payout.payout_id), "MISSING")
    if result not in _HELD:
        reason = _HOLD_REFUSALS.get(result, f"LEDGER_{result}")
        return await refuse_payout(deps, payout, reason, held=False, reserved=reserved)
    if (shortfall := await _overdrawn(deps, payout)) is not None:
        return await refuse_payout(deps, payout, shortfall, held=True, reserved=reserved)
    attributes = {attrs.PAYOUT_ID: payout.payout_id, attrs.CHANNEL: channel.name}
    with _tracer.start_as_current_span("gateway.payout_attempt", attributes=attributes) as span:
        answer = await channel.payout(instruction)
        span.set_attribute(attrs.ATTEMPT_OUTCOME, answer.outcome.value)
        if answer.error_code:
            span.set_attribute(attrs.ATTEMPT_ERROR, answer.error_code)
    return await apply_payout_answer(deps, payout.payout_id, answer, current=payout)


async def create_settlement_payout(deps: PaymentDeps, command: CreateSettlementPayout) -> Payout:
    """Pays a merchant's settlement to its bank account, from its payable."""
    async with deps.session() as stores:
        merchant = await stores.merchants.get(command.merchant_id)
    if merchant is None:
        raise MerchantNotFound("merchant not found", metadata={"merchant_id": command.merchant_id})
    payout, created = await record_payout(deps, command)
    if not created:
        return payout
    instruction = PayoutInstruction(
        payout.payout_id,
        payout.amount,
        account_no=command.account_no,
        account_name=command.account_name,
        remark=command.remark,
    )
    return await hold_and_pay(deps, payout, instruction, reserved=False)
