"""A person real-named through payctl and the real suite; then no PII anywhere it wrote."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack import demo
from devstack.stack import Stack
from tests.e2e.payctl_run import payctl
from tests.integration.kyc_support import Person, bank_knows, fresh_card, fresh_person


@pytest.fixture(scope="module")
def person() -> Person:
    return fresh_person()


@pytest.fixture(scope="module")
def card() -> str:
    return fresh_card("CMB")


def _payctl(stack: Stack, *args: str) -> Any:
    return payctl(stack, "user", *args)


async def test_register_verify_and_read_limits_through_payctl(
    stack: Stack, person: Person, card: str
) -> None:
    await bank_knows(stack.config.bank_url, person, card, "CMB")
    user = _payctl(stack, "register", "--phone", person.phone)
    assert user["masked_phone"] == person.phone[:3] + "****" + person.phone[-4:]
    verified = _payctl(
        stack,
        "verify",
        "--user",
        user["user_id"],
        "--name",
        person.name,
        "--id-number",
        person.id_number,
        "--card",
        card,
        "--phone",
        person.phone,
    )
    assert verified["attempt"]["outcome"] == "VERIFICATION_OUTCOME_MATCH"
    assert verified["user"]["tier"] == "TIER_CLASS_I"
    limits = {w["kind"]: w for w in _payctl(stack, "limits", "--user", user["user_id"])}
    assert limits["TIER_LIFETIME"]["remaining"]["minor_units"] == "100000"


def test_no_pii_in_traces_or_logs(stack: Stack, person: Person, card: str) -> None:
    """Scans every trace and log line the suite wrote in this run for unmasked values."""
    values = [
        demo.USER_NAME,
        demo.USER_ID_NUMBER,
        demo.USER_PHONE,
        demo.CARD_NUMBER,
        demo.agreement_no(demo.CARD_NUMBER),
        person.name,
        person.id_number,
        person.phone,
        card,
    ]
    texts = [stack.config.traces_file.read_text()]
    texts += [p.read_text(errors="replace") for p in (stack.config.data_dir / "logs").glob("*")]
    assert texts[0], "no traces were written"
    for text in texts:
        for value in values:
            assert value not in text, "an unmasked personal value was written"
            assert json.dumps(value)[1:-1] not in text, "an unmasked personal value was written"
