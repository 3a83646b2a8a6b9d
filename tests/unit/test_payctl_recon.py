"""What `payctl recon import` prints for an import: one flat JSON object, or a few lines."""

from __future__ import annotations

from google.type import date_pb2
from typer.testing import CliRunner

from payctl.main import app
from payctl.recon_commands import FORMATS, describe_import, import_summary
from paysuite.recon.v1 import recon_service_pb2 as rpb


def _answer(
    statement_format: rpb.StatementFormat.ValueType, *totals: rpb.StatementTotals
) -> rpb.ImportStatementResponse:
    imported = rpb.StatementImport(
        import_id="imp_1",
        channel="bank1",
        format=statement_format,
        statement_date=date_pb2.Date(year=2014, month=1, day=5),
        rows=4,
        totals=list(totals),
        rejected_count=1,
        rejected_lines=[rpb.RejectedLine(line=9, reason="amount 'x': not a plain decimal")],
        control_totals_consistent=True,
        breaks=["statement S1: opening balance + booked entries: ..."],
    )
    if statement_format == rpb.STATEMENT_FORMAT_CAMT053:
        imported.balances_consistent = False
    return rpb.ImportStatementResponse(statement_import=imported)


MONEY = ("currency", "payment_minor_units", "refund_minor_units", "fee_net")
EUR = rpb.StatementTotals(
    currency_code="EUR",
    payments=1,
    refunds=3,
    payment_minor_units=140531,
    refund_minor_units=141830,
    fee_net="0",
    credit_minor_units=140531,
    debit_minor_units=141830,
)


def test_a_bank_statement_in_one_currency_has_its_figures_at_the_top() -> None:
    data = import_summary(_answer(rpb.STATEMENT_FORMAT_CAMT053, EUR))

    assert data["format"] == "camt053"
    assert data["statement_date"] == "2014-01-05"
    assert {k: data[k] for k in ("rows", "payments", "refunds", "fee_net", "currency")} == {
        "rows": 4,
        "payments": 1,
        "refunds": 3,
        "fee_net": "0",
        "currency": "EUR",
    }
    assert (data["credit_minor_units"], data["debit_minor_units"]) == (140531, 141830)
    assert data["balances_consistent"] is False
    assert data["rejected"] == [{"line": 9, "reason": "amount 'x': not a plain decimal"}]
    assert describe_import(data).splitlines() == [
        "imp_1 bank1 camt053 2014-01-05",
        "  4 lines, 1 rejected",
        "  EUR: 1 payments 1405.31 EUR, 3 refunds 1418.30 EUR, fees net 0",
        "  control totals agree, balances DO NOT CLOSE",
        "  break: statement S1: opening balance + booked entries: ...",
        "  line 9: amount 'x': not a plain decimal",
    ]


def test_a_wallet_bill_has_no_balances_and_several_currencies_are_listed_apart() -> None:
    usd = rpb.StatementTotals(currency_code="USD", payments=2, payment_minor_units=500)

    data = import_summary(_answer(rpb.STATEMENT_FORMAT_WECHAT, EUR, usd))

    assert "balances_consistent" not in data
    assert "credit_minor_units" not in data
    # The keys are all at the top, null: there is no sum across currencies.
    assert {k: data[k] for k in MONEY} == dict.fromkeys(MONEY)
    assert (data["rows"], data["payments"], data["refunds"]) == (4, 3, 3)
    assert data["by_currency"] == [
        {
            "currency": "EUR",
            "payments": 1,
            "refunds": 3,
            "payment_minor_units": 140531,
            "refund_minor_units": 141830,
            "fee_net": "0",
        },
        {
            "currency": "USD",
            "payments": 2,
            "refunds": 0,
            "payment_minor_units": 500,
            "refund_minor_units": 0,
            "fee_net": "0",
        },
    ]
    assert describe_import(data).splitlines()[2:4] == [
        "  EUR: 1 payments 1405.31 EUR, 3 refunds 1418.30 EUR, fees net 0",
        "  USD: 2 payments 5.00 USD, 0 refunds 0.00 USD, fees net 0",
    ]


def test_a_bill_in_one_currency_has_its_figures_at_the_top_and_in_by_currency() -> None:
    cny = rpb.StatementTotals(
        currency_code="CNY",
        payments=3,
        refunds=1,
        payment_minor_units=3000,
        refund_minor_units=100,
        fee_net="0.498",
    )

    data = import_summary(_answer(rpb.STATEMENT_FORMAT_WECHAT, cny))

    assert {k: data[k] for k in MONEY} == {
        "currency": "CNY",
        "payment_minor_units": 3000,
        "refund_minor_units": 100,
        "fee_net": "0.498",
    }
    assert (data["payments"], data["refunds"]) == (3, 1)
    assert data["by_currency"] == [{k: data[k] for k in (*MONEY, "payments", "refunds")}]


def test_a_bank_statement_in_several_currencies_has_null_balances_figures_at_the_top() -> None:
    usd = rpb.StatementTotals(currency_code="USD", payments=1, credit_minor_units=700)

    data = import_summary(_answer(rpb.STATEMENT_FORMAT_CAMT053, EUR, usd))

    assert (data["credit_minor_units"], data["debit_minor_units"], data["currency"]) == (
        None,
        None,
        None,
    )
    assert [(t["credit_minor_units"], t["debit_minor_units"]) for t in data["by_currency"]] == [
        (140531, 141830),
        (700, 0),
    ]
    assert data["balances_consistent"] is False


def test_the_json_shape_is_in_the_commands_help() -> None:
    result = CliRunner().invoke(app, ["recon", "import", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.stdout.split())
    assert "null when it is in several" in text
    assert "by_currency always lists each currency's figures" in text


def test_an_empty_statement_has_zero_figures() -> None:
    data = import_summary(_answer(rpb.STATEMENT_FORMAT_BANKSIM))

    assert (data["payment_minor_units"], data["fee_net"], data["credit_minor_units"]) == (0, "0", 0)
    assert data["balances_consistent"] is None


def test_every_statement_format_the_service_reads_has_a_name_in_payctl() -> None:
    named = set(FORMATS.values())
    served = {number for number in rpb.StatementFormat.values() if number}
    assert served == named
