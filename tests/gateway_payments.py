"""A gateway payment for domain tests: processing on banksim, each field given a plain value."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from gateway.domain.model import Payment, PaymentMethod, PaymentState
from paysuite.money import Money


def a_payment(at: datetime, **changes: Any) -> Payment:
    """Created and last updated `at`; `changes` as dataclasses.replace takes them."""
    payment = Payment(
        payment_id="pay_1",
        request_id="req_1",
        request_hash="h",
        merchant_id="m1",
        merchant_order_no="o1",
        amount=Money("CNY", 1234),
        method=PaymentMethod.BANK_CARD,
        payer_user_id="u1",
        state=PaymentState.PROCESSING,
        channel="banksim",
        trace_id="trace",
        created_at=at,
        updated_at=at,
    )
    return dataclasses.replace(payment, **changes)
