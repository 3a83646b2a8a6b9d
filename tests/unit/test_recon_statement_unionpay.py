"""UnionPay's ZM file as recon reads it: the bank simulator's bill (zipped, GBK), the fields at
their widths, S22 payments and S30 refunds with their originals' ids, fees as signed, a
malformed line rejected on its own, any other layout refused at its line."""

from __future__ import annotations

import functools
import io
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr, ValidationError

from channelsim.banktime import SHANGHAI
from channelsim.bill_faults import BillFaults
from channelsim.refunds import RefundRecord
from channelsim.settings import ChannelSimSettings
from channelsim.statement import BankBook
from channelsim.store import SUCCESS, Transaction
from channelsim.unionpay_zm import LINE_WIDTH, WIDTHS, entry_name, render_zm, zm_lines
from recon.adapters.statements import open_reader
from recon.adapters.statements.unionpay import LAYOUTS, UnionPayZm
from recon.domain.statement_totals import Tally
from recon.domain.statements import (
    Direction,
    LineKind,
    Rejection,
    StatementFormat,
    StatementLine,
    StatementRefused,
)

DAY = date(2026, 11, 22)
MCH = "PAYSUITE01"
ORDER = "pay_019a8f3c2d1e4b5a6c7d8e9f0a1b"
REFUND_ID = "rfd_019a8f3c2d1e4b5a6c7d8e9f0a1b"


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=SHANGHAI)


def _book() -> BankBook:
    paid = Transaction(
        ORDER, "B20261122000000123456", MCH, 10_000, "CNY", 60, SUCCESS, "", "", _at(9, 15)
    )
    other = Transaction(
        "pay_2", "B20261122000000654321", MCH, 1_999, "CNY", 12, SUCCESS, "", "", _at(23, 59)
    )
    refund = RefundRecord(
        REFUND_ID, ORDER, 2_500, "R20261122000000999999", SUCCESS, refunded_at=_at(10).timestamp()
    )
    return BankBook([paid, other], [refund], MCH, 60)


def _bill(faults: BillFaults | None = None) -> bytes:
    return render_zm(
        _book(), day=DAY, now=_at(23, 59).timestamp() + 3600, faults=faults or BillFaults(),
        short_name="支付套件",
    )  # fmt: skip


def _read(data: bytes) -> tuple[list[StatementLine], list[Rejection]]:
    items = list(open_reader(StatementFormat.UNIONPAY_ZM, io.BytesIO(data)))
    return (
        [i for i in items if isinstance(i, StatementLine)],
        [i for i in items if isinstance(i, Rejection)],
    )


def _plain(faults: BillFaults | None = None) -> list[bytes]:
    lines = zm_lines(
        _book(), day=DAY, now=_at(23, 59).timestamp() + 3600, faults=faults or BillFaults(),
        short_name="支付套件",
    )  # fmt: skip
    return lines


@functools.cache
def _first() -> bytes:
    return _plain()[0]


def zm_line(order_id: str) -> bytes:
    """A payment's ZM line for an order (a stream's row)."""
    line = _first()
    at = sum(WIDTHS[:11]) + 11
    return line[:at] + order_id.encode().ljust(WIDTHS[11]) + line[at + WIDTHS[11] :]


def test_the_simulators_bill_reads_as_payments_and_refunds_with_their_originals() -> None:
    lines, rejected = _read(_bill())

    assert rejected == []
    payment, refund, late = lines
    assert (payment.kind, payment.direction) == (LineKind.PAYMENT, Direction.CREDIT)
    assert (payment.channel_transaction_id, payment.order_id) == ("B20261122000000123456", ORDER)
    assert payment.amount.minor_units == 10_000
    assert payment.fee == Decimal("0.60") and str(payment.fee) == "0.60"
    assert payment.occurred_at == _at(9, 15)
    assert payment.status == "S22"
    assert (refund.kind, refund.direction, refund.status) == (
        LineKind.REFUND,
        Direction.DEBIT,
        "S30",
    )
    assert refund.amount.minor_units == 2_500
    assert refund.fee == 0 and str(refund.fee) == "0.00"  # the bank keeps its fee
    assert (refund.channel_transaction_id, refund.order_id) == ("B20261122000000123456", ORDER)
    assert (refund.channel_refund_id, refund.refund_id) == ("R20261122000000999999", REFUND_ID)
    assert late.occurred_at == _at(23, 59)
    assert late.fee == Decimal("0.12")


def test_the_zip_holds_the_zm_and_zme_entries_as_published() -> None:
    archive = zipfile.ZipFile(io.BytesIO(_bill()))

    assert archive.namelist() == ["INN26112288ZM_PAYSUITE01", "INN26112288ZME_PAYSUITE01"]
    assert entry_name("ZM", DAY, MCH) == "INN26112288ZM_PAYSUITE01"
    assert archive.read("INN26112288ZME_PAYSUITE01") == b""
    assert archive.comment == b"version=1"
    assert _bill() == _bill()  # the same bill is the same bytes: imported once


