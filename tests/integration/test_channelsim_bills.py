"""The bank simulator's daily bill of the card channel over real HTTP: UnionPay's zipped ZM file
(or, set so, the simulator's own CSV, format 2), charges (S22) and refunds (S30) on their own
lines, read back with recon's importer and agreeing with the bank's settlement into the reserve
account; the bill's own faults (a line left out, made-up lines, a late file, the corrected
file); refunds kept across a restart."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from channelsim.settings import ChannelSimSettings
from recon.adapters.statements import open_reader
from recon.domain.statement_totals import StatementSummary, Tally
from recon.domain.statements import LineKind, StatementFormat, StatementLine
from tests.integration.bank_client import Reply, simulator_settings
from tests.integration.test_channelsim_http import MCH, SECRET, Bank, running_bank

READERS = {"unionpay-zm": StatementFormat.UNIONPAY_ZM, "csv": StatementFormat.BANKSIM}


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


def _head(body: bytes, bill_format: str) -> str:
    """What says which file it is: the CSV's first comment, the zip's names and comment."""
    if bill_format == "csv":
        return body.decode().splitlines()[0]
    archive = zipfile.ZipFile(io.BytesIO(body))
    return f"{','.join(archive.namelist())} {archive.comment.decode()}"


async def _bill(
    bank: Bank, day: str, bill_format: str = "unionpay-zm"
) -> tuple[list[StatementLine], StatementSummary, str]:
    """The day's bill as recon's importer of the format reads it, and what names the file."""
    reply = await bank.statement(day)
    assert reply.status == 200, reply.body
    reply.assert_signed()
    reader = open_reader(READERS[bill_format], io.BytesIO(reply.body), None)
    tally = Tally()
    lines = list(tally.count(reader))
    return lines, tally.summary(reader.checks), _head(reply.body, bill_format)


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


@pytest.mark.parametrize("bill_format", list(READERS))
async def test_a_bill_can_leave_lines_out_add_made_up_ones_and_be_sent_corrected(
    bill_format: str,
) -> None:
    async with running_bank(_settings(bill_format=bill_format)) as bank:
        today = _today()
        for order in ("OMIT-1", "OMIT-2"):
            assert (await bank.pay(order, 4_000)).status == 200
        assert (await _refund(bank, "OMIT-1", "OMIT-1-R1", 1_000)).json()["code"] == "SUCCESS"

        set_ = await _faults(bank, today, omit=["OMIT-2", "OMIT-1-R1"], extra_lines=2)
        faulty, faulty_summary, faulty_head = await _bill(bank, today, bill_format)
        again, _, _ = await _bill(bank, today, bill_format)
        corrected_reply = await bank.admin("POST", f"/_admin/bills/{today}/correct")
        corrected, corrected_summary, corrected_head = await _bill(bank, today, bill_format)
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
    assert faulty_head.endswith("format=2,version=1" if bill_format == "csv" else "version=1")

    assert corrected_reply.json()["version"] == 2
    assert corrected_summary.breaks == ()
    assert sorted((line.kind.value, line.refund_id or line.order_id) for line in corrected) == [
        ("payment", "OMIT-1"),
        ("payment", "OMIT-2"),
        ("refund", "OMIT-1-R1"),
    ]
    assert corrected_head.endswith("format=2,version=2" if bill_format == "csv" else "version=2")
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


async def test_the_zm_bill_is_the_days_zip_of_gbk_fixed_width_lines_as_published() -> None:
    async with running_bank(_settings(fee_bps=60)) as bank:
        injected = {}
        for out_trade_no, amount, status, trade_time in (
            ("ZM-LATE", 123_456_789, "SUCCESS", "2024-03-01 23:59:59"),
            ("ZM-EARLY", 5, "SUCCESS", "2024-03-01 00:00:00"),
            ("ZM-FAILED", 9_999, "FAIL", "2024-03-01 13:00:00"),
            ("ZM-DAY-BEFORE", 100, "SUCCESS", "2024-02-29 23:59:59"),
        ):
            reply = await bank.inject(
                out_trade_no=out_trade_no, amount=amount, status=status, trade_time=trade_time
            )
            injected[out_trade_no] = reply.json()["trade_no"]
        reply = await bank.statement("2024-03-01")
        lines, summary, _ = await _bill(bank, "2024-03-01")

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/zip"
    assert reply.headers["Content-Disposition"] == 'attachment; filename="PAYSUITE01_20240301.zip"'
    archive = zipfile.ZipFile(io.BytesIO(reply.body))
    assert archive.namelist() == ["INN24030188ZM_PAYSUITE01", "INN24030188ZME_PAYSUITE01"]
    rows = archive.read("INN24030188ZM_PAYSUITE01").split(b"\r\n")
    assert rows[-1] == b"" and {len(row) for row in rows[:-1]} == {607}
    assert "支付套件" in rows[0].decode("gbk")  # the merchant's short name, GBK
    assert summary.rejections == () and summary.breaks == ()
    assert [
        (line.status, line.channel_transaction_id, line.order_id, line.amount.minor_units)
        for line in lines
    ] == [
        ("S22", injected["ZM-EARLY"], "ZM-EARLY", 5),
        ("S22", injected["ZM-LATE"], "ZM-LATE", 123_456_789),
    ]
    assert [str(line.fee) for line in lines] == ["0.00", "7407.41"]
    assert [line.occurred_at.isoformat() for line in lines if line.occurred_at] == [
        "2024-03-01T00:00:00+08:00",
        "2024-03-01T23:59:59+08:00",
    ]


async def test_the_bill_lists_what_the_bank_did_not_what_it_answered() -> None:
    async with running_bank(_settings()) as bank:
        await bank.set_faults(false_success_rate=1.0)
        answered = (await bank.pay("ZM-SAID-YES", 1_000)).json()
        await bank.set_faults(false_success_rate=0.0)
        assert (await bank.pay("ZM-PAID", 2_000)).status == 200
        lines, _, _ = await _bill(bank, _today())

    assert answered["code"] == "SUCCESS"  # the bank said yes; its books say the debit failed
    assert [line.order_id for line in lines] == ["ZM-PAID"]
