"""The bank simulator's payouts (代付) over real HTTP: signed, idempotent by our payout id,
queried, refused, slow, timed out, returned days later (退票), kept across restarts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from channelsim.settings import ChannelSimSettings
from tests.integration.bank_client import Reply, simulator_settings
from tests.integration.test_channelsim_http import MCH, SECRET, Bank, running_bank

CARD_AGREEMENT = "AGR7K3M9Q2X5Z8B1"
ACCOUNT = {"account_no": "6222020200112345", "account_name": "Demo Merchant Ltd"}
CLOSED_ACCOUNT = {"account_no": "6222020200110000", "account_name": "Gone Ltd"}


def _settings(**overrides: Any) -> ChannelSimSettings:
    return simulator_settings(SECRET, MCH, **overrides)


async def payout(bank: Bank, out_payout_no: str, amount: int, **payee: Any) -> Reply:
    body = {
        "mch_id": MCH,
        "out_payout_no": out_payout_no,
        "amount": amount,
        "currency": "CNY",
        **(payee or {"agreement_no": CARD_AGREEMENT}),
    }
    return await bank.call("POST", "/api/payout/pay", body)


async def query(bank: Bank, out_payout_no: str) -> dict[str, Any]:
    reply = await bank.call(
        "POST", "/api/payout/query", {"mch_id": MCH, "out_payout_no": out_payout_no}
    )
    assert reply.status == 200
    reply.assert_signed()
    answer: dict[str, Any] = reply.json()
    return answer


async def returns(bank: Bank, day: str) -> list[dict[str, Any]]:
    reply = await bank.call("POST", "/api/payout/returns", {"mch_id": MCH, "date": day})
    assert reply.status == 200, reply.body
    reply.assert_signed()
    found: list[dict[str, Any]] = reply.json()["returns"]
    return found


async def payouts(bank: Bank) -> list[dict[str, Any]]:
    reply = await bank.admin("GET", "/_admin/payouts")
    assert reply.status == 200
    found: list[dict[str, Any]] = reply.json()
    return found


def _today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))


@pytest.fixture
async def bank() -> Any:
    async with running_bank(_settings()) as started:
        yield started


async def test_a_payout_to_a_card_is_paid_once_with_the_banks_fee(bank: Bank) -> None:
    reply = await payout(bank, "PO-1", 5_000)
    assert reply.status == 200
    reply.assert_signed()
    paid = reply.json()
    assert (paid["code"], paid["amount"], paid["fee"], paid["err_code"]) == (
        "SUCCESS",
        5_000,
        100,
        "",
    )
    assert paid["payout_no"].startswith("P") and len(paid["payout_no"]) == 21
    assert await query(bank, "PO-1") == paid
    # A repeat (a retry after a lost answer) pays nothing more and answers the same.
    assert (await payout(bank, "PO-1", 5_000)).json() == paid
    assert [p["out_payout_no"] for p in await payouts(bank)] == ["PO-1"]
    [seen] = await payouts(bank)
    assert seen["payee"] == "agreement ****Z8B1"


async def test_a_payout_to_an_account_and_conflicts_under_its_number(bank: Bank) -> None:
    assert (await payout(bank, "PO-2", 700, **ACCOUNT)).json()["code"] == "SUCCESS"
    other_payee = {**ACCOUNT, "account_name": "Someone Else"}
    for conflicting in (
        await payout(bank, "PO-2", 701, **ACCOUNT),
        await payout(bank, "PO-2", 700, **other_payee),
        await payout(bank, "PO-2", 700),
    ):
        assert conflicting.status == 409
        assert conflicting.json()["code"] == "ORDER_CONFLICT"
        conflicting.assert_signed()
    assert len(await payouts(bank)) == 1


@pytest.mark.parametrize(
    "payee",
    [
        {"agreement_no": CARD_AGREEMENT, **ACCOUNT},
        {"account_no": "6222020200112345"},
        {"account_name": "Demo"},
        {"account_no": "12ab", "account_name": "Demo"},
    ],
)
async def test_a_payee_is_a_card_or_an_account_with_its_name(
    bank: Bank, payee: dict[str, str]
) -> None:
    reply = await payout(bank, "PO-BAD", 100, **payee)
    assert (reply.status, reply.json()["code"]) == (400, "PARAM_ERROR")
    assert "6222020200112345" not in reply.body.decode()
    assert await payouts(bank) == []


async def test_a_closed_account_and_the_decline_dial_refuse_a_payout(bank: Bank) -> None:
    closed = (await payout(bank, "PO-3", 100, **CLOSED_ACCOUNT)).json()
    assert (closed["code"], closed["err_code"], closed["fee"]) == ("FAIL", "ACCOUNT_CLOSED", 0)
    await bank.set_faults(payout_decline_rate=1)
    declined = (await payout(bank, "PO-4", 100)).json()
    assert (declined["code"], declined["err_code"]) == ("FAIL", "ACCOUNT_ABNORMAL")
    # Charges have knobs of their own: they still go through.
    assert (await bank.pay("CHARGE-1", 100)).json()["code"] == "SUCCESS"
    assert (await query(bank, "PO-4"))["code"] == "FAIL"
    assert (await query(bank, "PO-NONE"))["code"] == "ORDER_NOT_EXIST"


async def test_a_timed_out_payout_is_made_and_found_by_query(bank: Bank) -> None:
    await bank.set_faults(payout_timeout_rate=1, timeout_sleep_ms=2_000)
    with pytest.raises(TimeoutError):
        await bank.call(
            "POST",
            "/api/payout/pay",
            {
                "mch_id": MCH,
                "out_payout_no": "PO-5",
                "amount": 300,
                "currency": "CNY",
                "agreement_no": CARD_AGREEMENT,
            },
            timeout=0.3,
        )
    assert (await query(bank, "PO-5"))["code"] == "SUCCESS"


async def test_a_processing_payout_settles_later(bank: Bank) -> None:
    await bank.set_faults(payout_processing_rate=1, payout_processing_ms=300)
    first = (await payout(bank, "PO-6", 400)).json()
    assert (first["code"], first["fee"]) == ("PROCESSING", 0)
    assert (await query(bank, "PO-6"))["code"] == "PROCESSING"
    await asyncio.sleep(0.4)
    assert (await query(bank, "PO-6"))["code"] == "SUCCESS"


async def test_the_return_dial_sends_a_paid_payout_back_later(bank: Bank) -> None:
    await bank.set_faults(payout_return_rate=1, payout_return_after_ms=300)
    paid = (await payout(bank, "PO-7", 900)).json()
    assert paid["code"] == "SUCCESS" and paid["return_reason"] == ""
    assert await returns(bank, _today()) == []
    await asyncio.sleep(0.4)
    back = await query(bank, "PO-7")
    assert (back["code"], back["return_reason"], back["fee"]) == ("RETURNED", "ACCOUNT_CLOSED", 100)
    assert back["return_time"] >= back["pay_time"]
    assert await returns(bank, _today()) == [back]
    assert await returns(bank, "2020-01-01") == []


async def test_the_bank_returns_a_paid_payout_on_an_admin_call(bank: Bank) -> None:
    await payout(bank, "PO-8", 1_200)
    await payout(bank, "PO-9", 100, **CLOSED_ACCOUNT)
    returned = await bank.admin("POST", "/_admin/payouts/PO-8/return", {"reason": "ACCOUNT_FROZEN"})
    assert returned.status == 200
    assert (returned.json()["code"], returned.json()["return_reason"]) == (
        "RETURNED",
        "ACCOUNT_FROZEN",
    )
    assert [r["out_payout_no"] for r in await returns(bank, _today())] == ["PO-8"]
    for not_paid in ("PO-8", "PO-9", "PO-NONE"):
        refused = await bank.admin("POST", f"/_admin/payouts/{not_paid}/return")
        assert (refused.status, refused.json()["code"]) == (409, "NOT_RETURNABLE")
    # A repeat of a returned payout answers as it stands: returned, paid nothing more.
    assert (await payout(bank, "PO-8", 1_200)).json()["code"] == "RETURNED"


async def test_payout_requests_must_be_signed(bank: Bank) -> None:
    unsigned = await bank.call(
        "POST",
        "/api/payout/pay",
        {"mch_id": MCH, "out_payout_no": "PO-10", "amount": 1, "currency": "CNY"},
        header="",
    )
    assert unsigned.status == 401
    unsigned.assert_signed()
    assert await payouts(bank) == []
    wrong = await bank.call(
        "POST", "/api/payout/query", {"mch_id": "OTHER", "out_payout_no": "PO-10"}
    )
    assert wrong.json()["code"] == "MCH_NOT_EXIST"
    bad_date = await bank.call("POST", "/api/payout/returns", {"mch_id": MCH, "date": "2024-02-30"})
    assert (bad_date.status, bad_date.json()["code"]) == (400, "PARAM_ERROR")


async def test_payouts_and_their_returns_are_kept_across_restarts(tmp_path: Path) -> None:
    state_file = tmp_path / "bank" / "state.jsonl"
    async with running_bank(_settings(state_file=state_file)) as bank:
        paid = (await payout(bank, "KEEP-PO-1", 2_000, **ACCOUNT)).json()
        await bank.pay("KEEP-CHARGE-1", 150)
        await payout(bank, "KEEP-PO-2", 100, **CLOSED_ACCOUNT)
        returned = (await bank.admin("POST", "/_admin/payouts/KEEP-PO-1/return")).json()
    with state_file.open("a") as torn:
        torn.write('{"record": "payout", "out_payout_no": "TORN')  # a crash mid-write

    async with running_bank(_settings(state_file=state_file)) as bank:
        assert await query(bank, "KEEP-PO-1") == returned
        assert returned["payout_no"] == paid["payout_no"]
        assert (await query(bank, "KEEP-PO-2"))["err_code"] == "ACCOUNT_CLOSED"
        assert (await bank.query("KEEP-CHARGE-1")).json()["code"] == "SUCCESS"
        assert (await payout(bank, "KEEP-PO-1", 2_000, **ACCOUNT)).json() == returned
        await payout(bank, "KEEP-PO-3", 10)

    async with running_bank(_settings(state_file=state_file)) as bank:
        listed = {p["out_payout_no"]: p for p in await payouts(bank)}
        assert set(listed) == {"KEEP-PO-1", "KEEP-PO-2", "KEEP-PO-3"}
    text = state_file.read_text()
    assert ACCOUNT["account_no"] not in text and CARD_AGREEMENT not in text
