"""The bank simulator's daily bill of the card channel over real HTTP: charges and refunds on
their own lines (format 2), read back with recon's importer and agreeing with the bank's
settlement into the reserve account; the bill's own faults (a line left out, made-up lines, a
late file, the corrected file); refunds kept across a restart."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from channelsim.settings import ChannelSimSettings
from recon.adapters.statements import open_reader
from recon.domain.statement_totals import StatementSummary, Tally
from recon.domain.statements import LineKind, StatementFormat, StatementLine
from tests.integration.bank_client import Reply, simulator_settings
from tests.integration.test_channelsim_http import MCH, SECRET, Bank, running_bank


def _settings(**overrides: Any) -> ChannelSimSettings:
    return simulator_settings(SECRET, MCH, **overrides)


def _today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))


async def _refund(bank: Bank, out_trade_no: str, out_refund_no: str, amount: int) -> Reply:
    return await bank.call(
        "POST",
        "/api/quickpay/refund",
        {
            "mch_id": MCH,
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "amount": amount,
            "currency": "CNY",
        },
    )


async def _bill(bank: Bank, day: str) -> tuple[list[StatementLine], StatementSummary, str]:
    """The day's bill as recon's banksim importer reads it, and its first line."""
    reply = await bank.statement(day)
    assert reply.status == 200, reply.body
    reply.assert_signed()
    reader = open_reader(StatementFormat.BANKSIM, io.BytesIO(reply.body), None)
    tally = Tally()
    lines = list(tally.count(reader))
    return lines, tally.summary(reader.checks), reply.body.decode().splitlines()[0]


async def _faults(bank: Bank, day: str, **faults: Any) -> Reply:
    return await bank.admin("POST", f"/_admin/bills/{day}/faults", faults)


async def test_refunds_are_lines_of_their_own_and_the_bill_agrees_with_the_settlement() -> None:
    async with running_bank(_settings(fee_bps=60)) as bank:
        today = _today()
        paid = (await bank.pay("BILL-1", 10_000)).json()
        assert (await bank.pay("BILL-2", 5_000)).status == 200
        refunded = (await _refund(bank, "BILL-1", "BILL-1-R1", 2_500)).json()
        assert refunded["code"] == "SUCCESS"
        refused = await _refund(bank, "BILL-2", "BILL-2-R1", 9_999)  # more than was paid
        assert refused.json()["code"] == "FAIL"
        lines, summary, _ = await _bill(bank, today)
        settled = await bank.admin("POST", "/_admin/reserve/settlements", {"business_date": today})

    assert summary.breaks == ()
    assert summary.rejections == ()
    assert sorted((line.kind.value, line.order_id, line.refund_id) for line in lines) == [
        ("payment", "BILL-1", ""),
        ("payment", "BILL-2", ""),
        ("refund", "BILL-1", "BILL-1-R1"),
    ]
    (refund,) = [line for line in lines if line.kind is LineKind.REFUND]
    assert refund.amount.minor_units == 2_500
    assert refund.channel_refund_id == refunded["refund_no"]
    assert refund.channel_transaction_id == paid["trade_no"]
    assert refund.fee == 0  # the bank keeps its fee
    # What the bill says the bank owes (charges less fees, less refunds) is what it settles.
    owed = sum(
        (line.amount.minor_units - int(line.fee * 100))
        if line.kind is LineKind.PAYMENT
        else -line.amount.minor_units
        for line in lines
    )
    assert settled.status == 201
    assert owed == settled.json()["paid"] == 15_000 - 60 - 30 - 2_500


async def test_refunds_stay_on_the_bill_and_refused_again_across_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "bank.jsonl"
    async with running_bank(_settings(state_file=state_file)) as bank:
        assert (await bank.pay("KEEP-1", 3_000)).status == 200
        first = (await _refund(bank, "KEEP-1", "KEEP-1-R1", 2_000)).json()
        before, _, _ = await _bill(bank, _today())
    async with running_bank(_settings(state_file=state_file, seed=99)) as bank:
        after, summary, _ = await _bill(bank, _today())
        repeated = (await _refund(bank, "KEEP-1", "KEEP-1-R1", 2_000)).json()
        too_much = (await _refund(bank, "KEEP-1", "KEEP-1-R2", 1_001)).json()

    assert summary.breaks == ()
    assert after == before
    assert [line.refund_id for line in after if line.kind is LineKind.REFUND] == ["KEEP-1-R1"]
    assert repeated == first  # the first answer, not a second refund
    assert (too_much["code"], too_much["err_code"]) == ("FAIL", "REFUND_EXCEEDS_AMOUNT")


async def test_a_bill_can_leave_lines_out_add_made_up_ones_and_be_sent_corrected() -> None:
    async with running_bank(_settings()) as bank:
        today = _today()
        for order in ("OMIT-1", "OMIT-2"):
            assert (await bank.pay(order, 4_000)).status == 200
        assert (await _refund(bank, "OMIT-1", "OMIT-1-R1", 1_000)).json()["code"] == "SUCCESS"

        set_ = await _faults(bank, today, omit=["OMIT-2", "OMIT-1-R1"], extra_lines=2)
        faulty, faulty_summary, faulty_head = await _bill(bank, today)
        again, _, _ = await _bill(bank, today)
        corrected_reply = await bank.admin("POST", f"/_admin/bills/{today}/correct")
        corrected, corrected_summary, corrected_head = await _bill(bank, today)
        shown = await bank.admin("GET", f"/_admin/bills/{today}")

    assert set_.status == 200
    assert set_.json()["omit"] == ["OMIT-1-R1", "OMIT-2"]
    assert faulty_summary.breaks == ()  # the file adds up: the faults are in its lines
    orders = [(line.kind, line.order_id) for line in faulty]
    assert (LineKind.PAYMENT, "OMIT-1") in orders
    assert (LineKind.PAYMENT, "OMIT-2") not in orders
    assert all(line.kind is LineKind.PAYMENT for line in faulty)
    made_up = [line for line in faulty if line.order_id.startswith("X")]
    assert len(made_up) == 2
    assert again == faulty  # the same made-up lines every time it is fetched
    assert faulty_head.endswith("format=2,version=1")

    assert corrected_reply.json()["version"] == 2
    assert corrected_summary.breaks == ()
    assert sorted((line.kind.value, line.refund_id or line.order_id) for line in corrected) == [
        ("payment", "OMIT-1"),
        ("payment", "OMIT-2"),
        ("refund", "OMIT-1-R1"),
    ]
    assert corrected_head.endswith("format=2,version=2")
    assert shown.json() == {**corrected_reply.json(), "available": True}


async def test_a_late_bill_is_not_ready_until_its_time() -> None:
    async with running_bank(_settings()) as bank:
        today = _today()
        late = await _faults(bank, today, late_seconds=600)
        held = await bank.statement(today)
        other_day = await bank.statement("2024-03-01")
        await _faults(bank, today, late_seconds=0)
        sent = await bank.statement(today)

    assert late.json()["available"] is False
    assert held.status == 404
    held.assert_signed()
    assert held.json()["code"] == "STATEMENT_NOT_READY"
    assert other_day.status == 200
    assert sent.status == 200


async def test_bad_bill_fault_requests_are_refused_and_change_nothing() -> None:
    async with running_bank(_settings()) as bank:
        today = _today()
        unknown = await _faults(bank, today, drop_everything=True)
        negative = await _faults(bank, today, extra_lines=-1)
        bad_day = await bank.admin("POST", "/_admin/bills/2024-13-01/correct")
        shown = await bank.admin("GET", f"/_admin/bills/{today}")

    for reply in (unknown, negative, bad_day):
        assert reply.status == 400
        assert reply.json()["code"] == "PARAM_ERROR"
    assert shown.json()["extra_lines"] == 0
    assert shown.json()["version"] == 1
