"""Pure tests of Money: exact decimal parsing, formatting, currency checks and arithmetic."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paysuite.money import MINOR_UNIT_EXPONENTS, CurrencyError, Money, check_currency

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    ("text", "currency", "minor_units"),
    [
        ("12.34", "CNY", 1234),
        ("0.1", "CNY", 10),
        ("0.01", "CNY", 1),
        ("0", "CNY", 0),
        ("100", "CNY", 10000),
        ("12.340", "CNY", 1234),
        ("-0.05", "CNY", -5),
        (" 12.34 ", "CNY", 1234),
        ("99.99", "USD", 9999),
        ("1500", "JPY", 1500),
        ("7", "KRW", 7),
        ("92233720368547758.07", "CNY", INT64_MAX),
    ],
)
def test_parse_reads_major_units_exactly(text: str, currency: str, minor_units: int) -> None:
    assert Money.parse(text, currency) == Money(currency, minor_units)


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("1.234", "CNY"),
        ("0.001", "USD"),
        ("12.345", "EUR"),
        ("1.5", "JPY"),
        ("0.1", "KRW"),
    ],
)
def test_parse_refuses_more_decimals_than_the_currency_has(text: str, currency: str) -> None:
    with pytest.raises(ValueError, match="decimal places"):
        Money.parse(text, currency)


@pytest.mark.parametrize(
    "text", ["NaN", "nan", "sNaN", "inf", "-inf", "Infinity", "abc", "", "   ", "12,34", "1.2.3"]
)
def test_parse_refuses_non_numbers(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        Money.parse(text, "CNY")
    assert not isinstance(raised.value, CurrencyError)


@pytest.mark.parametrize("currency", ["cny", "Cny", "XYZ", "CN", "CNYY", "", "C1Y"])
def test_parse_refuses_bad_currency_codes(currency: str) -> None:
    with pytest.raises(CurrencyError):
        Money.parse("1.00", currency)


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money("CNY", 1234), "12.34 CNY"),
        (Money("CNY", 5), "0.05 CNY"),
        (Money("CNY", -5), "-0.05 CNY"),
        (Money("CNY", -1234), "-12.34 CNY"),
        (Money("CNY", 0), "0.00 CNY"),
        (Money("USD", 100), "1.00 USD"),
        (Money("JPY", 1500), "1500 JPY"),
        (Money("KRW", -3), "-3 KRW"),
    ],
)
def test_format_renders_major_units_with_the_currency(money: Money, text: str) -> None:
    assert money.format() == text


@given(
    currency=st.sampled_from(sorted(MINOR_UNIT_EXPONENTS)),
    minor_units=st.integers(min_value=INT64_MIN, max_value=INT64_MAX),
)
def test_parse_of_format_round_trips(currency: str, minor_units: int) -> None:
    original = Money(currency, minor_units)
    amount_text, code = original.format().rsplit(" ", 1)

    assert code == currency
    assert Money.parse(amount_text, currency) == original


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        # 30 significant digits: must parse exactly, not rounded to 28.
        ("1234567890123456789012345678.91", "CNY", 123456789012345678901234567891),
        # A fraction of a yen must be refused, not rounded to a whole yen.
        ("1234567890123456789012345678.9", "JPY", None),
        # 9 * 10^-999999999 yuan has far more than two decimals: refuse, not 0 fen.
        ("9e-999999999", "CNY", None),
        # Out of range: ValueError (what callers catch), not decimal.Overflow.
        ("1e999999", "CNY", None),
    ],
)
def test_parse_is_exact_or_refuses_with_value_error(
    text: str, currency: str, expected: int | None
) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            Money.parse(text, currency)
    else:
        assert Money.parse(text, currency).minor_units == expected


@pytest.mark.parametrize("code", sorted(MINOR_UNIT_EXPONENTS))
def test_check_currency_returns_supported_codes(code: str) -> None:
    assert check_currency(code) == code


@pytest.mark.parametrize("code", ["cny", "usd", "XYZ", "ABC", "CN", "CNYY", "", " CNY", "C N"])
def test_check_currency_rejects_lowercase_and_unknown_codes(code: str) -> None:
    with pytest.raises(CurrencyError):
        check_currency(code)


def test_currency_error_is_a_value_error() -> None:
    assert issubclass(CurrencyError, ValueError)


@pytest.mark.parametrize("code", ["cny", "XYZ"])
def test_money_rejects_bad_currency_on_construction(code: str) -> None:
    with pytest.raises(CurrencyError):
        Money(code, 100)


@pytest.mark.parametrize("value", [True, False, 1.0, 12.34, Decimal("1"), "1", None])
def test_minor_units_must_be_a_plain_int(value: object) -> None:
    with pytest.raises(TypeError):
        Money("CNY", value)  # type: ignore[arg-type]


def test_addition_subtraction_and_negation() -> None:
    a = Money("CNY", 1234)
    b = Money("CNY", 66)

    assert a + b == Money("CNY", 1300)
    assert a - b == Money("CNY", 1168)
    assert b - a == Money("CNY", -1168)
    assert -a == Money("CNY", -1234)
    assert a + Money.zero("CNY") == a


@pytest.mark.parametrize("operation", [operator.add, operator.sub])
def test_arithmetic_refuses_mixed_currencies(operation: Callable[[Money, Money], Money]) -> None:
    with pytest.raises(CurrencyError):
        operation(Money("CNY", 100), Money("USD", 100))
    with pytest.raises(CurrencyError):
        operation(Money("USD", 100), Money("CNY", 100))


def test_equal_minor_units_in_different_currencies_are_not_equal() -> None:
    assert Money("CNY", 100) != Money("USD", 100)
    assert Money("CNY", 100) == Money("CNY", 100)


@pytest.mark.parametrize(("minor_units", "positive"), [(1, True), (0, False), (-1, False)])
def test_is_positive(minor_units: int, positive: bool) -> None:
    assert Money("CNY", minor_units).is_positive is positive


def test_zero_is_zero_in_that_currency() -> None:
    assert Money.zero("JPY") == Money("JPY", 0)


def test_money_is_immutable() -> None:
    money = Money("CNY", 100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.minor_units = 200  # type: ignore[misc]
