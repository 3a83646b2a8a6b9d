"""Bank statements (camt.053), the bank simulator's CSV and mapped CSVs: figures and failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from paysuite.money import Money
from recon.domain.statements import (
    ColumnMapping,
    Direction,
    LineKind,
    StatementFormat,
    StatementRefused,
)
from tests.unit.statement_support import fixture, read

CAMT = StatementFormat.CAMT053
OCA = "OCA__bank-statement-import__account_statement_import_camt__test_files__test-camt053.xml"
GENKGO = "genkgo__camt__test__data__camt053.v8.xml"
MT940 = "wolph__mt940__mt940_tests__jejik__abnamro.sta"


# --- camt.053: the shared fixtures -----------------------------------------------------------


def test_a_camt053_001_02_batch_is_expanded_and_its_balances_do_not_close() -> None:
    read_ = read(CAMT, fixture(OCA))

    # Three entries, the second a batch of two direct-debit returns: four transactions.
    assert read_.summary.rows == 4
    assert [(line.line_no, line.direction, line.amount.minor_units) for line in read_.lines] == [
        (50, Direction.DEBIT, 75425),
        (144, Direction.DEBIT, 56405),
        (185, Direction.DEBIT, 10000),
        (228, Direction.CREDIT, 140531),
    ]
    assert [line.order_id for line in read_.lines[1:3]] == [
        "TESTBANK/NL/20141229/01206408",
        "TESTBANK/NL/20141229/01206407",
    ]
    assert read_.totals == {
        "currency": "EUR",
        "payments": 1,
        "refunds": 3,
        "payment_minor_units": 140531,
        "refund_minor_units": 141830,
        "credit_minor_units": 140531,
        "debit_minor_units": 141830,
        "fee_net": "0",
        "closing_minor_units": 1512112,  # as the file states it, though it does not close
    }
    # The batch adds up to its entry (564.05 + 100.00 = 664.05); the anonymised statement's
    # balances do not: 15568.27 - 754.25 - 664.05 + 1405.31 = 15555.28, not 15121.12.
    assert read_.summary.control_totals_consistent
    assert read_.summary.balances_consistent is False
    assert read_.summary.breaks == (
        "statement 1234Test/1: opening balance + booked entries: the file says 15121.12 EUR, "
        "its lines give 15555.28 EUR",
    )


def test_a_camt053_001_08_entry_with_its_references_and_a_closing_balance_in_sek() -> None:
    read_ = read(CAMT, fixture(GENKGO))

    (line,) = read_.lines
    assert (line.kind, line.amount, line.status) == (LineKind.PAYMENT, Money("EUR", 885), "BOOK")
    assert (line.channel_transaction_id, line.order_id) == (
        "AAAASESS-FP-CN_98765/01",
        "MUELL/FINP/RA12345",
    )
    assert line.occurred_at == datetime(2014, 12, 31, 13, 15, tzinfo=timezone(timedelta(hours=1)))
    assert read_.summary.balances_consistent is False
    assert read_.summary.breaks == (
        "statement 253EURNL26VAYB8060476890: opening balance + booked entries: "
        "the file says -27.00 SEK, its lines give 27.00 EUR",
    )


def test_an_mt940_file_is_not_taken_for_a_camt053() -> None:
    with pytest.raises(StatementRefused) as refused:
        read(CAMT, fixture(MT940))

    assert refused.value.line == 1
    assert "not well-formed XML" in refused.value.reason


# --- camt.053: made-up statements ------------------------------------------------------------


def entry(amount: str, side: str, *details: str, status: str = "BOOK", batch: str = "") -> str:
    return (
        f'<Ntry><Amt Ccy="CNY">{amount}</Amt><CdtDbtInd>{side}</CdtDbtInd>'
        f"<Sts><Cd>{status}</Cd></Sts><BookgDt><Dt>2026-11-21</Dt></BookgDt>"
        f"<AcctSvcrRef>BANK-{amount}</AcctSvcrRef>"
        f"<NtryDtls>{batch}{''.join(details)}</NtryDtls></Ntry>"
    )


def tx(amount: str, end_to_end: str) -> str:
    return (
        f"<TxDtls><Refs><EndToEndId>{end_to_end}</EndToEndId></Refs>"
        f'<Amt Ccy="CNY">{amount}</Amt></TxDtls>'
    )


def balance(code: str, amount: str) -> str:
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="CNY">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>'
    )


def statement(
    *entries: str, closing: str = "125.00", version: str = "08", summary: str = ""
) -> bytes:
    body = "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">',
            "<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr><Stmt><Id>S-20261121</Id>",
            balance("OPBD", "100.00"),
            balance("CLBD", closing),
            summary,
            *entries,
            "</Stmt></BkToCstmrStmt></Document>",
        ]
    )
    return body.encode()


BATCH = entry(
    "30.00",
    "CRDT",
    tx("10.00", "pay_1"),
    tx("20.00", "pay_2"),
    batch="<Btch><NbOfTxs>2</NbOfTxs></Btch>",
)
ENTRIES = (
    BATCH,
    entry("5.00", "DBIT", tx("5.00", "ref_1")),
    entry("7.00", "CRDT", tx("7.00", "pay_3"), status="PDNG"),
)
SUMMARY = (
    "<TxsSummry><TtlNtries><NbOfNtries>3</NbOfNtries></TtlNtries>"
    "<TtlCdtNtries><NbOfNtries>2</NbOfNtries><Sum>37.00</Sum></TtlCdtNtries>"
    "<TtlDbtNtries><NbOfNtries>1</NbOfNtries><Sum>5.00</Sum></TtlDbtNtries></TxsSummry>"
)


@pytest.mark.parametrize("version", ["02", "04", "08"])
def test_booked_entries_carry_the_opening_balance_to_the_closing_one(version: str) -> None:
    read_ = read(CAMT, statement(*ENTRIES, version=version, summary=SUMMARY))

    assert [(line.order_id, line.amount.minor_units) for line in read_.lines] == [
        ("pay_1", 1000),
        ("pay_2", 2000),
        ("ref_1", 500),
        ("pay_3", 700),
    ]
    assert read_.lines[3].status == "PDNG"  # read, but not on the booked balance
    assert read_.lines[0].occurred_at == datetime(2026, 11, 21, tzinfo=UTC)
    assert read_.summary.balances_consistent is True
    assert read_.summary.breaks == ()


def test_a_closing_balance_the_entries_do_not_reach_is_a_balance_break() -> None:
    summary = read(CAMT, statement(*ENTRIES, closing="126.00")).summary

    assert summary.balances_consistent is False
    assert summary.control_totals_consistent
    assert summary.breaks == (
        "statement S-20261121: opening balance + booked entries: the file says 126.00 CNY, "
        "its lines give 125.00 CNY",
    )


def test_a_batch_that_does_not_add_up_and_totals_that_disagree_are_breaks() -> None:
    short_batch = BATCH.replace(tx("20.00", "pay_2"), tx("19.00", "pay_2")).replace(
        "<NbOfTxs>2</NbOfTxs>", "<NbOfTxs>3</NbOfTxs>"
    )
    wrong_summary = SUMMARY.replace("<Sum>37.00</Sum>", "<Sum>36.00</Sum>")

    summary = read(CAMT, statement(short_batch, *ENTRIES[1:], summary=wrong_summary)).summary

    assert summary.breaks == (
        "entry at line 7: its transactions (in minor units of CNY): the file says 3000, "
        "its lines give 2900",
        "entry at line 7: Btch NbOfTxs: the file says 3, its lines give 2",
        "statement S-20261121: TtlCdtNtries sum: the file says 36.00, its lines give 37.00",
    )
    assert summary.balances_consistent is True  # the entry's own amount is what was booked


def test_an_entry_that_cannot_be_read_is_rejected_with_its_line_and_the_rest_read() -> None:
    bad = entry("5.000001", "DBIT", tx("5.00", "ref_9"))

    read_ = read(CAMT, statement(*ENTRIES, bad))

    assert read_.summary.rows == 4
    ((number, reason),) = read_.rejected
    assert number == 10
    assert "5.000001" in reason


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        (
            statement(*ENTRIES).replace(b"camt.053.001.08", b"camt.052.001.08"),
            2,
            "unknown root element",
        ),
        (statement(*ENTRIES).replace(b"camt.053.001.08", b"camt.053.001.09"), 2, "unknown root"),
        (statement(*ENTRIES).replace(b"</Stmt>", b"</Stmnt>"), 10, "not well-formed XML"),
    ],
)
def test_an_unknown_document_or_broken_xml_is_refused_naming_the_line(
    content: bytes, line: int, reason: str
) -> None:
    with pytest.raises(StatementRefused) as refused:
        read(CAMT, content)

    assert refused.value.line == line
    assert reason in refused.value.reason


def test_a_statement_cut_short_is_refused() -> None:
    with pytest.raises(StatementRefused, match="cut short"):
        read(CAMT, statement(*ENTRIES).rsplit(b"\n", 1)[0])


# --- MT940 ----------------------------------------------------------------------------------


def test_an_abn_amro_mt940_file_reads_its_two_statements_and_their_balances_do_not_close() -> None:
    read_ = read(StatementFormat.MT940, fixture(MT940))

    assert read_.summary.rows == 10
    assert [line.amount.minor_units for line in read_.lines] == [
        900,
        1159,
        1163,
        1180,
        1345,
        1549,
        10700,
        14148,
        949,
        1500,
    ]
    first = read_.lines[0]
    assert (first.line_no, first.direction, first.order_id, first.status) == (
        8,
        Direction.DEBIT,
        "",  # NONREF
        "D",
    )
    assert first.occurred_at == datetime(2011, 5, 24, tzinfo=UTC)
    assert read_.lines[1].occurred_at == datetime(2011, 5, 23, tzinfo=UTC)  # its entry date
    assert read_.totals["debit_minor_units"] == 34593
    assert read_.totals["credit_minor_units"] == 0
    # Anonymised: 3236.28 - 321.44 is not 876.84, nor 2876.84 - 24.49 1849.75.
    assert read_.summary.balances_consistent is False
    assert read_.summary.breaks == (
        "statement ABN AMRO BANK NV 19321/1: opening balance + lines: the file says 876.84 EUR, "
        "its lines give 2914.84 EUR",
        "statement ABN AMRO BANK NV 19322/1: opening balance + lines: the file says 1849.75 EUR, "
        "its lines give 2852.35 EUR",
    )


MT940_STATEMENT = "\n".join(
    [
        "{1:F01BANKCNBJAXXX0000000000}{2:O940BANKCNBJAXXXN}{4:",
        ":20:STMT-20261121",
        ":25:6222020200012345678",
        ":28C:00321/1",
        ":60F:C261120CNY1000,00",
        ":61:2611211121C100,NTRFpay_1//BANK-1",
        "supplementary details",
        ":86:/EREF/pay_1/REMI/order 1",
        ":61:2611211121RC25,5NTRFref_1//BANK-2",
        ":61:2611211121D12,34NCHGNONREF",
        ":62F:C261121CNY1062,16",
        "-}",
    ]
)


def test_an_mt940_statement_that_closes_with_reversals_and_references() -> None:
    read_ = read(StatementFormat.MT940, MT940_STATEMENT.encode())

    payment, reversal, charge = read_.lines
    assert (payment.order_id, payment.channel_transaction_id, payment.amount) == (
        "pay_1",
        "BANK-1",
        Money("CNY", 10000),
    )
    assert (reversal.kind, reversal.status, reversal.amount) == (
        LineKind.REFUND,
        "RC",  # a reversed credit takes money out
        Money("CNY", 2550),
    )
    assert (charge.order_id, charge.amount.minor_units) == ("", 1234)
    assert read_.summary.balances_consistent is True
    assert read_.summary.breaks == ()


def test_an_mt940_line_that_cannot_be_read_is_rejected_and_others_are_not() -> None:
    broken = MT940_STATEMENT.replace("D12,34NCHG", "X12,34NCHG")

    read_ = read(StatementFormat.MT940, broken.encode())

    assert read_.rejected == [(10, ":61: '2611211121X12,34NCHGNONREF' is not a statement line")]
    assert read_.summary.balances_consistent is False  # the line rejected is not on it


@pytest.mark.parametrize(
    ("content", "line"),
    [(b'<?xml version="1.0"?>\n<Document/>', 1), (b"ABNANL2A\n940\n:25:517852257\n", 3)],
)
def test_a_file_that_does_not_start_an_mt940_statement_is_refused(
    content: bytes, line: int
) -> None:
    with pytest.raises(StatementRefused) as refused:
        read(StatementFormat.MT940, content)

    assert refused.value.line == line


# --- the bank simulator's CSV ----------------------------------------------------------------

BANKSIM = "\n".join(
    [
        "# banksim statement,mch_id=PAYSUITE01,date=2026-11-22",
        "trade_no,out_trade_no,trade_time,amount,currency,fee,status",
        "T0001,P1,2026-11-22 09:15:00,12.34,CNY,0.07,SUCCESS",
        "T0002,P2,2026-11-22 10:00:01,0.01,CNY,0.00,SUCCESS",
        "T0003,P3,2026-11-22 23:59:59,1000.00,CNY,6.00,SUCCESS",
        "# total_count=3,total_amount=1012.35",
    ]
)


def test_the_bank_simulators_statement_reads_to_its_trailer() -> None:
    read_ = read(StatementFormat.BANKSIM, BANKSIM.encode())

    assert read_.totals["payment_minor_units"] == 101235
    assert read_.totals["fee_net"] == "6.07"
    last = read_.lines[-1]
    assert (last.channel_transaction_id, last.order_id, last.line_no) == ("T0003", "P3", 5)
    assert last.occurred_at == datetime(2026, 11, 22, 23, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert read_.summary.breaks == ()


def test_the_simulators_trailer_disagreeing_or_missing_is_a_break() -> None:
    cut = BANKSIM.rsplit("\n", 2)[0]  # the last row and the trailer lost

    disagreeing = read(StatementFormat.BANKSIM, BANKSIM.replace("1012.35", "1012.36").encode())
    missing = read(StatementFormat.BANKSIM, cut.encode())

    assert disagreeing.summary.breaks == (
        "trailer total_amount: the file says 1012.36, its lines give 1012.35",
    )
    assert missing.summary.breaks == (
        "trailer total_count: the file gives none (cut short?)",
        "trailer total_amount: the file gives none (cut short?)",
    )


def test_the_simulators_statement_with_other_columns_is_refused() -> None:
    with pytest.raises(StatementRefused) as refused:
        read(StatementFormat.BANKSIM, BANKSIM.replace(",fee,", ",charge,").encode())

    assert refused.value.line == 2


# Format 2: refunds on their own lines, with the refund's numbers, the amount negative and the
# fee the bank kept (0.00: it gives no fee back).
BANKSIM_V2 = "\n".join(
    [
        "# banksim statement,mch_id=PAYSUITE01,date=2026-11-22,format=2,version=1",
        "trade_type,trade_no,out_trade_no,refund_no,out_refund_no,trade_time,amount,currency,fee,"
        "status",
        "PAYMENT,T0001,P1,,,2026-11-22 09:15:00,12.34,CNY,0.07,SUCCESS",
        "REFUND,T0001,P1,R0001,RF1,2026-11-22 11:00:00,-2.34,CNY,0.00,SUCCESS",
        "PAYMENT,T0003,P3,,,2026-11-22 23:59:59,1000.00,CNY,6.00,SUCCESS",
        "REFUND,T0000,P0,R0002,RF0,2026-11-22 23:59:59,-0.01,CNY,0.00,SUCCESS",
        "# total_count=4,total_amount=1009.99,refund_count=2,refund_amount=2.35",
    ]
)


def test_the_simulators_format_2_reads_refunds_keyed_by_our_refund_id() -> None:
    read_ = read(StatementFormat.BANKSIM, BANKSIM_V2.encode())

    assert read_.summary.breaks == ()
    assert read_.totals["payments"] == 2
    assert read_.totals["refunds"] == 2
    assert read_.totals["payment_minor_units"] == 101234
    assert read_.totals["refund_minor_units"] == 235
    assert read_.totals["fee_net"] == "6.07"
    refund = read_.lines[1]
    assert (refund.kind, refund.direction, refund.amount) == (
        LineKind.REFUND,
        Direction.DEBIT,
        Money("CNY", 234),
    )
    assert (refund.refund_id, refund.channel_refund_id, refund.order_id) == ("RF1", "R0001", "P1")
    assert (refund.channel_transaction_id, refund.fee, refund.line_no) == (
        "T0001",
        Decimal("0.00"),
        4,
    )
    payment = read_.lines[0]
    assert (payment.kind, payment.refund_id, payment.channel_refund_id) == (
        LineKind.PAYMENT,
        "",
        "",
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            "REFUND,T0001,P1,R0001,RF1,2026-11-22 11:00:00,2.34,CNY,0.00,SUCCESS",
            "a REFUND line's amount has the other sign",
        ),
        (
            "PAYMENT,T0001,P1,,,2026-11-22 11:00:00,-2.34,CNY,0.00,SUCCESS",
            "a PAYMENT line's amount has the other sign",
        ),
        (
            "REFUND,T0001,P1,R0001,,2026-11-22 11:00:00,-2.34,CNY,0.00,SUCCESS",
            "no out_refund_no",
        ),
        (
            "REVERSAL,T0001,P1,R0001,RF1,2026-11-22 11:00:00,-2.34,CNY,0.00,SUCCESS",
            "trade_type 'REVERSAL' is not PAYMENT or REFUND",
        ),
    ],
)
def test_a_format_2_line_of_the_wrong_sign_type_or_without_its_refund_id_is_rejected(
    row: str, reason: str
) -> None:
    lines = BANKSIM_V2.splitlines()
    lines[3] = row

    read_ = read(StatementFormat.BANKSIM, "\n".join(lines).encode())

    assert [(r.line, r.reason) for r in read_.summary.rejections] == [(4, reason)]


def test_format_2_refund_totals_disagreeing_or_missing_are_breaks() -> None:
    disagreeing = BANKSIM_V2.replace("refund_amount=2.35", "refund_amount=2.34")
    format_1_trailer = BANKSIM_V2.replace(",refund_count=2,refund_amount=2.35", "")

    assert read(StatementFormat.BANKSIM, disagreeing.encode()).summary.breaks == (
        "trailer refund_amount: the file says 2.34, its lines give 2.35",
    )
    assert read(StatementFormat.BANKSIM, format_1_trailer.encode()).summary.breaks == (
        "trailer refund_count: the file gives none (cut short?)",
        "trailer refund_amount: the file gives none (cut short?)",
    )


# --- a generic CSV through a mapping ---------------------------------------------------------


def test_a_mapped_csv_in_gb18030_with_semicolons_a_kind_column_and_local_times() -> None:
    content = "\n".join(
        [
            "流水号;订单号;类型;金额;币种;手续费;时间;状态",
            "C1;pay_1;收款;100.00;CNY;0.600;2026-11-21 09:00:00;成功",
            "C2;pay_1;退款;17.00;CNY;-0.102;2026-11-21T10:00:00+08:00;成功",
            "C3;pay_2;收款;abc;CNY;0;2026-11-21 11:00:00;成功",
        ]
    ).encode("gb18030")
    mapping = ColumnMapping(
        columns={
            "channel_transaction_id": "流水号",
            "order_id": "订单号",
            "kind": "类型",
            "amount": "金额",
            "currency": "币种",
            "fee": "手续费",
            "time": "时间",
            "status": "状态",
        },
        delimiter=";",
        encoding="gb18030",
        refund_values=("退款",),
        time_zone="Asia/Shanghai",
    )

    read_ = read(StatementFormat.CSV, content, mapping)

    payment, refund = read_.lines
    assert (payment.kind, refund.kind, refund.amount) == (
        LineKind.PAYMENT,
        LineKind.REFUND,
        Money("CNY", 1700),
    )
    assert payment.occurred_at is not None and refund.occurred_at is not None
    assert refund.occurred_at - payment.occurred_at == timedelta(hours=1)
    assert read_.totals["fee_net"] == "0.498"
    assert read_.rejected == [(4, "amount 'abc': not a plain decimal amount: 'abc'")]
    assert read_.summary.breaks == ()  # a generic CSV states no totals


def test_a_csv_with_the_default_mapping_takes_negative_amounts_for_refunds() -> None:
    content = b"channel_transaction_id,order_id,amount\nC1,pay_1,12.34\nC2,pay_1,-2.34\n"

    read_ = read(StatementFormat.CSV, content)

    assert (read_.totals["payment_minor_units"], read_.totals["refund_minor_units"]) == (1234, 234)


def test_a_csv_whose_header_lacks_a_mapped_column_is_refused() -> None:
    content = b"\nid,order,amount\nC1,pay_1,12.34\n"

    with pytest.raises(StatementRefused) as refused:
        read(StatementFormat.CSV, content, ColumnMapping(columns={"order_id": "order"}))

    assert refused.value.line == 2
    assert refused.value.reason == "the header has no column 'channel_transaction_id'"
