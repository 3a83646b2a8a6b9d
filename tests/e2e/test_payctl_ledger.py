"""payctl's ledger commands against the real suite: cut the day, close it, read it back."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.stack import Stack
from tests.e2e.payctl_run import payctl


def _payctl(stack: Stack, *args: str) -> Any:
    return payctl(stack, "ledger", *args)


def _iso(value: dict[str, int]) -> str:
    return f"{value['year']:04d}-{value['month']:02d}-{value['day']:02d}"


@pytest.mark.moves_business_date
def test_day_cut_day_end_and_trial_balance_through_payctl(stack: Stack) -> None:
    before = _iso(_payctl(stack, "business-date")["business_date"])
    cut = _payctl(stack, "day-cut", "--expect", before)
    assert _iso(cut["cut_date"]) == before
    report = _payctl(stack, "day-end", before)
    assert report["balanced"] is True
    assert report.get("differences", []) == []
    trial = _payctl(stack, "trial-balance", before)
    assert trial == report
    accounts = _payctl(stack, "accounts", "--owner-type", "platform")
    assert any(a["account_id"] == "platform.suspense.CNY" for a in accounts)
