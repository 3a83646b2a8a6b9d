"""Pure tests of card parsing: Luhn, the UnionPay exception, BIN longest-prefix and updates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from identity.domain.bin_table import DEFAULT_BIN_CSV, BinTable, BinTableError, CardType
from identity.domain.cards import CardCheck, parse_card_number

# Failures below compare numbers through a bool first, so pytest never echoes a number.

_FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + i) for i in range(10)))

DEMO_CARD = "6222020200112345679"  # lib/devstack/demo.py, Luhn-valid, ICBC debit BIN 622202
HEADER = "prefix,bank_code,bank_name,card_type"


def _luhn_complete(partial: str) -> str:
    """Append the Luhn check digit, computed here rather than by the code under test."""
    total = 0
    for i, char in enumerate(reversed(partial)):
        digit = int(char)
        if i % 2 == 0:  # doubled once the check digit sits to the right
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return partial + str((10 - total % 10) % 10)


def _write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shipped() -> BinTable:
    return BinTable.from_csv(DEFAULT_BIN_CSV)


def _same_number(check: CardCheck, expected: str) -> bool:
    return check.number == expected


def test_independent_luhn_helper_agrees_with_known_numbers() -> None:
    assert _luhn_complete("411111111111111") == "4111111111111111"
    assert _luhn_complete("622202020011234567") == DEMO_CARD
    assert _luhn_complete("7992739871") == "79927398713"


# --- the shipped table -------------------------------------------------------------------------


def test_shipped_table_has_a_version_and_the_major_banks(shipped: BinTable) -> None:
    assert shipped.version is not None
    assert shipped.published is not None
    assert len(shipped) >= 40
    banks = {e.bank_code for e in shipped}
    assert banks >= {"ICBC", "ABC", "BOC", "CCB", "BOCOM", "CMB", "CITIC", "CEB", "CMBC"}
    assert banks >= {"SPDB", "CIB", "PSBC", "PAB", "HXB", "GDB"}
    assert {e.card_type for e in shipped} >= {CardType.DEBIT, CardType.CREDIT}


def test_demo_card_is_an_icbc_debit_card(shipped: BinTable) -> None:
    check = parse_card_number(DEMO_CARD, shipped)

    assert (check.errors, check.warnings) == ((), ())
    assert _same_number(check, DEMO_CARD), "normalised number"
    assert (check.bank_code, check.bank_name, check.card_type) == (
        "ICBC",
        "中国工商银行",
        CardType.DEBIT,
    )
    assert check.valid


@pytest.mark.parametrize(
    ("partial", "bank", "card_type"),
    [
        ("622588" + "000000000", "CMB", CardType.DEBIT),
        ("622575" + "000000000", "CMB", CardType.CREDIT),
        ("622848" + "000000000000", "ABC", CardType.DEBIT),
        ("621700" + "000000000000", "CCB", CardType.DEBIT),
    ],
)
def test_shipped_prefixes_give_bank_and_type(
    shipped: BinTable, partial: str, bank: str, card_type: CardType
) -> None:
    check = parse_card_number(_luhn_complete(partial), shipped)

    assert check.errors == ()
    assert (check.bank_code, check.card_type) == (bank, card_type)


@pytest.mark.parametrize(
    "typed", ["6222 0202 0011 2345 679", "6222-0202-0011-2345-679", " 6222020200112345679 "]
)
def test_spaces_and_dashes_are_dropped(shipped: BinTable, typed: str) -> None:
    check = parse_card_number(typed, shipped)

    assert check.errors == ()
    assert _same_number(check, DEMO_CARD), "normalised number"


# --- format and Luhn ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "411111111111",  # 12 digits
        "41111111111111111111",  # 20 digits
        "411111111111111a",
        "+4111111111111111",
        "4111.1111.1111.1111",
        "4111111111111111".translate(_FULLWIDTH),
    ],
)
def test_malformed_numbers_are_format_errors(shipped: BinTable, typed: str) -> None:
    check = parse_card_number(typed, shipped)

    assert check.errors == ("FORMAT",)
    assert check.number is None


@pytest.mark.parametrize("digits", ["0079927398713", "0000000079927398713"])
def test_13_and_19_digits_are_accepted(shipped: BinTable, digits: str) -> None:
    assert parse_card_number(digits, shipped).errors == ()


@pytest.mark.parametrize("number", ["4111111111111112", "5555555555554443", "378282246310006"])
def test_luhn_failure_is_an_error_outside_unionpay(shipped: BinTable, number: str) -> None:
    check = parse_card_number(number, shipped)

    assert check.errors == ("LUHN",)
    assert (check.number, check.bank_code) == (None, None)


def test_luhn_failure_on_a_62_card_is_only_a_warning(shipped: BinTable) -> None:
    not_luhn = DEMO_CARD[:-1] + "8"
    check = parse_card_number(not_luhn, shipped)

    assert check.errors == ()
    assert check.warnings == ("LUHN_UNIONPAY",)
    assert (check.bank_code, check.card_type) == ("ICBC", CardType.DEBIT)


def test_unionpay_luhn_failure_with_unknown_bin_gets_both_warnings(shipped: BinTable) -> None:
    check = parse_card_number("6299990000000000001", shipped)

    assert check.errors == ()
    assert check.warnings == ("LUHN_UNIONPAY", "UNKNOWN_BIN")


def test_unknown_bin_is_a_warning(shipped: BinTable) -> None:
    check = parse_card_number("4111111111111111", shipped)

    assert check.errors == ()
    assert check.warnings == ("UNKNOWN_BIN",)
    assert (check.bank_code, check.bank_name, check.card_type) == (None, None, None)


def test_repr_never_carries_the_number(shipped: BinTable) -> None:
    assert DEMO_CARD not in repr(parse_card_number(DEMO_CARD, shipped)), "repr leaks the number"


# --- longest-prefix matching -------------------------------------------------------------------


@pytest.fixture
def nested(tmp_path: Path) -> BinTable:
    return BinTable.from_csv(
        _write(
            tmp_path,
            "nested.csv",
            "# test table version=T1 date=2026-10-01",
            HEADER,
            "622202,SIX,Six digits,DEBIT",
            "62220202,EIGHT,Eight digits,CREDIT",
            "6222020200,TEN,Ten digits,PREPAID",
            "999999,OTHER,Other,DEBIT",
        )
    )


@pytest.mark.parametrize(
    ("number", "bank"),
    [
        ("6222020200112345679", "TEN"),
        ("6222020201112345679", "EIGHT"),
        ("6222020300112345679", "SIX"),
        ("6222030000112345679", None),
        ("62220", None),
    ],
)
def test_lookup_takes_the_longest_listed_prefix(
    nested: BinTable, number: str, bank: str | None
) -> None:
    entry = nested.lookup(number)

    assert (entry.bank_code if entry else None) == bank


def test_table_reads_version_and_date(nested: BinTable) -> None:
    assert (nested.version, nested.published, len(nested)) == ("T1", date(2026, 10, 1), 4)


def test_card_type_comes_from_the_longest_prefix(nested: BinTable) -> None:
    check = parse_card_number(_luhn_complete("622202020011234567"), nested)

    assert (check.bank_code, check.bank_name, check.card_type) == (
        "TEN",
        "Ten digits",
        CardType.PREPAID,
    )


# --- incremental updates -----------------------------------------------------------------------


def test_increment_adds_replaces_and_deletes(tmp_path: Path, nested: BinTable) -> None:
    increment = _write(
        tmp_path,
        "inc.csv",
        "# increment version=T2 date=2026-11-01",
        HEADER,
        "62220202,NEW8,Replaced eight,DEBIT",  # replace
        "6222020200,,,DELETED",  # delete
        "625000,ADDED,Added,CREDIT",  # add
        "123456,,,DELETED",  # deleting an absent prefix is harmless
    )

    updated = nested.merged(increment)

    def bank(number: str) -> str | None:
        entry = updated.lookup(number)
        return entry.bank_code if entry else None

    assert bank("6222020200112345679") == "NEW8"  # the ten-digit prefix is gone
    assert bank("6222020300112345679") == "SIX"
    assert bank("6250001234567890") == "ADDED"
    assert bank("9999990000000000") == "OTHER"
    assert (updated.version, updated.published, len(updated)) == ("T2", date(2026, 11, 1), 4)
    # The original table is unchanged.
    original = nested.lookup("6222020200112345679")
    assert original is not None
    assert original.bank_code == "TEN"


def test_increment_older_than_the_table_is_refused(tmp_path: Path, nested: BinTable) -> None:
    stale = _write(tmp_path, "old.csv", "# version=T0 date=2026-09-01", HEADER)

    with pytest.raises(BinTableError, match="older"):
        nested.merged(stale)


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["622202,ICBC,x,DEBIT"], "header"),
        ([HEADER, "62220,ICBC,x,DEBIT"], "6 to 10 digits"),
        ([HEADER, "62220200001,ICBC,x,DEBIT"], "6 to 10 digits"),
        ([HEADER, "622202,ICBC,x,GOLD"], "card type"),
        ([HEADER, "622202,ICBC,x,DELETED"], "incremental"),
        ([HEADER, "622202,,x,DEBIT"], "required"),
        ([HEADER, "622202,ICBC,x"], "fields"),
        ([HEADER, "622202,ICBC,x,DEBIT", "622202,ABC,y,DEBIT"], "twice"),
        (["# date=yesterday", HEADER], "YYYY-MM-DD"),
    ],
)
def test_malformed_full_tables_are_refused(tmp_path: Path, lines: list[str], problem: str) -> None:
    with pytest.raises(BinTableError, match=problem):
        BinTable.from_csv(_write(tmp_path, "bad.csv", *lines))
