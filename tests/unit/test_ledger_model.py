"""Pure tests of the ledger domain: transfer checks, posting, balances and content hashes."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from ledger.domain.model import (
    Account,
    AccountSpec,
    AccountState,
    AccountType,
    OwnerType,
    Posting,
    TransferRequest,
    TransferResult,
    apply_transfer,
    check_transfer,
)
from paysuite.money import Money


def _account(
    account_id: str,
    type_: AccountType = AccountType.LIABILITY,
    *,
    currency: str = "CNY",
    no_overdraft: bool = False,
    no_overcredit: bool = False,
    state: AccountState = AccountState.ACTIVE,
    debits: int = 0,
    credits: int = 0,
) -> Account:
    spec = AccountSpec(
        account_id=account_id,
        name=account_id,
        type=type_,
        currency=currency,
        owner_type=OwnerType.PLATFORM,
        debits_must_not_exceed_credits=no_overdraft,
        credits_must_not_exceed_debits=no_overcredit,
    )
    return Account(spec, state=state, debits_posted=debits, credits_posted=credits)


def _book(*accounts: Account) -> dict[str, Account]:
    return {a.account_id: a for a in accounts}


def _transfer(
    *postings: tuple[str, str, int], currency: str = "CNY", transfer_id: str = "t1"
) -> TransferRequest:
    return TransferRequest(
        transfer_id,
        tuple(Posting(d, c, Money(currency, amount)) for d, c, amount in postings),
    )


def _totals(accounts: Mapping[str, Account]) -> dict[str, tuple[int, int]]:
    return {k: (a.debits_posted, a.credits_posted) for k, a in accounts.items()}


# --- check_transfer result codes -------------------------------------------------------------


def test_simple_transfer_between_active_accounts_posts() -> None:
    book = _book(_account("cash", AccountType.ASSET), _account("wallet"))

    assert check_transfer(_transfer(("cash", "wallet", 500)), book) is TransferResult.POSTED


@pytest.mark.parametrize(
    "posting", [("cash", "ghost", 1), ("ghost", "wallet", 1), ("ghost", "phantom", 1)]
)
def test_unknown_account_is_account_not_found(posting: tuple[str, str, int]) -> None:
    book = _book(_account("cash", AccountType.ASSET), _account("wallet"))

    assert check_transfer(_transfer(posting), book) is TransferResult.ACCOUNT_NOT_FOUND


def test_unknown_account_in_a_later_posting_is_account_not_found() -> None:
    book = _book(_account("cash", AccountType.ASSET), _account("wallet"))
    request = _transfer(("cash", "wallet", 1), ("wallet", "ghost", 1))

    assert check_transfer(request, book) is TransferResult.ACCOUNT_NOT_FOUND


def test_posting_currency_other_than_the_accounts_is_currency_mismatch() -> None:
    book = _book(_account("cash", AccountType.ASSET), _account("wallet"))

    result = check_transfer(_transfer(("cash", "wallet", 100), currency="USD"), book)

    assert result is TransferResult.CURRENCY_MISMATCH


@pytest.mark.parametrize("usd_side", ["debit", "credit"])
def test_accounts_of_different_currencies_are_currency_mismatch(usd_side: str) -> None:
    book = _book(
        _account("cash", AccountType.ASSET, currency="USD" if usd_side == "debit" else "CNY"),
        _account("wallet", currency="USD" if usd_side == "credit" else "CNY"),
    )

    result = check_transfer(_transfer(("cash", "wallet", 100)), book)

    assert result is TransferResult.CURRENCY_MISMATCH


@pytest.mark.parametrize("state", [AccountState.FROZEN, AccountState.CLOSED])
@pytest.mark.parametrize("side", ["debit", "credit"])
def test_frozen_or_closed_account_is_not_active(state: AccountState, side: str) -> None:
    book = _book(
        _account(
            "cash", AccountType.ASSET, state=state if side == "debit" else AccountState.ACTIVE
        ),
        _account("wallet", state=state if side == "credit" else AccountState.ACTIVE),
    )

    result = check_transfer(_transfer(("cash", "wallet", 100)), book)

    assert result is TransferResult.ACCOUNT_NOT_ACTIVE


def test_missing_account_is_reported_before_a_currency_mismatch() -> None:
    book = _book(_account("cash", AccountType.ASSET, currency="USD"), _account("wallet"))
    request = _transfer(("cash", "wallet", 1), ("wallet", "ghost", 1))

    assert check_transfer(request, book) is TransferResult.ACCOUNT_NOT_FOUND


def test_currency_mismatch_is_reported_before_an_inactive_account() -> None:
    book = _book(
        _account("cash", AccountType.ASSET, state=AccountState.FROZEN),
        _account("wallet", currency="USD"),
    )

    assert check_transfer(_transfer(("cash", "wallet", 1)), book) is (
        TransferResult.CURRENCY_MISMATCH
    )


def test_inactive_account_is_reported_before_an_overdraft() -> None:
    book = _book(
        _account("wallet", no_overdraft=True, state=AccountState.FROZEN),
        _account("merchant"),
    )

    assert check_transfer(_transfer(("wallet", "merchant", 1)), book) is (
        TransferResult.ACCOUNT_NOT_ACTIVE
    )


@pytest.mark.parametrize(
    ("amount", "result"),
    [
        (999, TransferResult.POSTED),
        (1000, TransferResult.POSTED),
        (1001, TransferResult.EXCEEDS_BALANCE),
    ],
)
def test_debits_must_not_exceed_credits(amount: int, result: TransferResult) -> None:
    book = _book(
        _account("wallet", no_overdraft=True, debits=200, credits=1200),
        _account("merchant"),
    )

    assert check_transfer(_transfer(("wallet", "merchant", amount)), book) is result


@pytest.mark.parametrize(
    ("amount", "result"),
    [
        (500, TransferResult.POSTED),
        (501, TransferResult.EXCEEDS_BALANCE),
    ],
)
def test_credits_must_not_exceed_debits(amount: int, result: TransferResult) -> None:
    book = _book(
        _account("income", AccountType.INCOME),
        _account("reserve", AccountType.ASSET, no_overcredit=True, debits=800, credits=300),
    )

    assert check_transfer(_transfer(("income", "reserve", amount)), book) is result


def test_unflagged_account_may_go_negative() -> None:
    book = _book(_account("wallet"), _account("merchant"))

    assert check_transfer(_transfer(("wallet", "merchant", 10**12)), book) is (
        TransferResult.POSTED
    )


def test_overdraft_flag_does_not_limit_the_credit_side() -> None:
    book = _book(_account("cash", AccountType.ASSET), _account("wallet", no_overdraft=True))

    assert check_transfer(_transfer(("cash", "wallet", 10**12)), book) is TransferResult.POSTED


def test_check_does_not_change_the_accounts() -> None:
    book = _book(_account("wallet", no_overdraft=True, credits=100), _account("merchant"))
    before = _totals(book)

    check_transfer(_transfer(("wallet", "merchant", 60)), book)
    check_transfer(_transfer(("wallet", "merchant", 600)), book)

    assert _totals(book) == before


# --- multi-posting transfers net within the transfer -----------------------------------------


def test_account_credited_then_debited_in_one_transfer_nets_to_zero() -> None:
    book = _book(
        _account("cash", AccountType.ASSET),
        _account("wallet", no_overdraft=True),
        _account("merchant"),
    )
    pass_through = _transfer(("cash", "wallet", 700), ("wallet", "merchant", 700))
    reversed_order = _transfer(("wallet", "merchant", 700), ("cash", "wallet", 700))
    debit_alone = _transfer(("wallet", "merchant", 700))

    assert check_transfer(pass_through, book) is TransferResult.POSTED
    assert check_transfer(reversed_order, book) is TransferResult.POSTED
    assert check_transfer(debit_alone, book) is TransferResult.EXCEEDS_BALANCE


def test_net_debit_beyond_credits_within_one_transfer_exceeds_balance() -> None:
    book = _book(
        _account("cash", AccountType.ASSET),
        _account("wallet", no_overdraft=True, credits=50),
        _account("merchant"),
    )
    # Credited 700 and debited 751 in one transfer: net debit 51 against a balance of 50.
    request = _transfer(("cash", "wallet", 700), ("wallet", "merchant", 751))

    assert check_transfer(request, book) is TransferResult.EXCEEDS_BALANCE


def test_two_debits_of_one_account_are_summed() -> None:
    book = _book(
        _account("wallet", no_overdraft=True, credits=100),
        _account("merchant"),
        _account("fees", AccountType.INCOME),
    )
    each_fits = _transfer(("wallet", "merchant", 60), ("wallet", "fees", 40))
    together_too_much = _transfer(("wallet", "merchant", 60), ("wallet", "fees", 41))

    assert check_transfer(each_fits, book) is TransferResult.POSTED
    assert check_transfer(together_too_much, book) is TransferResult.EXCEEDS_BALANCE


# --- apply_transfer and balances -------------------------------------------------------------


def test_apply_adds_each_posting_to_both_sides() -> None:
    book = _book(
        _account("cash", AccountType.ASSET, debits=10),
        _account("wallet", credits=5),
        _account("merchant"),
    )

    apply_transfer(_transfer(("cash", "wallet", 700), ("wallet", "merchant", 300)), book)

    assert _totals(book) == {"cash": (710, 0), "wallet": (300, 705), "merchant": (0, 300)}


def test_apply_keeps_the_books_balanced() -> None:
    book = _book(
        _account("cash", AccountType.ASSET),
        _account("wallet"),
        _account("merchant"),
        _account("fees", AccountType.INCOME),
    )
    for request in [
        _transfer(("cash", "wallet", 10_000)),
        _transfer(("wallet", "merchant", 9_940), ("wallet", "fees", 60)),
        _transfer(("merchant", "cash", 5_000), ("fees", "cash", 10)),
    ]:
        apply_transfer(request, book)
        assert sum(a.debits_posted - a.credits_posted for a in book.values()) == 0

    assert book["cash"].balance == Money("CNY", 4_990)
    assert book["wallet"].balance == Money("CNY", 0)
    assert book["merchant"].balance == Money("CNY", 4_940)
    assert book["fees"].balance == Money("CNY", 50)


@pytest.mark.parametrize(
    ("type_", "expected"),
    [
        (AccountType.ASSET, 200),
        (AccountType.EXPENSE, 200),
        (AccountType.LIABILITY, -200),
        (AccountType.EQUITY, -200),
        (AccountType.INCOME, -200),
    ],
)
def test_balance_follows_the_normal_side(type_: AccountType, expected: int) -> None:
    account = _account("a", type_, currency="USD", debits=300, credits=100)

    assert account.balance == Money("USD", expected)


@pytest.mark.parametrize(
    ("type_", "debit_normal"),
    [
        (AccountType.ASSET, True),
        (AccountType.EXPENSE, True),
        (AccountType.LIABILITY, False),
        (AccountType.EQUITY, False),
        (AccountType.INCOME, False),
    ],
)
def test_debit_normal_types(type_: AccountType, debit_normal: bool) -> None:
    assert type_.debit_normal is debit_normal


@pytest.mark.parametrize(
    ("result", "failure"),
    [
        (TransferResult.POSTED, False),
        (TransferResult.EXISTS, False),
        (TransferResult.EXISTS_WITH_DIFFERENT_CONTENT, True),
        (TransferResult.ACCOUNT_NOT_FOUND, True),
        (TransferResult.CURRENCY_MISMATCH, True),
        (TransferResult.EXCEEDS_BALANCE, True),
        (TransferResult.ACCOUNT_NOT_ACTIVE, True),
    ],
)
def test_is_failure(result: TransferResult, failure: bool) -> None:
    assert result.is_failure is failure


# --- account_ids and content_hash ------------------------------------------------------------


def test_account_ids_are_sorted_and_unique() -> None:
    request = _transfer(("wallet", "merchant", 1), ("cash", "wallet", 1), ("merchant", "cash", 1))

    assert request.account_ids == ["cash", "merchant", "wallet"]


def _request(**changes: object) -> TransferRequest:
    fields: dict[str, object] = {
        "transfer_id": "t1",
        "postings": (
            Posting("cash", "wallet", Money("CNY", 700)),
            Posting("wallet", "merchant", Money("CNY", 300)),
        ),
        "description": "top up and pay",
        "metadata": {"order": "o-1", "channel": "banksim"},
    }
    fields.update(changes)
    return TransferRequest(**fields)  # type: ignore[arg-type]


def test_content_hash_ignores_transfer_id_and_metadata_order() -> None:
    base = _request()
    same = _request(transfer_id="t2", metadata={"channel": "banksim", "order": "o-1"})

    assert same.content_hash() == base.content_hash()
    assert re.fullmatch(r"[0-9a-f]{32}", base.content_hash())


@pytest.mark.parametrize(
    "changes",
    [
        {"description": "top up and pay!"},
        {"description": ""},
        {"metadata": {"order": "o-2", "channel": "banksim"}},
        {"metadata": {"order": "o-1", "channel": "banksim", "extra": ""}},
        {"metadata": {"order": "o-1"}},
        {"metadata": {"order": "o-1", "route": "banksim"}},
        {
            "postings": (
                Posting("cash", "wallet", Money("CNY", 701)),
                Posting("wallet", "merchant", Money("CNY", 300)),
            )
        },
        {
            "postings": (
                Posting("cash", "wallet", Money("USD", 700)),
                Posting("wallet", "merchant", Money("CNY", 300)),
            )
        },
        {
            "postings": (
                Posting("wallet", "cash", Money("CNY", 700)),
                Posting("wallet", "merchant", Money("CNY", 300)),
            )
        },
        {
            "postings": (
                Posting("cash", "wallet2", Money("CNY", 700)),
                Posting("wallet", "merchant", Money("CNY", 300)),
            )
        },
        {"postings": (Posting("cash", "wallet", Money("CNY", 700)),)},
        {
            "postings": (
                Posting("cash", "wallet", Money("CNY", 700)),
                Posting("wallet", "merchant", Money("CNY", 300)),
                Posting("wallet", "merchant", Money("CNY", 300)),
            )
        },
    ],
)
def test_content_hash_changes_with_any_content_field(changes: dict[str, object]) -> None:
    assert _request(**changes).content_hash() != _request().content_hash()


# --- property: no-overdraft flags hold under any sequence of accepted transfers --------------

_IDS = ["cash", "reserve", "wallet_a", "wallet_b", "merchant", "fees"]
_NO_OVERDRAFT = {"wallet_a", "wallet_b", "merchant"}
_NO_OVERCREDIT = {"reserve"}


def _fresh_book() -> dict[str, Account]:
    types = {"cash": AccountType.ASSET, "reserve": AccountType.ASSET, "fees": AccountType.INCOME}
    return {
        i: _account(
            i,
            types.get(i, AccountType.LIABILITY),
            no_overdraft=i in _NO_OVERDRAFT,
            no_overcredit=i in _NO_OVERCREDIT,
        )
        for i in _IDS
    }


def _violates_flags(book: Mapping[str, Account]) -> list[str]:
    bad = [i for i in _NO_OVERDRAFT if book[i].debits_posted > book[i].credits_posted]
    bad += [i for i in _NO_OVERCREDIT if book[i].credits_posted > book[i].debits_posted]
    return bad


_posting = st.tuples(st.sampled_from(_IDS), st.sampled_from(_IDS), st.integers(1, 1_000)).filter(
    lambda p: p[0] != p[1]
)
_transfers = st.lists(st.lists(_posting, min_size=1, max_size=3), min_size=1, max_size=40)


@settings(deadline=None, max_examples=300)
@given(transfers=_transfers)
def test_accepted_transfers_never_break_flags_and_keep_books_balanced(
    transfers: list[list[tuple[str, str, int]]],
) -> None:
    book = _fresh_book()
    posted = 0
    for i, postings in enumerate(transfers):
        request = _transfer(*postings, transfer_id=f"t{i}")
        result = check_transfer(request, book)
        trial = copy.deepcopy(book)
        apply_transfer(request, trial)
        # Oracle: exactly the transfers that would leave a flag broken are refused.
        if _violates_flags(trial):
            assert result is TransferResult.EXCEEDS_BALANCE
            continue
        assert result is TransferResult.POSTED
        apply_transfer(request, book)
        posted += 1

        assert _violates_flags(book) == []
        assert sum(a.debits_posted for a in book.values()) == sum(
            a.credits_posted for a in book.values()
        )
    note(f"posted {posted} of {len(transfers)}")
    for account_id in _NO_OVERDRAFT | _NO_OVERCREDIT:
        assert book[account_id].balance.minor_units >= 0
