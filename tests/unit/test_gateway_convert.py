"""The gateway's payment as it goes out on the wire: every method and purpose by its value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.domain.model import Payment, PaymentMethod, PaymentPurpose, PaymentState
from gateway.entrypoints.convert import METHODS, PURPOSES, payment_to_proto
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from tests.gateway_payments import a_payment

AT = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def _payment(method: PaymentMethod, purpose: PaymentPurpose) -> Payment:
    return a_payment(
        AT, method=method, purpose=purpose, state=PaymentState.SUCCEEDED, merchant_fee=12
    )


@pytest.mark.parametrize("purpose", list(PaymentPurpose))
@pytest.mark.parametrize("method", list(PaymentMethod))
def test_a_payment_goes_out_with_the_values_it_came_in_by(
    method: PaymentMethod, purpose: PaymentPurpose
) -> None:
    sent = payment_to_proto(_payment(method, purpose))
    assert METHODS[sent.method] is method
    assert sent.purpose != pb.PAYMENT_PURPOSE_UNSPECIFIED
    assert PURPOSES[sent.purpose] is purpose
    assert sent.state == pb.Payment.STATE_SUCCEEDED
    assert (sent.merchant_fee.currency_code, sent.merchant_fee.minor_units) == ("CNY", 12)
