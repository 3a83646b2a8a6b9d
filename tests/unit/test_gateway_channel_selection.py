"""Channel selection: rules by method, amount, merchant, currency and hours; volume split;
channels closed or over their amount skipped; a low success rate pushes a channel back."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.adapters.channel_rules_file import ChannelRulesFile, parse_channel_rules
from gateway.domain.channel_selection import (
    ChannelHours,
    ChannelRule,
    ChannelRules,
    ChannelTerms,
    OrderToPlace,
    Share,
    SuccessRatePolicy,
    SuccessRates,
    select_channel,
)
from gateway.domain.model import PaymentMethod
from paysuite.money import Money

# 04:00 UTC is 12:00 in Shanghai.
NOON = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
ALWAYS_OPEN = ChannelHours.parse("")
TERMS = {
    "banksim": ChannelTerms("banksim", PaymentMethod.BANK_CARD, ALWAYS_OPEN),
    "unionsim": ChannelTerms("unionsim", PaymentMethod.BANK_CARD, ALWAYS_OPEN),
    "alipaysim": ChannelTerms("alipaysim", PaymentMethod.ALIPAY, ALWAYS_OPEN),
}


def order(
    amount: int = 10_000,
    method: PaymentMethod = PaymentMethod.BANK_CARD,
    merchant: str = "M100001",
    currency: str = "CNY",
    payment_id: str = "pay_1",
) -> OrderToPlace:
    return OrderToPlace(payment_id, merchant, method, Money(currency, amount))


def rule(name: str, split: dict[str, int], **conditions: object) -> ChannelRule:
    shares = tuple(Share(channel, weight) for channel, weight in split.items())
    return ChannelRule(name, shares, **conditions)  # type: ignore[arg-type]


def test_without_rules_every_channel_of_the_method_shares_alike() -> None:
    chosen = Counter(
        select_channel(ChannelRules(), TERMS, order(payment_id=f"pay_{i}"), NOON, {}).channel
        for i in range(2_000)
    )
    assert set(chosen) == {"banksim", "unionsim"}
    assert abs(chosen["banksim"] - 1_000) < 100
    wallet = select_channel(ChannelRules(), TERMS, order(method=PaymentMethod.ALIPAY), NOON, {})
    assert (wallet.rule, wallet.candidates) == ("default", ("alipaysim",))


def test_the_first_rule_whose_conditions_all_hold_decides() -> None:
    rules = ChannelRules(
        (
            rule(
                "big-card",
                {"unionsim": 1},
                methods=frozenset({PaymentMethod.BANK_CARD}),
                min_amount=500_000,
            ),
            rule("vip", {"banksim": 1}, merchants=frozenset({"M900001"})),
            rule("usd", {"banksim": 1}, currencies=frozenset({"USD"})),
            rule("small", {"banksim": 1}, max_amount=999),
            rule("lunch", {"unionsim": 1}, hours=ChannelHours.parse("11:30-13:30")),
        )
    )

    def decided(o: OrderToPlace, now: datetime = NOON) -> tuple[str, str | None]:
        decision = select_channel(rules, TERMS, o, now, {})
        return decision.rule, decision.channel

    assert decided(order(amount=500_000)) == ("big-card", "unionsim")
    assert decided(order(amount=499_999, merchant="M900001")) == ("vip", "banksim")
    assert decided(order(currency="USD")) == ("usd", "banksim")
    assert decided(order(amount=999)) == ("small", "banksim")
    assert decided(order()) == ("lunch", "unionsim")
    evening = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    assert decided(order(), evening)[0] == "default"
    # A rule without a channel for the method does not apply to it.
    assert decided(order(amount=999, method=PaymentMethod.ALIPAY)) == ("default", "alipaysim")


def test_a_split_sends_each_channel_its_share_and_the_same_payment_the_same_way() -> None:
    rules = ChannelRules((rule("cards", {"banksim": 70, "unionsim": 30}),))
    decisions = [
        select_channel(rules, TERMS, order(payment_id=f"pay_{i}"), NOON, {}) for i in range(5_000)
    ]
    chosen = Counter(d.channel for d in decisions)
    assert abs(chosen["banksim"] / 5_000 - 0.70) < 0.03
    assert decisions[0] == select_channel(rules, TERMS, order(payment_id="pay_0"), NOON, {})
    # The other channel stays behind as the failover.
    assert all(set(d.candidates) == {"banksim", "unionsim"} for d in decisions)
    assert "share 70/100" in next(d.reason for d in decisions if d.channel == "banksim")


def test_a_closed_channel_or_one_over_its_amount_is_skipped_with_the_reason() -> None:
    terms = {
        **TERMS,
        "banksim": ChannelTerms(
            "banksim", PaymentMethod.BANK_CARD, ChannelHours.parse("11:00-13:00")
        ),
        "unionsim": ChannelTerms("unionsim", PaymentMethod.BANK_CARD, ALWAYS_OPEN, 50_000),
    }
    rules = ChannelRules((rule("cards", {"banksim": 99, "unionsim": 1}),))
    small = select_channel(rules, terms, order(amount=50_000), NOON, {})
    assert small.candidates == ("unionsim",)
    assert "skipped banksim: CHANNEL_CLOSED" in small.reason
    refused = select_channel(rules, terms, order(amount=50_001), NOON, {})
    assert (refused.channel, refused.refusal) == (None, "NO_CHANNEL_AVAILABLE")
    assert "skipped unionsim: CHANNEL_AMOUNT_LIMIT" in refused.reason
    only_closed = select_channel(
        ChannelRules((rule("b", {"banksim": 1}),)), terms, order(), NOON, {}
    )
    assert only_closed.refusal == "CHANNEL_CLOSED"


def test_a_channel_failing_over_enough_attempts_goes_last_unless_all_do() -> None:
    policy = SuccessRatePolicy(min_samples=20, threshold_percent=50)
    rules = ChannelRules((rule("cards", {"banksim": 99, "unionsim": 1}),), policy)
    poor = {"banksim": (9, 20), "unionsim": (1, 1)}
    decision = select_channel(rules, TERMS, order(), NOON, poor)
    assert decision.candidates == ("unionsim", "banksim")
    assert "demoted banksim: success 9/20" in decision.reason
    # Too few attempts say nothing; at the threshold is good enough.
    for rates in ({"banksim": (0, 19)}, {"banksim": (10, 20)}):
        assert select_channel(rules, TERMS, order(payment_id="pay_3"), NOON, rates).channel == (
            "banksim"
        )
    both_poor = {"banksim": (0, 30), "unionsim": (1, 30)}
    degraded = select_channel(rules, TERMS, order(payment_id="pay_3"), NOON, both_poor)
    assert degraded.channel == "banksim" and "every channel degraded" in degraded.reason


def test_success_rates_count_only_the_window() -> None:
    rates = SuccessRates()
    for second in range(10):
        rates.record("banksim", second % 2 == 0, float(second))
    assert rates.snapshot(9.5, 300) == {"banksim": (5, 10)}
    assert rates.snapshot(14.5, 10) == {"banksim": (2, 5)}
    assert rates.snapshot(100.0, 10) == {"banksim": (0, 0)}


def test_success_rates_keep_at_most_max_samples_and_count_what_they_keep() -> None:
    rates = SuccessRates(max_samples=4)
    for second, ok in enumerate([True, True, False, True, False, False]):
        rates.record("banksim", ok, float(second))
    assert rates.snapshot(5.0, 300) == {"banksim": (1, 4)}  # F T F F: the first two gone


def test_the_channel_rules_file_is_validated_and_read_again_when_it_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "channel-rules.json"
    rules = [{"name": "cards", "methods": ["bank_card"], "split": {"banksim": 3, "unionsim": 1}}]
    path.write_text(json.dumps({"rules": rules, "success_rate": {"min_samples": 5}}))
    clock = [0.0]
    channel_rules = ChannelRulesFile(path, TERMS, "Asia/Shanghai", clock=lambda: clock[0])
    current = channel_rules.current()
    assert [r.name for r in current.rules] == ["cards"]
    assert current.rules[0].shares == (Share("banksim", 3), Share("unionsim", 1))
    assert current.success_rate.min_samples == 5

    caplog.set_level(logging.ERROR)
    path.write_text(json.dumps({"rules": [{"name": "x", "split": {"nosuch": 1}}]}))
    clock[0] += 2
    assert [r.name for r in channel_rules.current().rules] == ["cards"]  # kept
    assert "nosuch is not a channel" in caplog.records[-1].__dict__["error"]

    path.write_text(
        json.dumps({"rules": [{"name": "night", "hours": "22:00-06:00", "split": {"unionsim": 1}}]})
    )
    clock[0] += 2
    assert [r.name for r in channel_rules.current().rules] == ["night"]


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"rules": [{"name": "a", "split": {}}]}, "rules.0.split"),
        ({"rules": [{"name": "a", "split": {"banksim": 0}}]}, "weights are positive"),
        (
            {"rules": [{"name": "a", "split": {"banksim": 1}, "methods": ["cash"]}]},
            "rules.0.methods.0",
        ),
        (
            {"rules": [{"name": "a", "split": {"banksim": 1}, "hours": "25:00-01:00"}]},
            "rules[0].hours",
        ),
        ({"rules": [{"name": "a", "split": {"banksim": 1}}] * 2}, "unique"),
        ({"rules": [], "extra": 1}, "extra"),
        (
            {"rules": [{"name": "a", "split": {"banksim": 1}, "min_amount": 5, "max_amount": 4}]},
            "below min_amount",
        ),
    ],
)
def test_a_bad_channel_rules_file_names_what_is_wrong(document: object, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace(".", r"\.")):
        parse_channel_rules(document, TERMS, "Asia/Shanghai")
