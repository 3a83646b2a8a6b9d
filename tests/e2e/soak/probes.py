"""Deterministic probes: one of each fault with everything else quiet, so outcomes are certain."""

from __future__ import annotations

from dataclasses import dataclass, field

from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from tests.e2e.soak.faults import BANK_QUIET, QUIET, WALLET_QUIET
from tests.e2e.soak.merchant import Merchant
from tests.e2e.soak.orders import OrderBook
from tests.e2e.soak.simulators import ALIPAY, BANK, Simulators
from tests.e2e.soak.states import state_name
from tests.e2e.soak.waiting import wait_for


@dataclass
class Probes:
    """Payments whose course the test decides, with the outcome each must reach."""

    expected: dict[str, str] = field(default_factory=dict)  # payment id -> final state
    false_success: str = ""


def brief(payment: gpb.Payment | None) -> str:
    """A payment for an assertion message: id, state and reason, no payer or card."""
    if payment is None:
        return "no payment"
    return f"{payment.payment_id} {state_name(payment)} {payment.failure_reason}".rstrip()


async def run_probes(merchant: Merchant, book: OrderBook, simulators: Simulators) -> Probes:
    probes = Probes()
    await simulators.dial_all(QUIET)

    # A false success: the bank says yes, its books say no; the gateway's query catches it.
    await simulators.dial(BANK, {"false_success_rate": 1})
    caught = await merchant.pay(book.order(BANK, "probe-false-success"))
    await simulators.dial(BANK, BANK_QUIET)
    assert caught is not None and caught.state == gpb.Payment.STATE_FAILED, brief(caught)
    assert caught.failure_reason == "SUCCESS_NOT_CONFIRMED", caught.failure_reason
    probes.expected[caught.payment_id] = "failed"
    probes.false_success = caught.payment_id

    # Settled later at the bank: UNKNOWN now, resolved by query.
    await simulators.dial(BANK, {"processing_rate": 1, "processing_ms": 1_500})
    later = await merchant.pay(book.order(BANK, "probe-processing"))
    await simulators.dial(BANK, BANK_QUIET)
    assert later is not None and later.state == gpb.Payment.STATE_UNKNOWN, brief(later)
    probes.expected[later.payment_id] = "succeeded"

    # A wallet buyer who has not paid yet: the order is closed at both ends.
    await simulators.dial(ALIPAY, {"accepted_rate": 1, "decide_ms": 600_000})
    waiting = await merchant.pay(book.order(ALIPAY, "probe-close", close=True))
    assert waiting is not None and waiting.state == gpb.Payment.STATE_UNKNOWN, brief(waiting)
    assert await merchant.payment_state(waiting.payment_id) == "closed"
    probes.expected[waiting.payment_id] = "closed"

    # A duplicate: the wallet buyer pays after the card paid the same business order.
    shared = book.order_no()
    first = await merchant.pay(book.order(ALIPAY, "probe-duplicate", shared))
    await simulators.dial(ALIPAY, {**WALLET_QUIET, "decide_ms": 1_500})
    second = await merchant.pay(book.order(BANK, "probe-duplicate", shared))
    assert first is not None and first.state == gpb.Payment.STATE_UNKNOWN, brief(first)
    assert second is not None and second.state == gpb.Payment.STATE_SUCCEEDED, brief(second)
    await simulators.decide(ALIPAY, first.payment_id, "success")

    async def duplicated() -> bool:
        return await merchant.payment_state(first.payment_id) == "duplicate"

    await wait_for("the duplicate payment", duplicated)
    probes.expected[first.payment_id] = "duplicate"
    probes.expected[second.payment_id] = "succeeded"
    # And a partial refund at the bank, with the bank answering at once.
    refund = await merchant.refund(second, 100)
    assert refund is not None, "the partial refund was refused"
    assert refund.state == gpb.Refund.STATE_SUCCEEDED, (refund.refund_id, refund.state)
    return probes
