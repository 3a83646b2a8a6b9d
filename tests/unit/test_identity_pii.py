"""Pure tests of identity PII rules (GB 11643, Luhn, phones, masks) and payment eligibility."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.domain import pii
from identity.domain.model import (
    Card,
    Ineligibility,
    MaskedIdentity,
    Tier,
    User,
    UserState,
    payment_eligibility,
)

# The two examples published with GB 11643-1999.
GB11643_EXAMPLES = ["11010519491231002X", "440524188001010014"]

_FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + i) for i in range(10)))
_ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + i) for i in range(10)))


def _iso7064_check(body: str) -> str:
    """ISO 7064 MOD 11-2 check character, computed from 2^k weights (not the code's table)."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def _id(region: str, birth: str, sequence: str) -> str:
    body = region + birth + sequence
    return body + _iso7064_check(body)


# --- GB 11643 resident ID numbers ------------------------------------------------------------


def test_independent_check_digit_agrees_with_the_published_examples() -> None:
    for example in GB11643_EXAMPLES:
        assert _iso7064_check(example[:17]) == example[17]


@pytest.mark.parametrize("value", GB11643_EXAMPLES)
def test_published_examples_are_valid(value: str) -> None:
    assert pii.id_number_valid(value)


@pytest.mark.parametrize("value", GB11643_EXAMPLES)
def test_every_other_check_character_is_invalid(value: str) -> None:
    for check in "0123456789X":
        if check != value[17]:
            assert not pii.id_number_valid(value[:17] + check), check


@pytest.mark.parametrize("value", GB11643_EXAMPLES)
def test_any_single_digit_change_in_the_body_is_invalid(value: str) -> None:
    for position in range(17):
        for digit in "0123456789":
            if digit != value[position]:
                changed = value[:position] + digit + value[position + 1 :]
                assert not pii.id_number_valid(changed), changed


@pytest.mark.parametrize(
    "birth", ["19491331", "19490001", "19491232", "19490230", "19000229", "19490100", "00000101"]
)
def test_impossible_birth_date_is_invalid_even_with_a_correct_check(birth: str) -> None:
    assert not pii.id_number_valid(_id("110105", birth, "002"))


@pytest.mark.parametrize("birth", ["20000229", "19491231", "20240101"])
def test_real_birth_date_with_a_correct_check_is_valid(birth: str) -> None:
    assert pii.id_number_valid(_id("110105", birth, "002"))


def test_lowercase_x_is_refused_here_and_accepted_once_upper_cased() -> None:
    lower = "11010519491231002x"

    assert not pii.id_number_valid(lower)
    assert pii.id_number_valid(lower.upper())


@pytest.mark.parametrize(
    "value",
    [
        "",
        "11010519491231002",  # 17 characters
        "11010519491231002X0",  # 19 characters
        "110105491231002",  # the old 15-digit format
        "1101051949123100X2",  # X not in the check position
        "11010519491231002Y",
        "A10105194912310020",
        "110105 19491231002X",
    ],
)
def test_malformed_id_numbers_are_invalid(value: str) -> None:
    assert not pii.id_number_valid(value)


# --- Luhn card numbers -----------------------------------------------------------------------

LUHN_VALID = [
    "4111111111111111",
    "4012888888881881",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "6222020200112345679",
]


@pytest.mark.parametrize("value", LUHN_VALID)
def test_well_known_test_card_numbers_are_valid(value: str) -> None:
    assert pii.luhn_valid(value)


@pytest.mark.parametrize("value", LUHN_VALID)
def test_any_single_digit_change_is_invalid(value: str) -> None:
    for position in range(len(value)):
        for digit in "0123456789":
            if digit != value[position]:
                changed = value[:position] + digit + value[position + 1 :]
                assert not pii.luhn_valid(changed), changed


def test_luhn_example_79927398713_is_refused_only_for_its_length() -> None:
    # The textbook Luhn example has 11 digits; leading zeros keep its checksum.
    assert not pii.luhn_valid("79927398713")
    assert pii.luhn_valid("0079927398713")  # 13 digits
    assert not pii.luhn_valid("0079927398714")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("079927398713", False),  # 12 digits
        ("0079927398713", True),  # 13
        ("0000000079927398713", True),  # 19
        ("00000000079927398713", False),  # 20
    ],
)
def test_only_13_to_19_digits_are_accepted(value: str, valid: bool) -> None:
    assert pii.luhn_valid(value) is valid


@pytest.mark.parametrize(
    "value",
    [
        "",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "411111111111111a",
        "+4111111111111111",
    ],
)
def test_non_digits_are_invalid(value: str) -> None:
    assert not pii.luhn_valid(value)


# --- phones and names ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["13812341234", "15000000000", "19912345678", "17011112222"])
def test_mainland_mobile_numbers_are_valid(value: str) -> None:
    assert pii.phone_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "12812341234",
        "10812341234",
        "23812341234",
        "1381234123",
        "138123412345",
        "+8613812341234",
        "8613812341234",
        "1381234123a",
        "138 1234 1234",
        "138-1234-1234",
    ],
)
def test_other_phone_numbers_are_invalid(value: str) -> None:
    assert not pii.phone_valid(value)


