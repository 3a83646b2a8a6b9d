"""Pure tests of reconciliation matching and of the bank statement CSV parser."""

from __future__ import annotations

import pytest

from paysuite.money import Money
from recon.adapters.banksim_statement import parse
from recon.domain.model import (
    MatchResult,
    OurRecord,
    Outcome,
    StatementFormatError,
    StatementLine,
    count,
    match,
)


def _line(
    payment_id: str, fen: int, succeeded: bool = True, currency: str = "CNY"
) -> StatementLine:
    return StatementLine(payment_id, f"T-{payment_id}", Money(currency, fen), succeeded)


def _ours(payment_id: str, fen: int, succeeded: bool = True, currency: str = "CNY") -> OurRecord:
    return OurRecord(payment_id, Money(currency, fen), succeeded)


def _by_id(results: list[MatchResult]) -> dict[str, MatchResult]:
    by_id = {r.payment_id: r for r in results}
    assert len(by_id) == len(results), "one result per payment"
    return by_id


# --- match -----------------------------------------------------------------------------------


def test_same_id_and_amount_on_both_sides_is_matched() -> None:
    [result] = match([_line("P1", 1234)], [_ours("P1", 1234)])

    assert result == MatchResult("P1", Outcome.MATCHED, Money("CNY", 1234), Money("CNY", 1234))


def test_statement_success_we_do_not_have_is_long() -> None:
    [result] = match([_line("P1", 1234)], [])

    assert result == MatchResult("P1", Outcome.LONG, Money("CNY", 1234), None)


def test_statement_success_we_recorded_as_failed_is_long() -> None:
    [result] = match([_line("P1", 1234)], [_ours("P1", 1234, succeeded=False)])

    assert result == MatchResult("P1", Outcome.LONG, Money("CNY", 1234), Money("CNY", 1234))


def test_our_success_missing_from_statement_is_short() -> None:
    [result] = match([], [_ours("P1", 500)])

    assert result == MatchResult("P1", Outcome.SHORT, None, Money("CNY", 500))


@pytest.mark.parametrize("statement", [Money("CNY", 1235), Money("USD", 1234)])
def test_different_amount_or_currency_is_amount_mismatch(statement: Money) -> None:
    line = StatementLine("P1", "T1", statement, True)

    [result] = match([line], [_ours("P1", 1234)])

    assert result == MatchResult("P1", Outcome.AMOUNT_MISMATCH, statement, Money("CNY", 1234))


def test_non_success_statement_lines_are_ignored() -> None:
    lines = [_line("P1", 100, succeeded=False), _line("P2", 200, succeeded=False)]
    records = [_ours("P1", 100)]

    # P1 failed on the statement but succeeded with us: that is our success unconfirmed.
    assert match(lines, records) == [MatchResult("P1", Outcome.SHORT, None, Money("CNY", 100))]


def test_our_failed_records_absent_from_statement_are_not_differences() -> None:
    assert match([], [_ours("P1", 100, succeeded=False), _ours("P2", 5, succeeded=False)]) == []


def test_mixed_day_gives_each_payment_its_outcome() -> None:
    lines = [
        _line("P1", 100),
        _line("P2", 200),
        _line("P3", 300),
        _line("P4", 400, succeeded=False),
        _line("P5", 500),
    ]
    records = [
        _ours("P1", 100),
        _ours("P2", 201),
        _ours("P4", 400),
        _ours("P5", 500, succeeded=False),
        _ours("P6", 600),
        _ours("P7", 700, succeeded=False),
    ]

    results = _by_id(match(lines, records))

    assert {k: r.outcome for k, r in results.items()} == {
        "P1": Outcome.MATCHED,
        "P2": Outcome.AMOUNT_MISMATCH,
        "P3": Outcome.LONG,
        "P4": Outcome.SHORT,
        "P5": Outcome.LONG,
        "P6": Outcome.SHORT,
    }
    assert count(results.values()) == {
        Outcome.MATCHED: 1,
        Outcome.AMOUNT_MISMATCH: 1,
        Outcome.LONG: 2,
        Outcome.SHORT: 2,
    }


def test_count_leaves_out_outcomes_that_did_not_occur() -> None:
    assert count([]) == {}
    assert count(match([_line("P1", 1)], [_ours("P1", 1)])) == {Outcome.MATCHED: 1}


