"""WeChat Pay's trade and fund-flow bills: the shared fixtures' figures and each failure mode."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from paysuite.money import Money
from recon.domain.statements import LineKind, StatementFormat, StatementRefused
from tests.unit.statement_support import fixture, read

BEIJING = ZoneInfo("Asia/Shanghai")
TRADE = StatementFormat.WECHAT
FUNDFLOW = StatementFormat.WECHAT_FUNDFLOW

ALL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
TOTALS = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
PAYMENT = {
    "交易时间": "2026-11-21 09:30:00",
    "公众账号ID": "wx81be3101902f7cb2",
    "商户号": "1601959334",
    "特约商户号": "0",
    "微信订单号": "4200000925202611210000000001",
    "商户订单号": "pay_1",
    "用户标识": "openid",
    "交易类型": "MICROPAY",
    "交易状态": "SUCCESS",
    "付款银行": "CMB",
    "货币种类": "CNY",
    "应结订单金额": "100.00",
    "代金券金额": "0.00",
    "微信退款单号": "0",
    "商户退款单号": "0",
    "退款金额": "0.00",
    "充值券退款金额": "0.00",
    "商品名称": "tea, two cups",
    "商户数据包": '{"table":7,"seats":2}',
    "手续费": "0.60000",
    "费率": "0.60%",
    "订单金额": "100.00",
    "申请退款金额": "0.00",
}
REFUND = {
    **PAYMENT,
    "交易时间": "2026-11-20 18:00:00",
    "微信订单号": "4200000925202611200000000009",
    "商户订单号": "pay_0",
    "交易状态": "REFUND",
    "应结订单金额": "0.00",
    "微信退款单号": "50300806962026112100000000001",
    "商户退款单号": "ref_1",
    "退款金额": "17.00",
    "退款类型": "ORIGINAL",
    "退款状态": "SUCCESS",
    "手续费": "-0.10200",
    "订单金额": "0.00",
    "申请退款金额": "17.00",
}


def row(values: dict[str, str], header: str = ALL) -> str:
    """A detail row as WeChat writes it: every value after a backtick, nothing quoted."""
    return ",".join(f"`{values.get(name, '')}" for name in header.split(","))


def bill(*rows: str, totals: str | None = None, header: str = ALL) -> bytes:
    figures = totals if totals is not None else "`2,`100.00,`17.00,`0.00,`0.49800,`100.00,`17.00"
    lines = [header, *rows, TOTALS, figures] if figures else [header, *rows]
    return ("\n".join(lines) + "\n").encode()


# --- the shared fixtures ---------------------------------------------------------------------


def test_a_production_v3_all_bill_reads_to_its_totals() -> None:
    content = fixture("gunsluo__wechatpay-go__helper_test.go__tradebill_ALL_gunzipped.csv")

    read_ = read(TRADE, content)

    assert read_.totals == {
        "currency": "CNY",
        "payments": 3,
        "refunds": 0,
        "payment_minor_units": 3,
        "refund_minor_units": 0,
        "credit_minor_units": 3,
        "debit_minor_units": 0,
        "fee_net": "0.00000",
    }
    first = read_.lines[0]
    assert (first.line_no, first.channel_transaction_id, first.order_id) == (
        2,
        "4200000925202101284997714292",
        "S20210128170702357723",
    )
    assert first.occurred_at == datetime(2021, 1, 28, 17, 7, 11, tzinfo=BEIJING)
    assert first.status == "SUCCESS"
    assert read_.summary.breaks == ()
    assert read_.summary.control_totals_consistent
    assert read_.summary.rejected == 0


def test_the_sandbox_all_bill_tab_separated_reads_to_its_1269_rows() -> None:
    cassette = json.loads(
        fixture("elixir-wechat__wechat_pay__fixture__vcr_cassettes__download_bill.json")
    )
    content = cassette[0]["response"]["body"].encode()

    read_ = read(TRADE, content)

    assert read_.summary.rows == 1269
    assert read_.totals == {
        "currency": "CNY",
        "payments": 752,
        "refunds": 517,
        "payment_minor_units": 1127,  # 订单总金额 11.27 (应结订单总金额 10.79 nets vouchers)
        "refund_minor_units": 637,  # 申请退款总金额 6.37
        "credit_minor_units": 1127,
        "debit_minor_units": 637,
        "fee_net": "0",
    }
    # Every one of its seven totals agrees with the rows, 1269 / 10.79 / 5.93 / 0.24 / 0 / ...
    assert read_.summary.breaks == ()
    assert read_.summary.rejected == 0
    refund = read_.lines[0]
    assert refund.kind is LineKind.REFUND
    assert refund.channel_transaction_id == "4.00123E+27"  # the sandbox's ids, as written
    assert refund.refund_id == "REF4001232001201605015390231647"
    assert refund.status == "PROCESSING"
    assert refund.occurred_at == datetime(2016, 5, 4, 2, 18, tzinfo=BEIJING)
    assert sum(1 for line in read_.lines if line.status == "PROCESSING") == 45


# --- made-up trade bills ---------------------------------------------------------------------


def test_fees_are_kept_at_five_decimals_and_a_refund_gives_its_fee_back() -> None:
    read_ = read(TRADE, bill(row(PAYMENT), row(REFUND)))

    payment, refund = read_.lines
    assert (payment.kind, payment.amount, str(payment.fee)) == (
        LineKind.PAYMENT,
        Money("CNY", 10000),
        "0.60000",
    )
    assert (refund.kind, refund.amount, str(refund.fee)) == (
        LineKind.REFUND,
        Money("CNY", 1700),
        "-0.10200",
    )
    assert (refund.order_id, refund.refund_id) == ("pay_0", "ref_1")
    assert (refund.channel_refund_id, refund.status) == ("50300806962026112100000000001", "SUCCESS")
    assert read_.totals["fee_net"] == "0.49800"
    assert read_.summary.breaks == ()


def test_commas_inside_backticked_values_do_not_split_them() -> None:
    (line,) = read(TRADE, bill(row(PAYMENT), totals="`1,`100.00,`0,`0,`0.6,`100.00,`0")).lines

    assert line.order_id == "pay_1"
    assert line.amount == Money("CNY", 10000)


def test_success_and_refund_bills_have_their_own_columns() -> None:
    success_header = (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,"
        "订单金额,费率备注"
    )
    refund_header = (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,"
        "商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,"
        "订单金额,申请退款金额,费率备注"
    )
    refunded = {
        **REFUND,
        "退款申请时间": "2026-11-21 10:00:00",
        "退款成功时间": "2026-11-21 10:00:05",
    }

    (payment,) = read(
        TRADE,
        bill(
            row(PAYMENT, success_header),
            header=success_header,
            totals="`1,`100.00,`0.00,`0.00,`0.60000,`100.00,`0.00",
        ),
    ).lines
    refunds = read(
        TRADE,
        bill(
            row(refunded, refund_header),
            header=refund_header,
            totals="`1,`0.00,`17.00,`0.00,`-0.10200,`0.00,`17.00",
        ),
    )

    assert payment.amount == Money("CNY", 10000)
    (refund,) = refunds.lines
    assert refund.occurred_at == datetime(2026, 11, 21, 10, 0, 5, tzinfo=BEIJING)
    assert refunds.summary.breaks == ()


def test_a_malformed_line_is_reported_with_its_number_and_the_rest_is_read() -> None:
    broken = {**PAYMENT, "订单金额": "1.234", "商户订单号": "pay_2"}
    totals = "`3,`200.00,`17.00,`0.00,`1.09800,`101.234,`17.00"
    content = bill(row(PAYMENT), row(broken), row(REFUND), totals=totals)

    read_ = read(TRADE, content)

    assert [line.line_no for line in read_.lines] == [2, 4]
    ((number, reason),) = read_.rejected
    assert number == 3
    assert "订单金额 '1.234'" in reason
    # The file's totals count the line that could not be read: they no longer agree.
    assert read_.summary.breaks[0] == "总交易单数: the file says 3, its lines give 2"


def test_a_line_with_missing_fields_or_an_unknown_state_is_rejected() -> None:
    short = ",".join(row(PAYMENT).split(",")[:20])
    odd = row({**PAYMENT, "交易状态": "NOTPAY"})

    read_ = read(TRADE, bill(short, odd, totals="`0,`0,`0,`0,`0,`0,`0"))

    assert read_.rejected == [
        (2, "20 fields where the header has 27"),
        (3, "交易状态 'NOTPAY' is neither a payment nor a refund"),
    ]


def test_totals_that_disagree_with_the_lines_are_a_file_level_break() -> None:
    content = bill(row(PAYMENT), totals="`2,`100.00,`0.00,`0.00,`0.60000,`100.01,`0.00")

    summary = read(TRADE, content).summary

    assert not summary.control_totals_consistent
    assert summary.breaks == (
        "总交易单数: the file says 2, its lines give 1",
        "订单总金额: the file says 100.01, its lines give 100.00",
    )
    assert summary.rejected == 0


def test_a_bill_cut_off_before_its_totals_is_a_break() -> None:
    summary = read(TRADE, bill(row(PAYMENT), totals="")).summary

    assert "总交易单数: the file gives none (cut short?)" in summary.breaks


@pytest.mark.parametrize(
    ("content", "line"),
    [
        # The 2014 layout: 24 columns, 总金额 where 应结订单金额 is now.
        (
            "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,总金额\n",
            1,
        ),
        ("\n\n记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元)\n", 3),
        ("<xml><return_code>FAIL</return_code><return_msg>No Bill Exist</return_msg></xml>", 1),
    ],
)
def test_an_unknown_header_is_refused_naming_its_line(content: str, line: int) -> None:
    with pytest.raises(StatementRefused) as refused:
        read(TRADE, content.encode())

    assert refused.value.line == line
    assert "unknown header" in refused.value.reason


def test_a_byte_order_mark_and_crlf_line_ends_are_read_through() -> None:
    content = b"\xef\xbb\xbf" + bill(row(PAYMENT), row(REFUND)).replace(b"\n", b"\r\n")

    assert [line.order_id for line in read(TRADE, content).lines] == ["pay_1", "pay_0"]


# --- fund-flow bills -------------------------------------------------------------------------

FUNDFLOW_HEADER = (
    "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),"
    "资金变更提交申请人,备注,业务凭证号"
)
FUNDFLOW_TOTALS = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额"


def test_a_fund_flow_bill_whose_count_disagrees_with_its_lines_is_a_break() -> None:
    # As in gunsluo/wechatpay-go's test: two refunds paid out, totals that say three lines.
    content = "\n".join(
        [
            FUNDFLOW_HEADER,
            "`2021-02-01 13:54:01,`50300806962021020105978994968,`4200000920202101197964319284,"
            "`退款,`退款,`支出,`0.01,`0.22,`1601959334API,`退款总金额0.01元;含手续费0.00元,"
            "`S20210201135356381941",
            "`2021-02-01 14:00:45,`50300907032021020105978998710,`4200000846202101197461830397,"
            "`退款,`退款,`支出,`0.01,`0.21,`1601959334API,`退款总金额0.01元;含手续费0.00元,"
            "`S20210201140044552846",
            FUNDFLOW_TOTALS,
            "`3,`1,`0.01,`2,`0.02",
        ]
    ).encode()

    read_ = read(FUNDFLOW, content)

    assert read_.totals["refunds"] == 2
    assert read_.totals["debit_minor_units"] == 2
    assert read_.summary.breaks == (
        "资金流水总笔数: the file says 3, its lines give 2",
        "收入笔数: the file says 1, its lines give 0",
        "收入金额: the file says 0.01, its lines give 0",
    )
    assert read_.summary.balances_consistent  # 0.22 then 0.21: each follows the one before


def test_fund_flow_lines_fees_and_a_balance_that_does_not_follow() -> None:
    # Full-width parentheses around 元, as the V2 bill writes them.
    header = FUNDFLOW_HEADER.replace("(元)", "\uff08元\uff09")
    lines = [
        "`2026-11-22 09:00:00,`4200000001,`F1,`交易,`交易,`收入,`100.00,`1100.00,`api,`,`pay_1",
        "`2026-11-22 09:00:00,`4200000001,`F2,`交易,`扣除交易手续费,`支出,`0.60,`1099.40,`api,"
        "`,`pay_1",
        "`2026-11-22 10:00:00,`5030000001,`F3,`退款,`退款,`支出,`17.00,`1082.40,`api,`,`ref_1",
        "`2026-11-22 11:00:00,`1000000001,`F4,`提现,`提现,`支出,`1000.00,`82.00,`api,`,`W1",
    ]
    content = "\n".join([header, *lines, FUNDFLOW_TOTALS, "`4,`1,`100.00,`3,`1017.60"]).encode()

    read_ = read(FUNDFLOW, content)

    assert [line.kind for line in read_.lines] == [
        LineKind.PAYMENT,
        LineKind.FEE,
        LineKind.REFUND,
        LineKind.TRANSFER,
    ]
    assert read_.totals["fee_net"] == "0.60"
    assert (read_.totals["credit_minor_units"], read_.totals["debit_minor_units"]) == (
        10000,
        101760,
    )
    # 1082.40 - 1000.00 is 82.40, not 82.00: the withdrawal's line does not follow.
    assert read_.summary.balances_consistent is False
    assert read_.summary.breaks == (
        "账户结余 at line 5: the file says 82.00, its lines give 82.40",
    )
    assert read_.summary.control_totals_consistent