@pytest.mark.parametrize(
    "value_and_check",
    [
        ("13812341234\n", "phone"),
        ("13" + "812341234".translate(_FULLWIDTH), "phone"),
        ("11010519491231002X\n", "id"),
        ("11010519491231002".translate(_FULLWIDTH) + "X", "id"),
        ("4111111111111111\n", "card"),
        ("4111111111111111".translate(_FULLWIDTH), "card"),
        ("4111111111111111".translate(_ARABIC_INDIC), "card"),
    ],
)
def test_validators_accept_only_ascii_digits_without_trailing_newline(
    value_and_check: tuple[str, str],
) -> None:
    value, check = value_and_check
    validator = {"phone": pii.phone_valid, "id": pii.id_number_valid, "card": pii.luhn_valid}
    assert validator[check](value) is False


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("张三", True),
        ("Alice Smith", True),
        ("x" * 64, True),
        ("", False),
        ("   ", False),
        ("x" * 65, False),
        ("Alice2", False),
    ],
)
def test_name_validation(value: str, valid: bool) -> None:
    assert pii.name_valid(value) is valid


# --- masks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mask", "value", "masked"),
    [
        (pii.mask_id_number, "11010519491231002X", "1101**********002X"),
        (pii.mask_id_number, "440524188001010014", "4405**********0014"),
        (pii.mask_card_number, "4111111111111111", "411111******1111"),
        (pii.mask_card_number, "6222020200112345679", "622202*********5679"),
        (pii.mask_card_number, "0079927398713", "007992***8713"),
        (pii.mask_phone, "13812341234", "138****1234"),
        (pii.mask_name, "张三", "*三"),
        (pii.mask_name, "欧阳娜娜", "***娜"),
        (pii.mask_name, "  Alice ", "****e"),
        (pii.mask_name, "李", "李"),
    ],
)
def test_mask_formats(mask: Callable[[str], str], value: str, masked: str) -> None:
    assert mask(value) == masked


@given(st.text("0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_id_mask_hides_exactly_the_middle_ten(body: str, check: str) -> None:
    value = body + check
    masked = pii.mask_id_number(value)

    assert masked == value[:4] + "*" * 10 + value[14:]
    assert value[6:14] not in masked  # the birth date never shows


@given(st.text("0123456789", min_size=13, max_size=19))
def test_card_mask_shows_only_bin_and_last_four(value: str) -> None:
    masked = pii.mask_card_number(value)

    assert len(masked) == len(value)
    assert masked[:6] == value[:6]
    assert masked[-4:] == value[-4:]
    assert set(masked[6:-4]) == {"*"}


@given(st.from_regex(r"\A1[3-9][0-9]{9}\Z"))
def test_phone_mask_hides_the_middle_four(value: str) -> None:
    masked = pii.mask_phone(value)

    assert masked == value[:3] + "****" + value[7:]


# --- payment eligibility ---------------------------------------------------------------------

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _user(state: UserState = UserState.ACTIVE, verified: bool = True) -> User:
    return User(
        user_id="u1",
        state=state,
        masked=MaskedIdentity("*三", "1101**********002X", "138****1234"),
        real_name_verified=verified,
        tier=Tier.CLASS_I if verified else Tier.NONE,
        created_at=NOW,
    )


def _card(card_id: str, *, default: bool = False, active: bool = True) -> Card:
    return Card(card_id, "u1", "ICBC", "622202*********5679", f"agr-{card_id}", default, active)


@pytest.mark.parametrize("state", [UserState.FROZEN, UserState.CLOSED])
def test_user_not_active_cannot_pay(state: UserState) -> None:
    result = payment_eligibility(_user(state), [_card("c1", default=True)], "")

    assert (result.eligible, result.reason, result.card) == (
        False,
        Ineligibility.USER_NOT_ACTIVE,
        None,
    )


def test_frozen_is_reported_before_unverified() -> None:
    result = payment_eligibility(_user(UserState.FROZEN, verified=False), [], "")

    assert result.reason is Ineligibility.USER_NOT_ACTIVE


def test_unverified_user_cannot_pay() -> None:
    result = payment_eligibility(_user(verified=False), [_card("c1", default=True)], "c1")

    assert (result.eligible, result.reason) == (False, Ineligibility.REAL_NAME_NOT_VERIFIED)


def test_user_without_cards_cannot_pay() -> None:
    result = payment_eligibility(_user(), [], "")

    assert (result.eligible, result.reason, result.card) == (False, Ineligibility.NO_CARD, None)


@pytest.mark.parametrize("card_id", ["c9", "C1", "c1 "])
def test_named_card_not_among_the_users_cards_is_no_card(card_id: str) -> None:
    result = payment_eligibility(_user(), [_card("c1", default=True), _card("c2")], card_id)

    assert (result.eligible, result.reason) == (False, Ineligibility.NO_CARD)


def test_named_inactive_card_is_no_card() -> None:
    cards = [_card("c1", default=True), _card("c2", active=False)]

    result = payment_eligibility(_user(), cards, "c2")

    assert (result.eligible, result.reason) == (False, Ineligibility.NO_CARD)


def test_named_active_card_is_used_even_when_not_default() -> None:
    cards = [_card("c1", default=True), _card("c2")]

    result = payment_eligibility(_user(), cards, "c2")

    assert result.eligible
    assert result.reason is None
    assert result.card == cards[1]


def test_default_card_is_chosen_when_none_is_named() -> None:
    cards = [_card("c1"), _card("c2", default=True), _card("c3")]

    result = payment_eligibility(_user(), cards, "")

    assert result.eligible
    assert result.card is not None
    assert result.card.card_id == "c2"


def test_inactive_default_card_is_not_replaced_by_another_card() -> None:
    cards = [_card("c1", default=True, active=False), _card("c2")]

    result = payment_eligibility(_user(), cards, "")

    assert (result.eligible, result.reason) == (False, Ineligibility.NO_CARD)