def test_each_line_is_the_42_fields_at_their_gbk_widths() -> None:
    content = zipfile.ZipFile(io.BytesIO(_bill())).read("INN26112288ZM_PAYSUITE01")
    lines = content.split(b"\r\n")

    assert lines[-1] == b"" and len(lines) == 4
    assert len(WIDTHS) == 42 and LINE_WIDTH == 607 and set(LAYOUTS) == {607, 608}
    for raw in lines[:-1]:
        assert len(raw) == LINE_WIDTH  # bytes, the short name's Chinese two each
        fields, start = [], 0
        for width in WIDTHS:
            fields.append(raw[start : start + width].decode("gbk"))
            assert raw[start + width : start + width + 1] in (b" ", b"")
            start += width + 1
        assert fields[30].rstrip() == "支付套件"
        assert fields[27].rstrip() == MCH
    payment, refund = (raw.decode("gbk") for raw in lines[:2])
    assert payment[:3] == "S22" and refund[:3] == "S30"
    fee_at = sum(WIDTHS[:15]) + 15
    assert payment[fee_at : fee_at + 27] == "D000000000060 C000000009940"
    assert refund[fee_at : fee_at + 27] == "D000000000000 D000000002500"


def test_a_plain_file_reads_too_its_year_the_nearest_today() -> None:
    data = b"\n".join(_plain()) + b"\n"

    lines = list(UnionPayZm(io.BytesIO(data), today=date(2027, 1, 3)))

    assert [line.occurred_at for line in lines if isinstance(line, StatementLine)] == [
        _at(9, 15),
        _at(10),
        _at(23, 59),
    ]


def test_a_malformed_line_is_rejected_with_its_reason_and_the_rest_read() -> None:
    good = _plain()
    amount_at = sum(WIDTHS[:6]) + 6
    bad_amount = good[0][:amount_at] + b"00000000X000" + good[0][amount_at + 12 :]
    other_code = b"S31" + good[0][3:]
    short = good[1][:-10]
    name_end = sum(WIDTHS[:31]) + 30  # the short name's field's last byte: a lead byte alone
    torn_gbk = good[2][: name_end - 1] + b"\x81" + good[2][name_end:]
    data = b"\r\n".join([good[0], bad_amount, other_code, short, torn_gbk, good[1]]) + b"\r\n"

    lines, rejected = _read(data)

    assert [line.line_no for line in lines] == [1, 6]
    assert [(r.line, r.reason) for r in rejected] == [
        (2, "交易金额 '00000000X000' is not 12 digits of fen"),
        (3, "交易代码 'S31' is neither S22 (消费) nor S30 (退货)"),
        (4, "597 bytes where the file's lines have 607"),
        (5, f"not GBK text at byte {name_end}"),
    ]


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"trade_type,trade_no,out_trade_no,amount\nPAYMENT,B1,P1,1.00\n", 1),
        (b"\n\n" + b"S22" + b"x" * 604 + b"\n", 3),  # the width, but no separators
        (b"S22 " + b" " * 700 + b"\n", 1),
    ],
    ids=["csv", "no-separators", "other-width"],
)
def test_any_other_layout_is_refused_at_its_first_line(content: bytes, line: int) -> None:
    with pytest.raises(StatementRefused) as refused:
        _read(content)

    assert refused.value.line == line
    assert "not a UnionPay ZM line (607 bytes or 608 bytes)" in refused.value.reason


def test_a_zip_without_a_zm_entry_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("INN26112288ZME_PAYSUITE01", b"")

    with pytest.raises(StatementRefused, match="no single ZM file"):
        _read(buffer.getvalue())


def test_the_newer_46_field_layout_reads_the_same_fields() -> None:
    widened = [line[:-98] + b" " * 99 for line in _plain()]  # 清算金额 ... 保留 in 99 bytes

    lines, rejected = _read(b"\n".join(widened))

    assert rejected == []
    assert [(line.kind, line.order_id) for line in lines] == [
        (LineKind.PAYMENT, ORDER),
        (LineKind.REFUND, ORDER),
        (LineKind.PAYMENT, "pay_2"),
    ]


def test_bill_faults_leave_lines_out_and_add_made_up_ones() -> None:
    faults = BillFaults(omit=frozenset({REFUND_ID, "pay_2"}), extra_lines=2)
    tally = Tally()

    reader = open_reader(StatementFormat.UNIONPAY_ZM, io.BytesIO(_bill(faults)))
    lines = list(tally.count(reader))

    assert [line.order_id for line in lines if not line.order_id.startswith("X")] == [ORDER]
    made_up = [line for line in lines if line.order_id.startswith("X")]
    assert len(made_up) == 2 and all(line.kind is LineKind.PAYMENT for line in made_up)
    assert tally.summary(reader.checks).breaks == ()


def test_the_simulator_refuses_a_short_name_gbk_cannot_write() -> None:
    with pytest.raises(ValidationError, match="merchant_short_name"):
        ChannelSimSettings(secret=SecretStr("s"), merchant_short_name="支付套件\U0001f600")
    assert ChannelSimSettings(secret=SecretStr("s")).bill_format == "unionpay-zm"
