"""Per-merchant rate limits on payment creation: a token bucket per merchant, in this process.

Each gateway replica keeps its own buckets, so a merchant's effective limit is the configured
rate times the number of replicas its calls are spread over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paysuite.errors import RateLimited


class PaymentRateLimited(RateLimited):
    """The merchant creates payments faster than its limit allows: retry after a while."""

    reason = "PAYMENT_RATE_LIMITED"


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class MerchantRateLimits:
    """Up to `burst` payments at once per merchant, refilled at `per_second`; a rate of 0
    means no limit."""

    per_second: float = 0.0
    burst: float = 1.0
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def admit(self, merchant_id: str, now: float) -> None:
        """Takes one token of the merchant's bucket at monotonic time `now`, or refuses with
        the seconds until one is there."""
        if self.per_second <= 0:
            return
        bucket = self._buckets.get(merchant_id)
        if bucket is None:
            bucket = self._buckets[merchant_id] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.per_second)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = (1 - bucket.tokens) / self.per_second
        raise PaymentRateLimited(
            "the merchant's payment rate limit is reached",
            retry_after=wait,
            metadata={"merchant_id": merchant_id},
        )