def test_result_currency_comes_from_whichever_side_exists() -> None:
    assert MatchResult("P1", Outcome.SHORT, None, Money("USD", 1)).currency == "USD"
    assert MatchResult("P1", Outcome.LONG, Money("JPY", 1), None).currency == "JPY"


# --- statement parser ------------------------------------------------------------------------

HEADER = "# banksim statement,mch_id=PAYSUITE01,date=2026-11-22"
COLUMNS = "trade_no,out_trade_no,trade_time,amount,currency,fee,status"
ROWS = [
    "T0001,P1,2026-11-22 09:15:00,12.34,CNY,0.07,SUCCESS",
    "T0002,P2,2026-11-22 10:00:01,0.01,CNY,0.00,SUCCESS",
    "T0003,P3,2026-11-22 23:59:59,1000.00,CNY,6.00,SUCCESS",
]
TRAILER = "# total_count=3,total_amount=1012.35"


def _statement(
    *,
    header: str = HEADER,
    columns: str = COLUMNS,
    rows: list[str] | None = None,
    trailer: str | None = TRAILER,
) -> bytes:
    lines = [header, columns, *(ROWS if rows is None else rows)]
    if trailer is not None:
        lines.append(trailer)
    return ("\n".join(lines) + "\n").encode()


def test_well_formed_statement_parses_to_exact_fen() -> None:
    lines = parse(_statement())

    assert lines == [
        StatementLine("P1", "T0001", Money("CNY", 1234), True),
        StatementLine("P2", "T0002", Money("CNY", 1), True),
        StatementLine("P3", "T0003", Money("CNY", 100000), True),
    ]


def test_byte_order_mark_and_crlf_are_tolerated() -> None:
    content = b"\xef\xbb\xbf" + _statement().replace(b"\n", b"\r\n")

    assert [line.amount.minor_units for line in parse(content)] == [1234, 1, 100000]


def test_non_success_rows_are_parsed_as_not_succeeded() -> None:
    rows = [ROWS[0], "T0009,P9,2026-11-22 11:00:00,5.00,CNY,0.00,CLOSED"]

    lines = parse(_statement(rows=rows, trailer="# total_count=2,total_amount=17.34"))

    assert [(line.payment_id, line.succeeded) for line in lines] == [("P1", True), ("P9", False)]


def test_empty_statement_with_zero_trailer_has_no_lines() -> None:
    assert parse(_statement(rows=[], trailer="# total_count=0,total_amount=0.00")) == []


def test_missing_trailer_is_an_incomplete_file() -> None:
    with pytest.raises(StatementFormatError):
        parse(_statement(trailer=None))


def test_file_cut_mid_way_is_refused() -> None:
    with pytest.raises(StatementFormatError):
        parse(_statement(rows=ROWS[:2], trailer=None))


@pytest.mark.parametrize(
    "trailer",
    [
        "# total_count=2,total_amount=1012.35",
        "# total_count=4,total_amount=1012.35",
        "# total_count=3,total_amount=1012.34",
        "# total_count=3,total_amount=1012.36",
        "# total_count=3,total_amount=-1012.35",
    ],
)
def test_trailer_that_disagrees_with_the_rows_is_refused(trailer: str) -> None:
    with pytest.raises(StatementFormatError):
        parse(_statement(trailer=trailer))


def test_dropped_row_is_caught_by_the_trailer() -> None:
    with pytest.raises(StatementFormatError):
        parse(_statement(rows=ROWS[:2]))


@pytest.mark.parametrize(
    "columns",
    [
        "trade_no,out_trade_no,trade_time,amount,currency,status",
        "out_trade_no,trade_no,trade_time,amount,currency,fee,status",
        "trade_no,out_trade_no,trade_time,amount,currency,fee,status,extra",
        "TRADE_NO,OUT_TRADE_NO,TRADE_TIME,AMOUNT,CURRENCY,FEE,STATUS",
    ],
)
def test_wrong_columns_are_refused(columns: str) -> None:
    with pytest.raises(StatementFormatError):
        parse(_statement(columns=columns))


def test_trailer_only_file_is_refused() -> None:
    with pytest.raises(StatementFormatError):
        parse(b"# total_count=0,total_amount=0.00\n")


def test_row_with_missing_fields_is_a_format_error() -> None:
    rows = [ROWS[0], ROWS[1], "T0003,P3,2026-11-22 23:59:59"]

    with pytest.raises(StatementFormatError):
        parse(_statement(rows=rows))
