"""Choosing a payment's channel: the first rule that applies, its volume split, and what rules
a channel out or pushes it back right now (closed, over its amount, a low success rate)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.domain.channel_selection.hours import ChannelHours
from gateway.domain.model import PaymentMethod
from gateway.domain.ports import ChannelOutcome
from paysuite.money import Money

DEFAULT_RULE = "default"
NO_CHANNEL_AVAILABLE = "NO_CHANNEL_AVAILABLE"


@dataclass(frozen=True, slots=True)
class Share:
    """A channel's weight in a rule's volume split."""

    channel: str
    weight: int


@dataclass(frozen=True, slots=True)
class OrderToPlace:
    payment_id: str
    merchant_id: str
    method: PaymentMethod
    amount: Money


@dataclass(frozen=True, slots=True)
class ChannelRule:
    """Applies to orders matching every condition given (an empty set: any); amounts inclusive."""

    name: str
    shares: tuple[Share, ...]
    methods: frozenset[PaymentMethod] = frozenset()
    currencies: frozenset[str] = frozenset()
    merchants: frozenset[str] = frozenset()
    min_amount: int = 0
    max_amount: int = 0  # 0: no upper bound
    hours: ChannelHours | None = None  # the daily windows the rule is in force; None: always

    def applies(self, order: OrderToPlace, now: datetime) -> bool:
        amount = order.amount.minor_units
        return (
            (not self.methods or order.method in self.methods)
            and (not self.currencies or order.amount.currency in self.currencies)
            and (not self.merchants or order.merchant_id in self.merchants)
            and amount >= self.min_amount
            and (self.max_amount == 0 or amount <= self.max_amount)
            and (self.hours is None or self.hours.within(now))
        )


@dataclass(frozen=True, slots=True)
class ChannelTerms:
    """What a channel takes: its payment method, its hours, its largest single charge and
    its daily volume (minor units; 0: no limit of ours)."""

    name: str
    method: PaymentMethod
    hours: ChannelHours
    max_amount: int = 0
    daily_limit: int = 0
    # Decline codes that guarantee nothing was charged and another channel may take it.
    retry_elsewhere_on: frozenset[str] = frozenset()

    def retry_elsewhere(self, outcome: ChannelOutcome, error_code: str) -> bool:
        """Whether a charge answered so may go to the next candidate: it never reached this
        channel, or the channel declined it with a code that guarantees nothing was charged."""
        return outcome is ChannelOutcome.NOT_SENT or (
            outcome is ChannelOutcome.FAILED and error_code in self.retry_elsewhere_on
        )

    def refusal(self, order: OrderToPlace, now: datetime) -> str | None:
        """Why the channel cannot take this charge now, known without asking it."""
        if self.hours.reopens_at(now) is not None:
            return "CHANNEL_CLOSED"
        if 0 < self.max_amount < order.amount.minor_units:
            return "CHANNEL_AMOUNT_LIMIT"
        return None


@dataclass(frozen=True, slots=True)
class SuccessRatePolicy:
    """A channel whose recent success rate is under threshold (over at least min_samples
    attempts in the window) is tried only after the others."""

    window_seconds: float = 300.0
    min_samples: int = 20
    threshold_percent: int = 50


@dataclass(frozen=True, slots=True)
class ChannelRules:
    """The channel rules in force: rules in order, and when a channel counts as degraded."""

    rules: tuple[ChannelRule, ...] = ()
    success_rate: SuccessRatePolicy = SuccessRatePolicy()


@dataclass(frozen=True, slots=True)
class ChannelDecision:
    """The channels to try in order (the first is chosen), why, and if none, the refusal."""

    rule: str
    candidates: tuple[str, ...]
    reason: str
    refusal: str = ""

    @property
    def channel(self) -> str | None:
        return self.candidates[0] if self.candidates else None


def _bucket(payment_id: str, total: int) -> int:
    """The payment's fixed place in a split: the same payment always lands on the same share."""
    digest = hashlib.sha256(payment_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % total


def _split(shares: Sequence[Share], payment_id: str) -> tuple[list[Share], str]:
    total = sum(s.weight for s in shares)
    bucket = _bucket(payment_id, total)
    floor = 0
    for share in shares:
        if bucket < floor + share.weight:
            rest = sorted((s for s in shares if s is not share), key=lambda s: -s.weight)
            return [share, *rest], f"share {share.weight}/{total} (bucket {bucket})"
        floor += share.weight
    raise AssertionError("bucket beyond the total weight")


def _rule_for(
    rules: ChannelRules, terms: Mapping[str, ChannelTerms], order: OrderToPlace, now: datetime
) -> tuple[str, list[Share]]:
    """The first rule in force with a channel for the method; else every channel of the method."""
    for rule in rules.rules:
        if not rule.applies(order, now):
            continue
        shares = [
            s for s in rule.shares if s.channel in terms and terms[s.channel].method is order.method
        ]
        if shares:
            return rule.name, shares
    return DEFAULT_RULE, [Share(t.name, 1) for t in terms.values() if t.method is order.method]


def select_channel(
    rules: ChannelRules,
    terms: Mapping[str, ChannelTerms],
    order: OrderToPlace,
    now: datetime,
    success_rates: Mapping[str, tuple[int, int]],
) -> ChannelDecision:
    """success_rates: (succeeded, attempts) per channel over the policy's window."""
    rule, shares = _rule_for(rules, terms, order, now)
    notes: list[str] = []
    refusals: list[str] = []
    open_shares = []
    for share in shares:
        refusal = terms[share.channel].refusal(order, now)
        if refusal is None:
            open_shares.append(share)
        else:
            refusals.append(refusal)
            notes.append(f"skipped {share.channel}: {refusal}")
    policy = rules.success_rate
    healthy, degraded = [], []
    for share in open_shares:
        succeeded, attempts = success_rates.get(share.channel, (0, 0))
        if attempts >= policy.min_samples and succeeded * 100 < policy.threshold_percent * attempts:
            degraded.append(share)
            notes.append(f"demoted {share.channel}: success {succeeded}/{attempts}")
        else:
            healthy.append(share)
    if not healthy and not degraded:
        refusal = refusals[0] if refusals and len(set(refusals)) == 1 else NO_CHANNEL_AVAILABLE
        return ChannelDecision(rule, (), "; ".join([f"rule {rule}", *notes]), refusal)
    ordered, how = _split(healthy or degraded, order.payment_id)
    if healthy:
        ordered += sorted(degraded, key=lambda s: -s.weight)
    else:
        how = f"{how}, every channel degraded"
    reason = "; ".join([f"rule {rule}", f"{ordered[0].channel} by {how}", *notes])
    return ChannelDecision(rule, tuple(s.channel for s in ordered), reason)
