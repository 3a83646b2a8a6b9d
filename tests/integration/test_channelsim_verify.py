"""The bank simulator's four-element verification over real HTTP: outcomes, signing, limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from channelsim.app import create_app
from channelsim.ratelimit import RollingLimiter
from channelsim.settings import ChannelSimSettings
from paysuite.http_signing import SIGNATURE_HEADER, new_nonce, sign
from tests.integration.bank_client import Reply, simulator_settings

SECRET = "verify-test-secret"
MCH = "PAYSUITE01"
VERIFY = "/api/auth/verify4"

# Clearly fake values: the GB 11643 sample ID, test phones, made-up names.
NAME = "测试甲"
OTHER_NAME = "测试乙"
ID_NO = "11010519491231002X"
OTHER_ID_NO = "110101199003070019"
MOBILE = "13800138000"
OTHER_MOBILE = "13900139000"
RESERVED_SUFFIXES = ("0000", "0001", "0002", "0003", "0004")


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def card_number(ending: str = "", prefix: str = "622202", length: int = 19) -> str:
    """A random Luhn-valid card number; without an ending, none of the reserved ones."""
    while True:
        middle = "".join(secrets.choice("0123456789") for _ in range(length - len(prefix)))
        number = (prefix + middle)[: length - len(ending)] + ending
        if not luhn_valid(number):
            continue
        if ending or not number.endswith(RESERVED_SUFFIXES):
            return number


def luhn_invalid(number: str) -> str:
    last = (int(number[-1]) + 1) % 10
    return number[:-1] + str(last)


def _settings(**overrides: Any) -> ChannelSimSettings:
    return simulator_settings(SECRET, MCH, **{"verify_limit_per_card": 5, **overrides})


@dataclass
class Bank:
    session: aiohttp.ClientSession
    base_url: str

    async def call(
        self, method: str, path: str, payload: Any = None, *, secret: str | None = SECRET
    ) -> Reply:
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(
                secret.encode(), body, now=int(time.time()), nonce=new_nonce()
            )
        async with self.session.request(
            method, self.base_url + path, data=body, headers=headers
        ) as response:
            return Reply(response.status, await response.read(), dict(response.headers), SECRET)

    async def register(self, card_no: str, **fields: Any) -> Reply:
        payload = {
            "card_no": card_no,
            "name": NAME,
            "id_no": ID_NO,
            "mobile": MOBILE,
            "bank_code": "ICBC",
            **fields,
        }
        return await self.call("POST", "/_admin/cards", payload, secret=None)

    async def verify(
        self, card_no: str, req_no: str | None = None, *, secret: str | None = SECRET, **fields: Any
    ) -> Reply:
        payload = {
            "mch_id": MCH,
            "req_no": req_no or f"VQ-{secrets.token_hex(6)}",
            "name": NAME,
            "id_no": ID_NO,
            "card_no": card_no,
            "mobile": MOBILE,
            "sign": False,
            **fields,
        }
        return await self.call("POST", VERIFY, payload, secret=secret)

    async def verifications(self) -> list[dict[str, str]]:
        reply = await self.call("GET", "/_admin/verifications", secret=None)
        assert reply.status == 200
        result: list[dict[str, str]] = reply.json()
        return result

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        reply = await self.call("POST", "/_admin/faults", faults, secret=None)
        assert reply.status == 200, reply.body
        result: dict[str, Any] = reply.json()
        return result


@contextlib.asynccontextmanager
async def running_bank(settings: ChannelSimSettings) -> AsyncIterator[Bank]:
    runner = web.AppRunner(create_app(settings), shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:
            yield Bank(session, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


@pytest.fixture
async def bank() -> AsyncIterator[Bank]:
    async with running_bank(_settings()) as started:
        yield started


async def _registered(bank: Bank, **fields: Any) -> str:
    card = card_number()
    reply = await bank.register(card, **fields)
    assert reply.status == 201, reply.body
    return card


async def test_matching_elements_are_a_signed_match(bank: Bank) -> None:
    card = await _registered(bank, bank_code="CMB")

    reply = await bank.verify(card, "VQ-MATCH-1")

    assert reply.status == 200
    reply.assert_signed()
    answer = reply.json()
    assert answer == {
        "code": "SUCCESS",
        "result": "MATCH",
        "mismatch": [],
        "card_state": "",
        "verify_no": answer["verify_no"],
        "bank_code": "CMB",
        "agreement_no": "",
    }
    assert re.fullmatch(r"V\d{8}\d{12}", answer["verify_no"])


async def test_sign_on_match_gives_a_stable_agreement_the_pay_endpoint_accepts(bank: Bank) -> None:
    card = await _registered(bank)

    first = (await bank.verify(card, sign=True)).json()
    second = (await bank.verify(card, sign=True)).json()
    pay = await bank.call(
        "POST",
        "/api/quickpay/pay",
        {
            "mch_id": MCH,
            "out_trade_no": "PAY-AGR-1",
            "agreement_no": first["agreement_no"],
            "amount": 100,
            "currency": "CNY",
        },
    )

    assert first["result"] == "MATCH"
    assert re.fullmatch(r"AGR[0-9A-F]{20}", first["agreement_no"])
    assert not first["agreement_no"].endswith("0000")
    assert second["agreement_no"] == first["agreement_no"]
    assert second["verify_no"] != first["verify_no"]
    assert pay.json()["code"] == "SUCCESS"


async def test_cards_ending_0000_get_the_always_declined_agreement(bank: Bank) -> None:
    card = card_number(ending="0000")
    assert (await bank.register(card)).status == 201

    agreement = (await bank.verify(card, sign=True)).json()["agreement_no"]
    pay = await bank.call(
        "POST",
        "/api/quickpay/pay",
        {
            "mch_id": MCH,
            "out_trade_no": "PAY-AGR-BROKE",
            "agreement_no": agreement,
            "amount": 100,
            "currency": "CNY",
        },
    )

    assert re.fullmatch(r"AGR[0-9A-F]{16}0000", agreement)
    assert (pay.json()["code"], pay.json()["err_code"]) == ("FAIL", "INSUFFICIENT_BALANCE")


async def test_agreements_never_end_0000_for_other_cards(bank: Bank) -> None:
    cards = [await _registered(bank) for _ in range(40)]

    agreements = [(await bank.verify(c, sign=True)).json()["agreement_no"] for c in cards]

    assert len(set(agreements)) == 40
    assert not [a for a in agreements if a.endswith("0000")]


@pytest.mark.parametrize(
    ("fields", "mismatch"),
    [
        ({"name": OTHER_NAME}, ["NAME"]),
        ({"id_no": OTHER_ID_NO}, ["ID_NO"]),
        ({"mobile": OTHER_MOBILE}, ["MOBILE"]),
        ({"name": OTHER_NAME, "mobile": OTHER_MOBILE}, ["NAME", "MOBILE"]),
        (
            {"name": OTHER_NAME, "id_no": OTHER_ID_NO, "mobile": OTHER_MOBILE},
            ["NAME", "ID_NO", "MOBILE"],
        ),
    ],
)
async def test_mismatch_names_exactly_the_differing_elements(
    bank: Bank, fields: dict[str, str], mismatch: list[str]
) -> None:
    card = await _registered(bank)

    answer = (await bank.verify(card, sign=True, **fields)).json()

    assert (answer["result"], answer["mismatch"]) == ("MISMATCH", mismatch)
    assert (answer["agreement_no"], answer["bank_code"]) == ("", "ICBC")


async def test_unknown_cards_have_no_record(bank: Bank) -> None:
    registered_but_mistyped = await _registered(bank)
    cards = {
        "never registered": card_number(),
        "Luhn-invalid": luhn_invalid(registered_but_mistyped),
        "99 range, 16 digits": card_number(prefix="99", length=16),
        "99 range, 19 digits": card_number(prefix="99", length=19),
    }
    await bank.register(cards["99 range, 16 digits"])

    results = {label: (await bank.verify(card)).json() for label, card in cards.items()}

    for label, answer in results.items():
        assert answer["result"] == "NO_RECORD", label
        assert (answer["mismatch"], answer["agreement_no"]) == ([], ""), label
        assert answer["verify_no"].startswith("V"), label


@pytest.mark.parametrize(
    ("ending", "state"), [("0001", "LOST"), ("0002", "FROZEN"), ("0004", "CANCELLED")]
)
async def test_reserved_endings_are_card_states(bank: Bank, ending: str, state: str) -> None:
    unregistered = card_number(ending=ending)
    registered = card_number(ending=ending)
    await bank.register(registered, bank_code="ABC")

    answers = [(await bank.verify(c, sign=True)).json() for c in (unregistered, registered)]

    assert [(a["result"], a["card_state"], a["agreement_no"]) for a in answers] == [
        ("CARD_STATE", state, ""),
        ("CARD_STATE", state, ""),
    ]
    assert [a["bank_code"] for a in answers] == ["", "ABC"]


async def test_ending_0003_cannot_be_verified(bank: Bank) -> None:
    card = card_number(ending="0003")
    await bank.register(card)

    answer = (await bank.verify(card, sign=True)).json()

    assert (answer["result"], answer["agreement_no"]) == ("CANNOT_VERIFY", "")


async def test_repeated_req_no_gets_the_same_answer_and_is_verified_once(bank: Bank) -> None:
    card = await _registered(bank)

    first = await bank.verify(card, "VQ-IDEM-1", sign=True)
    again = await bank.verify(card, "VQ-IDEM-1", sign=True)
    concurrent = await asyncio.gather(*(bank.verify(card, "VQ-IDEM-2") for _ in range(5)))
    other_body = await bank.verify(card, "VQ-IDEM-1", sign=True, mobile=OTHER_MOBILE)

    assert again.status == 200
    again.assert_signed()
    assert again.json() == first.json()
    assert len({r.json()["verify_no"] for r in concurrent}) == 1
    assert other_body.status == 409
    other_body.assert_signed()
    assert other_body.json()["code"] == "REQ_NO_CONFLICT"
    echoed = OTHER_MOBILE.encode() in other_body.body
    assert not echoed, "the conflict answer echoes an element"
    seen = await bank.verifications()
    assert [v for v in seen if v["req_no"] == "VQ-IDEM-1"] == [
        {"req_no": "VQ-IDEM-1", "result": "MATCH"},
        {"req_no": "VQ-IDEM-1", "result": "MATCH"},
        {"req_no": "VQ-IDEM-1", "result": "REQ_NO_CONFLICT"},
    ]


async def test_more_than_five_verifications_a_minute_of_one_card_are_rate_limited(
    bank: Bank,
) -> None:
    card = await _registered(bank)
    other = await _registered(bank)

    answers = [await bank.verify(card, f"VQ-RL-{i}") for i in range(6)]
    repeat = await bank.verify(card, "VQ-RL-0")
    other_card = await bank.verify(other)

    assert [a.status for a in answers] == [200] * 5 + [429]
    answers[5].assert_signed()
    assert answers[5].json()["code"] == "RATE_LIMITED"
    assert (repeat.status, repeat.json()) == (200, answers[0].json())
    assert other_card.json()["result"] == "MATCH"
    # A refused request did not use up its req_no: the same one may be asked again later.
    assert [v["result"] for v in await bank.verifications() if v["req_no"] == "VQ-RL-5"] == [
        "RATE_LIMITED"
    ]


async def test_rate_limit_per_card_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANNELSIM_VERIFY_LIMIT_PER_CARD", "2")
    assert ChannelSimSettings(secret=SecretStr(SECRET)).verify_limit_per_card == 2
    async with running_bank(_settings(verify_limit_per_card=2)) as bank:
        card = await _registered(bank)

        statuses = [(await bank.verify(card)).status for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_the_rate_limit_window_rolls() -> None:
    limiter = RollingLimiter(2, window_seconds=60)

    assert [limiter.allow("card", t) for t in (0.0, 10.0, 59.9)] == [True, True, False]
    assert limiter.allow("card", 60.0) is True  # the use at 0.0 has left the window
    assert limiter.allow("card", 65.0) is False
    assert limiter.allow("card", 70.0) is True
    assert limiter.allow("another card", 70.0) is True


async def test_verification_needs_a_valid_signature(bank: Bank) -> None:
    card = await _registered(bank)

    unsigned = await bank.verify(card, "VQ-SIG-1", secret=None)
    wrong_key = await bank.verify(card, "VQ-SIG-2", secret="not-the-secret")

    for reply in (unsigned, wrong_key):
        assert reply.status == 401
        reply.assert_signed()
        assert reply.json()["code"] == "SIGN_ERROR"
    assert await bank.verifications() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("card_no", "6222-0212-3456"),
        ("card_no", "622202123456"),
        ("card_no", "62220212345678901234"),
        ("id_no", "11010519491231002x"),
        ("id_no", "1101051949123100"),
        ("mobile", "23800138000"),
        ("mobile", "1380013800"),
        ("name", ""),
        ("name", "名" * 65),
        ("sign", "yes"),
        ("req_no", ""),
    ],
)
async def test_malformed_elements_are_param_errors_without_echo(
    bank: Bank, field: str, value: Any
) -> None:
    payload = {
        "mch_id": MCH,
        "req_no": "VQ-BAD-1",
        "name": NAME,
        "id_no": ID_NO,
        "card_no": card_number(),
        "mobile": MOBILE,
        "sign": False,
        field: value,
    }

    reply = await bank.call("POST", VERIFY, payload)

    assert reply.status == 400
    reply.assert_signed()
    assert reply.json()["code"] == "PARAM_ERROR"
    assert field in reply.json()["message"]
    if value:
        echoed = str(value).encode() in reply.body
        assert not echoed, "the error echoes the submitted value"
    assert await bank.verifications() == []


async def test_unknown_merchant_and_missing_fields(bank: Bank) -> None:
    card = await _registered(bank)

    other_merchant = await bank.verify(card, mch_id="SOMEONEELSE")
    missing = await bank.call("POST", VERIFY, {"mch_id": MCH, "req_no": "VQ-MISS"})

    assert (other_merchant.status, other_merchant.json()["code"]) == (400, "MCH_NOT_EXIST")
    assert (missing.status, missing.json()["code"]) == (400, "PARAM_ERROR")
    assert {"name", "id_no", "card_no"} <= set(re.findall(r"\w+", missing.json()["message"]))
    no_mobile = await bank.verify(card, "VQ-NO-MOBILE", mobile=None)
    assert (no_mobile.status, no_mobile.json()["code"]) == (400, "PARAM_ERROR")
    assert "mobile" in no_mobile.json()["message"]


async def test_verify_error_rate_fault_answers_503_and_consumes_nothing(bank: Bank) -> None:
    card = await _registered(bank)

    faults = await bank.set_faults(verify_error_rate=1)
    failed = await bank.verify(card, "VQ-FAULT-1")
    paid = await bank.call(
        "POST",
        "/api/quickpay/pay",
        {
            "mch_id": MCH,
            "out_trade_no": "PAY-DURING-VERIFY-FAULT",
            "agreement_no": "AGR7K3M9Q2X5Z8B1",
            "amount": 100,
            "currency": "CNY",
        },
    )
    await bank.set_faults(verify_error_rate=0)
    retried = await bank.verify(card, "VQ-FAULT-1")

    assert faults["verify_error_rate"] == 1
    assert (failed.status, failed.json()["code"]) == (503, "SYSTEM_ERROR")
    failed.assert_signed()
    assert paid.json()["code"] == "SUCCESS"
    assert retried.json()["result"] == "MATCH"
    assert [v["result"] for v in await bank.verifications()] == ["SYSTEM_ERROR", "MATCH"]


async def test_cardholder_registration_is_validated_and_replaceable(bank: Bank) -> None:
    card = card_number()

    bad_luhn = await bank.register(luhn_invalid(card))
    bad_id = await bank.register(card, id_no="1234")
    bad_bank = await bank.register(card, bank_code="icbc")
    first = await bank.register(card, mobile=OTHER_MOBILE)
    replaced = await bank.register(card)

    for reply in (bad_luhn, bad_id, bad_bank):
        assert (reply.status, reply.json()["code"]) == (400, "PARAM_ERROR")
        echoed = card.encode() in reply.body
        assert not echoed, "the error echoes the card number"
    assert (first.status, replaced.status) == (201, 201)
    assert SIGNATURE_HEADER not in replaced.headers
    echoed = card.encode() in replaced.body
    assert not echoed, "the registration answer echoes the card number"
    assert (await bank.verify(card)).json()["result"] == "MATCH"


async def test_admin_listing_shows_req_no_and_result_only(bank: Bank) -> None:
    card = await _registered(bank)
    await bank.verify(card, "VQ-LIST-1")
    await bank.verify(card_number(), "VQ-LIST-2")

    listed = await bank.verifications()

    assert listed == [
        {"req_no": "VQ-LIST-1", "result": "MATCH"},
        {"req_no": "VQ-LIST-2", "result": "NO_RECORD"},
    ]


async def test_the_bank_logs_no_elements(bank: Bank, caplog: pytest.LogCaptureFixture) -> None:
    card = await _registered(bank)
    caplog.set_level(logging.DEBUG)

    await bank.verify(card, "VQ-LOG-1", sign=True)
    await bank.verify(card, "VQ-LOG-1", sign=True)
    await bank.verify(card, "VQ-LOG-2", mobile=OTHER_MOBILE, name=OTHER_NAME)
    await bank.verify(card, "VQ-LOG-1", mobile=OTHER_MOBILE)
    await bank.register(card_number())

    logged = "\n".join(repr(record.__dict__) for record in caplog.records)
    assert "VQ-LOG-1" in logged and "MATCH" in logged
    elements = {
        "name": NAME,
        "other name": OTHER_NAME,
        "ID number": ID_NO,
        "card number": card,
        "mobile": MOBILE,
        "other mobile": OTHER_MOBILE,
    }
    leaked = [label for label, value in elements.items() if value in logged]
    assert not leaked, f"PII in simulator logs: {leaked}"


async def test_three_elements_leave_the_mobile_out_and_sign_nothing(bank: Bank) -> None:
    card = await _registered(bank, bank_code="CCB")
    payload = {
        "mch_id": MCH,
        "req_no": "VQ-THREE-1",
        "name": NAME,
        "id_no": ID_NO,
        "card_no": card,
        "sign": True,
    }

    matched = await bank.call("POST", "/api/auth/verify3", payload)
    wrong = await bank.call(
        "POST", "/api/auth/verify3", {**payload, "req_no": "VQ-THREE-2", "id_no": OTHER_ID_NO}
    )
    with_mobile = await bank.call(
        "POST", "/api/auth/verify3", {**payload, "req_no": "VQ-THREE-3", "mobile": MOBILE}
    )

    assert (matched.json()["result"], matched.json()["agreement_no"]) == ("MATCH", "")
    assert matched.json()["bank_code"] == "CCB"
    assert (wrong.json()["result"], wrong.json()["mismatch"]) == ("MISMATCH", ["ID_NO"])
    assert (with_mobile.status, with_mobile.json()["code"]) == (400, "PARAM_ERROR")


async def test_name_and_id_number_against_the_register(bank: Bank) -> None:
    await _registered(bank)
    base = {"mch_id": MCH, "name": NAME, "id_no": ID_NO}

    known = await bank.call("POST", "/api/idcheck/verify2", {**base, "req_no": "VQ-ID-1"})
    other_name = await bank.call(
        "POST", "/api/idcheck/verify2", {**base, "req_no": "VQ-ID-2", "name": OTHER_NAME}
    )
    unknown = await bank.call(
        "POST", "/api/idcheck/verify2", {**base, "req_no": "VQ-ID-3", "id_no": OTHER_ID_NO}
    )

    assert known.status == 200
    known.assert_signed()
    assert known.json()["result"] == "MATCH"
    assert (other_name.json()["result"], other_name.json()["mismatch"]) == ("MISMATCH", ["NAME"])
    assert unknown.json()["result"] == "NO_RECORD"
