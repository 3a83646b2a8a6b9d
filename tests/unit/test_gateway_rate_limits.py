"""Per-merchant token buckets on payment creation: a burst, then the refill rate, per merchant."""

from __future__ import annotations

import pytest

from gateway.domain.rate_limits import MerchantRateLimits, PaymentRateLimited


def test_a_burst_is_admitted_then_refused_until_refilled() -> None:
    limits = MerchantRateLimits(per_second=2.0, burst=3)
    for _ in range(3):
        limits.admit("M1", now=10.0)
    with pytest.raises(PaymentRateLimited) as refused:
        limits.admit("M1", now=10.0)
    assert refused.value.retry_after == pytest.approx(0.5)
    assert refused.value.reason == "PAYMENT_RATE_LIMITED"
    limits.admit("M1", now=10.5)  # one token refilled
    with pytest.raises(PaymentRateLimited):
        limits.admit("M1", now=10.5)


def test_merchants_have_buckets_of_their_own() -> None:
    limits = MerchantRateLimits(per_second=1.0, burst=1)
    limits.admit("M1", now=0.0)
    limits.admit("M2", now=0.0)
    with pytest.raises(PaymentRateLimited):
        limits.admit("M1", now=0.1)


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    limits = MerchantRateLimits(per_second=100.0, burst=2)
    limits.admit("M1", now=0.0)
    limits.admit("M1", now=1000.0)
    limits.admit("M1", now=1000.0)
    with pytest.raises(PaymentRateLimited):
        limits.admit("M1", now=1000.0)


def test_a_rate_of_zero_is_no_limit() -> None:
    limits = MerchantRateLimits()
    for _ in range(10_000):
        limits.admit("M1", now=0.0)
