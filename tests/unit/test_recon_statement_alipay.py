"""Alipay's trade bill (zipped, GBK) and a personal export: figures and each failure mode."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from paysuite.money import Money
from recon.domain.statements import Direction, LineKind, StatementFormat, StatementRefused
from tests.unit.statement_support import fixture, read, zipped

ALIPAY = StatementFormat.ALIPAY
BEIJING = ZoneInfo("Asia/Shanghai")
# The full-width colon, comma and parentheses the bill writes.
COLON, COMMA, OPEN, CLOSE = "\uff1a", "\uff0c", "\uff08", "\uff09"

HEADER = (
    (
        "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
        "对方账户,订单金额(元),商家实收(元),支付宝红包(元),集分宝(元),支付宝优惠(元),商家优惠(元),"
        "券核销金额(元),券名称,商家红包消费金额(元),卡消费金额(元),退款批次号/请求号,服务费(元),"
        "分润(元),备注"
    )
    .replace("(", OPEN)
    .replace(")", CLOSE)
)


def row(trade_no: str, order: str, kind: str, amount: str, fee: str, batch: str = "") -> str:
    """A detail line as Alipay writes it: a tab after each id, negative amounts on refunds."""
    cells = [
        f"{trade_no}\t",
        f"{order}\t",
        f"{kind}\t",
        '"奶茶,大杯"',  # a comma in a value: the bill quotes it
        "2026-11-21 10:55:16",
        "2026-11-21 10:55:23" if kind == "交易" else "2026-11-21 16:00:00",
        "store\t",
        "store\t",
        "op\t",
        "\t",
        "*津水(602***@qq.com)\t",
        amount,
        amount,
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "",
        "0.00\t",
        "0.00",
        f"{batch}\t",
        fee,
        "0.00",
        "",
    ]
    return ",".join(cells)


def detail(*rows: str, footer: list[str] | None = None) -> str:
    footer = (
        footer
        if footer is not None
        else [
            f"#交易合计{COLON}2笔{COMMA}商家实收共150.00元{COMMA}商家优惠共0.00元",
            f"#退款合计{COLON}1笔{COMMA}商家实收退款共-17.00元{COMMA}商家优惠退款共0.00元",
        ]
    )
    return "\n".join(
        [
            "#支付宝业务明细查询",
            f"#账号{COLON}[20880211096256330156]",
            f"#起始日期{COLON}[2026年11月21日 00:00:00]   终止日期{COLON}[2026年11月22日 00:00:00]",
            "#-----------------------------------------业务明细列表----------------------------------------",
            HEADER,
            *rows,
            "#-----------------------------------------业务明细列表结束------------------------------------",
            *footer,
            f"#导出时间{COLON}[2026年11月22日 05:46:49]",
        ]
    )


ROWS = (
    row("2026112122001458860515315453", "pay_1", "交易", "100.00", "-0.60"),
    row("2026112122001458860515315454", "pay_2", "交易", "50.00", "-0.30"),
    row("2026112122001458860515315453", "pay_1", "退款", "-17.00", "0.10", batch="ref_1"),
)
ENTRY = "20880211096256330156_20261121_业务明细.csv"
SUMMARY_ENTRY = "20880211096256330156_20261121_业务明细(汇总).csv"


def bill_zip(text: str) -> bytes:
    return zipped(
        {ENTRY: text.encode("gb18030"), SUMMARY_ENTRY: "#支付宝业务汇总查询\n".encode("gb18030")}
    )


def test_a_zipped_gbk_bill_with_gbk_entry_names_reads_to_its_footer() -> None:
    content = bill_zip(detail(*ROWS))
    assert ENTRY.encode("gb18030") in content  # no UTF-8 flag: the name is GBK bytes

    read_ = read(ALIPAY, content)

    assert read_.totals == {
        "currency": "CNY",
        "payments": 2,
        "refunds": 1,
        "payment_minor_units": 15000,
        "refund_minor_units": 1700,
        "credit_minor_units": 15000,
        "debit_minor_units": 1700,
        # 服务费 -0.60 and -0.30 charged, 0.10 given back: 0.80 net, signed as a fee charged.
        "fee_net": "0.80",
    }
    payment, _, refund = read_.lines
    assert (payment.channel_transaction_id, payment.order_id) == (
        "2026112122001458860515315453",
        "pay_1",
    )  # the trailing tab is gone
    assert payment.occurred_at == datetime(2026, 11, 21, 10, 55, 23, tzinfo=BEIJING)
    assert (refund.kind, refund.direction, refund.amount) == (
        LineKind.REFUND,
        Direction.DEBIT,
        Money("CNY", 1700),
    )
    assert (refund.refund_id, str(refund.fee)) == ("ref_1", "-0.10")
    assert read_.summary.breaks == ()
    assert read_.summary.rejected == 0


def test_an_unzipped_bill_in_gbk_or_utf8_reads_the_same() -> None:
    for content in (detail(*ROWS).encode("gb18030"), detail(*ROWS).encode()):
        read_ = read(ALIPAY, content)
        assert read_.totals["payment_minor_units"] == 15000
        assert read_.summary.breaks == ()


def test_a_zip_with_utf8_flagged_names_is_read_too() -> None:
    content = zipped({ENTRY: detail(*ROWS).encode("gb18030")}, name_encoding="utf-8")

    assert read(ALIPAY, content).summary.rows == 3


def test_a_zip_without_a_detail_file_is_refused_naming_its_entries() -> None:
    content = zipped({SUMMARY_ENTRY: b"#", "readme.txt": b"x"})

    with pytest.raises(StatementRefused) as refused:
        read(ALIPAY, content)

    assert refused.value.line == 0
    assert SUMMARY_ENTRY in refused.value.reason  # the GBK name, read as such


def test_a_damaged_zip_is_refused() -> None:
    content = bytearray(bill_zip(detail(*ROWS)))
    start = content.index(ENTRY.encode("gb18030")) + len(ENTRY.encode("gb18030"))
    content[start + 20 : start + 40] = bytes(20)  # deflated data overwritten

    with pytest.raises(StatementRefused, match="the zip is damaged"):
        read(ALIPAY, bytes(content))


def test_footer_totals_that_disagree_or_are_missing_are_breaks() -> None:
    short = detail(*ROWS[:2], ROWS[2])
    disagreeing = read(ALIPAY, short.replace("商家实收共150.00元", "商家实收共150.01元").encode())
    missing = read(ALIPAY, detail(*ROWS, footer=[]).encode())

    assert disagreeing.summary.breaks == (
        "#交易合计 商家实收: the file says 150.01, its lines give 150.00",
    )
    assert missing.summary.breaks == (
        "#交易合计: the file gives none (cut short?)",
        "#退款合计: the file gives none (cut short?)",
    )


def test_a_line_that_contradicts_its_kind_is_rejected_with_its_number() -> None:
    wrong = row("2026112122001458860515315455", "pay_3", "退款", "17.00", "0.10")

    read_ = read(ALIPAY, detail(*ROWS, wrong).encode())

    assert read_.rejected == [(9, "a 退款 line with amount 17.00 CNY")]
    assert read_.summary.rows == 3


def test_an_unknown_header_is_refused_naming_its_line() -> None:
    older = detail(*ROWS).replace(HEADER, "支付宝交易号,商户订单号,业务类型,商品名称,订单金额")

    with pytest.raises(StatementRefused) as refused:
        read(ALIPAY, older.encode("gb18030"))

    assert refused.value.line == 5
    assert "unknown header '支付宝交易号,商户订单号,业务类型" in refused.value.reason


def test_a_personal_export_reads_and_its_preamble_totals_break() -> None:
    content = fixture(
        "deb-sig__double-entry-generator__example__alipay__example-alipay-records.csv"
    )

    read_ = read(ALIPAY, content)

    assert read_.totals == {
        "currency": "CNY",
        "payments": 8,
        "refunds": 2,
        "payment_minor_units": 22262148,
        "refund_minor_units": 6603,
        "credit_minor_units": 22222850,  # 收入
        "debit_minor_units": 21164,  # 支出; 4 lines are 不计收支
        "fee_net": "0",
    }
    first = read_.lines[0]
    assert (first.line_no, first.status, first.amount) == (26, "交易成功", Money("CNY", 4974))
    assert first.channel_transaction_id == "202302xxxxxx0011000103xxxxxx"
    # The anonymised sample keeps 10 of the 66 records its preamble counts.
    assert read_.summary.breaks == (
        "共N笔记录: the file says 66, its lines give 10",
        "收入 金额: the file says 28.50, its lines give 222228.50",
        "支出 笔数: the file says 63, its lines give 5",
        "支出 金额: the file says 16.54, its lines give 211.64",
        "不计收支 笔数: the file says 2, its lines give 4",
        "不计收支 金额: the file says 16.37, its lines give 247.37",
    )
    assert read_.summary.rejected == 0
