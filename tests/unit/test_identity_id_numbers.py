"""Pure tests of resident ID parsing: GB 11643 vectors, 15-digit upgrade, dates and regions."""

from __future__ import annotations

from datetime import date

import pytest

from identity.domain import pii
from identity.domain.id_numbers import IdNumberCheck, Sex, parse_id_number
from identity.domain.regions import PROVINCE_CODES

# Failures below compare numbers through a bool first, so pytest never echoes a number.

_FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + i) for i in range(10)))

TODAY = date(2026, 11, 22)
ALL_ERRORS = {"FORMAT", "CHECK_CHARACTER", "BIRTH_DATE", "FUTURE_BIRTH_DATE"}


def _iso7064_check(body: str) -> str:
    """ISO 7064 MOD 11-2 check character from 2^k weights, independent of the code's table."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def _id(region: str, birth: str, sequence: str) -> str:
    body = region + birth + sequence
    return body + _iso7064_check(body)


def _parse(text: str) -> IdNumberCheck:
    return parse_id_number(text, today=TODAY)


def _same_number(check: IdNumberCheck, expected: str) -> bool:
    return check.number == expected


# --- the published examples ------------------------------------------------------------------


def test_first_gb11643_example_is_valid_female_born_1949_in_beijing() -> None:
    check = _parse("11010519491231002X")

    assert check.errors == ()
    assert check.warnings == ()
    assert _same_number(check, "11010519491231002X"), "normalised number"
    assert check.birth_date == date(1949, 12, 31)
    assert check.sex is Sex.FEMALE
    assert check.region_code == "110105"
    assert check.upgraded_from_15 is False
    assert check.valid


def test_second_gb11643_example_born_1880_is_valid_with_a_warning() -> None:
    # The standard's own example predates 1900, so 18xx is unusual rather than impossible.
    check = _parse("440524188001010014")

    assert check.errors == ()
    assert check.warnings == ("BIRTH_BEFORE_1900",)
    assert _same_number(check, "440524188001010014"), "normalised number"
    assert check.birth_date == date(1880, 1, 1)
    assert check.sex is Sex.MALE
    assert check.region_code == "440524"


def test_spaces_and_lower_case_x_are_normalised() -> None:
    check = _parse(" 110105 19491231 002x ")

    assert check.errors == ()
    assert _same_number(check, "11010519491231002X"), "normalised number"


# --- 15-digit legacy numbers -------------------------------------------------------------------


def test_legacy_number_is_upgraded_with_19_and_a_computed_check_character() -> None:
    check = _parse("110105491231002")

    # Independently: insert 19 before the year, then MOD 11-2; it is the published example.
    expected = "11010519491231002" + _iso7064_check("11010519491231002")
    assert expected == "11010519491231002X"
    assert check.errors == ()
    assert _same_number(check, expected), "upgraded number"
    assert check.upgraded_from_15 is True
    assert check.birth_date == date(1949, 12, 31)
    assert check.sex is Sex.FEMALE


def test_second_legacy_number_and_its_upgrade() -> None:
    check = _parse("440524800101001")

    expected = "44052419800101001" + _iso7064_check("44052419800101001")
    assert expected == "440524198001010013"  # by hand: weighted sum 196, 196 % 11 = 9 -> "3"
    assert _same_number(check, expected), "upgraded number"
    assert check.sex is Sex.MALE
    assert check.birth_date == date(1980, 1, 1)


def test_legacy_number_with_an_impossible_date_is_refused() -> None:
    assert _parse("110105490230002").errors == ("BIRTH_DATE",)


def test_normalise_gives_the_stored_form_or_none() -> None:
    upgraded = pii.normalise_id_number("110105491231002", today=TODAY) == "11010519491231002X"
    lowered = pii.normalise_id_number("11010519491231002x", today=TODAY) == "11010519491231002X"

    assert upgraded, "15-digit upgrade"
    assert lowered, "lower-case x"
    assert pii.normalise_id_number("110105194912310021", today=TODAY) is None
    assert pii.normalise_id_number("not a number", today=TODAY) is None


def test_id_number_valid_accepts_only_the_stored_form() -> None:
    assert pii.id_number_valid("11010519491231002X")
    assert not pii.id_number_valid("110105491231002")
    assert not pii.id_number_valid("11010519491231002x")


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("check_character", [c for c in "0123456789X" if c != "X"])
def test_wrong_check_character_is_refused(check_character: str) -> None:
    check = _parse("11010519491231002" + check_character)

    assert check.errors == ("CHECK_CHARACTER",)
    assert (check.number, check.birth_date, check.sex, check.region_code) == (None,) * 4


@pytest.mark.parametrize("birth", ["19490230", "19000229", "19491301", "19490100", "17991231"])
def test_impossible_birth_date_is_refused(birth: str) -> None:
    assert _parse(_id("110105", birth, "002")).errors == ("BIRTH_DATE",)


def test_leap_day_2000_is_a_real_date() -> None:
    check = _parse(_id("110105", "20000229", "002"))

    assert check.errors == ()
    assert check.birth_date == date(2000, 2, 29)


def test_birth_date_tomorrow_is_refused_and_today_is_accepted() -> None:
    assert _parse(_id("110105", "20261123", "002")).errors == ("FUTURE_BIRTH_DATE",)
    assert _parse(_id("110105", "20261122", "002")).errors == ()


def test_wrong_check_character_and_bad_date_are_both_reported() -> None:
    body = "11010519490230002"
    wrong = "0" if _iso7064_check(body) != "0" else "1"

    assert _parse(body + wrong).errors == ("CHECK_CHARACTER", "BIRTH_DATE")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "11010519491231002",  # 17 characters
        "11010519491231002X0",  # 19 characters
        "1101051949123100X2",  # X not in the check position
        "11010519491231002Y",
        "11010549123100X",  # 15 characters with an X
        "11010519491231002".translate(_FULLWIDTH) + "X",
        "110105-19491231-002X",
    ],
)
def test_malformed_numbers_are_format_errors(text: str) -> None:
    check = _parse(text)

    assert check.errors == ("FORMAT",)
    assert check.number is None


@pytest.mark.parametrize(
    "suffix", ["19491231002X", "194912310020", "19490230002X", "20261123002X", "1949123100"]
)
def test_errors_are_bare_codes_and_repr_never_carries_the_number(suffix: str) -> None:
    text = "110105" + suffix
    check = _parse(text)

    assert set(check.errors) <= ALL_ERRORS
    assert all(error.isupper() for error in check.errors)
    assert text[6:14] not in repr(check), "repr leaks the birth date"
    assert text[:17] not in repr(check), "repr leaks the number"


# --- regions -----------------------------------------------------------------------------------


def test_the_34_province_level_codes_are_shipped() -> None:
    expected = {
        *(str(n) for n in range(11, 16)),
        *(str(n) for n in range(21, 24)),
        *(str(n) for n in range(31, 38)),
        *(str(n) for n in range(41, 47)),
        *(str(n) for n in range(50, 55)),
        *(str(n) for n in range(61, 66)),
        "71",
        "81",
        "82",
    }

    assert len(expected) == 34
    assert set(PROVINCE_CODES) == expected


@pytest.mark.parametrize("province", ["11", "15", "46", "50", "65", "71", "81", "82"])
def test_known_province_gives_no_warning(province: str) -> None:
    assert _parse(_id(province + "0101", "19900101", "123")).warnings == ()


@pytest.mark.parametrize("province", ["91", "00", "10", "16", "24", "47", "55", "66", "99"])
def test_unknown_province_is_a_warning_not_an_error(province: str) -> None:
    check = _parse(_id(province + "0101", "19900101", "123"))

    assert check.errors == ()
    assert check.warnings == ("UNKNOWN_REGION",)
    assert check.region_code == province + "0101"


@pytest.mark.parametrize(("sequence", "sex"), [("001", Sex.MALE), ("008", Sex.FEMALE)])
def test_sex_follows_the_parity_of_the_17th_digit(sequence: str, sex: Sex) -> None:
    assert _parse(_id("310101", "19900101", sequence)).sex is sex
